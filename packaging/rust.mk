# rust packages: dist-rust builds them into dist/, dist-test-rust installs and uses them (included by the Makefile).
.PHONY: dist-rust dist-test-rust

dist-rust:

dist-test-rust:
