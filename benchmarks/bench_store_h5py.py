"""h5py baselines for the checkpoint store's figures (benchmarks/bench_store.c).

Usage: bench_store_h5py.py DIR [TRIALS] [REPS]
       bench_store_h5py.py blocks DIR   (after `bench_store blocks DIR`)

DIR is the directory `bench_store write` filled: raw.bin (the float64 fields,
back to back) and the stores store-lz4 and store-zstd.  Prints one JSON object:

- h5py_write_gzip1: the same arrays written with h5py, gzip level 1 (h5py's
  "gzip", no shuffle), chunked exactly like the store's datasets (the chunk
  shape is read from the store's segment), one dataset per array, then the file
  fsynced; TRIALS trials (0: skip the writes), each replacing the file, after
  an os.sync();
- h5py_write_gzip1_shuffle: the same with HDF5's shuffle filter before gzip
  (the store shuffles too);
- h5py_read_store_lz4 / _zstd: h5py reading the store's own datasets (found
  through the manifest, read through Debian's hdf5-blosc plugin) into a warm
  array with read_direct; one untimed pass, then REPS passes.  With chunk
  dedup (the default) these are virtual datasets over the chunk datasets of
  the same segment file.

No nbrewind code is loaded: h5py (and its HDF5) alone.
"""
import json
import os
import pathlib
import statistics
import sys
import time

import h5py
import numpy as np


def manifest(path):
    """A manifest as an independent reader finds it (docs/store-format.md): the
    file, or the tail of the segment the name is a second name of (format 4:
    the JSON, its length as a little-endian u64, a 16-byte checksum,
    b"NBRMANIF")."""
    data = path.read_bytes()
    if data.endswith(b"NBRMANIF"):
        data = data[-32 - int.from_bytes(data[-32:-24], "little"):-32]
    return json.loads(data)


def store_datasets(store):
    """(segment path, [dataset names in u0, u1, ... order], chunk shape) of the
    store's first checkpoint.  With chunk dedup (the default) each array is a
    virtual dataset over its chunk datasets: the chunk shape is then the
    manifest's."""
    first = manifest(store / "checkpoints" / "0000000000000001.json")
    names = sorted(first["bindings"], key=lambda n: int(n[1:]))
    ids = [first["bindings"][n] for n in names]
    segments = {first["objects"][i]["segment"] for i in ids}
    assert len(segments) == 1, segments
    segment = store / segments.pop()
    chunks = first["objects"][ids[0]].get("chunk_shape")
    if chunks is None:
        with h5py.File(segment, "r") as f:
            chunks = f[f"/objects/{ids[0]}"].chunks
    return segment, [f"/objects/{i}" for i in ids], tuple(chunks)


def newest_object(store):
    """(segment path, dataset name) of the array bound as "field" by the
    newest checkpoint, found through its manifest."""
    newest = manifest(sorted((store / "checkpoints").glob("*.json"))[-1])
    object_id = newest["bindings"]["field"]
    return store / newest["objects"][object_id]["segment"], f"/objects/{object_id}"


def blocks(work, reps=7):
    """h5py reading the last array of `bench_store blocks` (a virtual dataset
    over chunks in 100 segment files) and the same array stored plain: open,
    read into a warm array, close; one untimed pass (which checks that both
    are equal), then `reps`, the two taking turns so that other load on the
    machine falls on both alike."""
    where = {key: newest_object(work / store)
             for key, store in (("virtual", "store-blocks"), ("plain", "store-blocks-plain"))}
    arrays, times = {}, {key: [] for key in where}
    for rep in range(-1, reps):
        for key, (segment, name) in where.items():
            if rep < 0:
                with h5py.File(segment, "r") as f:
                    arrays[key] = f[name][()]
                buffer = np.empty_like(arrays[key])
                buffer.fill(1.0)  # warm
                continue
            t0 = time.perf_counter()
            with h5py.File(segment, "r") as f:
                f[name].read_direct(buffer)
            times[key].append(time.perf_counter() - t0)
    if not np.array_equal(arrays["virtual"], arrays["plain"]):
        sys.exit("h5py: the virtual dataset and the plain one differ")
    result = {"reps": reps}
    for key, seconds in times.items():
        rates = [buffer.nbytes / 1e9 / s for s in seconds]
        result[f"h5py_read_{key}"] = {"gb_per_s": round(statistics.median(rates), 3),
                                      "gb_per_s_each": [round(r, 3) for r in rates]}
    result["ratio_h5py_virtual_vs_plain"] = round(
        result["h5py_read_virtual"]["gb_per_s"] / result["h5py_read_plain"]["gb_per_s"], 3)
    print(json.dumps(result, indent=2))


def main():
    if sys.argv[1] == "blocks":
        return blocks(pathlib.Path(sys.argv[2]))
    work = pathlib.Path(sys.argv[1])
    trials = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3

    segment, datasets, chunks = store_datasets(work / "store-lz4")
    with h5py.File(segment, "r") as f:
        shape = f[datasets[0]].shape
    raw = np.fromfile(work / "raw.bin", dtype="<f8")  # fromfile writes every page: warm
    arrays = raw.reshape((len(datasets),) + shape)
    gb = raw.nbytes / 1e9

    result = {
        "chunks": list(chunks),
        "h5py_version": h5py.version.version,
        "hdf5_version": h5py.version.hdf5_version,
    }
    for key, shuffle in (("h5py_write_gzip1", False), ("h5py_write_gzip1_shuffle", True)):
        if trials == 0:
            break
        out = work / f"{key}.h5"
        write_s = []
        for _ in range(trials):
            out.unlink(missing_ok=True)
            os.sync()
            t0 = time.perf_counter()
            with h5py.File(out, "w") as f:
                for i, a in enumerate(arrays):
                    f.create_dataset(f"u{i}", data=a, chunks=chunks, compression="gzip",
                                     compression_opts=1, shuffle=shuffle)
            fd = os.open(out, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            write_s.append(time.perf_counter() - t0)
        with h5py.File(out, "r") as f:
            stored = sum(f[f"u{i}"].id.get_storage_size() for i in range(len(arrays)))
        out.unlink()
        result[key] = {
            "seconds": round(statistics.median(write_s), 4),
            "gb_per_s": round(gb / statistics.median(write_s), 3),
            "gb_per_s_each": [round(gb / s, 3) for s in write_s],
            "stored_bytes": stored,
            "compression_ratio": round(raw.nbytes / stored, 3),
        }

    buffer = np.empty(shape, dtype="<f8")
    buffer.fill(1.0)  # warm
    for codec in ("lz4", "zstd"):
        segment, datasets, _ = store_datasets(work / f"store-{codec}")
        with h5py.File(segment, "r") as f:
            for i, name in enumerate(datasets):  # untimed pass; checks the bytes too
                f[name].read_direct(buffer)
                if not np.array_equal(buffer, arrays[i]):
                    sys.exit(f"h5py read of {name} in {segment} differs from what was put")
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for name in datasets:
                    f[name].read_direct(buffer)
                times.append(time.perf_counter() - t0)
        rates = [gb / s for s in times]
        result[f"h5py_read_store_{codec}"] = {
            "gb_per_s": round(statistics.median(rates), 3),
            "gb_per_s_each": [round(r, 3) for r in rates],
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
