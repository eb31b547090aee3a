# python packages: dist-python builds them into dist/, dist-test-python installs and uses them (included by the Makefile).
.PHONY: dist-python dist-test-python

dist-python:

dist-test-python:
