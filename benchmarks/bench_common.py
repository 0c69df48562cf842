"""What the Python benchmarks (audit/, repeat/) share: running on a private
copy of the installed package, describing the machine a result came from, and
writing the result file the docs quote."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import shutil
import sys


def snapshot_package(scratch: str, script: str) -> str:
    """Copy the installed nbrewind package into the scratch directory and use
    that copy here, so that a reinstall during the run (`make python`) cannot
    mix versions.  Returns where it was copied from; the copy's parent is
    scratch/pkg (put it on the kernels' PYTHONPATH to have them use it too)."""
    import importlib.util

    spec = importlib.util.find_spec("nbrewind")
    if spec is None or "nbrewind" in sys.modules:
        raise SystemExit(f"{script}: nbrewind is not installed (make python) or already imported")
    source = os.path.dirname(spec.origin)
    shutil.copytree(source, os.path.join(scratch, "pkg", "nbrewind"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, os.path.join(scratch, "pkg"))
    return source


def _package_digest() -> str:
    import nbrewind

    pkg = os.path.dirname(nbrewind.__file__)
    digest = hashlib.sha256()
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") or name.endswith(".so"):
            with open(os.path.join(pkg, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()[:16]


def machine(modules: tuple) -> dict:
    """The machine, the package's digest, and the versions of `modules`."""
    from nbrewind import _core

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {m: importlib.import_module(m).__version__ for m in modules}
    versions["nbrewind"] = _core.version()
    return {"nbrewind_package_sha256": _package_digest(),
            "arch": platform.machine(), "cores": len(os.sched_getaffinity(0)), "cpu": cpu,
            "memory_gb": round(mem / 1e9, 1), "python": platform.python_version(),
            "versions": versions}


def write_result(result: dict, path: str):
    """The result as the JSON file docs/performance.md quotes."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")
