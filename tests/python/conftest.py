"""Helpers for the binding's tests: the numpy side of passing arrays to
nbrewind._core (which takes a dtype string, shape, strides and address)."""
import json


def dtype_string(dtype):
    """numpy's dtype.str, or the descr as JSON for a structured dtype."""
    return json.dumps(dtype.descr) if dtype.fields else dtype.str


def array_args(arr):
    """(dtype, shape, strides, address, owner) as _core takes an array."""
    strides = None if arr.flags.c_contiguous else arr.strides
    return (dtype_string(arr.dtype), arr.shape, strides,
            arr.__array_interface__["data"][0], arr)
