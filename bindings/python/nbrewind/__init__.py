"""nbrewind: incremental cell checkpoints and minimal re-execution for Jupyter.

This package re-exports the C extension nbrewind._core (over libnbrewind); see
help(nbrewind._core) and the docstrings of its functions and classes.
"""
from ._core import (
    BlobWriter,
    Checkpoint,
    CorruptError,
    Error,
    InvalidError,
    LockedError,
    NotFoundError,
    Store,
    StoreIOError,
    UnsupportedError,
    __version__,
    analyze,
    hash_array,
    hash_blob,
    hash_bytes,
    version,
)

__all__ = [
    "BlobWriter", "Checkpoint", "CorruptError", "Error", "InvalidError", "LockedError",
    "NotFoundError", "Store", "StoreIOError", "UnsupportedError", "__version__", "analyze",
    "hash_array", "hash_blob", "hash_bytes", "version",
]
