#!/usr/bin/env python3
"""What an HDF5 virtual dataset adds to a segment file: the floor under the
store-size figure of docs/performance.md ("Store size under small overwrites").

A later checkpoint of the 100 x 1 % overwrite benchmark stores one new 1 MiB
chunk and a virtual dataset mapping the array onto its chunks.  This writes,
with h5py in the HDF5 1.10 file format the store's segments use, a file
holding one such chunk alone (the baseline) and the same file with a virtual
dataset of 3 mappings (the rows before the block and after it to the previous
version, the block to the chunk: what chained virtual datasets would need) or
of 100 mappings (one per chunk, what the store writes now), and reports what
each adds to the baseline, as file size and as allocated disk blocks.

Usage: build/venv/bin/python benchmarks/bench_vds_segment.py [--out FILE]
(default benchmarks/results/store-vds-segment.json).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_common import machine, write_result  # noqa: E402

ROWS, COLUMNS, CHUNK_ROWS = 12800, 1024, 128  # the aligned case: 100 chunks of 1 MiB
LIBVER = ("v110", "v110")


def segment(path: str, mappings: int, previous: str):
    """One chunk dataset, and a virtual dataset of `mappings` mappings (0: none)."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w", libver=LIBVER) as f:
        f.create_dataset("c", data=rng.standard_normal((CHUNK_ROWS, COLUMNS)),
                         chunks=(CHUNK_ROWS, COLUMNS))
        if not mappings:
            return
        layout = h5py.VirtualLayout(shape=(ROWS, COLUMNS), dtype="f8")
        earlier = h5py.VirtualSource(os.path.basename(previous), "a", shape=(ROWS, COLUMNS))
        own = h5py.VirtualSource(".", "c", shape=(CHUNK_ROWS, COLUMNS))
        step = ROWS // mappings
        for k in range(mappings):
            if k == mappings // 2:
                layout[k * step:k * step + CHUNK_ROWS] = own
            else:
                layout[k * step:(k + 1) * step] = earlier[k * step:(k + 1) * step]
        f.create_virtual_dataset("v", layout)


def sizes(path: str) -> dict:
    st = os.stat(path)
    return {"file_bytes": st.st_size, "allocated_bytes": st.st_blocks * 512}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "results", "store-vds-segment.json"))
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="nbr-vds-", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        previous = os.path.join(scratch, "previous.h5")
        with h5py.File(previous, "w", libver=LIBVER) as f:
            f.create_dataset("a", shape=(ROWS, COLUMNS), dtype="f8", chunks=(CHUNK_ROWS, COLUMNS))
        results = {}
        for name, mappings in (("chunk alone (baseline)", 0), ("3 mappings", 3),
                               ("100 mappings", 100)):
            path = os.path.join(scratch, f"segment-{mappings}.h5")
            segment(path, mappings, previous)
            results[name] = sizes(path)
        base = results["chunk alone (baseline)"]
        for name, got in results.items():
            got["file_bytes_over_baseline"] = got["file_bytes"] - base["file_bytes"]
            got["allocated_bytes_over_baseline"] = got["allocated_bytes"] - base["allocated_bytes"]
            print(f"  {name:24s} file {got['file_bytes']:>9} (+{got['file_bytes_over_baseline']}), "
                  f"allocated {got['allocated_bytes']:>9} (+{got['allocated_bytes_over_baseline']})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write_result({"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                  "machine": machine(("numpy", "h5py")), "hdf5": h5py.version.hdf5_version,
                  "format": "HDF5 1.10 (libver v110), as the store's segments",
                  "chunk": f"{CHUNK_ROWS} x {COLUMNS} float64, not compressed",
                  "segments": results}, args.out)


if __name__ == "__main__":
    main()
