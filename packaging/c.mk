# The C and C++ door as a user installs it: `make install`, the C release files in dist/ and the
# install tests (included by the Makefile).

## ---- installing the C library --------------------------------------------------------------

# `make install PREFIX=/usr/local` installs the C library from a release build in the usual layout:
# lib/libomnitron.so.X.Y.Z with its .so.0 and .so links, lib/libomnitron.a, include/omnitron.h,
# lib/pkgconfig/omnitron.pc and the CMake package lib/cmake/omnitron/ (omnitronConfig.cmake and
# omnitronConfigVersion.cmake: targets omnitron::omnitron, shared, and omnitron::omnitron_static).
# Both the .pc file and the CMake files find the prefix from their own location, so an installed
# tree can be moved or unpacked anywhere (the dist tarball is one). Installing does not need CMake.
# FROM=<dir> installs another build's files (the install test uses the debug build it already has,
# dist-c the dist build); DESTDIR=<dir> stages the install under a root (for distribution packages).
PREFIX ?= /usr/local
DESTDIR ?=
FROM ?=
C_VERSION = $(shell sed -n 's/^\#define OMNITRON_VERSION_STRING "\(.*\)"/\1/p' include/omnitron.h)
C_MAJOR = $(firstword $(subst ., ,$(C_VERSION)))
C_EMPTY :=
C_SPACE := $(C_EMPTY) $(C_EMPTY)
# STATIC_LIBS as a CMake list: -lgcc_s -lutil ... -> gcc_s;util;...
C_CMAKE_LIBS = $(subst $(C_SPACE),;,$(strip $(patsubst -l%,%,$(STATIC_LIBS))))
C_DEST = $(DESTDIR)$(PREFIX)

install:
	@if [ -z "$(FROM)" ]; then cargo build --release -p omnitron-ffi; fi
	$(eval SRC := $(if $(FROM),$(FROM),target/$(HOST)/release))
	install -d $(C_DEST)/lib/pkgconfig $(C_DEST)/lib/cmake/omnitron $(C_DEST)/include
	install -m 0755 $(SRC)/libomnitron.so $(C_DEST)/lib/libomnitron.so.$(C_VERSION)
	ln -sfn libomnitron.so.$(C_VERSION) $(C_DEST)/lib/libomnitron.so.$(C_MAJOR)
	ln -sfn libomnitron.so.$(C_MAJOR) $(C_DEST)/lib/libomnitron.so
	install -m 0644 $(SRC)/libomnitron.a $(C_DEST)/lib/libomnitron.a
	install -m 0644 include/omnitron.h $(C_DEST)/include/omnitron.h
	sed -e 's|@PREFIX@|$${pcfiledir}/../..|' -e 's|@VERSION@|$(C_VERSION)|' -e 's|@STATIC_LIBS@|$(STATIC_LIBS)|' \
	  packaging/omnitron.pc.in > $(C_DEST)/lib/pkgconfig/omnitron.pc
	for f in omnitronConfig omnitronConfigVersion; do \
	  sed -e 's|@VERSION@|$(C_VERSION)|g' -e 's|@MAJOR@|$(C_MAJOR)|g' -e 's|@STATIC_LIBS@|$(C_CMAKE_LIBS)|g' \
	    packaging/cmake/$$f.cmake.in > $(C_DEST)/lib/cmake/omnitron/$$f.cmake; \
	done

# Checks an installed prefix ($(1)): the SONAME, only omnitron_* exported, and no absolute path in
# the pkg-config and CMake files (they must work wherever the prefix is moved).
define c-check-prefix
@readelf -d $(1)/lib/libomnitron.so | grep 'SONAME.*\[libomnitron.so.$(C_MAJOR)\]' > /dev/null \
	  || { echo "libomnitron.so has no SONAME libomnitron.so.$(C_MAJOR)"; exit 1; }
@others=$$(nm -D --defined-only $(1)/lib/libomnitron.so | awk '{print $$3}' | grep -v '^omnitron_' || true); \
	  [ -z "$$others" ] || { echo "exported symbols that are not omnitron_*: $$others"; exit 1; }
@! grep -rn "$$(cd $(1) && pwd)" $(1)/lib/pkgconfig $(1)/lib/cmake \
	  || { echo "the pkg-config or CMake files above name the prefix: not relocatable"; exit 1; }
endef

