"""Builds nbrewind._core over a libnbrewind of its own.

build_ext first configures and builds the library alone (no tests, tools or
benchmarks) with CMake from the repository root into build/cmake, then links the
extension against it with the rpath $ORIGIN and ships libnbrewind.so.0 next to
it inside the package: the installed package finds its library without any
environment variable.  pip >= 21.3 builds a local directory in place, so the
repository root is reachable from here.

Environment: NBR_GRAMMAR_DIR (default <repo>/build/grammars, filled by
`make deps`), NBR_JOBS (build parallelism, default 2), CMAKE (default cmake).
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[2]
CMAKE_BUILD = HERE / "build" / "cmake"
LIBRARY_DIR = CMAKE_BUILD / "libnbrewind"
SONAME = "libnbrewind.so.0"


def library_version():
    """The package's version is the library's (NBR_VERSION_STRING)."""
    header = (ROOT / "include" / "nbrewind.h").read_text()
    return re.search(r'#define NBR_VERSION_STRING "([^"]+)"', header).group(1)


def grammar_dir():
    path = Path(os.environ.get("NBR_GRAMMAR_DIR") or ROOT / "build" / "grammars")
    if not (path / "python" / "src" / "parser.c").is_file():
        raise SystemExit(
            f"nbrewind: the tree-sitter grammars are missing from {path}.\n"
            f"Run `make deps` in {ROOT} (it fetches them into build/grammars), "
            "or set NBR_GRAMMAR_DIR to where they are.")
    return path


class BuildLibraryThenExtension(build_ext):
    def run(self):
        self.build_library()
        super().run()
        self.ship_library(Path(self.build_lib) / "nbrewind")
        if self.inplace:
            self.ship_library(HERE / "nbrewind")

    def build_library(self):
        cmake = os.environ.get("CMAKE", "cmake")
        # A make that runs pip must not hand its job server to CMake's make.
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        subprocess.run([cmake, "-S", str(ROOT), "-B", str(CMAKE_BUILD),
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DNBR_BUILD_TESTS=OFF",
                        "-DNBR_BUILD_TOOLS=OFF", "-DNBR_BUILD_BENCHMARKS=OFF",
                        # No collective checkpoints in the package (not bound yet), so
                        # importing it never loads Open MPI into a kernel.
                        "-DNBR_WITH_MPI=OFF",
                        f"-DNBR_GRAMMAR_DIR={grammar_dir()}", "--log-level=WARNING"],
                       check=True, env=env)
        subprocess.run([cmake, "--build", str(CMAKE_BUILD), "--target", "nbrewind",
                        "--parallel", os.environ.get("NBR_JOBS", "2")], check=True, env=env)

    def ship_library(self, package_dir):
        package_dir.mkdir(parents=True, exist_ok=True)
        # The soname is a symlink to the versioned file: ship the file's bytes.
        shutil.copyfile(LIBRARY_DIR / SONAME, package_dir / SONAME)


SOURCES = ["module.c", "store.c", "checkpoint.c", "graph.c", "record.c"]

core = Extension(
    "nbrewind._core",
    sources=[f"src/{name}" for name in SOURCES],
    depends=["src/nbrewind_py.h", str(ROOT / "include" / "nbrewind.h")],
    include_dirs=[str(ROOT / "include")],
    library_dirs=[str(LIBRARY_DIR)],
    libraries=["nbrewind"],
    extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Wstrict-prototypes"],
    # The extension finds the libnbrewind.so.0 shipped beside it.
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
)

setup(
    version=library_version(),
    packages=["nbrewind"],
    ext_modules=[core],
    cmdclass={"build_ext": BuildLibraryThenExtension},
)
