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

# MPI for collective checkpoints (libnbrewind/mpi.c, include/nbrewind_mpi.h):
# on by default when CMake finds an MPI C library; -DNBR_WITH_MPI=OFF builds
# without it (and without the header).  MPI only coordinates: the store's HDF5
# stays the serial one above, never parallel HDF5.
find_package(MPI COMPONENTS C QUIET)
if(MPI_C_FOUND)
  set(_nbr_mpi_default ON)
else()
  set(_nbr_mpi_default OFF)
endif()
option(NBR_WITH_MPI "Build collective checkpoints over MPI (nbrewind_mpi.h)" ${_nbr_mpi_default})
if(NBR_WITH_MPI)
  if(NOT MPI_C_FOUND)
    find_package(MPI COMPONENTS C REQUIRED)
  endif()
  list(APPEND NBR_CORE_DEPENDENCIES MPI::MPI_C)
endif()
