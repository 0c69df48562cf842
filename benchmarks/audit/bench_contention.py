#!/usr/bin/env python3
"""How much work on the other core slows the notebook's own numpy loop.

The audit's background writer runs beside the user's next cell.  On an
otherwise idle second core that would be free; this measures what it really
costs here.  The main thread runs the Gray-Scott steps of
benchmarks/audit/numpy_heavy.ipynb (the same laplacian/evolve, on 4096 x 4096
float64 fields) while a second thread keeps doing one kind of work, without
pause, with the GIL released:

  alone   nothing beside it (the baseline)
  hash    XXH3-128 of 134 MB arrays (nbrewind.hash_array)
  copy    np.copyto of 134 MB arrays into a buffer already touched
  store   what the audit's writer does: new 134 MB arrays (new content in
          every chunk) put into a store with workers 0 and committed
  paced   the same work, but after each put the thread sleeps three times as
          long as the put took (a quarter of the core): whether spreading the
          writer's work thinner would cost the loop less per second of it

The kinds take turns, REPS times each.  Reported: the loop's time (median),
its slowdown against `alone`, and how many seconds of the loop's time one
second of the other thread's work costs ("cost per busy second": 0 if the
second core were truly free, 1 if the two threads took turns on one core).

Usage: build/venv/bin/python benchmarks/audit/bench_contention.py [--reps N] [--out FILE]
(default 3 repetitions, benchmarks/results/audit-contention.json).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import make_notebooks  # noqa: E402
from bench_common import machine, write_result  # noqa: E402

import nbrewind  # noqa: E402
from nbrewind.serialize import array_args  # noqa: E402

N, STEPS = 4096, 24
KINDS = ("alone", "hash", "copy", "store", "paced")
PACED_SLEEP = 3.0  # paced: seconds asleep per second of work


def notebook_functions() -> dict:
    """laplacian and evolve, from the notebook's own cell (make_notebooks.py)."""
    cell = next(c for c in make_notebooks.numpy_heavy_cells(N, STEPS) if "def evolve" in c)
    namespace = {"np": np}
    exec(cell, namespace)  # our own benchmark source, not input
    return namespace


evolve = notebook_functions()["evolve"]


class Background:
    """A thread doing one kind of work until stopped; counts its busy time."""

    def __init__(self, kind: str, sources: list, scratch: str):
        self.kind, self.sources, self.scratch = kind, sources, scratch
        self.buffer = np.ones((N, N))  # touched now, not while timing
        self.stop = threading.Event()
        self.items = 0
        self.busy_s = 0.0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        store = None
        if self.kind in ("store", "paced"):
            store = nbrewind.Store(os.path.join(self.scratch, f"store-{time.time_ns()}"), "c")
            store.set_option("workers", 0)
        while not self.stop.is_set():
            source = self.sources[self.items % len(self.sources)]
            start = time.thread_time()
            if self.kind == "hash":
                nbrewind.hash_array(*array_args(source), source)
            elif self.kind == "copy":
                np.copyto(self.buffer, source)
            else:
                np.add(source, self.items, out=self.buffer)  # new content in every chunk
                checkpoint = store.begin("cell", self.items)
                checkpoint.put_array("x", *array_args(self.buffer), self.buffer)
                checkpoint.commit()
            busy = time.thread_time() - start
            self.busy_s += busy
            self.items += 1
            if self.kind == "paced":
                self.stop.wait(PACED_SLEEP * busy)
        if store is not None:
            store.close()


def one_run(kind: str, sources: list, scratch: str) -> dict:
    rng = np.random.default_rng(1)
    u = 1.0 + 0.02 * rng.standard_normal((N, N))
    v = 0.25 + 0.02 * rng.standard_normal((N, N))
    evolve(u, v, 1)  # the loop's own temporaries touched once
    helper = Background(kind, sources, scratch) if kind != "alone" else None
    if helper:
        helper.thread.start()
    start = time.perf_counter()
    evolve(u, v, STEPS)
    seconds = time.perf_counter() - start
    if helper:
        helper.stop.set()
        helper.thread.join()
    return {"kind": kind, "loop_s": round(seconds, 3),
            "background_items": helper.items if helper else 0,
            # CPU time of the helper while the loop ran (thread_time: its own CPU)
            "background_busy_s": round(helper.busy_s, 3) if helper else 0.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results",
                                                      "audit-contention.json"))
    args = parser.parse_args()
    rng = np.random.default_rng(2)
    sources = [np.cumsum(rng.standard_normal((N, N)), axis=1) for _ in range(3)]
    scratch = tempfile.mkdtemp(prefix="nbr-contention-", dir=os.environ.get("TMPDIR", "/tmp"))
    runs = []
    try:
        for rep in range(args.reps):
            turn = rep % len(KINDS)  # the order turns each repetition
            for kind in KINDS[turn:] + KINDS[:turn]:
                run = one_run(kind, sources, scratch)
                run["rep"] = rep
                runs.append(run)
                print(f"  {kind:6s} loop {run['loop_s']:7.3f} s, beside it "
                      f"{run['background_items']} items, {run['background_busy_s']} s busy",
                      flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    alone = statistics.median(r["loop_s"] for r in runs if r["kind"] == "alone")
    summary = {}
    for kind in KINDS[1:]:
        mine = [r for r in runs if r["kind"] == kind]
        loop = statistics.median(r["loop_s"] for r in mine)
        busy = statistics.median(r["background_busy_s"] for r in mine)
        summary[kind] = {"loop_s_median": loop, "slowdown": round(loop / alone - 1, 3),
                         "background_busy_s_median": busy,
                         "cost_per_busy_second": round((loop - alone) / busy, 3) if busy else None}
        print(f"{kind}: loop {loop:.3f} s against {alone:.3f} s alone "
              f"({100 * (loop / alone - 1):+.1f} %); each busy second beside it cost the loop "
              f"{summary[kind]['cost_per_busy_second']} s")
    result = {"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "machine": machine(("numpy",)),
              "load_average_end": [round(x, 2) for x in os.getloadavg()],
              "loop": f"{STEPS} Gray-Scott steps on two {N} x {N} float64 fields",
              "alone_loop_s_median": alone, "kinds": summary, "runs": runs}
    write_result(result, args.out)


if __name__ == "__main__":
    main()
