"""Kernelspecs for the nbrewind kernels, and installing them."""
from __future__ import annotations

import json
import os
import sys
import tempfile

KERNELS = {
    "nbrewind-audit-python3": ("audit", "nbrewind audit (Python 3)"),
    "nbrewind-repeat-python3": ("repeat", "nbrewind repeat (Python 3)"),
}


def spec_dict(mode: str, display_name: str) -> dict:
    """A kernel.json: this interpreter (a venv's python works without
    activating the venv), the kernel module, the mode."""
    return {
        "argv": [sys.executable, "-m", "nbrewind.kernel", mode, "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": False, "nbrewind": {"mode": mode}},
    }


def install(user: bool = True, prefix: str | None = None) -> list[str]:
    """Install both kernelspecs; returns where they went."""
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    where = []
    for name, (mode, display) in KERNELS.items():
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "kernel.json"), "w") as f:
                json.dump(spec_dict(mode, display), f, indent=1)
            where.append(manager.install_kernel_spec(tmp, name, user=user and prefix is None,
                                                     prefix=prefix, replace=True))
    return where


def audit_spec_manager():
    """A KernelSpecManager that knows the audit kernel without any install,
    for `nbrewind audit`."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class Manager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name in KERNELS:
                mode, display = KERNELS[kernel_name]
                return KernelSpec(resource_dir="", **spec_dict(mode, display))
            return super().get_kernel_spec(kernel_name)

    return Manager()
