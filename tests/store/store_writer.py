#!/usr/bin/python3
"""Writes a checkpoint store through libnbrewind (ctypes) from NumPy arrays of
every kind, and saves what it put (expected.npz, ids.json) for
test_store_h5py.py, which reads the store back with h5py alone in another
process.  Also OUTDIR/chain and OUTDIR/chain-gc: versions of one array with
a few boxes changed each (chained virtual datasets), the second store then
collected down to its last checkpoint (chain.npz, chain.json), and
OUTDIR/deep: 40 versions, one box changed each (deep-last.npy), and
OUTDIR/shapes: chained 1-D and 3-D arrays (shapes.npz).
Usage: store_writer.py LIBRARY STORE OUTDIR"""
import ctypes
import json
import sys

import numpy as np

c_void_pp = ctypes.POINTER(ctypes.c_void_p)


def load(path):
    lib = ctypes.CDLL(path)
    lib.nbr_last_error.restype = ctypes.c_char_p
    lib.nbr_store_open.argtypes = [c_void_pp, ctypes.c_char_p, ctypes.c_uint]
    lib.nbr_store_close.argtypes = [ctypes.c_void_p]
    lib.nbr_store_set_option.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]
    lib.nbr_checkpoint_begin.argtypes = [c_void_pp, ctypes.c_void_p, ctypes.c_char_p,
                                         ctypes.c_int64, ctypes.c_char_p]
    lib.nbr_checkpoint_put_array.argtypes = [
        ctypes.c_char_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
        ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p]
    lib.nbr_checkpoint_commit.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.nbr_object_id_to_hex.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.nbr_store_checkpoint_count.argtypes = [ctypes.c_void_p]
    lib.nbr_store_checkpoint_count.restype = ctypes.c_size_t
    lib.nbr_store_checkpoint_id.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.nbr_store_checkpoint_id.restype = ctypes.c_char_p
    lib.nbr_store_set_ref.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.nbr_store_gc.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return lib


def check(lib, status):
    if status != 0:
        raise RuntimeError(f"status {status}: {lib.nbr_last_error().decode()}")


def dtype_string(dt):
    return json.dumps(dt.descr) if dt.fields else dt.str


def put(lib, cp, name, array):
    shape = (ctypes.c_uint64 * max(array.ndim, 1))(*array.shape)
    strides = (ctypes.c_int64 * max(array.ndim, 1))(*array.strides)
    data = array.__array_interface__["data"][0] if array.size else None
    raw = ctypes.create_string_buffer(16)
    check(lib, lib.nbr_checkpoint_put_array(raw, cp, name.encode(),
                                            dtype_string(array.dtype).encode(), array.ndim,
                                            shape, strides, data))
    hexid = ctypes.create_string_buffer(33)
    lib.nbr_object_id_to_hex(hexid, raw)
    return hexid.value.decode()