# The C library as a user gets it: installed into a fresh prefix, a program outside the repository
# built with pkg-config (shared, then static) and run; the SONAME, the exported symbols and the
# relocatable pkg-config and CMake files checked (the CMake package is used by dist-test-c).
install-test: build-c
	@echo "== the C library installed into a prefix, used through pkg-config (shared and static)"
	@rm -rf target/install-test && mkdir -p target/install-test
	@$(MAKE) -s install PREFIX=$(CURDIR)/target/install-test/prefix FROM=$(OUT) > /dev/null
	$(call c-check-prefix,target/install-test/prefix)
	@test -f target/install-test/prefix/lib/cmake/omnitron/omnitronConfig.cmake \
	  && test -f target/install-test/prefix/lib/cmake/omnitron/omnitronConfigVersion.cmake \
	  || { echo "the CMake package (lib/cmake/omnitron) was not installed"; exit 1; }
	@cp examples/di/c/main.c target/install-test/main.c
	@export PKG_CONFIG_PATH=$(CURDIR)/target/install-test/prefix/lib/pkgconfig; cd target/install-test && \
	  gcc -std=c11 -Wall -Werror main.c $$(pkg-config --cflags --libs omnitron) -o app_shared && \
	  LD_LIBRARY_PATH=prefix/lib ./app_shared > shared.out && \
	  gcc -std=c11 -Wall -Werror main.c $$(pkg-config --cflags omnitron) prefix/lib/libomnitron.a \
	    $$(pkg-config --static --libs-only-other --libs-only-l omnitron | sed 's/-lomnitron//') -o app_static && \
	  ./app_static > static.out && cmp -s shared.out static.out && [ -s shared.out ] \
	  || { echo "the installed C library did not build or run a program"; exit 1; }
	@readelf -d target/install-test/app_shared | grep 'NEEDED.*\[libomnitron.so.0\]' > /dev/null \
	  || { echo "a program linked against libomnitron does not record libomnitron.so.0"; exit 1; }
	@rm -rf target/install-test
	@echo "installed C library: shared and static builds through pkg-config ran"

## ---- the C release files in dist/ ------------------------------------------------------------

# dist/libomnitron-<version>-linux-<arch>.tar.gz: the dist build (release, no debug info, stripped)
# installed into one directory of that name (lib/ with the .so, its links, the .a, pkgconfig/ and
# cmake/; include/). Unpack it anywhere and point PKG_CONFIG_PATH at <dir>/lib/pkgconfig or
# CMAKE_PREFIX_PATH at <dir>; or `tar xzf ... --strip-components=1 -C /usr/local`.
C_ARCH := $(firstword $(subst -, ,$(HOST)))
C_DIST_NAME = libomnitron-$(VERSION)-linux-$(C_ARCH)
C_STAGE := target/dist-c

.PHONY: dist-c dist-test-c c-tools

dist-c:
	@echo "== dist-c: libomnitron in the dist profile, as dist/$(C_DIST_NAME).tar.gz"
	cargo build --profile dist -p omnitron-ffi
	@rm -rf $(C_STAGE) && mkdir -p $(C_STAGE) $(DIST)
	@$(MAKE) -s install PREFIX=$(CURDIR)/$(C_STAGE)/$(C_DIST_NAME) FROM=$(DIST_OUT) > /dev/null
	@# The Rust standard library inside the .a carries its debug info: drop it (the code stays).
	strip --strip-debug $(C_STAGE)/$(C_DIST_NAME)/lib/libomnitron.a
	$(call c-check-prefix,$(C_STAGE)/$(C_DIST_NAME))
	@# (grep reads all of readelf's output: with -q, readelf could die of SIGPIPE and fail the pipeline)
	@! readelf -S $(C_STAGE)/$(C_DIST_NAME)/lib/libomnitron.so | grep '\.debug_\|\.symtab' > /dev/null \
	  || { echo "the dist libomnitron.so has debug info or a symbol table"; exit 1; }
	@# Same bytes for the same commit: sorted entries, owner root, the commit's time, no gzip timestamp.
	tar --sort=name --owner=0 --group=0 --numeric-owner \
	  --mtime=@$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
	  -C $(C_STAGE) -cf - $(C_DIST_NAME) | gzip -9n > $(DIST)/$(C_DIST_NAME).tar.gz
	@rm -rf $(C_STAGE)
	@ls -l $(DIST)/$(C_DIST_NAME).tar.gz

# dist-test-c: the tarball unpacked in a fresh directory under /tmp, the DI examples (C and C++)
# built against it with pkg-config and with CMake (find_package), shared and static, and run.
dist-test-c: dist-c c-tools
	@echo "== dist-test-c: dist/$(C_DIST_NAME).tar.gz used through pkg-config and CMake, shared and static"
	packaging/c/dist-test.sh $(DIST)/$(C_DIST_NAME).tar.gz

# The tools dist-test-c needs: CMake (and pkg-config), installed from Debian's registry when missing.
c-tools:
	@missing=""; \
	  command -v cmake > /dev/null || missing="$$missing cmake"; \
	  command -v pkg-config > /dev/null || missing="$$missing pkg-config"; \
	  if [ -n "$$missing" ]; then \
	    echo "== apt-get install$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends $$missing \
	      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; }; \
	  fi
