#!/usr/bin/env bash
# Installs what nbrewind needs to build and test, and nothing twice.
#
# Debian packages come from apt (only the missing ones are asked for, so a machine
# that has everything spends no time here); tree-sitter grammars come from the npm
# registry at pinned versions, are checked against their sha256, and are unpacked
# into the build tree (never into git).
#
# Usage: scripts/install-deps.sh [BUILD_DIR]     (default: build)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build_dir=${1:-$top/build}

# Every Debian package the code, the tests and the benchmarks use. Keep this list
# complete: CI machines may have leftovers from earlier sessions that hide a gap.
debian_packages=(
  # build
  build-essential cmake pkg-config git ca-certificates
  # C core
  libtree-sitter-dev libhdf5-dev libblosc-dev libxxhash-dev libffi-dev
  hdf5-filter-plugin-blosc-serial hdf5-tools
  libopenmpi-dev openmpi-bin
  # sanitizers and fuzzing (llvm-14 brings llvm-symbolizer for readable reports)
  clang libclang-rt-14-dev llvm-14
  # grammar download
  nodejs npm
  # Python (Debian's /usr/bin/python3, never a PATH lookup)
  python3{,-dev,-venv,-setuptools,-pip,-wheel}
  python3-pytest python3-pytest-xdist python3-numpy python3-h5py python3-mpi4py python3-dill
  python3-cloudpickle python3-pandas python3-hdf5plugin python3-tqdm
  python3-ipython python3-ipykernel python3-jupyter-client python3-nbformat python3-nbclient
  jupyter-core jupyter-client python3-distributed python3-dask
  # the bundled example notebook (make demo) plots with matplotlib
  python3-matplotlib
  # R
  r-base-dev r-cran-irkernel r-cran-testthat r-cran-hdf5r
  # taskset, for the test of an audit kernel given one CPU (essential in Debian; named anyway)
  util-linux
)

# Prints the packages of the list that are not installed.  One dpkg-query for the
# whole list (it lists what it knows and complains about the rest), so a machine
# that has everything pays a few milliseconds, not one process per package.
missing_packages() {
  local -A installed=()
  local pkg status
  while read -r pkg status; do
    if [[ $status == 'install ok installed' ]]; then installed[$pkg]=1; fi
  done < <(dpkg-query -W -f='${Package} ${Status}\n' "${debian_packages[@]}" 2>/dev/null || true)
  for pkg in "${debian_packages[@]}"; do
    if [[ -n ${installed[$pkg]:-} ]]; then continue; fi
    # nodejs/npm may come from a newer non-Debian build already on the machine.
    if [[ $pkg == nodejs ]] && command -v node >/dev/null; then continue; fi
    if [[ $pkg == npm ]] && command -v npm >/dev/null; then continue; fi
    printf '%s\n' "$pkg"
  done
}

install_debian_packages() {
  local -a missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return 0
  echo "install-deps: installing Debian packages: ${missing[*]}"
  local sudo=
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# name|version|sha256 of the npm tarball; directory under $build_dir/grammars
grammars=(
  "tree-sitter-python|0.23.6|aab5b860d93dbf84b37fed532f7dacc0468ede5387d0c74911d68f964287662a|python"
  "@eagleoutice/tree-sitter-r|1.1.2|e56d2b4bb974a2c0062e1d125e6518adde3bdd9afd5e93eb290d5f5852fbfa3b|r"
)

fetch_grammar() {
  local name=$1 version=$2 sha=$3 dir=$4
  local dest=$build_dir/grammars/$dir stamp
  stamp=$dest/.nbr-installed-$version
  [[ -f $stamp ]] && return 0
  local tmp
  tmp=$(mktemp -d)
  echo "install-deps: fetching $name@$version from the npm registry"
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
  local tarball
  tarball=$(ls "$tmp"/*.tgz)
  local got
  got=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [[ $got != "$sha" ]]; then
    echo "install-deps: $name@$version: sha256 mismatch (expected $sha, got $got)" >&2
    rm -rf "$tmp"
    exit 1
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  tar -xzf "$tarball" -C "$dest" --strip-components=1
  rm -rf "$tmp"
  touch "$stamp"
}

install_grammars() {
  local entry
  for entry in "${grammars[@]}"; do
    IFS='|' read -r name version sha dir <<<"$entry"
    fetch_grammar "$name" "$version" "$sha" "$dir"
  done
}

case ${NBR_INSTALL_ONLY:-all} in
  debian) install_debian_packages ;;
  grammars) install_grammars ;;
  *) install_debian_packages; install_grammars ;;
esac
