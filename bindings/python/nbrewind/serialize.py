"""How Python values become store objects and come back.

Three encodings (docs/notebook-format.md, "Values"):

* NumPy arrays (any dtype without Python objects, any layout) go straight to
  typed store arrays: no pickle, no copy, readable by h5py.
* Modules are import records: a blob tagged ``module`` holding the name.
* Everything else is pickled with protocol 5 by value (cloudpickle, so
  functions and classes defined in the notebook travel with it).  Each
  out-of-band buffer (a NumPy block of a DataFrame, a model's weights) is its
  own ``raw`` blob, so a value whose big buffers did not change stores no new
  bytes.  An array inside it that a top-level name of its own is bound to (a
  model holding the notebook's ``data``) is pickled as a reference to that
  stored array instead: stored once, and one object again after a restore.
  The ``pickle5`` blob starts with a header naming those buffers and
  references.
* Two kinds of values are pickled as a call over a reference to another
  name's stored value, so that a restore makes them share it again: a view
  of a named array (its geometry) and a value lying inside another name's
  value (the path to it, sharing.find_parts).

A value that cannot be encoded raises :class:`Unstorable` with the reason;
the audit records it as "recompute" instead of failing the user's cell.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib
import io
import json
import pickle
import sys
import threading
import types
from dataclasses import dataclass, field

import numpy as np

from . import _core

try:  # NumPy 2 moved it out of the main namespace
    from numpy.lib.array_utils import byte_bounds
except ImportError:
    from numpy import byte_bounds

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
    refs: list = field(default_factory=list)  # (name, id) of the values it references
    keep: list = field(default_factory=list)  # ids of what those need, kept bound too
    nbytes: int = 0
    pooled: list = field(default_factory=list)  # pool buffers a snapshot's copies live in
    # An array written from memory the user's code may still change
    # (put_array(live=True)): stored only if it still hashes to `id`.
    live: bool = False


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


# ---- two big arrays at once ------------------------------------------------------
#
# A checkpoint's time in the cell's thread is hashing its big arrays and, with
# background commits, copying the new ones.  Both release the GIL, so two
# arrays are done side by side on two threads.  Below PARALLEL_BYTES the
# hand-off costs more than it saves.

PARALLEL_BYTES = 16 << 20
_executor = None
_executor_lock = threading.Lock()


def _side_by_side(fn, items: list) -> list:
    """[fn(item) for item in items], two at a time when there are several."""
    global _executor
    if len(items) < 2:
        return [fn(item) for item in items]
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=2, thread_name_prefix="nbrewind-capture")
    return list(_executor.map(fn, items))


def is_big_array(value) -> bool:
    return is_plain_array(value) and value.nbytes >= PARALLEL_BYTES


def typed_array_id(arr: np.ndarray) -> str | None:
    """The array's id as a typed store array, or None for a dtype the store
    has no portable type for (long double): such an array is pickled."""
    try:
        return array_id(arr)
    except _core.InvalidError:
        return None


def hash_big_arrays(values) -> dict:
    """{id(array): object id} for the big arrays among `values`, hashed side
    by side; {} when there are fewer than two (encode hashes those)."""
    big = list({id(v): v for v in values if is_big_array(v)}.values())
    if len(big) < 2:
        return {}
    ids = _side_by_side(typed_array_id, big)
    return {id(v): object_id for v, object_id in zip(big, ids) if object_id is not None}


# ---- pickles ------------------------------------------------------------------

def _pickler():
    import cloudpickle  # by value for __main__ functions and classes

    return cloudpickle


# Persistent ids: (kind, name, object id), a reference to the value stored
# under that name as that object (an array, or a part's holder).
REF_KIND = "nbrewind-array"
VALUE_REF_KIND = "nbrewind-value"


def _referencing_pickler(file, root, ref_of, **options):
    """A CloudPickler that pickles the objects `ref_of` gives a (name, id)
    for as references to them; the value itself never.  Only used when the
    value holds such an object: a persistent_id costs a call per object."""

    class Pickler(_pickler().CloudPickler):
        def __init__(self):
            super().__init__(file, **options)
            self.referenced = []  # (name, id), each once, in the order met

        def persistent_id(self, obj):
            if obj is root:
                return None
            ref = ref_of(obj)
            if ref is None:
                return None
            if ref not in self.referenced:
                self.referenced.append(ref)
            return (REF_KIND if type(obj) is np.ndarray else VALUE_REF_KIND, *ref)

    return Pickler()


def _arrays_of(array_ref):
    """ref_of for the named arrays `array_ref` knows."""
    return lambda obj: array_ref(obj) if type(obj) is np.ndarray else None


def pickle_value(value, array_ref=None) -> tuple[bytes, list, list]:
    """The protocol-5 stream, its out-of-band buffers (raw memoryviews) and
    the (name, id) of the arrays it references (`array_ref(arr)`: (name, id)
    for an array stored under a top-level name of its own, else None)."""
    _refuse_pickling_by_notebook_name(value)
    buffers = []
    holds_named_array = False

    def keep(buffer: pickle.PickleBuffer):
        nonlocal holds_named_array
        try:
            raw = buffer.raw()
        except BufferError:  # not contiguous: let pickle copy it in-band
            return True
        buffers.append(raw)
        # A contiguous array reaches pickle as a buffer of its own (a
        # Fortran-ordered one as a buffer of its transpose).
        exporter = raw.obj
        holds_named_array = holds_named_array or (array_ref is not None and any(
            array_ref(a) is not None for a in (exporter, getattr(exporter, "base", None))
            if type(a) is np.ndarray))
        return False

    try:
        stream = _pickler().dumps(value, protocol=5, buffer_callback=keep)
        if not holds_named_array:
            return stream, buffers, []
        buffers.clear()
        out = io.BytesIO()
        pickler = _referencing_pickler(out, value, _arrays_of(array_ref), protocol=5,
                                       buffer_callback=keep)
        pickler.dump(value)
        return out.getvalue(), buffers, pickler.referenced
    except RecursionError:
        raise Unstorable("too deeply nested to pickle") from None
    except Exception as exc:  # pickling runs arbitrary __reduce__ code
        raise Unstorable(f"{type(value).__name__}: cannot be pickled "
                         f"({type(exc).__name__}: {exc})") from None


def _refuse_pickling_by_notebook_name(value):
    """A library object wrapping notebook code that pickles itself by name
    (`@functools.lru_cache` over a notebook function: `__main__.f`) would
    load only where its own cell has run, so a restore of it fails: it is
    recorded as recompute, and restored by re-running that cell."""
    if isinstance(value, (types.FunctionType, type)):
        return  # cloudpickle pickles these by value
    qualname = getattr(value, "__qualname__", None)
    if getattr(value, "__module__", None) != "__main__" or not isinstance(qualname, str):
        return
    main = sys.modules.get("__main__")
    if getattr(main, qualname, None) is value:
        raise Unstorable(f"{type(value).__name__} {qualname}: pickled by its name in the "
                         f"notebook, which only its own cell defines")


def pickle_payload(stream: bytes, buffer_ids: list, refs: list = ()) -> bytes:
    header = {"buffers": buffer_ids}
    if refs:  # absent otherwise, so that pickles without any keep their ids
        header["refs"] = list(refs)
    return PICKLE_MAGIC + json.dumps(header, separators=(",", ":")).encode() + b"\n" + stream


def _split_header(payload: bytes, where: str) -> tuple[dict, memoryview]:
    if not payload.startswith(PICKLE_MAGIC):
        raise _core.CorruptError(f"{where}: not an nbrewind pickle (no header)")
    end = payload.index(b"\n", len(PICKLE_MAGIC))
    return json.loads(payload[len(PICKLE_MAGIC):end]), memoryview(payload)[end + 1:]


def split_payload(payload: bytes, where: str) -> tuple[list, memoryview]:
    header, stream = _split_header(payload, where)
    return header["buffers"], stream


def stored_needs(store, object_id: str) -> tuple | None:
    """Known.needs of a stored value, read from the store (for a value the
    kernel was given rather than one it encoded): what its pickle needs
    directly (buffers, the values it references) and what those need in
    turn.  None for what is not a pickle, as for a value just encoded."""
    needs: list = []
    pending, seen = [object_id], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        info = store.object_info(current)
        if info["kind"] != "blob" or info["type"] != PICKLE_CODEC:
            if current == object_id:
                return None
            continue
        header, _ = _split_header(store.read_blob(current), f"object {current}")
        needs += header["buffers"]
        for _name, ref_id in header.get("refs", ()):
            needs.append(ref_id)
            pending.append(ref_id)
    return tuple(dict.fromkeys(needs))


# ---- views -------------------------------------------------------------------
#
# `v = a[1:-1]` shares a's memory: a change through either shows in the other.
# A view of an array bound to a name of its own is stored as a small pickle of
# its geometry that references that array's stored object (the way a pickle
# references a named array it holds), so a restore makes it a view again, of
# the array restored for that name.

def memory_owner(arr: np.ndarray):
    """The object owning an array's bytes: views of one array share it (and
    arrays over one buffer, through the memoryviews numpy keeps as bases)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    owner = arr if arr.base is None else arr.base
    while type(owner) is memoryview and owner.obj is not None:
        owner = owner.obj
    return owner