def arrays():
    rng = np.random.default_rng(42)
    smooth = np.sin(np.linspace(0, 50, 300_000)).reshape(1000, 300)
    out = {
        "bool": rng.random((17, 3)) > 0.5,
        "int8": rng.integers(-128, 127, 100, dtype=np.int8),
        "uint16": rng.integers(0, 65535, (5, 6, 7), dtype=np.uint16),
        "int64_be": rng.integers(-2**40, 2**40, 50).astype(">i8"),
        "float16": rng.random(33).astype(np.float16),
        "float32": rng.random((20, 20), dtype=np.float32),
        "float64_smooth": smooth,
        "float64_fortran": np.asfortranarray(smooth[:200, :50]),
        "float64_reversed": smooth[::-1, ::-2],
        "float64_strided": smooth[10:500:7, 3:250:5],
        "complex64": (rng.random(40) + 1j * rng.random(40)).astype(np.complex64),
        "complex128": rng.random((4, 4)) + 1j * rng.random((4, 4)),
        "bytes": np.array([b"abc", b"", b"hello"], dtype="S5"),
        "unicode": np.array(["x", "\u00e9t\u00e9", "\U0001f600ok"], dtype="U4"),
        "datetime": np.array(["2026-11-25T17:30", "1970-01-01"], dtype="datetime64[ns]"),
        "timedelta": np.array([1, -5, 7], dtype="timedelta64[s]"),
        "structured": np.array([(1, 2.5, b"ab"), (-3, 0.25, b"xyz")],
                               dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S3")]),
        "scalar": np.array(3.5),
        "empty": np.zeros((0, 4)),
        "big_noise": np.frombuffer(rng.bytes(16_000_000), dtype="<u8"),
        # Several chunks each (256 KiB chunks): virtual datasets of types
        # HDF5 maps less directly (compound, UCS-4 array type, enum).
        "structured_big": np.array([(i, i * 0.5, b"ab") for i in range(30000)],
                                   dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S3")]),
        "unicode_big": np.array([f"u{i % 997}" for i in range(30000)], dtype="U4"),
        "bool_big": rng.random((600, 1000)) > 0.5,
        "float64_mixed": mixed(rng, smooth),
    }
    return out


def mixed(rng, smooth):
    """A compressible array (19 chunks of 109 rows at 256 KiB; none shared with
    float64_smooth) with two chunks of noise, which Blosc cannot shrink
    (stored raw, the filter skipped), and four chunks that repeat others: 8
    and 9 repeat 0 and 1, 10 repeats 8, 13 repeats 12 (still compressing,
    maybe, when 13 is hashed)."""
    a = np.concatenate([smooth * 0.25 + 1, smooth[::-1] * 0.5])  # 2000 x 300
    a[218:436] = np.frombuffer(rng.bytes(218 * 300 * 8), dtype="<f8").reshape(218, 300)
    a[872:1090] = a[0:218]
    a[1090:1199] = a[872:981]
    a[1417:1526] = a[1308:1417]
    return a


def chain_versions():
    """Versions of a 1000 x 300 float64 field (10 boxes of 109 rows at 256 KiB
    chunks, the last one 19 rows), each with some rows rewritten: the first
    box, the short last box, two boxes in the middle, everything (flat again),
    then a few boxes on top of that."""
    field = np.sin(np.linspace(0, 50, 300_000)).reshape(1000, 300)
    versions = [field.copy()]
    for k, (r0, r1) in enumerate([(0, 50), (990, 1000), (400, 500), (0, 1000), (200, 210),
                                  (500, 600), (0, 10)], start=1):
        field[r0:r1] = np.cos(np.linspace(k, k + 2, (r1 - r0) * 300)).reshape(r1 - r0, 300)
        versions.append(field.copy())
    return versions


def deep_versions():
    """40 versions of a 1600 x 512 float64 array (100 boxes of 16 rows at 64
    KiB chunks), each with one box rewritten, moving through the middle: a
    chain as deep as the writer makes it."""
    field = np.cos(np.linspace(0, 9, 1600 * 512)).reshape(1600, 512)
    versions = [field.copy()]
    for k in range(1, 40):
        box = 20 + (k * 37) % 60
        field[box * 16:(box + 1) * 16] += k
        versions.append(field.copy())
    return versions


def shape_versions():
    """Three versions each of a 1-D array (4 boxes of 32768 at 256 KiB chunks,
    the last one short) and of a 3-D one (100 x 30 x 40: 4 boxes of 27 rows,
    the last one 19), the second version changing one box in the middle and
    the third the short last box."""
    line = np.sin(np.linspace(0, 20, 100_000))
    cube = np.cos(np.linspace(0, 7, 100 * 30 * 40)).reshape(100, 30, 40)
    out = {"line": [line.copy()], "cube": [cube.copy()]}
    for k, (line_box, cube_box) in enumerate([(slice(40_000, 41_000), slice(30, 40)),
                                             (slice(99_000, 100_000), slice(90, 100))], 1):
        line[line_box] += k
        cube[cube_box] -= k
        out["line"].append(line.copy())
        out["cube"].append(cube.copy())
    return out


def write_shapes(lib, store, versions):
    """One checkpoint per version index, binding "line" and "cube"."""
    handle = ctypes.c_void_p()
    check(lib, lib.nbr_store_open(ctypes.byref(handle), store.encode(), 2 | 4))
    check(lib, lib.nbr_store_set_option(handle, 4, 256 * 1024))
    ids = {name: [] for name in versions}
    for k in range(len(versions["line"])):
        cp = ctypes.c_void_p()
        check(lib, lib.nbr_checkpoint_begin(ctypes.byref(cp), handle, b"cell", k + 1, b"{}"))
        for name, arrays in versions.items():
            ids[name].append(put(lib, cp, name, arrays[k]))
        check(lib, lib.nbr_checkpoint_commit(None, cp))
    lib.nbr_store_close(handle)
    return ids


def write_chain(lib, store, versions, collect, chunk_bytes=256 * 1024):
    """One checkpoint per version, each binding "field"; with `collect`, a
    GC that keeps only the last checkpoint."""
    handle = ctypes.c_void_p()
    check(lib, lib.nbr_store_open(ctypes.byref(handle), store.encode(), 2 | 4))
    check(lib, lib.nbr_store_set_option(handle, 4, chunk_bytes))
    ids = []
    for k, version in enumerate(versions):
        cp = ctypes.c_void_p()
        check(lib, lib.nbr_checkpoint_begin(ctypes.byref(cp), handle, b"cell", k + 1, b"{}"))
        ids.append(put(lib, cp, "field", version))
        check(lib, lib.nbr_checkpoint_commit(None, cp))
    if collect:
        last = lib.nbr_store_checkpoint_id(handle, lib.nbr_store_checkpoint_count(handle) - 1)
        check(lib, lib.nbr_store_set_ref(handle, b"last", last))
        check(lib, lib.nbr_store_gc(None, handle))
    lib.nbr_store_close(handle)
    return ids


def main():
    library, store, outdir = sys.argv[1:4]
    lib = load(library)
    handle = ctypes.c_void_p()
    check(lib, lib.nbr_store_open(ctypes.byref(handle), store.encode(), 2 | 4))
    check(lib, lib.nbr_store_set_option(handle, 4, 256 * 1024))  # CHUNK_BYTES: many chunks
    ids = {}
    expected = arrays()
    names = list(expected)
    for half in (names[::2], names[1::2]):  # two checkpoints
        cp = ctypes.c_void_p()
        check(lib, lib.nbr_checkpoint_begin(ctypes.byref(cp), handle, b"cell", 1, b"{}"))
        for name in half:
            ids[name] = put(lib, cp, name, expected[name])
        check(lib, lib.nbr_checkpoint_commit(None, cp))
    # A third checkpoint: float64_smooth with one row block rewritten (a time
    # step), stored as chunks of which all but one are in an earlier segment.
    step = expected["float64_smooth"].copy()
    step[400:500] = np.cos(np.linspace(0, 3, 100 * 300)).reshape(100, 300)
    expected["float64_smooth_step"] = step
    cp = ctypes.c_void_p()
    check(lib, lib.nbr_checkpoint_begin(ctypes.byref(cp), handle, b"cell", 2, b"{}"))
    ids["float64_smooth_step"] = put(lib, cp, "float64_smooth_step", step)
    check(lib, lib.nbr_checkpoint_commit(None, cp))
    lib.nbr_store_close(handle)
    np.savez(f"{outdir}/expected.npz", **{k: np.array(v, order="C") for k, v in expected.items()})
    # For readers without NumPy (tests/store/check_store_hdf5r.R): the
    # stepped array's raw C-order bytes and where its dataset is.
    step.tofile(f"{outdir}/float64_smooth_step.f8")
    with open(f"{outdir}/float64_smooth_step.txt", "w") as f:
        f.write(f"{ids['float64_smooth_step']} {step.shape[0]} {step.shape[1]}\n")
    with open(f"{outdir}/ids.json", "w") as f:
        json.dump({k: [v, dtype_string(expected[k].dtype)] for k, v in ids.items()}, f)
    versions = chain_versions()
    chain_ids = write_chain(lib, f"{outdir}/chain", versions, False)
    assert write_chain(lib, f"{outdir}/chain-gc", versions, True) == chain_ids
    np.savez(f"{outdir}/chain.npz", *versions)
    deep = deep_versions()
    deep_ids = write_chain(lib, f"{outdir}/deep", deep, False, 64 * 1024)
    np.save(f"{outdir}/deep-last.npy", deep[-1])
    shapes = shape_versions()
    shape_ids = write_shapes(lib, f"{outdir}/shapes", shapes)
    np.savez(f"{outdir}/shapes.npz", **{f"{name}{k}": a for name, arrays in shapes.items()
                                        for k, a in enumerate(arrays)})
    with open(f"{outdir}/chain.json", "w") as f:
        json.dump({"chain": chain_ids, "deep": deep_ids, "shapes": shape_ids}, f)


if __name__ == "__main__":
    main()
