#!/usr/bin/env bash
# The consumer test (tests/install_test.cc runs it; `make test`): installs
# tslab into a temporary prefix with `make install`, then builds and runs,
# outside the source tree, the README's own snippets exactly as printed
# (tests/consumer/extract_readme.py): a C program with pkg-config (shared,
# and --static), a C++ program with pkg-config, a CMake project with
# find_package(tslab) (tslab::tslab_static from C, tslab::tslab from C++);
# then a compat program with pkg-config tslab_compat; then the installed
# tools and man pages; then a DESTDIR install and `make uninstall`.
#
# Usage: run.sh SOURCE_DIR [SAN] [SANFLAGS]
# With SAN (address|thread) it installs that build (build/san-SAN) and
# compiles the consumers with SANFLAGS (a sanitized library needs
# sanitized programs); a fully static program cannot be sanitized, so
# that one step says "skip". Prints "ok: STEP" per step; the first failure
# prints "FAIL: STEP: ..." and exits 1.
set -uo pipefail
src=$1 san=${2-} sanflags=${3-}
tmp=$(mktemp -d /tmp/tslab-consumer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
log=$tmp/log

fail() { echo "FAIL: $1: $2"; [ -s "$log" ] && tail -20 "$log"; exit 1; }
ok() { echo "ok: $1"; }
# make as a child of a test, not of the make that runs the tests.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL nice -n 10 make -C "$src" -j2 \
         ${san:+SAN=$san} "$@"; }

mk install PREFIX="$prefix" > "$log" 2>&1 || fail install "make install failed"
ok install

lib=$prefix/lib
ver=$(sed -n 's/^Version: //p' "$lib/pkgconfig/tslab.pc")
major=${ver%%.*}
[ -f "$lib/libtslab.so.$ver" ] || fail layout "no libtslab.so.$ver"
[ "$(readlink "$lib/libtslab.so.$major")" = "libtslab.so.$ver" ] || fail layout "libtslab.so.$major link"
[ "$(readlink "$lib/libtslab.so")" = "libtslab.so.$major" ] || fail layout "libtslab.so link"
readelf -d "$lib/libtslab.so.$ver" | grep -q "SONAME.*\[libtslab.so.$major\]" || fail layout "soname is not libtslab.so.$major"
readelf -d "$lib/libtslab_compat.so.$ver" | grep -q "SONAME.*\[libtslab_compat.so.$major\]" || fail layout "compat soname"
for f in lib/libtslab.a include/tslab/tslab.h include/tslab/tslab.hpp include/tslab/stats.h \
         include/tslab/stats_region.h include/tslab/compat/slab_alloc.h \
         lib/cmake/tslab/tslab-config.cmake lib/cmake/tslab/tslab-config-version.cmake \
         lib/pkgconfig/tslab_compat.pc bin/stats_dump bin/tslab-trace bin/tslab-exporter \
         share/tslab/doctor.yaml share/doc/tslab/README.md share/man/man1/stats_dump.1 \
         share/man/man3/tslab.3 share/man/man8/tslab-trace.8 share/man/man8/tslab-exporter.8 \
         share/bash-completion/completions/stats_dump \
         share/bash-completion/completions/tslab-trace \
         share/bash-completion/completions/tslab-exporter; do
  [ -e "$prefix/$f" ] || fail layout "$f not installed"
done
grep -q '^Libs.private: .*-lstdc++' "$lib/pkgconfig/tslab.pc" || fail layout "Libs.private lacks -lstdc++"
ok layout

# The README's snippets, exactly as printed.
work=$tmp/consumer
mkdir -p "$work"
python3 "$src/tests/consumer/extract_readme.py" "$src/README.md" "$work" > "$log" 2>&1 ||
  fail readme "$(cat "$log")"
cd "$work" || fail readme "no $work"
export PKG_CONFIG_PATH=$lib/pkgconfig
export LD_LIBRARY_PATH=$lib
export TSLAB_STATS_DIR=off
# The README says cc/c++; under a sanitizer they get its flags.
cc() { command cc $sanflags -Wall -Wextra -Werror "$@"; }
c++() { command c++ $sanflags -Wall -Wextra -Werror "$@"; }

# Runs each build line of FILE (bash), then ./app, which must succeed.
run_lines() {
  local file=$1 name=$2 line n=0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    n=$((n + 1))
    if [ -n "$san" ] && [[ $line == *-static* ]]; then
      echo "skip: $name.$n (a static program cannot be sanitized): $line"; continue
    fi
    rm -f app
    eval "$line" > "$log" 2>&1 || fail "$name.$n" "build failed: $line"
    ./app > "$log" 2>&1 || fail "$name.$n" "./app failed after: $line"
    case $line in
      *-static*) ! readelf -d app 2>/dev/null | grep -q NEEDED || fail "$name.$n" "not static" ;;
      *) readelf -d app | grep -q "NEEDED.*\[libtslab.so.$major\]" || fail "$name.$n" "does not need libtslab.so.$major" ;;
    esac
    ok "$name.$n: $line"
  done < "$file"
}
run_lines c_build.sh readme-c
run_lines cxx_build.sh readme-cxx
grep -q '^live objects: 0$' "$log" || fail readme-cxx "output: $(cat "$log")"

