# Third-party libraries, all from Debian packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
# Debian's tree-sitter.pc reports a stale version (0.6.3): never version-check it.
pkg_check_modules(TREESITTER REQUIRED IMPORTED_TARGET tree-sitter)
find_package(Threads REQUIRED)