def view_roots(arrays: dict) -> dict:
    """{id(view): root} for the arrays of `arrays` ({name: plain array})
    that lie inside the memory of another one of them, `root`: the biggest
    C-contiguous array over the same memory (its owner when a name holds
    it; by name among equals, so every capture picks the same one)."""
    by_owner: dict = {}
    for arr in {id(a): a for _, a in sorted(arrays.items())}.values():
        by_owner.setdefault(id(memory_owner(arr)), []).append(arr)
    roots = {}
    for members in by_owner.values():
        whole = [m for m in members if m.flags.c_contiguous and m.size]
        if len(members) < 2 or not whole:
            continue
        root = max(whole, key=lambda m: (m.nbytes, m.base is None))
        low, high = byte_bounds(root)
        for arr in members:
            if arr is not root and arr.size and arr.dtype.itemsize:
                start, end = byte_bounds(arr)
                if low <= start and end <= high:
                    roots[id(arr)] = root
    return roots


def rebuild_view(root: np.ndarray, offset: int, shape: tuple, strides: tuple,
                 dtype: np.dtype, writeable: bool) -> np.ndarray:
    """The view a pickled _ViewRecipe describes, over `root` (C order, as
    it was when the view was stored: a restored array always is)."""
    if not root.flags.c_contiguous:
        root = np.ascontiguousarray(root)  # the same values; no longer shared
    raw = root.reshape(-1).view(np.uint8)
    view = np.ndarray(shape, dtype, buffer=raw, offset=offset, strides=strides)
    view.flags.writeable = writeable and root.flags.writeable
    return view


