# The C and C++ door as a user installs it: `make install`, the C release files in dist/ and the
# install tests (included by the Makefile).

## ---- installing the C library --------------------------------------------------------------

# `make install PREFIX=/usr/local` installs the C library from a release build in the usual layout:
# lib/libomnitron.so.X.Y.Z with its .so.0 and .so links, lib/libomnitron.a, include/omnitron.h and
# lib/pkgconfig/omnitron.pc. FROM=<dir> installs another build's files (the install test uses the
# debug build it already has).
PREFIX ?= /usr/local
FROM ?=
C_VERSION = $(shell sed -n 's/^\#define OMNITRON_VERSION_STRING "\(.*\)"/\1/p' include/omnitron.h)

install:
	@if [ -z "$(FROM)" ]; then cargo build --release -p omnitron-ffi; fi
	$(eval SRC := $(if $(FROM),$(FROM),target/$(HOST)/release))
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include
	install -m 0755 $(SRC)/libomnitron.so $(PREFIX)/lib/libomnitron.so.$(C_VERSION)
	ln -sfn libomnitron.so.$(C_VERSION) $(PREFIX)/lib/libomnitron.so.0
	ln -sfn libomnitron.so.0 $(PREFIX)/lib/libomnitron.so
	install -m 0644 $(SRC)/libomnitron.a $(PREFIX)/lib/libomnitron.a
	install -m 0644 include/omnitron.h $(PREFIX)/include/omnitron.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(C_VERSION)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' \
	  packaging/omnitron.pc.in > $(PREFIX)/lib/pkgconfig/omnitron.pc

# The C library as a user gets it: installed into a fresh prefix, a program outside the repository
# built with pkg-config (shared, then static) and run; the SONAME and the exported symbols checked.
install-test: build-c
	@echo "== the C library installed into a prefix, used through pkg-config (shared and static)"
	@rm -rf target/install-test && mkdir -p target/install-test
	@$(MAKE) -s install PREFIX=$(CURDIR)/target/install-test/prefix FROM=$(OUT) > /dev/null
	@readelf -d target/install-test/prefix/lib/libomnitron.so | grep -q 'SONAME.*\[libomnitron.so.0\]' \
	  || { echo "libomnitron.so has no SONAME libomnitron.so.0"; exit 1; }
	@others=$$(nm -D --defined-only target/install-test/prefix/lib/libomnitron.so | awk '{print $$3}' | grep -v '^omnitron_' || true); \
	  [ -z "$$others" ] || { echo "exported symbols that are not omnitron_*: $$others"; exit 1; }
	@cp examples/di/c/main.c target/install-test/main.c
	@export PKG_CONFIG_PATH=$(CURDIR)/target/install-test/prefix/lib/pkgconfig; cd target/install-test && \
	  gcc -std=c11 -Wall -Werror main.c $$(pkg-config --cflags --libs omnitron) -o app_shared && \
	  LD_LIBRARY_PATH=prefix/lib ./app_shared > shared.out && \
	  gcc -std=c11 -Wall -Werror main.c $$(pkg-config --cflags omnitron) prefix/lib/libomnitron.a \
	    $$(pkg-config --static --libs-only-other --libs-only-l omnitron | sed 's/-lomnitron//') -o app_static && \
	  ./app_static > static.out && cmp -s shared.out static.out && [ -s shared.out ] \
	  || { echo "the installed C library did not build or run a program"; exit 1; }
	@readelf -d target/install-test/app_shared | grep -q 'NEEDED.*\[libomnitron.so.0\]' \
	  || { echo "a program linked against libomnitron does not record libomnitron.so.0"; exit 1; }
	@rm -rf target/install-test
	@echo "installed C library: shared and static builds through pkg-config ran"

.PHONY: dist-c dist-test-c

dist-c:

dist-test-c:
