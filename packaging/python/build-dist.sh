#!/usr/bin/env bash
# dist-python: the sdist, then the release wheel built FROM that sdist (so the sdist is known to
# build), both checked, then copied into $DIST. Run by `make dist-python` with DIST, VERSION and HOST.
#
#   sdist  omnitron-$VERSION.tar.gz: the workspace trimmed to core + bindings/python (maturin
#          carries the path dependency), pyproject.toml, Cargo.lock, the Python sources
#   wheel  omnitron-$VERSION-cp39-abi3-manylinux2014_<arch>.manylinux_2_17_<arch>.whl: one wheel
#          for CPython >= 3.9 (pyo3's abi3-py39), linked by zig against glibc 2.17, cargo profile
#          `dist` (release, no debug info, symbols stripped)
#
# The wheel is built in its own target dir (target/python-dist): zig as linker and C compiler
# (libsqlite3-sys) would otherwise make the other doors' dist builds and this one rebuild each
# other's artefacts in turn. The sdist is unpacked at a fixed place and only files whose content
# changed are rewritten (the sdist's files all carry one old mtime), so cargo rebuilds what changed.
set -euo pipefail
: "${DIST:?}" "${VERSION:?}" "${HOST:?}"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ARCH=${HOST%%-*}
SDIST=omnitron-$VERSION.tar.gz
WHEEL=omnitron-$VERSION-cp39-abi3-manylinux2014_$ARCH.manylinux_2_17_$ARCH.whl
export CARGO_TARGET_DIR=$ROOT/target/python-dist
export CARGO_BUILD_TARGET=$HOST
# maturin, and zig through the ziglang package (`python -m ziglang`), from the repository's venv.
export PATH=$ROOT/.venv/bin:$PATH
STAGE=$CARGO_TARGET_DIR/stage
SRC=$CARGO_TARGET_DIR/sdist/omnitron-$VERSION

fail() { echo "dist-python: $*" >&2; exit 1; }
in_list() { grep -qxF -- "$1" "$2"; }

rm -rf "$STAGE" && mkdir -p "$STAGE/out" "$STAGE/unpacked" "$SRC" "$DIST"

## ---- the sdist ------------------------------------------------------------------------------
(cd "$ROOT/bindings/python" && maturin sdist --out "$STAGE/out") > "$STAGE/sdist.log" 2>&1 \
  || { cat "$STAGE/sdist.log"; fail "maturin sdist failed"; }
[ -f "$STAGE/out/$SDIST" ] || { ls "$STAGE/out"; fail "no $SDIST"; }
tar -tzf "$STAGE/out/$SDIST" | sed "s|^omnitron-$VERSION/||" | sort > "$STAGE/sdist.list"
# What a build reads: the manifests, the lock file, every Rust source of core and the binding
# (as git sees them: tracked or new, not ignored) and every file of the Python package.
{
  printf '%s\n' pyproject.toml PKG-INFO Cargo.toml Cargo.lock README.md bindings/python/Cargo.toml core/Cargo.toml
  (cd "$ROOT" && git ls-files --cached --others --exclude-standard -- core/src bindings/python/src)
  (cd "$ROOT/bindings/python" && git ls-files --cached --others --exclude-standard -- python/omnitron \
     | grep -E '\.pyi?$|/py\.typed$')
} | sort -u > "$STAGE/sdist.need"
missing=$(comm -23 "$STAGE/sdist.need" "$STAGE/sdist.list")
[ -z "$missing" ] || fail "the sdist lacks files a build needs:"$'\n'"$missing"

## ---- the wheel, built from the sdist ----------------------------------------------------------
tar -xzf "$STAGE/out/$SDIST" -C "$STAGE/unpacked"
NEW=$STAGE/unpacked/omnitron-$VERSION
(cd "$NEW" && find . -type f) | while IFS= read -r f; do
  cmp -s "$NEW/$f" "$SRC/$f" || { mkdir -p "$(dirname "$SRC/$f")"; cp "$NEW/$f" "$SRC/$f"; }
done
(cd "$SRC" && find . -type f) | while IFS= read -r f; do [ -e "$NEW/$f" ] || rm -f "$SRC/$f"; done

echo "building the wheel from the sdist (zig, manylinux2014, profile dist; cold: about 3 minutes)"
(cd "$SRC" && maturin build --quiet --profile dist --zig --compatibility manylinux2014 \
   --auditwheel check --out "$STAGE/out") \
  || fail "the wheel did not build from the sdist (unpacked in $SRC)"

## ---- the wheel's checks ----------------------------------------------------------------------
built=$(cd "$STAGE/out" && ls ./*.whl | sed 's|^\./||')
[ "$built" = "$WHEEL" ] || fail "built '$built', expected $WHEEL (not abi3 cp39, or not manylinux2014)"
W=$STAGE/out/$WHEEL

unzip -p "$W" "omnitron-$VERSION.dist-info/WHEEL" > "$STAGE/WHEEL"
for tag in "cp39-abi3-manylinux2014_$ARCH" "cp39-abi3-manylinux_2_17_$ARCH"; do
  in_list "Tag: $tag" "$STAGE/WHEEL" || { cat "$STAGE/WHEEL"; fail "the WHEEL file has no tag $tag"; }
done
in_list "Root-Is-Purelib: false" "$STAGE/WHEEL" || fail "the wheel claims to be pure Python"

# auditwheel reads the symbol versions the extension needs: glibc 2.17 at most.
auditwheel show "$W" > "$STAGE/auditwheel.txt" 2>&1 || { cat "$STAGE/auditwheel.txt"; fail "auditwheel show failed"; }
policy=$(tr -s ' \n' '  ' < "$STAGE/auditwheel.txt" \
  | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p')
glibc_minor=$(sed -n "s/^manylinux_2_\([0-9]*\)_$ARCH\$/\1/p" <<< "$policy")
[ -n "$glibc_minor" ] && [ "$glibc_minor" -le 17 ] \
  || { cat "$STAGE/auditwheel.txt"; fail "auditwheel: '$policy' is not manylinux2014 (manylinux_2_17) compatible"; }

# Its files: the whole Python package of the sdist (py.typed and the .pyi stubs too), one
# extension module, named for the stable ABI, and the metadata; nothing else.
zipinfo -1 "$W" | sort > "$STAGE/wheel.list"
{
  sed -n 's|^python/\(omnitron/.*\)|\1|p' "$STAGE/sdist.list"
  echo omnitron/_native.abi3.so
} | sort > "$STAGE/wheel.need"
for f in omnitron/py.typed omnitron/_native.pyi; do in_list "$f" "$STAGE/wheel.need" || fail "$f is not in the sources"; done
extra=$(comm -13 "$STAGE/wheel.need" "$STAGE/wheel.list" | grep -v "^omnitron-$VERSION\.dist-info/" || true)
missing=$(comm -23 "$STAGE/wheel.need" "$STAGE/wheel.list")
[ -z "$missing" ] || fail "the wheel lacks:"$'\n'"$missing"
[ -z "$extra" ] || fail "unexpected files in the wheel:"$'\n'"$extra"
unzip -q -o "$W" "omnitron-$VERSION.dist-info/*" omnitron/_native.abi3.so -d "$STAGE/files"
grep -qE '^omnitron ?= ?omnitron.pytest_plugin$' "$STAGE/files/omnitron-$VERSION.dist-info/entry_points.txt" \
  || fail "the wheel has no pytest11 entry point"
if grep -q '^Requires-Dist:' "$STAGE/files/omnitron-$VERSION.dist-info/METADATA"; then
  fail "the wheel now has run-time dependencies: dist-test-python installs it with --no-index"
fi
readelf -S "$STAGE/files/omnitron/_native.abi3.so" > "$STAGE/sections.txt"
if grep -q '\.debug_\|\.symtab' "$STAGE/sections.txt"; then
  fail "the wheel's extension has debug info or a symbol table (profile dist strips them)"
fi

## ---- into dist/ ----------------------------------------------------------------------------------
rm -f "$DIST"/omnitron-"$VERSION"-*.whl "$DIST/$SDIST"
cp "$W" "$STAGE/out/$SDIST" "$DIST/"
echo "auditwheel: $policy; tags $(sed -n 's/^Tag: //p' "$STAGE/WHEEL" | paste -sd ' ')"
ls -l "$DIST/$WHEEL" "$DIST/$SDIST"