class _ViewRecipe:
    """What rebuild_view needs, pickled as a call to it."""

    def __init__(self, view: np.ndarray, root: np.ndarray):
        # The offset of element 0, which negative strides put past the
        # first byte the view touches.
        offset = view.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        self.args = (root, offset, view.shape, view.strides, view.dtype,
                     bool(view.flags.writeable))

    def __reduce__(self):
        return rebuild_view, self.args


def encode_view(view: np.ndarray, root: np.ndarray, array_ref) -> Encoded | None:
    """`view` as a reference to `root`'s stored object plus its geometry;
    None when root is not stored under a name (array_ref)."""
    if array_ref is None or array_ref(root) is None:
        return None
    return _encode_recipe(_ViewRecipe(view, root), _arrays_of(array_ref))


# ---- parts -------------------------------------------------------------------
#
# `cfg = config["solver"]`: a value that lies inside another name's value
# (sharing.paths_within) is stored as the path to it within the holder's
# stored value, so a restore finds it there again, one object with it.

def follow_path(holder, path: tuple):
    """The object `path` (steps ("item", key) or ("attr", name): an entry of
    the instance dict, which a property of that name does not hide) leads to."""
    for kind, key in path:
        holder = vars(holder)[key] if kind == "attr" else holder[key]
    return holder


class _PartRecipe:
    def __init__(self, holder, path: tuple):
        self.args = (holder, path)

    def __reduce__(self):
        return follow_path, self.args


def encode_part(holder, path: tuple, holder_ref: tuple, needs=()) -> Encoded:
    """A part of `holder`, stored as (name, id) `holder_ref`: the path.
    `needs`: the ids the holder's pickle needs to load (its buffers, the
    values it references, theirs), bound with the part (put) so that the
    store keeps them while the part is bound, whatever becomes of the
    holder's name."""
    encoded = _encode_recipe(_PartRecipe(holder, path),
                             lambda obj: holder_ref if obj is holder else None)
    encoded.keep = list(needs)
    return encoded


def _encode_recipe(recipe, ref_of) -> Encoded:
    """A pickle of a call rebuilding a value from the stored values it
    references (ref_of), and nothing else of theirs."""
    out = io.BytesIO()
    pickler = _referencing_pickler(out, None, ref_of, protocol=5)
    pickler.dump(recipe)
    payload = pickle_payload(out.getvalue(), [], pickler.referenced)
    return Encoded("pickle", _core.hash_blob(PICKLE_CODEC, payload), payload=payload,
                   nbytes=len(payload), refs=pickler.referenced)


# ---- encoding -----------------------------------------------------------------

