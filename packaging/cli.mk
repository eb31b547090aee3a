# The omnitron command: dist-cli builds it into dist/ (a tarball with bin/omnitron); dist-test-cli
# starts a project from every template with the built binary, in fresh directories outside the
# repository, installs the packages from dist/ into them and runs their own tests
# (packaging/cli/test-templates.sh). Included by the Makefile.
.PHONY: dist-cli dist-test-cli

CLI_TARBALL := $(DIST)/omnitron-cli-$(VERSION)-linux-x86_64.tar.gz

dist-cli:
	@echo "== the omnitron command, release build"
	cargo build -q --profile dist -p omnitron-cli
	@mkdir -p $(DIST) && rm -rf target/dist-cli && mkdir -p target/dist-cli/bin
	cp $(DIST_OUT)/omnitron target/dist-cli/bin/omnitron
	tar -C target/dist-cli -czf $(CLI_TARBALL) bin
	@rm -rf target/dist-cli
	@ls -l $(CLI_TARBALL)

# Runs after the other install tests: it uses every package they checked.
dist-test-cli: dist-cli dist-test-c dist-test-npm dist-test-python dist-test-rust
	@echo "== omnitron init: every template's project, built from dist/ only, passes its own tests"
	DIST=$(DIST) VERSION=$(VERSION) CARGO_TARGET_DIR=$(CURDIR)/target/dist-test-templates \
	  packaging/cli/test-templates.sh
