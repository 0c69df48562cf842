#!/usr/bin/env python3
"""The floor under the store-size figure of issue 3 for a store of one file per
checkpoint: a measured prototype, not the store.

docs/performance.md ("Store size under small overwrites") finds the store at
2.028x the compressed array after 100 checkpoints that each overwrite one
aligned 1 % row block of a 100 MB float64 field, against a target of 2x: the
chunk data alone is 1.989x, which leaves about 8.7 KB of disk per checkpoint
for everything else, and the store spends about 28 KB (a segment with a
virtual dataset of 100 mappings, a manifest file, an INDEX entry).

This writes, with h5py and the Blosc filter (lz4, level 5, byte shuffle: the
store's defaults), the leanest layout that keeps every version of the array
one dataset h5py can read, and measures it on disk:
- checkpoint 1: one file holding the array as a chunked dataset (1 MiB chunks);
- checkpoint k > 1: one file holding the one new chunk, a virtual dataset of
  the array (layout "chained": the block mapped to the new chunk, the rows
  before and after it to the previous version's virtual dataset, 3 mappings;
  "chained, one run": only the longer side to the previous version, the
  shorter side box by box to the chunks, as the store's writer does since
  HDF5 was found to read its two-run chains in time exponential in their
  depth; "chained, one mapping": the rows before and after the block in one
  mapping to the previous version (a selection of two blocks of rows), as the
  store's writer does since that was found to read in linear time; "flat":
  one mapping per chunk, to whichever file holds it) and the
  checkpoint's manifest as an attribute (a JSON entry listing only the chunk
  that changed), so that renaming this one file into place is the commit;
- one append-only journal of fixed-size records (sequence, file name,
  checksum) that an open reads instead of listing the directory.
Variants: HDF5's default metadata block (2 KiB) and a 512-byte one.

Then it reads the last version back with h5py through each layout (bit
identity and time, warm cache, against a plain dataset of the same array),
and version 20, whose block is in the middle, once.  Last, the time h5py
takes to read through chains of two runs per level, 10 to 18 deep, over a
plain root and over a virtual root, and through chains of one mapping per
level holding both runs, 10 to 63 deep (two_run_read_seconds).

Usage: build/venv/bin/python benchmarks/bench_store_layout.py [--out FILE]
(default benchmarks/results/store-layout.json).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import h5py
import hdf5plugin
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_common import machine, write_result  # noqa: E402

ROWS, COLUMNS, BLOCK = 12800, 1024, 128  # 100 MB; blocks and chunks of 1 MiB (aligned case)
CHECKPOINTS = 100
JOURNAL_RECORD = 64  # u64 seq, 24-byte file name, 16-byte checksum, u64 length, u64 flags
BLOSC = hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)
READS = 5
LIBVER = ("v110", "v110")  # the store's segments: HDF5 1.10 file format
LAYOUTS = [  # (virtual datasets, HDF5 metadata block size or None for 2 KiB, store's names)
    ("chained", None, False), ("chained", 512, False), ("chained", None, True),
    ("chained", 512, True), ("chained, one mapping", 512, True),
    ("chained, one run", None, True), ("chained, one run", 512, True),
    ("flat", None, False), ("flat", None, True), ("flat", 512, True)]
MIDDLE = 20  # a version whose block is in the middle, read too (time against depth)


def field_rows(rng, r0: int, r1: int, t: float) -> np.ndarray:
    """Rows [r0, r1) of the smooth field sin(a x + t) cos(b y - t) + 1e-3 noise
    that bench_store.c's block benchmark writes."""
    x = np.arange(r0, r1, dtype=np.float64)[:, None]
    y = np.arange(COLUMNS, dtype=np.float64)[None, :]
    smooth = np.sin(2 * np.pi * 2 * x / ROWS + t) * np.cos(2 * np.pi * 3 * y / COLUMNS - t)
    return smooth + 1e-3 * (rng.random((r1 - r0, COLUMNS)) - 0.5)


