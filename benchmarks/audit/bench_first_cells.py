#!/usr/bin/env python3
"""Where the audit's cost lands in the cells of the numpy-heavy notebook.

bench_audit.py's per-cell medians (run 34 on) put most of the audit's extra
wall time with background commits in the first evolve cells (c05, c07),
while the writer stores the arrays the cell before made.  This looks at the
first of them closely, without a Jupyter kernel: an IPython shell in a
fresh process runs cells c01-c05 of benchmarks/audit/numpy_heavy.ipynb (8
steps per block) and reports each cell's own time (pre_run_cell to
post_execute: no checkpoint in it), in three kinds taking turns, each run in
a new process:

  plain    no nbrewind
  audit    %load_ext nbrewind, background commits (the default here)
  held     the same, but the writer starts no job from c04's start until c05
           has ended: c05 runs with nothing written beside it, in the same
           process state (its arrays captured, the copies made before it)

audit - plain is what the audit costs c05; held - plain is the part that
does not come from the writer working beside it.

Usage: build/venv/bin/python benchmarks/audit/bench_first_cells.py [--reps N] [--out FILE]
(default 6 repetitions, benchmarks/results/audit-first-cells.json).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import make_notebooks  # noqa: E402
from bench_common import machine, write_result  # noqa: E402

KINDS = ("plain", "audit", "held")
CELLS, STEPS, N = 5, 8, 4096
HELD_FROM, HELD_UNTIL = 4, 5  # cell numbers (1-based)


def hold_the_writer() -> threading.Event:
    """An event the writer waits for before each job (set: no wait)."""
    from nbrewind import writer

    gate = threading.Event()
    gate.set()
    run = writer.Writer._run

    def held_run(self, job):
        gate.wait()
        return run(self, job)

    writer.Writer._run = held_run
    return gate


def one_run(kind: str) -> dict:
    """Runs the cells in this process; returns each cell's own time."""
    from IPython.core.interactiveshell import InteractiveShell

    scratch = tempfile.mkdtemp(prefix="nbr-first-cells-", dir=os.environ.get("TMPDIR", "/tmp"))
    os.environ["NBREWIND_STORE"] = os.path.join(scratch, "store.nbrewind")
    shell = InteractiveShell.instance()
    gate = hold_the_writer() if kind == "held" else None
    if kind != "plain":
        shell.run_line_magic("load_ext", "nbrewind")
    stamps = {}
    # registered after nbrewind's hooks: its pre_run_cell copies come before
    shell.events.register("pre_run_cell", lambda info: stamps.__setitem__("start", time.perf_counter()))
    shell.events.register("post_execute", lambda: stamps.__setitem__("end", time.perf_counter()))
    code_s = {}
    try:
        for number, source in enumerate(make_notebooks.numpy_heavy_cells(N, STEPS)[:CELLS], 1):
            if gate is not None and number == HELD_FROM:
                gate.clear()
            result = shell.run_cell(source)
            if gate is not None and number == HELD_UNTIL:
                gate.set()
            if not result.success:
                raise SystemExit(f"cell c{number:02d} failed: {result.error_in_exec!r}")
            code_s[f"c{number:02d}"] = round(stamps["end"] - stamps["start"], 3)
        if kind != "plain":
            shell.run_line_magic("nbrewind", "flush")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"kind": kind, "code_s": code_s}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results",
                                                      "audit-first-cells.json"))
    parser.add_argument("--one", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one)))
        return
    runs = []
    for rep in range(args.reps):
        turn = rep % len(KINDS)  # the order turns each repetition
        for kind in KINDS[turn:] + KINDS[:turn]:
            done = subprocess.run([sys.executable, __file__, "--one", kind], check=True,
                                  capture_output=True, text=True)
            run = json.loads(done.stdout.strip().splitlines()[-1])
            run["rep"] = rep
            runs.append(run)
            print(f"  {kind:5s} c04 {run['code_s']['c04']:6.3f} s  c05 {run['code_s']['c05']:6.3f} s",
                  flush=True)
    cells = list(runs[0]["code_s"])
    medians = {kind: {cell: statistics.median(r["code_s"][cell] for r in runs if r["kind"] == kind)
                      for cell in cells} for kind in KINDS}
    plain = medians["plain"]["c05"]
    summary = {kind: {"c05_median_s": medians[kind]["c05"],
                      "c05_over_plain_s": round(medians[kind]["c05"] - plain, 3),
                      "c05_over_plain": round(medians[kind]["c05"] / plain - 1, 4)}
               for kind in KINDS[1:]}
    for kind, row in summary.items():
        print(f"{kind}: c05 {row['c05_median_s']:.3f} s against {plain:.3f} s plain "
              f"({row['c05_over_plain_s']:+.3f} s, {100 * row['c05_over_plain']:+.1f} %)")
    result = {"date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
              "machine": machine(("numpy", "IPython")),
              "load_average_end": [round(x, 2) for x in os.getloadavg()],
              "cells": f"c01-c{CELLS:02d} of numpy_heavy ({N} x {N}, {STEPS} steps per block)",
              "held": f"writer starts no job from c{HELD_FROM:02d}'s start to c{HELD_UNTIL:02d}'s end",
              "medians_s": medians, "c05": summary, "runs": runs}
    write_result(result, args.out)


if __name__ == "__main__":
    main()
