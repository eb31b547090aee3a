#!/usr/bin/env bash
# `make dist-test-rust`: the packaged crate as a user gets it. Unpacked into a fresh directory
# outside the repository, a new binary crate (`cargo new`, `cargo add --path`) whose main.rs is the
# first example of the crate's documentation (the top of the packaged src/lib.rs), built and run.
# The directory is removed on success and kept (its path printed) on failure.
#
#   CARGO_TARGET_DIR=<cache> packaging/rust/dist-test.sh dist/omnitron-<version>.crate
set -euo pipefail

crate=$(realpath "$1")
name=$(basename "$crate" .crate)
tmp=$(mktemp -d /tmp/omnitron-rust.XXXXXX)
trap 'echo "dist-test-rust failed: see $tmp" >&2' ERR
fail() { echo "dist-test-rust: $*" >&2; echo "dist-test-rust failed: see $tmp" >&2; exit 1; }

cd "$tmp"
tar xzf "$crate"
[ -f "$name/Cargo.toml" ] && [ -f "$name/README.md" ] || fail "$name.crate lacks Cargo.toml or README.md"

cargo new -q --vcs none --bin app
cd app
cargo add -q omnitron --path "../$name"
# The first fenced block of the crate docs (//! lines), without the //! and rustdoc's hidden `# `.
awk '/^\/\/! ```/ { if (p) exit; p = 1; next } p' "../$name/src/lib.rs" \
  | sed -e 's|^//! \{0,1\}||' -e 's|^# ||' -e 's|^#$||' > src/main.rs
grep -q 'fn main' src/main.rs || { cat src/main.rs; fail "no example with fn main at the top of src/lib.rs"; }

# Each run is a new path, so a new package to cargo: in the shared target directory (the Makefile's
# cache), drop the previous runs' omnitron and app builds, and build them without incremental state,
# so the cache holds the registry crates once and does not grow.
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ -d "$CARGO_TARGET_DIR" ]; then
  find "$CARGO_TARGET_DIR" -mindepth 2 -maxdepth 4 -path '*/debug/*' \
    \( -name 'libomnitron-*' -o -name 'omnitron-*' -o -name 'app-*' -o -name incremental \) \
    -prune -exec rm -rf {} +
fi
export CARGO_INCREMENTAL=0
cargo run -q > run.out 2> build.log || { cat build.log; fail "cargo run failed"; }
cat run.out
grep -qx 'repo: postgres://demo' run.out || fail "the example did not print 'repo: postgres://demo'"

trap - ERR
cd /
rm -rf "$tmp"
echo "$name.crate: a new crate depending on it built and ran the docs' example"
