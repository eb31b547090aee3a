# npm packages: dist-npm builds them into dist/, dist-test-npm installs and uses them (included by the Makefile).
.PHONY: dist-npm dist-test-npm

dist-npm:

dist-test-npm:
