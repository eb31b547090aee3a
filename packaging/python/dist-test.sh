#!/usr/bin/env bash
# dist-test-python: the wheel in dist/ installed as a user would, in a fresh directory under /tmp
# (no PYTHONPATH, nothing of the repository on sys.path), then used:
#   1. the README's Python quick start exactly as written (the first ```python block under
#      "### Python"), which must print postgres://demo;
#   2. a program with a pool of Python worker processes (`python -m omnitron.worker`, started from
#      the installed package) whose results are checked, type-checked by mypy --strict against the
#      installed package (py.typed and the stubs);
#   3. the quick start again on the oldest and the newest CPython this machine has (pyenv), 3.9 and
#      3.13 here: one abi3 wheel for all of them.
# Prints the sizes of the wheel and the sdist and the time of `import omnitron`. The directory is
# removed when everything passed (kept, and named, when something failed).
# Run by `make dist-test-python` with DIST and VERSION.
set -euo pipefail
: "${DIST:?}" "${VERSION:?}"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REPO_MYPY=$ROOT/.venv/bin/python
SDIST=$DIST/omnitron-$VERSION.tar.gz
shopt -s nullglob
wheels=("$DIST"/omnitron-"$VERSION"-cp39-abi3-*.whl)
shopt -u nullglob
[ "${#wheels[@]}" -eq 1 ] || { echo "dist-test-python: expected one wheel in $DIST, found ${#wheels[@]}" >&2; exit 1; }
WHEEL=${wheels[0]}

T=$(mktemp -d /tmp/omnitron-py.XXXXXX)
ok=0
trap '[ $ok = 1 ] || echo "dist-test-python: FAILED; its directory is kept: $T" >&2' EXIT
cd "$T"
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONSAFEPATH VIRTUAL_ENV
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

fail() { echo "dist-test-python: $*" >&2; exit 1; }

# A venv of interpreter $1 in $2 with the wheel, from dist/ only.
venv_with_wheel() {
  "$1" -m venv "$2"
  "$2/bin/pip" install --quiet --no-index "$WHEEL" || fail "pip could not install $(basename "$WHEEL") with $1"
}

## ---- 1. the README's quick start ------------------------------------------------------------
echo "== python3 -m venv, pip install --no-index $(basename "$WHEEL")"
venv_with_wheel python3 venv
awk '/^### Python$/ {f = 1; next} f && /^```python$/ {p = 1; next} p && /^```$/ {exit} p' \
  "$ROOT/README.md" > quickstart.py
[ -s quickstart.py ] || fail "no Python snippet found under '### Python' in README.md"
echo "== the README's Python quick start"
out=$(venv/bin/python quickstart.py) || fail "the README's quick start failed"
[ "$out" = "postgres://demo" ] || fail "the README's quick start printed '$out', not postgres://demo"
echo "$out"

# Where it came from: the venv's site-packages, the stubs and the marker beside the extension.
venv/bin/python - <<'EOF'
import importlib.metadata as md, os, sys, sysconfig
import omnitron, omnitron._native as native
site = sysconfig.get_paths()["purelib"]
for m in (omnitron, native):
    assert m.__file__ and m.__file__.startswith(site), (m.__name__, m.__file__, site)
assert native.__file__.endswith("_native.abi3.so"), native.__file__
pkg = os.path.dirname(omnitron.__file__)
for f in ("py.typed", "_native.pyi"):
    assert os.path.isfile(os.path.join(pkg, f)), f
assert any(e.name == "omnitron" and e.value == "omnitron.pytest_plugin" for e in md.entry_points(group="pytest11"))
assert md.version("omnitron") == os.environ.get("VERSION", md.version("omnitron"))
EOF

## ---- 2. a pool of Python workers ----------------------------------------------------------------
mkdir app
cat > app/workers.py <<'EOF'
import os
import sys

import omnitron
from omnitron import public, service


@service("squares@1.0.0")
class Squares:
    @public
    def square(self, x: int) -> int:
        return x * x

    @public
    async def where(self, tag: int) -> dict[str, object]:
        return {"tag": tag, "pid": os.getpid(), "omnitron": omnitron.__file__, "python": sys.executable}
EOF
cat > app/main.py <<'EOF'
import asyncio
import os
import sys

import omnitron
from omnitron import Pool
from workers import Squares


async def main() -> None:
    async with await Pool.of(Squares, size=2) as pool:
        squares = await pool.map(range(1000), "square")
        assert squares == [x * x for x in range(1000)], squares[:10]
        where = await pool.map(range(64), "where")
        pids = set(pool.status()["pids"])
    assert [w["tag"] for w in where] == list(range(64))
    assert len(pids) == 2 and os.getpid() not in pids, pids
    for w in where:
        assert w["pid"] in pids, (w, pids)
        assert os.path.normpath(str(w["python"])) == os.path.normpath(sys.executable), (w, sys.executable)
        assert w["omnitron"] == omnitron.__file__, (w, omnitron.__file__)
    print(f"pool: 2 workers, sum of squares {sum(squares)}")


asyncio.run(main())
EOF
echo "== a pool of 2 Python workers from the installed package"
out=$(cd app && ../venv/bin/python main.py) || fail "the pool program failed"
[ "$out" = "pool: 2 workers, sum of squares 332833500" ] || fail "the pool program printed '$out'"
echo "$out"
echo "== mypy --strict on it, against the installed package (py.typed, _native.pyi)"
(cd app && "$REPO_MYPY" -m mypy --strict --python-executable "$T/venv/bin/python" --cache-dir "$T/mypy-cache" \
   --no-error-summary main.py workers.py) || fail "mypy --strict failed on the pool program"

## ---- 3. the oldest and the newest CPython here: one abi3 wheel ---------------------------------
pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for v in 3.9 3.13; do
  py=$(ls -d "$pyroot"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$py" ] || py=$(command -v "python$v" || true)
  if [ -z "$py" ]; then echo "(no python$v on this machine: not tried)"; continue; fi
  echo "== the quick start on $("$py" -V)"
  venv_with_wheel "$py" "venv$v"
  out=$("venv$v/bin/python" quickstart.py) || fail "the README's quick start failed on $("$py" -V)"
  [ "$out" = "postgres://demo" ] || fail "on $("$py" -V) the quick start printed '$out'"
done

## ---- sizes and import time -------------------------------------------------------------------------
echo "== sizes and import time"
for f in "$WHEEL" "$SDIST"; do
  [ -f "$f" ] && printf '%-70s %s\n' "$(basename "$f")" "$(numfmt --to=iec --suffix=B "$(stat -c %s "$f")")"
done
venv/bin/python - <<'EOF'
import statistics, subprocess, sys, time

def runs(code: str) -> tuple[float, float]:
    wall, imp = [], []
    for _ in range(5):
        t = time.perf_counter()
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], check=True,
                             capture_output=True, text=True).stderr
        wall.append(time.perf_counter() - t)
        # "import time: self [us] | cumulative | imported package": the top-level omnitron line.
        imp += [int(l.split("|")[1]) for l in err.splitlines() if l.rstrip().endswith("| omnitron")]
    return statistics.median(wall), statistics.median(imp) if imp else 0.0

base, _ = runs("pass")
wall, cum = runs("import omnitron")
print(f"import omnitron: {cum / 1000:.1f} ms (-X importtime, median of 5); "
      f"python -c 'import omnitron' {wall * 1000:.0f} ms vs 'pass' {base * 1000:.0f} ms")
EOF

cd /
rm -rf "$T"
ok=1
echo "== the wheel installed with pip and used outside the repository: quick start, pool, mypy, abi3"
