# -DNBR_SANITIZE=ON builds everything with ASan + UBSan; any finding aborts.
#
# -DNBR_FUZZ=ON (clang only) also builds the libFuzzer harnesses (tests/fuzz).
# It implies NBR_SANITIZE, and compiles all our code with the fuzzer's
# coverage instrumentation (-fsanitize=fuzzer-no-link) so that libFuzzer sees
# which branches of the analyzers and grammars an input reaches.  The other
# tests of such a build still work: the sanitizer runtime they link supplies
# the (no-op) coverage callbacks.
if(NBR_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NBR_FUZZ=ON needs clang (libFuzzer): configure with "
      "-DCMAKE_C_COMPILER=clang (found ${CMAKE_C_COMPILER_ID}).")
  endif()
  if(NOT NBR_SANITIZE)
    message(STATUS "NBR_FUZZ=ON: building with ASan + UBSan as well")
    set(NBR_SANITIZE ON)
  endif()
endif()

if(NBR_SANITIZE)
  set(_nbr_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_nbr_san})
  add_link_options(${_nbr_san})
endif()

if(NBR_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# NBR_SANITIZER_HOST_ENV: the environment a test needs to load the instrumented
# libnbrewind.so into a host program that was NOT built with the sanitizers
# (/usr/bin/python3 through ctypes, R, the Python extension).  Such a host has
# no sanitizer runtime of its own, so the runtime must be preloaded; leak
# detection is off there because the interpreter's own allocations alive at
# exit (interned objects, module state) are not ours and not leaks.  The C
# tests, the FFI test and the fuzzer keep leak detection on and cover the
# library's own allocations.  Empty in builds without sanitizers.  Use:
#   set_tests_properties(t PROPERTIES ENVIRONMENT "${NBR_SANITIZER_HOST_ENV}")
set(NBR_SANITIZER_HOST_ENV "")
if(NBR_SANITIZE)
  if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    set(_nbr_asan_rt_name libclang_rt.asan-${CMAKE_SYSTEM_PROCESSOR}.so)
  else()
    set(_nbr_asan_rt_name libasan.so)
  endif()
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=${_nbr_asan_rt_name}
    OUTPUT_VARIABLE _nbr_asan_rt OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(IS_ABSOLUTE "${_nbr_asan_rt}" AND EXISTS "${_nbr_asan_rt}")
    set(NBR_SANITIZER_HOST_ENV
      "LD_PRELOAD=${_nbr_asan_rt}"
      "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1"
      "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  else()
    message(WARNING "NBR_SANITIZE: no ${_nbr_asan_rt_name} found; tests that load the "
      "library into an uninstrumented host will fail in this build")
  endif()
endif()