def new_file(path: str, meta_block: int | None) -> h5py.File:
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_V110)
    if meta_block is not None:
        # h5py does not wrap H5Pset_meta_block_size; call the HDF5 it loaded.
        hdf5 = ctypes.CDLL("libhdf5_serial.so.103")
        if hdf5.H5Pset_meta_block_size(ctypes.c_int64(fapl.id), ctypes.c_uint64(meta_block)) < 0:
            raise SystemExit("H5Pset_meta_block_size failed")
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl))


def manifest(k: int, block: int, path: str) -> str:
    """What a manifest entry would say when it lists only the changed chunk."""
    return json.dumps({
        "format": 3, "seq": k, "parent": k - 1, "cell_id": "c0a1b2c3", "execution_count": k,
        "started": "2026-11-26T17:30:00.123Z", "committed": "2026-11-26T17:30:00.456Z",
        "host": None, "bindings": {"field": "%032x" % (k * 7919)},
        "objects": {"%032x" % (k * 7919): {
            "kind": "array", "dtype": "<f8", "shape": [ROWS, COLUMNS],
            "logical_bytes": ROWS * COLUMNS * 8, "stored_bytes": 800000,
            "chunk_shape": [BLOCK, COLUMNS], "base": "%032x" % ((k - 1) * 7919),
            "changed_chunks": [[block, "%032x" % (k * 104729), os.path.basename(path), 800000]]}}},
        separators=(",", ":"))


