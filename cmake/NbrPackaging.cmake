# Installation: the libraries, the header, a pkg-config file and a CMake package
# so that tools outside the tree find us with pkg-config or find_package(nbrewind).
include(CMakePackageConfigHelpers)
if(NBR_WITH_MPI)
  set(NBR_WITH_MPI_BOOL TRUE)
else()
  set(NBR_WITH_MPI_BOOL FALSE)
endif()

install(TARGETS nbrewind nbrewind_static EXPORT nbrewindTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${PROJECT_SOURCE_DIR}/include/nbrewind.h"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(NBR_WITH_MPI)
  install(FILES "${PROJECT_SOURCE_DIR}/include/nbrewind_mpi.h"
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

set(NBR_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nbrewind")
install(EXPORT nbrewindTargets NAMESPACE nbrewind:: DESTINATION "${NBR_CMAKE_DIR}")
configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/nbrewindConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/nbrewindConfig.cmake"
  INSTALL_DESTINATION "${NBR_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/nbrewindConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/nbrewindConfig.cmake"
  "${PROJECT_BINARY_DIR}/nbrewindConfigVersion.cmake" DESTINATION "${NBR_CMAKE_DIR}")

# The pkg-config file names the prefix the library is installed into, which
# `cmake --install --prefix DIR` may change after configuring: it is written at
# install time, from CMAKE_INSTALL_PREFIX as the install step sees it (with
# DESTDIR staging, the final prefix, as pkg-config files want).  The copy in
# the build tree names the configured prefix.
foreach(_kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_kind}}")
    set(NBR_PC_${_kind} "${CMAKE_INSTALL_${_kind}}")
  else()
    set(NBR_PC_${_kind} "\${prefix}/${CMAKE_INSTALL_${_kind}}")
  endif()
endforeach()
# Threads: empty where pthreads live in libc (glibc >= 2.34), else -pthread.
set(NBR_PC_THREADS "${CMAKE_THREAD_LIBS_INIT}")
# MPI (libnbrewind.a's mpi.c): Open MPI's pkg-config module, else MPICH's,
# else the libraries CMake found.
set(NBR_PC_MPI_REQUIRES "")
set(NBR_PC_MPI_LIBS "")
if(NBR_WITH_MPI)
  pkg_check_modules(_NBR_PC_OMPI QUIET mpi-c)
  pkg_check_modules(_NBR_PC_MPICH QUIET mpich)
  if(_NBR_PC_OMPI_FOUND)
    set(NBR_PC_MPI_REQUIRES " mpi-c")
  elseif(_NBR_PC_MPICH_FOUND)
    set(NBR_PC_MPI_REQUIRES " mpich")
  else()
    foreach(_lib IN LISTS MPI_C_LIBRARIES)
      string(APPEND NBR_PC_MPI_LIBS " ${_lib}")
    endforeach()
  endif()
endif()
set(NBR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/nbrewind.pc.in"
  "${PROJECT_BINARY_DIR}/nbrewind.pc" @ONLY)
# The template for the install step: everything but the prefix filled in.
set(NBR_PC_PREFIX "@NBR_PC_PREFIX@")
configure_file("${PROJECT_SOURCE_DIR}/cmake/nbrewind.pc.in"
  "${PROJECT_BINARY_DIR}/pkgconfig-install/nbrewind.pc.in" @ONLY)
install(CODE "
  set(NBR_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file([[${PROJECT_BINARY_DIR}/pkgconfig-install/nbrewind.pc.in]]
    [[${PROJECT_BINARY_DIR}/pkgconfig-install/nbrewind.pc]] @ONLY)
")
install(FILES "${PROJECT_BINARY_DIR}/pkgconfig-install/nbrewind.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
