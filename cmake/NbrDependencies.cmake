# Third-party libraries, all from Debian packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
# Debian's tree-sitter.pc reports a stale version (0.6.3): never version-check it.
pkg_check_modules(NBR_TREESITTER REQUIRED IMPORTED_TARGET tree-sitter)
find_package(Threads REQUIRED)
# The store: serial HDF5 (the one h5py links; with libhdf5-openmpi-dev installed,
# plain `hdf5` would mean the parallel build, so ask for hdf5-serial by name),
# Blosc for compression, xxHash for content ids.
pkg_check_modules(NBR_HDF5 REQUIRED IMPORTED_TARGET hdf5-serial)
pkg_check_modules(NBR_BLOSC REQUIRED IMPORTED_TARGET blosc)
pkg_check_modules(NBR_XXHASH REQUIRED IMPORTED_TARGET libxxhash)
set(NBR_CORE_DEPENDENCIES PkgConfig::NBR_TREESITTER PkgConfig::NBR_HDF5 PkgConfig::NBR_BLOSC PkgConfig::NBR_XXHASH
    Threads::Threads)
