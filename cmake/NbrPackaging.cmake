# Installation: the libraries, the header, a pkg-config file and a CMake package
# so that tools outside the tree find us with pkg-config or find_package(nbrewind).
include(CMakePackageConfigHelpers)

install(TARGETS nbrewind nbrewind_static EXPORT nbrewindTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${PROJECT_SOURCE_DIR}/include/nbrewind.h"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

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

configure_file("${PROJECT_SOURCE_DIR}/cmake/nbrewind.pc.in"
  "${PROJECT_BINARY_DIR}/nbrewind.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/nbrewind.pc"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
