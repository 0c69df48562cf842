# nbrewind: the two commands a user needs are `make demo` and `make test`.
#
#   make deps    install the Debian packages and fetch the tree-sitter grammars
#                (scripts/install-deps.sh; quick when everything is there)
#   make build   deps, then configure and build into build/
#   make test    deps, build, then EVERY test suite (see TEST_PHASES below);
#                fails if any of them fails, after running all of them
#   make demo    deps, build, then audit the bundled example notebook, edit it,
#                repeat, verify, pack, and unpack + repeat elsewhere
#   make python  deps, then build the Python package and install it into
#                build/venv (a venv over Debian's packages)
#   make bench   run benchmarks/run.sh (if there is one)
#   make clean   remove build/ (the venv too), build-asan/, build-nompi/ and
#                bindings/python/build/ (the grammars are kept;
#                `make distclean` removes them too)
#
# Output is kept quiet: cmake's progress lines are filtered out, compiler
# warnings and errors and every test runner's summary are shown.
#
# Knobs: JOBS (default 2, the size of the project's machines), BUILD_TYPE,
# CMAKE_ARGS (extra -D options for both builds), CTEST_ARGS.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

# Debian's interpreter, never a PATH lookup (which may find a pyenv that sees
# none of the Debian packages).
PYTHON := /usr/bin/python3

JOBS ?= 2
BUILD_TYPE ?= RelWithDebInfo
BUILD_DIR := build
ASAN_DIR := build-asan
NOMPI_DIR := build-nompi
VENV := $(BUILD_DIR)/venv
VENV_PYTHON := $(VENV)/bin/python
CMAKE_ARGS ?=
CTEST_ARGS ?=

# cmake drives its own make with -j$(JOBS); it must not also inherit a job
# server or flags from the make that runs this file.
CMAKE := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake
CTEST := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ctest
# Both builds use the grammars that `make deps` fetched into $(BUILD_DIR)/grammars.
COMMON_CMAKE_ARGS := -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPython3_EXECUTABLE=$(PYTHON) \
	-DNBR_GRAMMAR_DIR=$(abspath $(BUILD_DIR))/grammars --no-warn-unused-cli --log-level=NOTICE \
	$(CMAKE_ARGS)
CTEST_COMMON := --output-on-failure --no-tests=error -j$(JOBS) $(CTEST_ARGS)

# Drop cmake's "configuring done"/progress chatter; keep everything else
# (warnings, errors).  sed, unlike grep -v, succeeds on empty output.
QUIET_CMAKE := sed -u -E \
	-e '/^-- (Configuring done|Generating done|Build files have been written)/d' \
	-e '/^\[ *[0-9]+%\] (Built target|Building|Linking|Generating|Scanning)/d' \
	-e '/^Consolidate compiler generated dependencies/d' \
	-e '/^Not searching for unused variables given on the command line/d'

# The sanitizer build: clang, ASan + UBSan, and the libFuzzer harnesses.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps build configure python test test-c test-asan test-nompi test-python test-r demo bench clean distclean

all: build

deps:
	@bash scripts/install-deps.sh $(BUILD_DIR)

configure: deps
	@$(CMAKE) -S . -B $(BUILD_DIR) $(COMMON_CMAKE_ARGS) 2>&1 | $(QUIET_CMAKE)

build: configure
	@$(CMAKE) --build $(BUILD_DIR) --parallel $(JOBS) 2>&1 | $(QUIET_CMAKE)
	@echo "make build: libnbrewind and tools built in $(BUILD_DIR)/"

# ---------------------------------------------------------------- tests ----
# Every phase runs even when an earlier one failed; `make test` then fails and
# names the phases that did.  Each phase prints its runner's summary line.
TEST_PHASES := test-c test-asan test-nompi test-python test-r

