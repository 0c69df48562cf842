"""Where a notebook's store is: one rule for the kernel and every command.

1. ``$NBREWIND_STORE`` if set (HPC users point it at scratch space);
2. else ``<dir>/<name>.nbrewind/`` next to the notebook ``<dir>/<name>.ipynb``;
3. else, when the kernel cannot learn its notebook (a console),
   ``./ipython.nbrewind/`` in the working directory.
"""
from __future__ import annotations

import os

STORE_ENV = "NBREWIND_STORE"
NOTEBOOK_ENV = "NBREWIND_NOTEBOOK"


def store_for_notebook(notebook: str | None, override: str | None = None) -> str:
    explicit = override or os.environ.get(STORE_ENV)
    if explicit:
        return os.path.abspath(explicit)
    if notebook:
        base, _ = os.path.splitext(os.path.abspath(notebook))
        return base + ".nbrewind"
    return os.path.abspath("ipython.nbrewind")


def notebook_of_session(ip=None) -> str | None:
    """The notebook a kernel runs, when anyone told it: `nbrewind audit` sets
    $NBREWIND_NOTEBOOK; Jupyter Server 2 sets $JPY_SESSION_NAME; ipykernel
    puts `__session__` in the namespace."""
    for candidate in (os.environ.get(NOTEBOOK_ENV), os.environ.get("JPY_SESSION_NAME"),
                      (ip.user_ns.get("__session__") if ip is not None else None)):
        if candidate and str(candidate).endswith(".ipynb"):
            return os.path.abspath(str(candidate))
    return None
