"""The nbrewind kernels: ipykernel with the audit loaded from the start.

    python -m nbrewind.kernel audit -f CONNECTION_FILE
    python -m nbrewind.kernel repeat -f CONNECTION_FILE

Both run with a fixed PYTHONHASHSEED (default 0; set $NBREWIND_HASHSEED to
choose another, or "random" to opt out) so that set and dict orders and
str hashes repeat between the audit and a later repeat.  The seed must be
set before the interpreter starts, so the kernel re-executes itself once
with it.  The repeat kernel audits like the audit kernel; restoring from
checkpoints instead of running is added by the repeat work (issue 5).
"""
from __future__ import annotations

import os
import sys

MODES = ("audit", "repeat")


def wanted_hash_seed() -> str:
    return os.environ.get("NBREWIND_HASHSEED", "0")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    mode = argv.pop(0) if argv and argv[0] in MODES else "audit"
    seed = wanted_hash_seed()
    if seed != "random" and os.environ.get("PYTHONHASHSEED") != seed:
        os.environ["PYTHONHASHSEED"] = seed
        os.execv(sys.executable, [sys.executable, "-m", "nbrewind.kernel", mode, *argv])
    os.environ["NBREWIND_KERNEL"] = mode
    # debugpy warns on every start about frozen modules; the kernels run
    # without the debugger (kernelspec metadata "debugger": false).
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=[*argv, "--ext=nbrewind"])


if __name__ == "__main__":
    main()