test: deps
	@failed=(); \
	for phase in $(TEST_PHASES); do \
	  start=$$(date +%s); \
	  echo "==== make test: $$phase"; \
	  if $(MAKE) --no-print-directory $$phase; then result=passed; \
	  else result=FAILED; failed+=("$$phase"); fi; \
	  echo "==== make test: $$phase $$result in $$(( $$(date +%s) - start )) s"; \
	done; \
	if (( $${#failed[@]} )); then \
	  echo "==== make test: FAILED: $${failed[*]}"; exit 1; \
	fi; \
	echo "==== make test: every phase passed"

# 1. The regular build's ctest: C unit and table tests, symbols, FFI, install,
#    CLI, differential.
test-c: build
	@cd $(BUILD_DIR) && $(CTEST) $(CTEST_COMMON)

# 2. The same tests built with clang, ASan + UBSan, plus the bounded libFuzzer
#    runs (NBR_FUZZ=ON builds them).
test-asan: deps
	@$(CMAKE) -S . -B $(ASAN_DIR) -DCMAKE_C_COMPILER=clang -DNBR_SANITIZE=ON -DNBR_FUZZ=ON \
	  $(COMMON_CMAKE_ARGS) 2>&1 | $(QUIET_CMAKE)
	@$(CMAKE) --build $(ASAN_DIR) --parallel $(JOBS) 2>&1 | $(QUIET_CMAKE)
	@cd $(ASAN_DIR) && $(ASAN_ENV) $(CTEST) $(CTEST_COMMON)

# 3. The library without MPI (-DNBR_WITH_MPI=OFF) still builds, exports no
#    nbr_mpi_ symbol and passes every test that does not need MPI.
test-nompi: deps
	@$(CMAKE) -S . -B $(NOMPI_DIR) -DNBR_WITH_MPI=OFF -DNBR_BUILD_BENCHMARKS=OFF \
	  $(COMMON_CMAKE_ARGS) 2>&1 | $(QUIET_CMAKE)
	@$(CMAKE) --build $(NOMPI_DIR) --parallel $(JOBS) 2>&1 | $(QUIET_CMAKE)
	@cd $(NOMPI_DIR) && $(CTEST) $(CTEST_COMMON)

# ---- Python and R test suites ---------------------------------------------
# Each prints its runner's summary; a pytest run that collects nothing exits 5,
# which fails the phase like any other non-zero status.

# 4. The Python package's tests (tests/python) in the venv of `make python`,
#    spread over the CPUs by pytest-xdist (at most 4 workers: each test starts
#    kernels, some a Dask cluster or MPI ranks).  On 2 cores it took the phase
#    from 1176 s to 678 s (two separate runs on the AMD EPYC VM of 2026-11-27).
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)
test-python: python
	@$(VENV_PYTHON) -m pytest -q -n $(PYTEST_WORKERS) tests/python

test-r: build
	@echo "make test: no R test suite yet"
# ---------------------------------------------------------------------------

# The Python package `nbrewind`, installed into $(VENV): a venv over Debian's
# site-packages (numpy, h5py, pytest, ...), as PEP 668 keeps pip out of the
# system Python.  bindings/python/setup.py builds a libnbrewind of its own
# (bindings/python/build/cmake, library only) and ships it inside the package.
# pip rebuilds and reinstalls a local directory every time; the builds are
# incremental, so that is quick.
python: deps
	@[[ -x $(VENV_PYTHON) ]] || $(PYTHON) -m venv --system-site-packages $(VENV)
	@NBR_GRAMMAR_DIR=$(abspath $(BUILD_DIR))/grammars NBR_JOBS=$(JOBS) \
	  $(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check \
	  --no-build-isolation --no-index ./bindings/python
	@echo "make python: the nbrewind package is installed in $(VENV)"

# The demo tells the whole story on copies in $(BUILD_DIR)/demo (the notebook in
# git stays as it is): analysis, audit, an edit and repeat, verify, pack, and
# unpack + repeat in another directory (scripts/demo.sh).
demo: build python
	@echo "== examples/demo.ipynb: each cell's inputs and outputs, then the data flow"
	@$(BUILD_DIR)/tools/nbr/nbr analyze --notebook examples/demo.ipynb --format text
	@bash scripts/demo.sh $(VENV) $(BUILD_DIR)

bench: build
	@if [[ -f benchmarks/run.sh ]]; then bash benchmarks/run.sh $(abspath $(BUILD_DIR)); \
	else echo "make bench: benchmarks/run.sh does not exist yet"; fi

# Keep the fetched grammars (build/grammars): they are checked downloads, and
# the next build would only fetch them again.
clean:
	@if [[ -d $(BUILD_DIR) ]]; then \
	  find $(BUILD_DIR) -mindepth 1 -maxdepth 1 ! -name grammars -exec rm -rf {} +; fi
	@rm -rf $(ASAN_DIR) $(NOMPI_DIR) bindings/python/build

distclean: clean
	@rm -rf $(BUILD_DIR)
