#!/usr/bin/env bash
# `make dist-test-c`: the C release tarball as a user gets it. Unpacked into a fresh directory
# outside the repository; the DI examples (examples/di/c/main.c, examples/di/cpp/main.cpp) built
# against it with pkg-config and with CMake (find_package, CMakeLists.txt next to this script),
# each against the shared and the static library, and run. The directory is removed on success and
# kept (its path printed) on failure.
#
#   packaging/c/dist-test.sh dist/libomnitron-<version>-linux-<arch>.tar.gz
set -euo pipefail

tarball=$(realpath "$1")
repo=$(cd "$(dirname "$0")/../.." && pwd)
name=$(basename "$tarball" .tar.gz)
tmp=$(mktemp -d /tmp/omnitron-c.XXXXXX)
trap 'echo "dist-test-c failed: see $tmp" >&2' ERR
fail() { echo "dist-test-c: $*" >&2; echo "dist-test-c failed: see $tmp" >&2; exit 1; }

cd "$tmp"
tar xzf "$tarball"
prefix=$tmp/$name
[ -f "$prefix/include/omnitron.h" ] || fail "$name.tar.gz has no $name/include/omnitron.h"
cp "$repo/examples/di/c/main.c" "$repo/examples/di/cpp/main.cpp" "$repo/packaging/c/CMakeLists.txt" .
# Nothing from the repository or another installation may leak in.
unset LD_LIBRARY_PATH CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH LIBRARY_PATH CMAKE_PREFIX_PATH
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig

# pkg-config. Shared: -lomnitron; the program finds libomnitron.so.0 through LD_LIBRARY_PATH.
# Static: the same flags with --static (Libs.private: the system libraries), and the archive
# itself named with -l:libomnitron.a (otherwise the linker prefers the .so next to it).
static_libs=$(pkg-config --static --libs omnitron | sed 's/-lomnitron\b/-l:libomnitron.a/')
gcc -std=c11 -Wall -Wextra -Werror main.c $(pkg-config --cflags --libs omnitron) -o pc_c_shared
gcc -std=c11 -Wall -Wextra -Werror main.c $(pkg-config --cflags omnitron) $static_libs -o pc_c_static
g++ -std=c++17 -Wall -Wextra -Werror main.cpp $(pkg-config --cflags --libs omnitron) -o pc_cpp_shared
g++ -std=c++17 -Wall -Wextra -Werror main.cpp $(pkg-config --cflags omnitron) $static_libs -o pc_cpp_static

# CMake: find_package(omnitron 0.2 CONFIG REQUIRED) through CMAKE_PREFIX_PATH; targets
# omnitron::omnitron (shared) and omnitron::omnitron_static.
cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > cmake.log \
  || { cat cmake.log; fail "cmake could not configure against $prefix"; }
grep -q "omnitron $(pkg-config --modversion omnitron) from $prefix/lib/cmake/omnitron" cmake.log \
  || { cat cmake.log; fail "find_package did not find omnitron in the unpacked prefix"; }
cmake --build build -j 2 > build.log || { cat build.log; fail "cmake --build failed"; }

for lang in c cpp; do
  for exe in pc_${lang}_shared pc_${lang}_static build/${lang}_shared build/${lang}_static; do
    out=${exe//\//_}.out
    case $exe in
      pc_*_shared) LD_LIBRARY_PATH=$prefix/lib "./$exe" > "$out" ;;  # no rpath: as a user would run it
      *) "./$exe" > "$out" ;;                                          # static, or CMake's build rpath
    esac
    needed=$(readelf -d "$exe" | grep -c 'NEEDED.*libomnitron' || true)
    case $exe in
      *_shared) [ "$needed" = 1 ] && readelf -d "$exe" | grep 'NEEDED.*\[libomnitron.so.0\]' > /dev/null \
                  || fail "$exe does not record libomnitron.so.0" ;;
      *_static) [ "$needed" = 0 ] || fail "$exe is linked against the shared library" ;;
    esac
    [ "$(wc -l < "$out")" = 2 ] && grep -q 'Ada' "$out" && grep -q 'Grace' "$out" \
      || { cat "$out"; fail "$exe did not print both greetings"; }
    cmp -s "$out" "pc_${lang}_shared.out" || fail "$exe printed something else than pc_${lang}_shared"
  done
done
# (grep without -q reads all of ldd's output: an early exit would fail the pipeline with SIGPIPE)
LD_LIBRARY_PATH=$prefix/lib ldd pc_c_shared | grep "libomnitron.so.0 => $prefix/lib/" > /dev/null \
  || fail "pc_c_shared did not load the unpacked libomnitron.so.0"
ldd build/c_shared | grep "libomnitron.so.0 => $prefix/lib/" > /dev/null \
  || fail "the CMake-built c_shared did not load the unpacked libomnitron.so.0"

cat pc_c_shared.out pc_cpp_shared.out
trap - ERR
cd /
rm -rf "$tmp"
echo "C and C++ from $name.tar.gz: pkg-config and CMake, shared and static, 8 programs ran"
