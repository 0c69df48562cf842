"""How Python values become store objects and come back.

Three encodings (docs/notebook-format.md, "Values"):

* NumPy arrays (any dtype without Python objects, any layout) go straight to
  typed store arrays: no pickle, no copy, readable by h5py.
* Modules are import records: a blob tagged ``module`` holding the name.
* Everything else is pickled with protocol 5 by value (cloudpickle, so
  functions and classes defined in the notebook travel with it).  Each
  out-of-band buffer (a NumPy block of a DataFrame, a model's weights) is its
  own ``raw`` blob, so a value whose big buffers did not change stores no new
  bytes.  The ``pickle5`` blob starts with a header naming those buffers.

A value that cannot be encoded raises :class:`Unstorable` with the reason;
the audit records it as "recompute" instead of failing the user's cell.
"""
from __future__ import annotations

import importlib
import io
import json
import pickle
import types
from dataclasses import dataclass, field

import numpy as np

from . import _core

PICKLE_MAGIC = b"NBRPICKLE5\n"
PICKLE_CODEC = "pickle5"
BUFFER_CODEC = "raw"
MODULE_CODEC = "module"


class Unstorable(Exception):
    """A value nbrewind cannot store; the message says why."""


@dataclass
class Encoded:
    """A value ready to store: its id, and what putting it needs."""

    kind: str  # "array", "pickle" or "module"
    id: str
    array: np.ndarray | None = None
    payload: bytes = b""
    buffers: list = field(default_factory=list)  # (id, memoryview)
    nbytes: int = 0
    pooled: object = None  # the pool buffer a snapshot's array lives in


# ---- arrays -----------------------------------------------------------------

def is_plain_array(value) -> bool:
    """Whether `value` is stored as a typed array (not pickled)."""
    return type(value) is np.ndarray and not value.dtype.hasobject


def dtype_text(dtype: np.dtype) -> str:
    """The dtype spelling the store takes: dtype.str, or the descr as JSON."""
    if dtype.fields is None and dtype.subdtype is None:
        return dtype.str
    return json.dumps(dtype.descr)


def _tuples(descr):
    """A JSON-decoded descr back into the tuples np.dtype wants."""
    fields = []
    for item in descr:
        name, typ = item[0], item[1]
        typ = _tuples(typ) if isinstance(typ, list) else typ
        fields.append((name, typ, tuple(item[2])) if len(item) > 2 else (name, typ))
    return fields


def dtype_from_text(text: str) -> np.dtype:
    return np.dtype(_tuples(json.loads(text))) if text.startswith("[") else np.dtype(text)


def array_args(arr: np.ndarray):
    """(dtype, shape, strides, address) as the core's array calls take them."""
    strides = None if arr.flags.c_contiguous else tuple(arr.strides)
    address = arr.__array_interface__["data"][0]
    return dtype_text(arr.dtype), tuple(arr.shape), strides, address


def array_id(arr: np.ndarray) -> str:
    dtype, shape, strides, address = array_args(arr)
    return _core.hash_array(dtype, shape, strides, address, arr)


# ---- pickles ------------------------------------------------------------------

def _pickler():
    import cloudpickle  # by value for __main__ functions and classes

    return cloudpickle


def pickle_value(value) -> tuple[bytes, list]:
    """The protocol-5 stream and its out-of-band buffers (raw memoryviews)."""
    buffers = []

    def keep(buffer: pickle.PickleBuffer):
        try:
            buffers.append(buffer.raw())
        except BufferError:  # not contiguous: let pickle copy it in-band
            return True
        return False

    try:
        stream = _pickler().dumps(value, protocol=5, buffer_callback=keep)
    except RecursionError:
        raise Unstorable("too deeply nested to pickle") from None
    except Exception as exc:  # pickling runs arbitrary __reduce__ code
        raise Unstorable(f"{type(value).__name__}: cannot be pickled "
                         f"({type(exc).__name__}: {exc})") from None
    return stream, buffers


def pickle_payload(stream: bytes, buffer_ids: list) -> bytes:
    header = json.dumps({"buffers": buffer_ids}, separators=(",", ":")).encode()
    return PICKLE_MAGIC + header + b"\n" + stream


def split_payload(payload: bytes, where: str) -> tuple[list, memoryview]:
    if not payload.startswith(PICKLE_MAGIC):
        raise _core.CorruptError(f"{where}: not an nbrewind pickle (no header)")
    end = payload.index(b"\n", len(PICKLE_MAGIC))
    header = json.loads(payload[len(PICKLE_MAGIC):end])
    return header["buffers"], memoryview(payload)[end + 1:]


