# The tree-sitter grammars (Python, R) are generated C that the installer fetched
# from the npm registry into the build tree.  They are compiled into the library
# as an object library; their symbols stay hidden (see exports.map).
set(_nbr_grammars python r)
foreach(_g IN LISTS _nbr_grammars)
  set(_src "${NBR_GRAMMAR_DIR}/${_g}/src")
  if(NOT EXISTS "${_src}/parser.c")
    message(FATAL_ERROR
      "The tree-sitter grammar '${_g}' is missing from ${_src}.\n"
      "Run scripts/install-deps.sh (or `make build`) first.")
  endif()
endforeach()

add_library(nbr_grammars OBJECT
  "${NBR_GRAMMAR_DIR}/python/src/parser.c" "${NBR_GRAMMAR_DIR}/python/src/scanner.c"
  "${NBR_GRAMMAR_DIR}/r/src/parser.c" "${NBR_GRAMMAR_DIR}/r/src/scanner.c")
set_target_properties(nbr_grammars PROPERTIES
  POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden C_STANDARD 11 C_EXTENSIONS ON)
# Each grammar includes its own tree_sitter/parser.h; compile each with its own dir.
set_source_files_properties(
  "${NBR_GRAMMAR_DIR}/python/src/parser.c" "${NBR_GRAMMAR_DIR}/python/src/scanner.c"
  PROPERTIES INCLUDE_DIRECTORIES "${NBR_GRAMMAR_DIR}/python/src")
set_source_files_properties(
  "${NBR_GRAMMAR_DIR}/r/src/parser.c" "${NBR_GRAMMAR_DIR}/r/src/scanner.c"
  PROPERTIES INCLUDE_DIRECTORIES "${NBR_GRAMMAR_DIR}/r/src")
# Generated code: its warnings are not ours to fix.
target_compile_options(nbr_grammars PRIVATE -w)
