#!/usr/bin/env bash
# test_install.sh CMAKE BUILD_DIR CC CONSUMER_SRC VERSION PKG_CONFIG
#
# Installs the build into a temporary prefix (outside the source tree), then
# builds and runs consumer programs against the installed copy only:
#   1. a CMake project: find_package(nbrewind) + nbrewind::nbrewind (shared)
#   2. the same project linking nbrewind::nbrewind_static
#   3. cc $(pkg-config --cflags --libs nbrewind)               (shared)
#   4. cc $(pkg-config --static --cflags --libs nbrewind)      (from a prefix
#      that holds only the archive, as a static-only install does)
#   5. as 2, with CMake's pkg-config support disabled: nbrewindConfig.cmake's
#      fallbacks (plain -ltree-sitter, the serial libhdf5, -lblosc, -lxxhash)
# and checks what each prints (the version, an analysis, a content hash) and
# what each binary links.  Prints "N passed, N failed".
set -euo pipefail

cmake=$1 build=$2 cc=$3 consumer_src=$4 version=$5 pkg_config=$6

work=$(mktemp -d "${TMPDIR:-/tmp}/nbr-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
passed=0 failed=0

pass() { echo "ok: $1"; passed=$((passed + 1)); }
fail() { echo "FAILED: $1" >&2; failed=$((failed + 1)); }

# The build may have been configured for another prefix: --prefix overrides it.
if ! "$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
libdir=$(dirname "$(find "$prefix" -name 'libnbrewind.so' -print -quit)")
for f in include/nbrewind.h "${libdir#"$prefix"/}/pkgconfig/nbrewind.pc" \
         "${libdir#"$prefix"/}/cmake/nbrewind/nbrewindConfig.cmake" \
         "${libdir#"$prefix"/}/libnbrewind.a"; do
  if [[ -e $prefix/$f ]]; then pass "installed $f"; else fail "not installed: $f"; fi
done

# The consumers copy: nothing may resolve relative to the source tree.
cp -r "$consumer_src" "$work/src"

# check_run NAME BINARY EXPECT_SHARED(yes|no)
check_run() {
  local name=$1 bin=$2 shared=$3 out
  if ! out=$("$bin" 2>&1); then
    fail "$name: the consumer failed: $out"
    return
  fi
  if [[ $out != *"version $version"* ]]; then
    fail "$name: expected 'version $version' in: $out"
  elif [[ $out != *"header matches library: yes"* ]]; then
    fail "$name: header and library versions differ: $out"
  elif [[ $out != *'analysis {'*'"defs"'* ]]; then
    fail "$name: no analysis JSON in: $out"
  elif [[ $out != *"hash abc 06b05ab6733a618578af5f94892f3950"* ]]; then
    fail "$name: wrong or no XXH3-128 of \"abc\" in: $out"
  elif [[ $out != *"store round trip ok, checkpoint 0000000000000001"* ]]; then
    fail "$name: the store round trip (HDF5, Blosc) failed: $out"
  else
    local needed
    needed=$(readelf -d "$bin" | grep NEEDED || true)
    if [[ $shared == yes && $needed != *"libnbrewind.so.0"* ]]; then
      fail "$name: does not link libnbrewind.so.0 (by its soname): $needed"
    elif [[ $shared == no && $needed == *libnbrewind* ]]; then
      fail "$name: should not need libnbrewind.so: $needed"
    else
      pass "$name"
    fi
  fi
}

# 1 and 2: find_package(nbrewind), shared and static.
for link in shared static; do
  b=$work/cmake-$link
  if "$cmake" -S "$work/src" -B "$b" -DCMAKE_C_COMPILER="$cc" -DNBR_LINK=$link \
        -DCMAKE_PREFIX_PATH="$prefix" >"$b.log" 2>&1 &&
     "$cmake" --build "$b" >>"$b.log" 2>&1; then
    # Runs from its build tree: CMake gave it an rpath to the installed lib.
    if [[ $link == shared ]]; then
      check_run "find_package, nbrewind::nbrewind" "$b/consumer" yes
    else
      check_run "find_package, nbrewind::nbrewind_static" "$b/consumer" no
    fi
  else
    cat "$b.log" >&2
    fail "find_package consumer ($link) did not build"
  fi
done

# 3: pkg-config, shared.  A library in a non-system prefix is found at run
# time through LD_LIBRARY_PATH (pkg-config files carry no rpath).
export PKG_CONFIG_PATH=$libdir/pkgconfig
unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR || true
# shellcheck disable=SC2046 # the flags are meant to be split
if "$cc" -o "$work/pc-shared" "$work/src/consumer.c" \
     $("$pkg_config" --cflags --libs nbrewind) 2>"$work/pc-shared.log"; then
  LD_LIBRARY_PATH=$libdir check_run "pkg-config, shared" "$work/pc-shared" yes
else
  cat "$work/pc-shared.log" >&2
  fail "pkg-config consumer (shared) did not build"
fi

# 4: pkg-config --static against a prefix with only the archive: every library
# the archive needs must come from the .pc file (Requires.private/Libs.private).
static_prefix=$work/static-prefix
cp -a "$prefix" "$static_prefix"
static_libdir=$static_prefix${libdir#"$prefix"}
rm -f "$static_libdir"/libnbrewind.so*
sed -i "s|^prefix=.*|prefix=$static_prefix|" "$static_libdir/pkgconfig/nbrewind.pc"
# shellcheck disable=SC2046
if PKG_CONFIG_PATH=$static_libdir/pkgconfig \
   "$cc" -o "$work/pc-static" "$work/src/consumer.c" \
     $(PKG_CONFIG_PATH=$static_libdir/pkgconfig "$pkg_config" --static --cflags --libs nbrewind) \
     2>"$work/pc-static.log"; then
  check_run "pkg-config --static" "$work/pc-static" no
else
  cat "$work/pc-static.log" >&2
  fail "pkg-config consumer (static) did not build"
fi

# 5: the static library's dependencies without pkg-config.
b=$work/cmake-static-no-pkg-config
if "$cmake" -S "$work/src" -B "$b" -DCMAKE_C_COMPILER="$cc" -DNBR_LINK=static \
      -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
      -DCMAKE_PREFIX_PATH="$prefix" >"$b.log" 2>&1 &&
   "$cmake" --build "$b" >>"$b.log" 2>&1; then
  check_run "find_package, nbrewind::nbrewind_static without pkg-config" "$b/consumer" no
else
  cat "$b.log" >&2
  fail "find_package consumer (static, without pkg-config) did not build"
fi

# The installed command-line tool runs from the prefix.
if [[ -x $prefix/bin/nbr ]]; then
  if out=$("$prefix/bin/nbr" --version 2>&1) && [[ $out == *"$version"* ]]; then
    pass "installed nbr --version"
  else
    fail "installed nbr --version printed: $out"
  fi
fi

echo "$passed passed, $failed failed"
((failed == 0))