# ---- encoding -----------------------------------------------------------------

def encode(value) -> Encoded:
    """Encode a value and compute its id (hashing only, nothing stored)."""
    if isinstance(value, types.ModuleType):
        payload = value.__name__.encode()
        return Encoded("module", _core.hash_blob(MODULE_CODEC, payload), payload=payload,
                       nbytes=len(payload))
    if is_plain_array(value):
        return Encoded("array", array_id(value), array=value, nbytes=value.nbytes)
    stream, raw = pickle_value(value)
    buffers = [(_core.hash_blob(BUFFER_CODEC, b), b) for b in raw]
    payload = pickle_payload(stream, [i for i, _ in buffers])
    nbytes = len(payload) + sum(b.nbytes for _, b in buffers)
    return Encoded("pickle", _core.hash_blob(PICKLE_CODEC, payload), payload=payload,
                   buffers=buffers, nbytes=nbytes)


def encode_blob(codec: str, payload: bytes) -> Encoded:
    """Bytes stored as they are under a codec tag of the caller's."""
    return Encoded("blob:" + codec, _core.hash_blob(codec, payload), payload=payload,
                   nbytes=len(payload))


def snapshot(encoded: Encoded, pool=None) -> Encoded:
    """The same value with private copies of any memory it shares with live
    objects, so it can be written after the next cell has changed them
    (arrays into a buffer from `pool` when given: writer.BufferPool)."""
    if encoded.kind == "array":
        arr = encoded.array
        if pool is None or arr.nbytes == 0:
            return Encoded("array", encoded.id, array=np.array(arr, order="C", copy=True),
                           nbytes=encoded.nbytes)
        buffer = pool.take(arr.nbytes)
        copy = buffer.view(arr.dtype).reshape(arr.shape)
        np.copyto(copy, arr)
        return Encoded("array", encoded.id, array=copy, nbytes=encoded.nbytes, pooled=buffer)
    if encoded.buffers:
        return Encoded(encoded.kind, encoded.id, payload=encoded.payload,
                       buffers=[(i, bytes(b)) for i, b in encoded.buffers],
                       nbytes=encoded.nbytes)
    return encoded  # payload bytes are already a copy


def buffer_name(name: str, index: int) -> str:
    """The pseudo-name that keeps a pickle's index-th buffer alive in the store."""
    return f"@buffer:{name}:{index}"


def put(checkpoint, name: str, encoded: Encoded) -> str:
    """Store an encoded value under `name` (and its buffers under pseudo-names)."""
    if encoded.kind == "array":
        dtype, shape, strides, address = array_args(encoded.array)
        return checkpoint.put_array(name, dtype, shape, strides, address, encoded.array)
    if encoded.kind == "module":
        return checkpoint.put_blob(name, MODULE_CODEC, encoded.payload)
    if encoded.kind.startswith("blob:"):
        return checkpoint.put_blob(name, encoded.kind[5:], encoded.payload)
    for index, (_, buffer) in enumerate(encoded.buffers):
        checkpoint.put_blob(buffer_name(name, index), BUFFER_CODEC, buffer)
    return checkpoint.put_blob(name, PICKLE_CODEC, encoded.payload)


# ---- decoding -----------------------------------------------------------------

def read_array(store, object_id: str, info: dict) -> np.ndarray:
    out = np.empty(info["shape"], dtype=dtype_from_text(info["type"]))
    store.read_array_into(object_id, info["type"], tuple(info["shape"]),
                          out.reshape(-1).view(np.uint8) if out.size else bytearray())
    return out


def decode(store, object_id: str, *, allow_pickle: bool = True):
    """The value of a stored object.  Unpickling runs code: callers pass
    allow_pickle=False for stores they do not trust."""
    info = store.object_info(object_id)
    if info["kind"] == "array":
        return read_array(store, object_id, info)
    codec = info["type"]
    data = store.read_blob(object_id)
    if codec == MODULE_CODEC:
        return importlib.import_module(data.decode())
    if codec == BUFFER_CODEC:
        return bytearray(data)
    if codec != PICKLE_CODEC:
        raise _core.UnsupportedError(f"object {object_id}: unknown codec {codec!r}")
    if not allow_pickle:
        raise PermissionError(f"object {object_id} is a pickle from an untrusted store")
    buffer_ids, stream = split_payload(data, f"object {object_id}")
    buffers = [bytearray(store.read_blob(i)) for i in buffer_ids]
    return pickle.load(io.BytesIO(stream), buffers=buffers)