def encode(value, hashed: dict | None = None, array_ref=None, view_root=None) -> Encoded:
    """Encode a value and compute its id (hashing only, nothing stored).
    `hashed`: ids already computed for some arrays (hash_big_arrays);
    `array_ref`: see pickle_value; `view_root`: the named array whose memory
    the array `value` views (view_roots), stored as a view of it."""
    if isinstance(value, types.ModuleType):
        payload = value.__name__.encode()
        return Encoded("module", _core.hash_blob(MODULE_CODEC, payload), payload=payload,
                       nbytes=len(payload))
    object_id = None
    if view_root is not None and (encoded := encode_view(value, view_root, array_ref)):
        return encoded
    if is_plain_array(value):
        object_id = (hashed or {}).get(id(value)) or typed_array_id(value)
    if object_id is not None:
        return Encoded("array", object_id, array=value, nbytes=value.nbytes)
    stream, raw, refs = pickle_value(value, array_ref)
    buffers = [(_core.hash_blob(BUFFER_CODEC, b), b) for b in raw]
    payload = pickle_payload(stream, [i for i, _ in buffers], refs)
    nbytes = len(payload) + sum(b.nbytes for _, b in buffers)
    return Encoded("pickle", _core.hash_blob(PICKLE_CODEC, payload), payload=payload,
                   buffers=buffers, nbytes=nbytes, refs=refs)


def encode_blob(codec: str, payload: bytes) -> Encoded:
    """Bytes stored as they are under a codec tag of the caller's."""
    return Encoded("blob:" + codec, _core.hash_blob(codec, payload), payload=payload,
                   nbytes=len(payload))


POOLED_BYTES = 1 << 20  # smaller copies come from malloc's own reused memory


def _pooled_copy(pool, data: memoryview, pooled: list) -> memoryview:
    """A copy of `data` (contiguous bytes) in a buffer from `pool`."""
    buffer = pool.take(data.nbytes)
    pooled.append(buffer)
    copy = buffer[:data.nbytes]
    np.copyto(copy, np.frombuffer(data, dtype=np.uint8))
    return memoryview(copy)


def snapshot(encoded: Encoded, pool=None) -> Encoded:
    """The same value with private copies of any memory it shares with live
    objects, so it can be written after the next cell has changed them
    (big ones into buffers from `pool` when given: writer.BufferPool)."""
    if encoded.kind == "array":
        arr = encoded.array
        if pool is None or arr.nbytes == 0:
            return Encoded("array", encoded.id, array=np.array(arr, order="C", copy=True),
                           nbytes=encoded.nbytes)
        buffer = pool.take(arr.nbytes)
        # A Fortran-ordered array (an FFT's output, a transpose) keeps its
        # order: copying it into C order would be a slow transposing copy in
        # the cell's thread; the store walks either order to the same id.
        order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
        copy = buffer[:arr.nbytes].view(arr.dtype).reshape(arr.shape, order=order)
        np.copyto(copy, arr)
        return Encoded("array", encoded.id, array=copy, nbytes=encoded.nbytes, pooled=[buffer])
    if encoded.buffers:
        pooled: list = []
        buffers = [(i, _pooled_copy(pool, b, pooled) if pool is not None and
                    b.nbytes >= POOLED_BYTES else bytes(b)) for i, b in encoded.buffers]
        return Encoded(encoded.kind, encoded.id, payload=encoded.payload, buffers=buffers,
                       nbytes=encoded.nbytes, pooled=pooled, refs=encoded.refs, keep=encoded.keep)
    return encoded  # payload bytes are already a copy


def snapshot_all(puts: list, pool=None, live_bytes: int | None = None) -> list:
    """[(name, snapshot(encoded, pool))] for puts [(name, encoded)], in the
    same order; the big arrays copied side by side.  Arrays of `live_bytes`
    or more are not copied but marked live (Encoded.live): the writer
    checks what it stores against their ids instead."""
    def is_live(e: Encoded) -> bool:
        return live_bytes is not None and e.kind == "array" and e.nbytes >= live_bytes

    big = [i for i, (_, e) in enumerate(puts)
           if e.kind == "array" and e.nbytes >= PARALLEL_BYTES and not is_live(e)]
    copies = dict(zip(big, _side_by_side(lambda i: snapshot(puts[i][1], pool), big)))
    return [(name, dataclasses.replace(encoded, live=True) if is_live(encoded) else
             copies[i] if i in copies else snapshot(encoded, pool))
            for i, (name, encoded) in enumerate(puts)]


