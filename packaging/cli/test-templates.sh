#!/usr/bin/env bash
# Every `omnitron init` template, as a user starts it: the omnitron binary from dist/ makes the
# project (and a service, a module and a workflow in it, with `omnitron generate`; a controller too
# in C and Rust, whose HTTP doors are in; TypeScript and Python controllers wait for theirs) in a fresh
# directory outside the repository; the packages from dist/ stand in for the registries'
# (npm install of the two tarballs, pip install of the wheel, the C tarball as the install
# prefix, the unpacked .crate patched in for crates.io); then the project's own tests run.
#
# Needs DIST (the dist/ directory) and VERSION; CARGO_TARGET_DIR is a cache for the Rust project.
set -euo pipefail
: "${DIST:?}" "${VERSION:?}"

work=$(mktemp -d /tmp/omnitron-templates.XXXXXX)
trap 'echo "FAILED: the projects are left in $work"' ERR
tar -C "$work" -xzf "$DIST/omnitron-cli-$VERSION-linux-x86_64.tar.gz"
export PATH="$work/bin:$PATH" # `omnitron` as a user has it
npm_tgz=("$DIST/omnitron-dev-native-$VERSION.tgz" "$DIST/omnitron-dev-native-linux-x64-gnu-$VERSION.tgz")
wheel=$(ls "$DIST"/omnitron-"$VERSION"-*.whl)
npm_quiet=(--no-audit --no-fund --loglevel=error)

step() { echo "-- $*"; }

generate_all() { # LANG_ARGS...: a service, a module and a workflow, named billing, catalog, refund
  # One chain: callers use it inside `&&`, where `set -e` does not stop at a failure.
  omnitron generate service billing "$@" > /dev/null \
    && omnitron generate module catalog "$@" > /dev/null \
    && omnitron generate workflow refund "$@" > /dev/null
}

cd "$work"
python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check "$wheel" pytest

step "ts: init, generate, npm install (from dist/), npm test"
omnitron init app-ts --template ts > /dev/null
(cd app-ts && generate_all && npm install "${npm_quiet[@]}" "${npm_tgz[@]}" && npm install "${npm_quiet[@]}" \
  && npm test > test.log 2>&1 || { cat test.log; exit 1; })
passed=$(sed -n 's/^# pass //p' app-ts/test.log)
grep -q '^# fail 0' app-ts/test.log && [ "${passed:-0}" -ge 8 ] \
  || { echo "ts: expected 8 passing tests (the project's and the three generated)"; cat app-ts/test.log; exit 1; }
(cd app-ts && npx --no-install omnitron check) # the npm package's own `omnitron` bin

step "python: init, generate, pytest (the wheel from dist/)"
omnitron init app-py --template python > /dev/null
(cd app-py && generate_all && ../venv/bin/python -m pytest -q -p no:cacheprovider)
omnitron check app-py/omnitron.yaml

step "polyglot: init, generate in each language, pytest and npm test (a TS saga over a Python child)"
omnitron init app-poly --template polyglot > /dev/null
(cd app-poly && generate_all --lang python && generate_all --lang ts)
(cd app-poly/services/inventory && ../../../venv/bin/python -m pytest -q -p no:cacheprovider)
(cd app-poly/services/orders && npm install "${npm_quiet[@]}" "${npm_tgz[@]}" && npm install "${npm_quiet[@]}" \
  && OMNITRON_PYTHON="$work/venv/bin/python" npm test > test.log 2>&1 || { cat test.log; exit 1; })
grep -q '^# fail 0' app-poly/services/orders/test.log || { cat app-poly/services/orders/test.log; exit 1; }
omnitron check app-poly/omnitron.yaml

step "c: init, generate, cmake against the C package from dist/, ctest"
mkdir prefix && tar -C prefix --strip-components=1 -xzf "$DIST/libomnitron-$VERSION-linux-x86_64.tar.gz"
omnitron init app-c --template c > /dev/null
(cd app-c && generate_all && omnitron generate controller users > /dev/null && cmake -S . -B build -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null \
  && cmake --build build > /dev/null && ctest --test-dir build --output-on-failure)
omnitron check app-c/omnitron.yaml

step "rust: init, generate, cargo test with the packaged crate from dist/"
mkdir crate && tar -C crate -xzf "$DIST/omnitron-$VERSION.crate"
omnitron init app-rs --template rust > /dev/null
(cd app-rs && generate_all && omnitron generate controller users > /dev/null \
  && cargo test -q --config "patch.crates-io.omnitron.path=\"$work/crate/omnitron-$VERSION\"" 2>&1 | tail -n 5)
omnitron check app-rs/omnitron.yaml

trap - ERR
rm -rf "$work"
echo "every template: its project and generated code built from dist/ and passed its tests"
