"""Helpers for the binding's tests: the numpy side of passing arrays to
nbrewind._core (which takes a dtype string, shape, strides and address)."""
import json
import os

import numpy as np
import pytest

import nbrewind

# Background commits are the default on machines with two CPUs or more
# (most users', and this CI's), off on one: keep the tests on the background
# path wherever they run; test_audit covers the choice and the other path.
os.environ.setdefault("NBREWIND_BACKGROUND", "1")


def dtype_string(dtype):
    """numpy's dtype.str, or the descr as JSON for a structured dtype."""
    return json.dumps(dtype.descr) if dtype.fields else dtype.str


def array_args(arr):
    """(dtype, shape, strides, address, owner) as _core takes an array."""
    strides = None if arr.flags.c_contiguous else arr.strides
    return (dtype_string(arr.dtype), arr.shape, strides,
            arr.__array_interface__["data"][0], arr)


def put(checkpoint, name, arr):
    return checkpoint.put_array(name, *array_args(arr))


def read(store, object_id, dtype, shape):
    out = np.empty(shape, dtype)
    store.read_array_into(object_id, dtype_string(out.dtype), out.shape,
                          out.reshape(-1).view(np.uint8))
    return out


def commit(store, cell, **arrays):
    """One checkpoint binding each name to its array; returns its id."""
    checkpoint = store.begin(cell, 1)
    for name, arr in arrays.items():
        put(checkpoint, name, arr)
    return checkpoint.commit()


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "store")


@pytest.fixture
def writer(store_path):
    with nbrewind.Store(store_path, "c") as store:
        yield store
