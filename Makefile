# Omnitron native: one command to build and test every language, one to run the demo.
#
#   make test    install what is needed (inside the repo), build, run every suite
#   make demo    run the main job (for now: the DI demo in Rust, C, C++, TypeScript and Python)
#   make bench   run the benchmarks side by side with their peers (see benches/README.md)
#
# Everything is built once, in debug, into target/<host>/debug, shared by cargo test, the C
# tests, the Node addon and the Python wheel (the napi CLI always passes --target, so every build
# here does the same to land in the same directory).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

HOST := $(shell rustc -vV | sed -n 's/^host: //p')
export CARGO_BUILD_TARGET := $(HOST)
export CARGO_TERM_COLOR := never
# What `omnitron start` and `omnitron dev` keep (children's logs) stays in target/, not in ~/.local.
export OMNITRON_HOME := $(CURDIR)/target/omnitron-home
OUT := target/$(HOST)/debug

VENV := .venv
PY := $(VENV)/bin/python
PYLIBDIR := $(shell python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
NODE := bindings/node
TSC := $(NODE)/node_modules/.bin/tsc
NAPI := $(NODE)/node_modules/.bin/napi

CFLAGS := -std=c11 -Wall -Wextra -Werror -Iinclude
CXXFLAGS := -std=c++17 -Wall -Wextra -Werror -Iinclude
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
VALGRIND := valgrind --error-exitcode=1 --child-silent-after-fork=yes --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite -q

.PHONY: test demo bench deps lint fmt-check clippy cargo-test build build-c build-node build-python dist dist-test \
        c-test install install-test drift-check generate node-test python-test interop-test process-test saga-test demo-di clean \
        build-examples build-http-example http-conformance

## ---- the two commands ----------------------------------------------------------------------

test: deps lint cargo-test build c-test install-test drift-check node-test python-test interop-test process-test build-examples http-conformance saga-test dist-test
	@echo "== make test: every suite passed"

# Debian's Chromium, for the status page's test in a real browser (make saga-test).
CHROMIUM = /usr/bin/chromium

SAGA_ENV = OMNITRON_BIN=$(CURDIR)/$(OUT)/omnitron OMNITRON_PYTHON=$(CURDIR)/$(PY) \
	SHIPPING_BIN=$(CURDIR)/target/examples/shipping

demo: deps build build-examples
	@echo "== The order saga: Python inventory x2, TypeScript payment and gateway, C shipping under one supervisor"
	cargo build -q -p omnitron-cli
	$(SAGA_ENV) $(PY) examples/order-saga/demo.py

saga-test: build-examples $(CHROMIUM)
	@echo "== end to end: the order saga, smaller (60 orders, one service killed), invariants checked;"
	@echo "   one order's trace at an OTLP receiver across four languages; the status page in Chromium"
	cargo build -q -p omnitron-cli
	$(SAGA_ENV) ORDERS=60 OTLP_RECEIVER=$(CURDIR)/tests/interop/otlp_receiver.py \
	  STATUS_PAGE=$(CURDIR)/target/status-page $(PY) examples/order-saga/demo.py

demo-di: deps build build-examples
	@echo "== The same module graph (config, repository, scoped request context, service) in five languages"
	@cargo run -q -p omnitron-example-di
	@LD_LIBRARY_PATH=$(OUT) target/examples/di_c
	@target/examples/di_cpp
	@node examples/di/ts/dist/main.js
	@$(PY) examples/di/python/main.py

bench: deps
	$(MAKE) -C benches

## ---- set-up (everything stays inside the repository) ----------------------------------------

deps: $(NODE)/node_modules/.installed $(VENV)/.installed

$(CHROMIUM):
	@echo "== chromium (Debian's package: the status page is tested in it)"
	apt-get install -y -q chromium > /dev/null || { apt-get update -q > /dev/null && apt-get install -y -q chromium > /dev/null; }

$(NODE)/node_modules/.installed: $(NODE)/package.json $(NODE)/package-lock.json
	@echo "== npm ci ($(NODE))"
	cd $(NODE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(VENV)/.installed: bindings/python/requirements-dev.txt
	@echo "== python venv ($(VENV))"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r bindings/python/requirements-dev.txt
	@touch $@

## ---- lint ----------------------------------------------------------------------------------

lint: fmt-check clippy

fmt-check:
	@echo "== cargo fmt --check"
	cargo fmt --all --check

clippy:
	@echo "== cargo clippy -D warnings"
	cargo clippy --workspace --all-targets -- -D warnings
	@echo "== core with dependency injection only (no features: no hyper, SQLite, interprocess)"
	cargo check -q -p omnitron --no-default-features
	@echo "== the crate's documentation builds without warnings"
	RUSTDOCFLAGS="-D warnings" cargo doc -q -p omnitron --no-deps

## ---- Rust ----------------------------------------------------------------------------------

cargo-test:
	@echo "== cargo test --workspace"
	LD_LIBRARY_PATH=$(PYLIBDIR) cargo test --workspace

## ---- builds --------------------------------------------------------------------------------

build: build-c build-node build-python

build-c:
	@echo "== build libomnitron (ffi) and regenerate include/omnitron.h"
	cargo build -p omnitron-ffi
	@# The library's SONAME is libomnitron.so.0: what programs linked against it load.
	ln -sfn libomnitron.so $(OUT)/libomnitron.so.0

build-node: $(NODE)/node_modules/.installed
	@echo "== build the Node addon and its TypeScript layer"
	cd $(NODE) && node_modules/.bin/napi build --platform --manifest-path Cargo.toml --output-dir . --js native.js --dts native.d.ts
	rm -rf $(NODE)/dist $(NODE)/dist-test
	$(TSC) -p $(NODE)/tsconfig.json
	$(TSC) -p $(NODE)/test/tsconfig.json

build-python: $(VENV)/.installed
	@echo "== build the Python wheel and install it into $(VENV)"
	rm -rf target/wheels
	cd bindings/python && ../../$(VENV)/bin/maturin build --quiet -o ../../target/wheels
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/omnitron-*.whl

build-examples: build build-http-example
	@mkdir -p target/examples examples/di/ts/node_modules/@omnitron-dev
	gcc $(CFLAGS) examples/di/c/main.c -L$(OUT) -lomnitron -o target/examples/di_c
	g++ $(CXXFLAGS) examples/di/cpp/main.cpp $(OUT)/libomnitron.a $(STATIC_LIBS) -o target/examples/di_cpp
	ln -sfn ../../../../../bindings/node examples/di/ts/node_modules/@omnitron-dev/native
	rm -rf examples/di/ts/dist && $(TSC) -p examples/di/ts
	cargo build -q -p omnitron-example-di
	gcc $(CFLAGS) examples/order-saga/shipping/shipping.c $(OUT)/libomnitron.a $(STATIC_LIBS) -o target/examples/shipping
	@for p in payment gateway; do mkdir -p examples/order-saga/$$p/node_modules/@omnitron-dev; \
	  ln -sfn ../../../../../bindings/node examples/order-saga/$$p/node_modules/@omnitron-dev/native; done
	rm -rf examples/order-saga/payment/dist && $(TSC) -p examples/order-saga/payment
	rm -rf examples/order-saga/gateway/dist && $(TSC) -p examples/order-saga/gateway

# The users API of examples/http/rust, served by core's HTTP server.
build-http-example:
	cargo build -q -p omnitron-example-http

## ---- HTTP ----------------------------------------------------------------------------------

# The example server's /openapi.json through an external validator (openapi-spec-validator), then
# an external fuzzer (schemathesis, 25 examples per operation, a fixed seed): no 500, and every
# answer within the document (status, media type, schema).
http-conformance: $(VENV)/.installed build-http-example
	@echo "== HTTP conformance: the OpenAPI document validated and fuzzed (examples/http/rust)"
	tests/http/conformance.sh $(CURDIR)/$(OUT)/http-example

## ---- C ----------------------------------------------------------------------------------------

C_TESTS := $(patsubst tests/c/%.c,target/ctest/%,$(wildcard tests/c/test_*.c))
CPP_TESTS := $(patsubst tests/cpp/%.cpp,target/ctest/cpp_%,$(wildcard tests/cpp/test_*.cpp))

target/ctest/%: tests/c/%.c tests/c/check.h tests/c/http_client.h include/omnitron.h build-c
	@mkdir -p target/ctest
	gcc $(CFLAGS) $< -L$(OUT) -lomnitron -lpthread -o $@
	gcc $(CFLAGS) $< $(OUT)/libomnitron.a $(STATIC_LIBS) -o $@_static

# C++ over the C header, against the shared and the static library.
target/ctest/cpp_%: tests/cpp/%.cpp include/omnitron.h build-c
	@mkdir -p target/ctest
	g++ $(CXXFLAGS) $< -L$(OUT) -lomnitron -lpthread -o $@
	g++ $(CXXFLAGS) $< $(OUT)/libomnitron.a $(STATIC_LIBS) -o $@_static

# The README's C quick start exactly as written (the first ```c block under "### C").
target/ctest/readme.c: README.md
	@mkdir -p target/ctest
	awk '/^### C$$/ {f = 1; next} f && /^```c$$/ {p = 1; next} p && /^```$$/ {exit} p' README.md > $@
	@test -s $@ || { echo "no C snippet found in README.md"; exit 1; }

target/ctest/readme: target/ctest/readme.c include/omnitron.h build-c
	gcc $(CFLAGS) $< -L$(OUT) -lomnitron -o $@

# The C worker children of test_process (linked statically: it runs without LD_LIBRARY_PATH too).
target/ctest/c_worker: tests/c/c_worker.c include/omnitron.h build-c
	@mkdir -p target/ctest
	gcc $(CFLAGS) $< $(OUT)/libomnitron.a $(STATIC_LIBS) -o $@

c-test: build-c target/ctest/c_worker $(C_TESTS) $(CPP_TESTS) target/ctest/readme
	@echo "== C tests (dynamic library, under valgrind; then the static library)"
	@for t in $(C_TESTS); do \
	  LD_LIBRARY_PATH=$(OUT) $(VALGRIND) $$t || exit 1; \
	  $${t}_static > /dev/null || { echo "$${t}_static failed"; exit 1; }; \
	done
	@echo "== C++ tests (dynamic and static library, both under valgrind)"
	@for t in $(CPP_TESTS); do \
	  LD_LIBRARY_PATH=$(OUT) $(VALGRIND) $$t || exit 1; \
	  $(VALGRIND) $${t}_static > /dev/null || { echo "$${t}_static failed"; exit 1; }; \
	done
	@echo "== the header under C99, C17 and C2x (callbacks returning uint32_t and OmnitronStatus) and C++20"
	@for std in c99 c17 c2x; do \
	  gcc -std=$$std -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only tests/c/test_di.c tests/c/test_user_data.c \
	    || exit 1; \
	done
	@g++ -std=c++20 -Wall -Wextra -Werror -Iinclude -fsyntax-only tests/cpp/test_cpp.cpp
	@echo "== the README's C quick start (under valgrind)"
	@LD_LIBRARY_PATH=$(OUT) $(VALGRIND) target/ctest/readme | grep -x 'postgres://demo' > /dev/null \
	  || { echo "the README's C snippet did not print postgres://demo"; exit 1; }

## ---- release packages (dist/) and the install tests --------------------------------------

# `make dist` builds every package into dist/ in the `dist` profile (release, no debug info,
# stripped); `make dist-test` installs each one as a user would, in fresh directories outside the
# repository (each test makes its own `mktemp -d /tmp/omnitron-<door>.XXXXXX` and removes it when it
# passes), and uses it. The rules for each door are in packaging/<door>.mk.
DIST := $(CURDIR)/dist
DIST_OUT := target/$(HOST)/dist
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

include packaging/c.mk packaging/npm.mk packaging/python.mk packaging/rust.mk packaging/cli.mk

dist: dist-c dist-npm dist-python dist-rust dist-cli
	@echo "== dist/:" && ls -la dist

dist-test: dist dist-test-c dist-test-npm dist-test-python dist-test-rust dist-test-cli
	@echo "== every package installed and used from dist/ only"

## ---- generated files must match the code ---------------------------------------------------

# The error table in core/src/error.rs written out as the C status enum and the Node and Python
# error classes (core's test error::generate checks them in cargo-test), then the header again.
generate:
	@echo "== generate the error tables from core/src/error.rs"
	OMNITRON_GENERATE=1 cargo test -q -p omnitron --lib error::generate
	cargo build -q -p omnitron-ffi

drift-check:
	@echo "== drift check: committed header, error tables, Node typings and Python stubs match the code"
	git diff --exit-code --stat -- include/omnitron.h $(NODE)/native.d.ts $(NODE)/native.js \
	  ffi/src/status.rs $(NODE)/lib/error-classes.ts bindings/python/python/omnitron/_error_classes.py \
	  || { echo "generated files drifted: rebuild and commit them"; exit 1; }
	$(PY) -m mypy.stubtest omnitron._native
	cd /tmp && $(CURDIR)/$(PY) -m mypy --strict -p omnitron --no-error-summary && echo "mypy --strict: ok"

## ---- Node and Python -----------------------------------------------------------------------

node-test:
	@echo "== node --test"
	cd $(NODE) && OMNITRON_PYTHON=$(CURDIR)/$(PY) node --test dist-test/

python-test:
	@echo "== pytest"
	$(PY) -m pytest bindings/python/tests -q

## ---- across languages ------------------------------------------------------------------------

interop-test: build
	@echo "== cross-language RPC: Node, Python, Rust and C processes on one socket"
	@mkdir -p target/ctest
	gcc $(CFLAGS) tests/interop/c_client.c -L$(OUT) -lomnitron -o target/ctest/interop_c_client
	gcc $(CFLAGS) tests/interop/trace_c.c -L$(OUT) -lomnitron -o target/ctest/interop_trace_c
	cargo build -q -p omnitron-cli -p omnitron-example-rpc
	OMNITRON_PYTHON=$(CURDIR)/$(PY) OMNITRON_RUST_SERVICE=$(CURDIR)/$(OUT)/calc-service \
	  OMNITRON_C_CLIENT=$(CURDIR)/target/ctest/interop_c_client OMNITRON_C_TRACE=$(CURDIR)/target/ctest/interop_trace_c \
	  LD_LIBRARY_PATH=$(CURDIR)/$(OUT) OMNITRON_BIN=$(CURDIR)/$(OUT)/omnitron \
	  node --test tests/interop/
	@echo "== cross-language queues: jobs added in C run by Python, and the other way, over one SQLite file"
	gcc $(CFLAGS) tests/interop/queue_c.c -L$(OUT) -lomnitron -o target/ctest/interop_queue_c
	LD_LIBRARY_PATH=$(CURDIR)/$(OUT) $(PY) tests/interop/queue_c_python.py $(CURDIR)/target/ctest/interop_queue_c

process-test: build
	@echo "== processes: omnitron start / ps / restart / stop with Python and Rust children, no orphans"
	cargo build -q -p omnitron-cli -p omnitron-example-rpc
	OMNITRON_BIN=$(CURDIR)/$(OUT)/omnitron CALC_WORKER=$(CURDIR)/$(OUT)/calc-worker \
	  OMNITRON_PYTHON=$(CURDIR)/$(PY) $(PY) tests/process/cli_e2e.py
	@echo "== omnitron dev: an edited child restarted alone, a syntax error keeps the rest running"
	OMNITRON_BIN=$(CURDIR)/$(OUT)/omnitron OMNITRON_PYTHON=$(CURDIR)/$(PY) $(PY) tests/process/cli_dev.py
	OMNITRON_BIN=$(CURDIR)/$(OUT)/omnitron OMNITRON_PYTHON=$(CURDIR)/$(PY) $(PY) tests/process/cli_log_level.py

clean:
	cargo clean
	rm -rf $(VENV) $(NODE)/node_modules $(NODE)/dist $(NODE)/dist-test $(NODE)/*.node
