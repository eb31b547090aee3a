# cli packages: dist-cli builds them into dist/, dist-test-cli installs and uses them (included by the Makefile).
.PHONY: dist-cli dist-test-cli

dist-cli:

dist-test-cli:
