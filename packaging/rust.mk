# The Rust door: dist-rust packages the crate `omnitron` (core/) into dist/, dist-test-rust uses it
# from a new crate as a user would (included by the Makefile).
.PHONY: dist-rust dist-test-rust

RUST_CRATE = omnitron-$(VERSION).crate

# `cargo package` checks the metadata, lists the files (`cargo package -p omnitron --list`) and
# builds the packaged sources on their own. A release comes from a clean checkout; with uncommitted
# changes under core/ (during development) it packages them anyway, says so, and the .crate's
# .cargo_vcs_info.json records "dirty".
dist-rust:
	@echo "== dist-rust: the crate omnitron as dist/$(RUST_CRATE)"
	@mkdir -p $(DIST)
	@if [ -n "$$(git status --porcelain -- core README.md)" ]; then \
	  echo "note: uncommitted changes under core/ or in README.md: packaging with --allow-dirty"; \
	  cargo package -p omnitron --allow-dirty; \
	else \
	  cargo package -p omnitron; \
	fi
	cp target/package/$(RUST_CRATE) $(DIST)/
	@ls -l $(DIST)/$(RUST_CRATE)

# dist-test-rust: the .crate unpacked in a fresh directory under /tmp, a new binary crate
# (`cargo new`) depending on it by path, its main.rs the crate docs' first example (taken from the
# packaged src/lib.rs), run and its output checked. Cargo resolves the dependencies itself (no
# Cargo.lock from the repository: a user has none). To keep this fast, its target directory is a
# cache inside the repository's target/ (target/dist-test-rust): the registry crates compile once
# (the first run, about 2 minutes on 2 cores) and are reused; omnitron itself, at a new path each
# time, is recompiled every run.
RUST_TEST_TARGET := $(CURDIR)/target/dist-test-rust

dist-test-rust: dist-rust
	@echo "== dist-test-rust: dist/$(RUST_CRATE) used from a new crate (cargo new, path dependency)"
	CARGO_TARGET_DIR=$(RUST_TEST_TARGET) packaging/rust/dist-test.sh $(DIST)/$(RUST_CRATE)
