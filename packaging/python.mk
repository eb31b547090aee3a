# The Python door as a user gets it (included by the Makefile): `pip install omnitron`.
#
#   dist-python              dist/omnitron-$(VERSION).tar.gz (sdist) and, built from it, the abi3
#                            wheel for CPython >= 3.9 on glibc >= 2.17 (manylinux2014, linked by zig
#                            from the ziglang package), cargo profile `dist`; the rule fails when the
#                            sdist lacks a source, the wheel's tag is not cp39-abi3 + manylinux2014,
#                            auditwheel finds symbols newer than glibc 2.17, the wheel lacks a file of
#                            the package (py.typed, the .pyi stubs) or keeps debug info.
#                            (packaging/python/build-dist.sh)
#   dist-test-python         the wheel pip-installed into a fresh venv under /tmp and used: the
#                            README's quick start, a pool of Python workers, mypy --strict against
#                            the installed stubs, the quick start on CPython 3.9 and 3.13 too; prints
#                            the sizes and the import time. (packaging/python/dist-test.sh)
#   dist-test-python-sdist   by hand, not part of `make dist-test` (a second cold release build, ~3
#                            to 4 minutes): `pip wheel` from the sdist in a fresh venv, as pip does on
#                            a platform with no wheel, then the quick start with what it built.
.PHONY: dist-python dist-test-python dist-test-python-sdist

dist-python: $(VENV)/.installed
	@echo "== dist-python: the sdist and the abi3 manylinux2014 wheel built from it (profile dist)"
	DIST=$(DIST) VERSION=$(VERSION) HOST=$(HOST) packaging/python/build-dist.sh

dist-test-python: dist-python
	@echo "== dist-test-python: the wheel from dist/ installed with pip in a fresh venv and used"
	DIST=$(DIST) VERSION=$(VERSION) packaging/python/dist-test.sh

dist-test-python-sdist: dist-python
	@echo "== dist-test-python-sdist: pip wheel from dist/omnitron-$(VERSION).tar.gz in a fresh venv"
	@set -e; t=$$(mktemp -d /tmp/omnitron-py-sdist.XXXXXX); cd $$t; \
	  python3 -m venv venv; \
	  start=$$(date +%s); \
	  env -u PYTHONPATH -u CARGO_BUILD_TARGET CARGO_TARGET_DIR=$$t/target \
	    venv/bin/pip wheel --quiet --no-deps --wheel-dir wheels $(DIST)/omnitron-$(VERSION).tar.gz; \
	  echo "built from the sdist in $$(( $$(date +%s) - start )) s: $$(ls wheels)"; \
	  venv/bin/pip install --quiet --no-index wheels/omnitron-*.whl; \
	  awk '/^### Python$$/ {f = 1; next} f && /^```python$$/ {p = 1; next} p && /^```$$/ {exit} p' \
	    $(CURDIR)/README.md > quickstart.py; \
	  [ "$$(venv/bin/python quickstart.py)" = "postgres://demo" ]; \
	  ls -l wheels; cd / && rm -rf $$t; \
	  echo "the wheel built from the sdist ran the README's quick start"
