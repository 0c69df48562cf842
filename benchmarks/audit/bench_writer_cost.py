#!/usr/bin/env python3
"""What the audit's background writer spends per new array, with Blosc and without.

The writer puts each new array into the store on one thread (store option
`workers` 0).  This measures the CPU time of that thread per put of a new
134 MB float64 field (the Gray-Scott state of benchmarks/audit/numpy_heavy.ipynb,
after 24 steps; new content in every chunk), for the store's default
compression (lz4 + shuffle, level 5) against the baseline of no compression
(level 0: chunks written as they are), the two taking turns, in one run.  It
says how much of the writer's work compression is, which bounds what storing
poorly compressible data raw could save (docs/performance.md, section 1c).

Usage: build/venv/bin/python benchmarks/audit/bench_writer_cost.py [--reps N] [--out FILE]
(default 8 puts per setting per repetition, 3 repetitions,
benchmarks/results/audit-writer-cost.json).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from bench_common import machine, write_result  # noqa: E402
from bench_contention import N, STEPS, evolve  # noqa: E402

import nbrewind  # noqa: E402
from nbrewind.serialize import array_args  # noqa: E402

LEVELS = {"lz4 level 5 (default)": 5, "no compression (level 0)": 0}
PUTS = 8


def field() -> np.ndarray:
    rng = np.random.default_rng(1)
    u = 1.0 + 0.02 * rng.standard_normal((N, N))
    v = 0.25 + 0.02 * rng.standard_normal((N, N))
    evolve(u, v, STEPS)
    return u


def one_setting(level: int, source: np.ndarray, buffer: np.ndarray, scratch: str) -> dict:
    """PUTS puts of new content into a new store; thread CPU time per put."""
    path = os.path.join(scratch, f"store-{time.time_ns()}")
    store = nbrewind.Store(path, "c")
    store.set_option("level", level)
    store.set_option("workers", 0)
    seconds = []
    try:
        for i in range(PUTS):
            np.add(source, i * 1e-9, out=buffer)  # new content in every chunk
            start = time.thread_time()
            checkpoint = store.begin("cell", i)
            checkpoint.put_array("x", *array_args(buffer), buffer)
            checkpoint.commit()
            seconds.append(time.thread_time() - start)
        logical, stored = store.stats()
    finally:
        store.close()
        # Gone at once: 1 GB of dirty pages per setting would otherwise pile
        # up and throttle the later settings' writes.
        shutil.rmtree(path, ignore_errors=True)
    return {"cpu_s_per_put": seconds, "median_cpu_s": round(statistics.median(seconds), 4),
            "stored_over_logical": round(stored / logical, 4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results",
                                                      "audit-writer-cost.json"))
    args = parser.parse_args()
    source = field()
    buffer = np.empty_like(source)
    buffer[...] = source  # touched now, not while timing
    scratch = tempfile.mkdtemp(prefix="nbr-writer-cost-", dir=os.environ.get("TMPDIR", "/tmp"))
    runs = []
    try:
        one_setting(5, source, buffer, scratch)  # warm-up, not counted
        for rep in range(args.reps):
            names = list(LEVELS) if rep % 2 == 0 else list(reversed(LEVELS))  # take turns
            for name in names:
                run = one_setting(LEVELS[name], source, buffer, scratch)
                run.update(setting=name, rep=rep)
                runs.append(run)
                print(f"  {name:28s} {run['median_cpu_s']:.4f} s per put, "
                      f"stored {run['stored_over_logical']:.3f} of the bytes", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary = {}
    for name in LEVELS:
        mine = [s for r in runs if r["setting"] == name for s in r["cpu_s_per_put"]]
        summary[name] = {"median_cpu_s_per_put": round(statistics.median(mine), 4),
                         "stored_over_logical": [r["stored_over_logical"] for r in runs
                                                 if r["setting"] == name][0]}
    default, raw = (summary[name]["median_cpu_s_per_put"] for name in LEVELS)
    ratio = round(default / raw, 3)
    print(f"lz4 costs {ratio}x the writer's CPU time of no compression per {N}x{N} float64 put")
    write_result({"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
                  "machine": machine(("numpy",)),
                  "array": f"{N} x {N} float64 ({source.nbytes} bytes), new content per put",
                  "puts_per_setting_per_rep": PUTS, "reps": args.reps,
                  "settings": summary, "default_over_no_compression": ratio, "runs": runs},
                 args.out)


if __name__ == "__main__":
    main()
