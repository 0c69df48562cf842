# cmake -DLIBRARY=libnbrewind.so -DHEADER=nbrewind.h[|nbrewind_mpi.h] -DNM=nm -P check_exports.cmake
#
# HEADER is one public header or several separated by '|' (the first is the
# main one).  Fails when the shared library exports a symbol that is not
# nbr_-prefixed, exports an nbr_ symbol that no header declares NBR_API (an internal
# helper such as nbr_buf_append leaking into the ABI), or does not export a
# function that the header declares NBR_API.  Prints "N passed, N failed"
# (one check per symbol).
cmake_minimum_required(VERSION 3.18)

foreach(_var LIBRARY HEADER NM)
  if(NOT ${_var})
    message(FATAL_ERROR "check_exports.cmake: -D${_var}=... is required")
  endif()
endforeach()

# Symbols that may show up in any ELF shared object without being ours: the
# ones the linker or crt files define.  _init/_fini come from crti.o; _edata,
# _end and __bss_start are section boundaries ld defines.  exports.map makes
# them all local today, but a different linker (gold, lld) or a script change
# could export them, and they are not part of any API a host could call.
set(_ignored _init _fini _edata _end __bss_start)

# --- what the library exports ---------------------------------------------
execute_process(COMMAND "${NM}" -D --defined-only "${LIBRARY}"
  OUTPUT_VARIABLE _nm_out ERROR_VARIABLE _nm_err RESULT_VARIABLE _nm_rc)
if(NOT _nm_rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D --defined-only ${LIBRARY} failed (${_nm_rc}): ${_nm_err}")
endif()
string(REPLACE "\n" ";" _nm_lines "${_nm_out}")
set(_exported)
foreach(_line IN LISTS _nm_lines)
  # "0000000000004220 T nbr_version" (a version suffix "@@V" is dropped)
  if(_line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
    set(_type "${CMAKE_MATCH_1}")
    set(_sym "${CMAKE_MATCH_2}")
    # A symbol-version node (exports.map naming a version, e.g. NBREWIND_0)
    # shows up as an absolute symbol with that name: it marks a version of the
    # ABI, it is nothing a host can call or read.
    if(_type STREQUAL "A" AND _sym MATCHES "^[A-Z][A-Z0-9_.]*$")
      continue()
    endif()
    list(APPEND _exported "${_sym}")
  endif()
endforeach()
list(REMOVE_DUPLICATES _exported)
list(LENGTH _exported _n_exported)
if(_n_exported EQUAL 0)
  message(FATAL_ERROR "${NM} found no dynamic symbols in ${LIBRARY}: is it a shared library?")
endif()

# --- what the headers declare --------------------------------------------
string(REPLACE "|" ";" _headers "${HEADER}")
set(_declared)
set(_first TRUE)
foreach(_path IN LISTS _headers)
  file(READ "${_path}" _header)
  # Semicolons are CMake's list separator: take them out before any list work.
  string(REPLACE ";" " SEMICOLON " _header "${_header}")
  # Drop comments, so that a comment naming nbr_foo( is not a declaration.
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" " " _header "${_header}")
  string(REGEX REPLACE "//[^\n]*" " " _header "${_header}")
  # Join continuation lines and everything else: a declaration may span lines.
  string(REGEX REPLACE "[\n\t ]+" " " _header "${_header}")
  # "NBR_API <return type> nbr_name(" -- the return type has no '(' nor ';'.
  string(REGEX MATCHALL "NBR_API [^(]*[ *]nbr_[A-Za-z0-9_]+ ?\\(" _decls "${_header}")
  set(_here)
  foreach(_decl IN LISTS _decls)
    if(_decl MATCHES "SEMICOLON")
      continue() # a match ran across statements: not one declaration
    endif()
    string(REGEX MATCH "nbr_[A-Za-z0-9_]+ ?\\($" _name "${_decl}")
    string(REGEX REPLACE " ?\\($" "" _name "${_name}")
    list(APPEND _here "${_name}")
  endforeach()
  list(REMOVE_DUPLICATES _here)
  list(LENGTH _here _n_here)
  # The main header declares dozens; any other at least one, or the parser
  # no longer understands it.
  if(_first)
    set(_min 10)
  else()
    set(_min 1)
  endif()
  if(_n_here LESS _min)
    message(FATAL_ERROR "found only ${_n_here} NBR_API functions in ${_path}: "
      "the header parser no longer understands it (${_here})")
  endif()
  set(_first FALSE)
  list(APPEND _declared ${_here})
endforeach()
list(REMOVE_DUPLICATES _declared)
list(LENGTH _declared _n_declared)

# --- compare ----------------------------------------------------------------
set(_passed 0)
set(_failed 0)
foreach(_sym IN LISTS _exported)
  if(_sym IN_LIST _ignored)
    continue()
  endif()
  if(NOT _sym MATCHES "^nbr_")
    message(SEND_ERROR "exported symbol without the nbr_ prefix: ${_sym}")
    math(EXPR _failed "${_failed} + 1")
  elseif(NOT _sym IN_LIST _declared)
    message(SEND_ERROR "exported symbol not declared NBR_API in ${HEADER}: ${_sym}")
    math(EXPR _failed "${_failed} + 1")
  else()
    math(EXPR _passed "${_passed} + 1")
  endif()
endforeach()
foreach(_fn IN LISTS _declared)
  if(NOT _fn IN_LIST _exported)
    message(SEND_ERROR "declared NBR_API in ${HEADER} but not exported: ${_fn}")
    math(EXPR _failed "${_failed} + 1")
  endif()
endforeach()

message(STATUS "${_n_exported} symbols exported, ${_n_declared} NBR_API functions declared")
# message(STATUS) prefixes "-- "; the summary line must stand alone.
execute_process(COMMAND "${CMAKE_COMMAND}" -E echo "${_passed} passed, ${_failed} failed")