def write_layout(directory: str, layout: str, meta_block: int | None, versions,
                 store_names: bool) -> dict:
    """Write the 100 checkpoints in `layout`; returns the files, the last one
    and the name of the last version's dataset."""
    os.makedirs(directory)
    # chunk index -> (file name, dataset name, its row block in the first
    # version's dataset or None for a chunk dataset), for the flat layout
    chunk_home = {}
    names, arrays = [], []
    for k, (block, array_or_chunk) in enumerate(versions, start=1):
        name = "%016d-%08x.h5" % (k, k)
        array_name = "/objects/%032x" % (k * 7919) if store_names else "a"
        chunk_name = "/chunks/%032x" % (k * 104729) if store_names else "c"
        with new_file(os.path.join(directory, name), meta_block) as f:
            if k == 1:
                d = f.create_dataset(array_name, data=array_or_chunk, chunks=(BLOCK, COLUMNS),
                                     **BLOSC)
                label(d, "array", store_names)
                for c in range(ROWS // BLOCK):
                    chunk_home[c] = (name, array_name, c)
            else:
                d = f.create_dataset(chunk_name, data=array_or_chunk, chunks=(BLOCK, COLUMNS),
                                     **BLOSC)
                label(d, "chunk", store_names)
                chunk_home[block] = (name, chunk_name, None)
                if layout == "chained, one mapping":
                    d = union_vds(f, array_name, block * BLOCK, (block + 1) * BLOCK,
                                  (names[-1], arrays[-1]), (".", chunk_name),
                                  (ROWS, COLUMNS))
                else:
                    vl = vds_layout(layout, block, (names[-1], arrays[-1]), chunk_home)
                    d = f.create_virtual_dataset(array_name, vl)
                label(d, "array", store_names)
            f.attrs["nbr_manifest"] = manifest(k, block, name)
        names.append(name)
        arrays.append(array_name)
    with open(os.path.join(directory, "JOURNAL"), "wb") as journal:
        journal.write(b"\0" * JOURNAL_RECORD * len(names))
    return {"files": names, "last": os.path.join(directory, names[-1]), "dataset": arrays[-1],
            "middle": os.path.join(directory, names[MIDDLE - 1]), "middle_dataset": arrays[MIDDLE - 1]}


def label(dataset, kind: str, store_names: bool):
    """The attributes the store puts on every array and chunk dataset."""
    if store_names:
        dataset.attrs["nbr_kind"] = np.bytes_(kind)
        dataset.attrs["nbr_dtype"] = np.bytes_("<f8")
        dataset.attrs["nbr_logical_bytes"] = np.uint64(dataset.size * 8)


def vds_layout(layout: str, block: int, previous: tuple, chunk_home: dict) -> h5py.VirtualLayout:
    vl = h5py.VirtualLayout(shape=(ROWS, COLUMNS), dtype="f8")
    r0, r1 = block * BLOCK, (block + 1) * BLOCK
    own = chunk_home[block][1]
    earlier = h5py.VirtualSource(previous[0], previous[1], shape=(ROWS, COLUMNS))
    if layout == "chained":
        if r0 > 0:
            vl[:r0] = earlier[:r0]
        vl[r0:r1] = h5py.VirtualSource(".", own, shape=(BLOCK, COLUMNS))
        if r1 < ROWS:
            vl[r1:] = earlier[r1:]
        return vl
    homes = sorted(chunk_home.items())
    if layout == "chained, one run":
        # The longer side of the block maps to the previous version, the
        # shorter side box by box to the chunks (as the store does).
        after_is_longer = ROWS - r1 >= r0
        if after_is_longer:
            vl[r1:] = earlier[r1:]
            homes = [(c, h) for c, h in homes if c <= block]
        else:
            vl[:r0] = earlier[:r0]
            homes = [(c, h) for c, h in homes if c >= block]
    for c, (name, dataset, row) in homes:
        whole = row is None
        source = h5py.VirtualSource("." if c == block else name, dataset,
                                    shape=(BLOCK if whole else ROWS, COLUMNS))
        vl[c * BLOCK:(c + 1) * BLOCK] = source if whole else source[row * BLOCK:(row + 1) * BLOCK]
    return vl


def select_rows_except(space, r0: int, r1: int, rows: int, columns: int):
    """Selects every row of `space` but [r0, r1): one or two blocks."""
    blocks = [(a, b) for a, b in ((0, r0), (r1, rows)) if b > a]
    for i, (a, b) in enumerate(blocks):
        space.select_hyperslab((a, 0), (b - a, columns),
                               op=h5py.h5s.SELECT_SET if i == 0 else h5py.h5s.SELECT_OR)


def union_vds(f: h5py.File, name: str, r0: int, r1: int, below: tuple, block: tuple,
              shape: tuple):
    """A virtual dataset of two mappings, as the store writes since the union
    layout: rows [r0, r1) <- the block's dataset; every other row, one or two
    blocks of them, <- the same rows of the version below, in ONE mapping (a
    selection of two blocks), so HDF5 opens the version below once."""
    rows, columns = shape
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    vspace, source = (h5py.h5s.create_simple(shape) for _ in range(2))
    select_rows_except(vspace, r0, r1, rows, columns)
    select_rows_except(source, r0, r1, rows, columns)
    dcpl.set_virtual(vspace, below[0].encode(), below[1].encode(), source)
    vspace.select_hyperslab((r0, 0), (r1 - r0, columns))
    dcpl.set_virtual(vspace, block[0].encode(), block[1].encode(),
                     h5py.h5s.create_simple((r1 - r0, columns)))
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
    lcpl.set_create_intermediate_group(True)
    dataset = h5py.h5d.create(f.id, name.encode(), h5py.h5t.IEEE_F64LE,
                              h5py.h5s.create_simple(shape), dcpl=dcpl, lcpl=lcpl)
    return h5py.Dataset(dataset)


def chunk_bytes(path: str) -> int:
    """Storage size of the one chunk dataset of a later checkpoint's file."""
    with h5py.File(path, "r") as f:
        found = []
        f.visititems(lambda name, obj: found.append(obj.id.get_storage_size())
                     if isinstance(obj, h5py.Dataset) and not obj.is_virtual else None)
        return sum(found)


def disk(directory: str) -> tuple[int, int]:
    allocated = apparent = 0
    for name in os.listdir(directory):
        st = os.stat(os.path.join(directory, name))
        allocated += st.st_blocks * 512
        apparent += st.st_size
    return allocated, apparent


def read_seconds(path: str, dataset: str, out: np.ndarray) -> float:
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        f[dataset].read_direct(out)
    return time.perf_counter() - t0


def two_run_read_seconds(directory: str, root_is_virtual: bool, depth: int,
                         one_mapping: bool = False) -> float:
    """How long h5py takes to read a version `depth` deep in a chain whose
    every level maps both sides of its changed block to the level below (a
    1600 x 512 float64 array, 100 boxes of 16 rows, the changed box always in
    the middle part), its root a plain chunked dataset or a virtual dataset of
    one mapping per box (as the store's first version is); the two sides as
    two mappings, or, with `one_mapping`, as one (union_vds)."""
    rows, cols, box_rows = 1600, 512, 16
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    a = np.random.default_rng(0).random((rows, cols))
    with h5py.File(os.path.join(directory, "v0.h5"), "w", libver=LIBVER) as f:
        if root_is_virtual:
            vl = h5py.VirtualLayout(shape=(rows, cols), dtype="f8")
            for k in range(rows // box_rows):
                f.create_dataset(f"c{k}", data=a[k * box_rows:(k + 1) * box_rows])
                vl[k * box_rows:(k + 1) * box_rows] = h5py.VirtualSource(
                    ".", f"c{k}", shape=(box_rows, cols))
            f.create_virtual_dataset("a", vl)
        else:
            f.create_dataset("a", data=a, chunks=(box_rows, cols))
    for v in range(1, depth + 1):
        r0 = (20 + v % 60) * box_rows
        a[r0:r0 + box_rows] += 1
        with h5py.File(os.path.join(directory, f"v{v}.h5"), "w", libver=LIBVER) as f:
            f.create_dataset("c", data=a[r0:r0 + box_rows])
            if one_mapping:
                union_vds(f, "a", r0, r0 + box_rows, (f"v{v - 1}.h5", "a"), (".", "c"),
                          (rows, cols))
                continue
            vl = h5py.VirtualLayout(shape=(rows, cols), dtype="f8")
            below = h5py.VirtualSource(f"v{v - 1}.h5", "a", shape=(rows, cols))
            vl[:r0] = below[:r0]
            vl[r0:r0 + box_rows] = h5py.VirtualSource(".", "c", shape=(box_rows, cols))
            vl[r0 + box_rows:] = below[r0 + box_rows:]
            f.create_virtual_dataset("a", vl)
    t0 = time.perf_counter()
    with h5py.File(os.path.join(directory, f"v{depth}.h5"), "r") as f:
        back = f["a"][()]
    seconds = time.perf_counter() - t0
    if not np.array_equal(back, a):
        raise SystemExit("bench_store_layout: a two-run chain read back wrong")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "results", "store-layout.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    array = field_rows(rng, 0, ROWS, 0.0)
    versions = []
    for k in range(CHECKPOINTS):
        block = k % (ROWS // BLOCK)
        rows = field_rows(rng, block * BLOCK, (block + 1) * BLOCK, 0.01 * (k + 1))
        array[block * BLOCK:(block + 1) * BLOCK] = rows
        versions.append((block, array.copy() if k == 0 else rows))
        if k == MIDDLE - 1:
            middle = array.copy()
    scratch = tempfile.mkdtemp(prefix="nbr-layout-", dir=os.environ.get("TMPDIR", "/tmp"))
    results = {}
    try:
        with new_file(os.path.join(scratch, "plain.h5"), None) as f:
            plain = f.create_dataset("a", data=array, chunks=(BLOCK, COLUMNS), **BLOSC)
            compressed = plain.id.get_storage_size()
        with new_file(os.path.join(scratch, "first.h5"), None) as f:
            first = f.create_dataset("a", data=versions[0][1], chunks=(BLOCK, COLUMNS), **BLOSC)
            first_compressed = first.id.get_storage_size()
        for layout, meta_block, store_names in LAYOUTS:
            key = (f"{layout}, metadata block {meta_block or 'default (2048)'}, "
                   + ("the store's groups and attributes" if store_names else "bare"))
            directory = os.path.join(scratch, f"{layout.replace(', ', '-').replace(' ', '-')}-"
                                     f"{meta_block}-{store_names}")
            written = write_layout(directory, layout, meta_block, versions, store_names)
            chunk_data = first_compressed + sum(
                chunk_bytes(os.path.join(directory, n)) for n in written["files"][1:])
            allocated, apparent = disk(directory)
            out = np.empty_like(array)
            read_seconds(written["last"], written["dataset"], out)  # warm, and check
            identical = bool(np.array_equal(out, array))
            times = [read_seconds(written["last"], written["dataset"], out)
                     for _ in range(READS)]
            plain_times = [read_seconds(os.path.join(scratch, "plain.h5"), "a", out)
                           for _ in range(READS)]
            t0 = time.perf_counter()
            read_seconds(written["middle"], written["middle_dataset"], out)
            middle_seconds = time.perf_counter() - t0
            middle_identical = bool(np.array_equal(out, middle))
            results[key] = {
                "chunk_data_bytes": chunk_data,
                "disk_allocated_bytes": allocated, "disk_apparent_bytes": apparent,
                "not_chunk_data_allocated_per_checkpoint": (allocated - chunk_data) / CHECKPOINTS,
                "ratio_chunk_data": chunk_data / first_compressed,
                "ratio_disk_allocated": allocated / first_compressed,
                "ratio_disk_apparent": apparent / first_compressed,
                "h5py_reads_last_version_bit_identical": identical,
                "h5py_read_seconds_median": statistics.median(times),
                "h5py_plain_read_seconds_median": statistics.median(plain_times),
                "read_time_ratio_to_plain": statistics.median(times) / statistics.median(plain_times),
                f"h5py_read_seconds_version_{MIDDLE}_block_in_the_middle": middle_seconds,
                f"h5py_reads_version_{MIDDLE}_bit_identical": middle_identical}
            r = results[key]
            print(f"  {key:40s} disk {r['ratio_disk_allocated']:.4f}x allocated, "
                  f"{r['ratio_disk_apparent']:.4f}x apparent (chunk data "
                  f"{r['ratio_chunk_data']:.4f}x); "
                  f"{r['not_chunk_data_allocated_per_checkpoint'] / 1024:.2f} KiB/checkpoint "
                  f"besides chunks; h5py read {r['read_time_ratio_to_plain']:.2f}x plain, "
                  f"identical {identical}; version {MIDDLE} read in {middle_seconds:.2f} s, "
                  f"identical {middle_identical}")
        one_mapping = {}
        for depth in (10, 14, 18, 22, 30, 45, 63):
            seconds = two_run_read_seconds(os.path.join(scratch, "one-mapping"), True, depth,
                                           one_mapping=True)
            one_mapping[f"root virtual, depth {depth}"] = seconds
            print(f"  both sides in one mapping per level, root virtual, depth {depth}: "
                  f"h5py read {seconds:.3f} s")
        two_runs = {}
        for root in ("plain", "virtual"):
            for depth in (10, 12, 14, 16, 18):
                seconds = two_run_read_seconds(os.path.join(scratch, "two-runs"),
                                               root == "virtual", depth)
                two_runs[f"root {root}, depth {depth}"] = seconds
                print(f"  two runs per level, root {root}, depth {depth}: h5py read {seconds:.3f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_result({"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                  "machine": machine(("numpy", "h5py")),
                  "hdf5": h5py.version.hdf5_version, "hdf5plugin": hdf5plugin.version,
                  "checkpoints": CHECKPOINTS,
                  "array": f"{ROWS} x {COLUMNS} float64, blocks and chunks of {BLOCK} rows",
                  "compression": "Blosc lz4, level 5, byte shuffle (filter 32001)",
                  "array_compressed_bytes_first": first_compressed,
                  "array_compressed_bytes_last": compressed,
                  "journal_record_bytes": JOURNAL_RECORD, "layouts": results,
                  "two_runs_per_level_h5py_read_seconds": two_runs,
                  "one_mapping_per_level_h5py_read_seconds": one_mapping}, args.out)


if __name__ == "__main__":
    main()
