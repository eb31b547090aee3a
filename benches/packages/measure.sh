#!/usr/bin/env bash
# Sizes of the packages in dist/ and how long each door takes to load, as a user installs them:
# `require('@omnitron-dev/native')` against `require('node:child_process')`, `import omnitron`
# against `import asyncio` (what the package needs anyway), a C program linked with libomnitron
# (shared, static) against the same program without it, and `omnitron --version`. Each figure is
# the median of 11 runs of a fresh process. Run `make dist` first; then
#   benches/packages/measure.sh [dist]
set -euo pipefail
dist=$(cd "${1:-dist}" && pwd)
v=$(sed -n 's/^version = "\(.*\)"/\1/p' "$(dirname "$0")/../../Cargo.toml" | head -1)
work=$(mktemp -d /tmp/omnitron-measure.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

median_ms() { # command...: the median wall time of 11 runs, in ms
  python3 - "$@" <<'EOF'
import statistics, subprocess, sys, time
runs = []
for _ in range(11):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
    runs.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(runs):.1f}")
EOF
}

size() { stat -c %s "$1" | awk '{ printf "%.2f MB", $1 / 1e6 }'; }

echo "| package | file | size |"
echo "| --- | --- | --- |"
for f in "$dist"/*; do echo "| $(basename "$f" | sed 's/-[0-9].*//') | $(basename "$f") | $(size "$f") |"; done

npm init -y > /dev/null
npm install --no-audit --no-fund --loglevel=error "$dist/omnitron-dev-native-$v.tgz" "$dist/omnitron-dev-native-linux-x64-gnu-$v.tgz"
python3 -m venv venv && venv/bin/pip install -q --disable-pip-version-check --no-index "$dist"/omnitron-"$v"-*.whl
mkdir c && tar -C c --strip-components=1 -xzf "$dist/libomnitron-$v-linux-x86_64.tar.gz"
tar -xzf "$dist/omnitron-cli-$v-linux-x86_64.tar.gz"
cat > hello.c <<'EOF'
#include <stdio.h>
#ifdef WITH_OMNITRON
#include <omnitron.h>
#endif
int main(void) {
#ifdef WITH_OMNITRON
  puts(omnitron_version());
#else
  puts("0");
#endif
  return 0;
}
EOF
gcc -O2 hello.c -o plain
gcc -O2 -DWITH_OMNITRON hello.c -Ic/include -Lc/lib -lomnitron -Wl,-rpath,"$work/c/lib" -o shared
gcc -O2 -DWITH_OMNITRON hello.c -Ic/include c/lib/libomnitron.a $(PKG_CONFIG_PATH=c/lib/pkgconfig pkg-config --static --libs-only-l omnitron | sed 's/-lomnitron//') -o static

echo
echo "| load | median of 11 fresh processes | baseline |"
echo "| --- | --- | --- |"
echo "| Node: \`require('@omnitron-dev/native')\` | $(median_ms node -e "require('@omnitron-dev/native')") ms | $(median_ms node -e "require('node:child_process')") ms (\`require('node:child_process')\`) |"
echo "| Python: \`import omnitron\` | $(median_ms venv/bin/python -c 'import omnitron') ms | $(median_ms venv/bin/python -c 'import asyncio') ms (\`import asyncio\`) |"
echo "| C: a program linked with \`libomnitron.so\` | $(median_ms ./shared) ms | $(median_ms ./plain) ms (the same program without it) |"
echo "| C: linked with \`libomnitron.a\` | $(median_ms ./static) ms | |"
echo "| \`omnitron --version\` | $(median_ms bin/omnitron --version) ms | |"