def protected(encoded: Encoded, pool=None) -> Encoded:
    """A live array's private copy, still checked against its id when
    written (the copy is of the memory as it is now, which code run since
    the id was taken may have changed)."""
    return dataclasses.replace(snapshot(encoded, pool), live=True)


def buffer_name(name: str, index: int) -> str:
    """The pseudo-name that keeps a pickle's index-th buffer alive in the store."""
    return f"@buffer:{name}:{index}"


def ref_name(name: str, index: int) -> str:
    """The pseudo-name that keeps the index-th array a pickle references alive
    (gc and pack follow bindings, not pickles)."""
    return f"@ref:{name}:{index}"


def is_part_name(name: str) -> bool:
    """Whether a binding is a part of another name's value, not a value."""
    return name.startswith(("@buffer:", "@ref:"))


def part_owner(name: str) -> str:
    """The name whose value a part (is_part_name) belongs to."""
    return name.split(":", 1)[1].rsplit(":", 1)[0]


def part_names(name: str, encoded: Encoded) -> list[str]:
    """The pseudo-names `put` binds besides `name` for this value."""
    return [*(buffer_name(name, i) for i in range(len(encoded.buffers))),
            *(ref_name(name, i) for i in range(len(encoded.refs) + len(encoded.keep)))]


def needed_ids(encoded: Encoded) -> tuple:
    """The ids of the objects a pickle needs directly: its buffers, the
    values it references, what its holder needs (Encoded.keep)."""
    return (*(i for i, _ in encoded.buffers), *(i for _, i in encoded.refs), *encoded.keep)


def put(checkpoint, name: str, encoded: Encoded) -> str:
    """Store an encoded value under `name` (and its buffers under pseudo-names).
    The ids were computed when the value was encoded, over the same bytes
    (a snapshot copies them after hashing, in the cell's thread), so the
    store is given them rather than hashing everything a second time."""
    if encoded.kind == "array":
        dtype, shape, strides, address = array_args(encoded.array)
        return checkpoint.put_array(name, dtype, shape, strides, address, encoded.array,
                                    id=encoded.id, live=encoded.live)
    if encoded.kind == "module":
        return checkpoint.put_blob(name, MODULE_CODEC, encoded.payload, id=encoded.id)
    if encoded.kind.startswith("blob:"):
        return checkpoint.put_blob(name, encoded.kind[5:], encoded.payload, id=encoded.id)
    for index, (buffer_id, buffer) in enumerate(encoded.buffers):
        checkpoint.put_blob(buffer_name(name, index), BUFFER_CODEC, buffer, id=buffer_id)
    put_refs(checkpoint, name, [object_id for _, object_id in encoded.refs] + encoded.keep)
    return checkpoint.put_blob(name, PICKLE_CODEC, encoded.payload, id=encoded.id)


def put_refs(checkpoint, name: str, object_ids) -> set:
    """Bind objects already in the store (put by their own names, or by an
    earlier checkpoint) to `name`'s @ref: pseudo-names, so that gc and packs
    keep them while `name` is bound; the pseudo-names bound."""
    bound = set()
    for index, object_id in enumerate(object_ids):
        bound.add(ref_name(name, index))
        checkpoint.put_ref(ref_name(name, index), object_id)
    return bound


# ---- decoding -----------------------------------------------------------------

def read_array(store, object_id: str, info: dict) -> np.ndarray:
    out = np.empty(info["shape"], dtype=dtype_from_text(info["type"]))
    store.read_array_into(object_id, info["type"], tuple(info["shape"]),
                          out.reshape(-1).view(np.uint8) if out.size else bytearray())
    return out


class _Unpickler(pickle.Unpickler):
    """Resolves a pickle's array references through `resolve(name, id)`."""

    def __init__(self, file, resolve, **options):
        super().__init__(file, **options)
        self._resolve = resolve
        self._resolved: dict = {}  # one object per reference, however often met

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 3 and pid[0] in (REF_KIND, VALUE_REF_KIND)):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        key = (pid[1], pid[2])
        if key not in self._resolved:
            self._resolved[key] = self._resolve(*key)
        return self._resolved[key]


def decode(store, object_id: str, *, allow_pickle: bool = True, resolve=None):
    """The value of a stored object.  Unpickling runs code: callers pass
    allow_pickle=False for stores they do not trust.  `resolve(name, id)`
    gives the object a reference stands for (the one restored for `name`,
    so that both stay one object); by default the value, decoded."""
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
    if resolve is None:
        def resolve(_name, referenced_id):
            return decode(store, referenced_id)
    return _Unpickler(io.BytesIO(stream), resolve, buffers=buffers).load()