# The README's CMake project.
command -v cmake > /dev/null || fail cmake "cmake not installed (make deps)"
cmake -S . -B cmake-build -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="$sanflags" -DCMAKE_CXX_FLAGS="$sanflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$sanflags" > "$log" 2>&1 || fail cmake "configure failed"
cmake --build cmake-build > "$log" 2>&1 || fail cmake "build failed"
cmake-build/app > "$log" 2>&1 || fail cmake "app failed"
readelf -d cmake-build/app | grep -q 'NEEDED.*libtslab' && fail cmake "app (tslab_static) needs libtslab.so"
env -u LD_LIBRARY_PATH cmake-build/app_cxx > "$log" 2>&1 || fail cmake "app_cxx failed (rpath?)"
readelf -d cmake-build/app_cxx | grep -q "NEEDED.*\[libtslab.so.$major\]" || fail cmake "app_cxx does not need libtslab.so.$major"
ok "cmake: find_package(tslab), tslab::tslab_static from C, tslab::tslab from C++"

# A program written for the original temporal-slab, with pkg-config tslab_compat.
cc -std=c11 "$src/tests/compat/every_decl.c" $(pkg-config --cflags --libs tslab_compat) -o compat_app \
  > "$log" 2>&1 || fail compat "build failed"
./compat_app > "$log" 2>&1 || fail compat "run failed"
readelf -d compat_app | grep -q "NEEDED.*\[libtslab_compat.so.$major\]" || fail compat "does not need libtslab_compat.so"
ok "compat: pkg-config tslab_compat"

# The installed tools: their version, and stats_dump's doctor.yaml found
# relative to the installed binary.
"$prefix/bin/stats_dump" --version | grep -q "^stats_dump (tslab) $ver " || fail tools "stats_dump --version"
"$prefix/bin/tslab-trace" --version | grep -q "^tslab-trace (tslab) $ver " || fail tools "tslab-trace --version"
"$prefix/bin/tslab-exporter" --version | grep -q "^tslab-exporter (tslab) $ver " || fail tools "tslab-exporter --version"
env -u TSLAB_DOCTOR_CONFIG "$prefix/bin/stats_dump" --show-config > "$log" 2>&1 || fail tools "--show-config"
grep -q "\"source\": \"$prefix/share/tslab/doctor.yaml\"" "$log" || fail tools "doctor.yaml not the installed one: $(grep source "$log")"
ok "tools: --version, share/tslab/doctor.yaml"

# The man pages render without a warning (groff -ww), if groff is here.
if command -v groff > /dev/null; then
  for m in "$prefix"/share/man/man*/*; do
    groff -man -Tutf8 -ww -z "$m" > "$log" 2>&1 || fail man "$m"
    [ -s "$log" ] && fail man "$m: $(head -1 "$log")"
  done
  ok "man pages render"
else
  echo "skip: man (groff not installed)"
fi

# The bash completion loads and completes.
bash -c "source '$prefix/share/bash-completion/completions/stats_dump'
  COMP_WORDS=(stats_dump --vers); COMP_CWORD=1; _tslab_stats_dump; echo \"\${COMPREPLY[*]}\"" \
  | grep -qx -- '--version' || fail completion "stats_dump --vers does not complete"
bash -c "source '$prefix/share/bash-completion/completions/tslab-trace'
  COMP_WORDS=(tslab-trace --probe slow); COMP_CWORD=2; _tslab_trace; echo \"\${COMPREPLY[*]}\"" \
  | grep -qx -- 'slow_path' || fail completion "tslab-trace --probe slow does not complete"
ok completion

# DESTDIR staging, then uninstall leaves nothing behind.
stage=$tmp/stage
mk install PREFIX=/usr/local DESTDIR="$stage" > "$log" 2>&1 || fail destdir "make install DESTDIR failed"
[ -e "$stage/usr/local/lib/libtslab.so.$ver" ] || fail destdir "nothing under DESTDIR/PREFIX"
grep -q '^prefix=/usr/local$' "$stage/usr/local/lib/pkgconfig/tslab.pc" || fail destdir "tslab.pc names the stage"
mk uninstall PREFIX=/usr/local DESTDIR="$stage" > "$log" 2>&1 || fail uninstall "make uninstall failed"
left=$(find "$stage" ! -type d | head -5)
[ -z "$left" ] || fail uninstall "left behind: $left"
mk uninstall PREFIX="$prefix" > "$log" 2>&1 || fail uninstall "make uninstall (prefix) failed"
left=$(find "$prefix" ! -type d | head -5)
[ -z "$left" ] || fail uninstall "left behind: $left"
ok "destdir and uninstall"
echo "consumer: all passed"
