"""nbrewind: incremental cell checkpoints and minimal re-execution for Jupyter.

This package re-exports the C extension nbrewind._core (over libnbrewind); see
help(nbrewind._core) and the docstrings of its functions and classes.
"""
from ._core import (
    BlobWriter,
    ChangedError,
    Checkpoint,
    CorruptError,
    Error,
    Graph,
    InvalidError,
    LockedError,
    NotFoundError,
    Plan,
    Store,
    StoreIOError,
    UnsupportedError,
    __version__,
    analyze,
    hash_array,
    hash_blob,
    hash_bytes,
    record_parse,
    record_render,
    version,
)

__all__ = [
    "BlobWriter", "ChangedError", "Checkpoint", "CorruptError", "Error", "Graph", "InvalidError",
    "LockedError", "NotFoundError", "Plan", "Store", "StoreIOError", "UnsupportedError",
    "__version__", "analyze", "hash_array", "hash_blob", "hash_bytes", "record_parse",
    "record_render", "version",
    "load_ipython_extension", "unload_ipython_extension",
]


def load_ipython_extension(ip):
    """`%load_ext nbrewind`: audit every following cell (nbrewind.extension)."""
    from .extension import load_ipython_extension as load

    load(ip)


def unload_ipython_extension(ip):
    from .extension import unload_ipython_extension as unload

    unload(ip)
