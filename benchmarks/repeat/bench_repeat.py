#!/usr/bin/env python3
"""Benchmarks of `nbrewind repeat` (issue 5), each against a baseline run in
the same invocation.  Run it with the venv's python (build/venv/bin/python):

    bench_repeat.py [--quick] [--out FILE] [--keep]

Quick mode (--quick, or NBR_BENCH_REPEAT_QUICK=1) shrinks the distributed
notebook and the planning notebook (a smoke test, ~2-3 minutes; its numbers
are not the figures).  NBR_BENCH_REPEAT_SCRATCH: scratch parent (default /tmp).

Figures (the notebook is benchmarks/repeat/make_notebook.py's
dask_pipeline.ipynb: a Dask LocalCluster on loopback, 2 worker processes of
one thread, four heavy cells, two summary cells, a plotting-like last cell):

 Each edit is made three times over (successive variants of the cell, each
 followed by a repeat; the median repeat is the figure); the baselines run
 the notebook with the last variant.

 1 late edit (the last cell): wall time of `repeat` against a fresh
   `nbrewind audit` of the edited notebook and against a plain ipykernel run
   of it (nbclient, no nbrewind), both from kernel start to kernel shutdown;
   the outputs of all three compared (text, memory addresses removed, as
   tests/python/test_repeat.py's texts()).
 2 repeat wall time against 1.2 x (durations of the cells that truly must
   re-run) + 2 s, for the late edit and for a mid-notebook edit (the first
   summary cell: it and the two cells after it must re-run, the heavy cells
   and the cluster must not); durations from the records of a fresh audit of
   the edited notebook.  The repeat's phases are timed (monkeypatched
   wrappers around nbrewind.repeat's functions, in this process).
 3 serialize.decode(store, id) of each big value the heavy cells produce,
   against the recorded duration of the cell that produced it.
 4 planning of `repeat --dry-run` on a 500-cell chained notebook, cell 1
   edited: read + store open + build_plan + Plan + explain + print_plan in
   this process (median of 7), and the CLI's wall time (median of 5, with
   interpreter start; `python -c pass` and `import nbrewind.cli` alone timed
   too).

Every wall time includes what a user waits for: kernel start and shutdown,
store open, restores, the notebook's sync and write.  The installed package is
copied into the scratch directory first and used from there (here and in
every kernel), so a reinstall during the run cannot mix versions.
"""
from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import make_notebook  # noqa: E402
from bench_common import machine, snapshot_package, write_result  # noqa: E402

# Each edit is made and repeated three times over (successive variants of the
# same cell): the figures use the median repeat; the baselines run the last
# variant.
LATE_EDITS = [("plot", "print('== summary ==')", "print('== SUMMARY (edit 1) ==')"),
              ("plot", "(edit 1)", "(edit 2)"), ("plot", "(edit 2)", "(edit 3)")]
MID_EDITS = [("summary", "gram[:N // 2, :N // 2])[-5:]", "gram[:N // 3, :N // 3])[-5:]"),
             ("summary", "[-5:]", "[-6:]"), ("summary", "[-6:]", "[-7:]")]
MID_MUST = ["summary", "table", "plot"]
BIG = {"gram": "gram", "spectra": "spectra", "singular": "tall_svd", "hist": "histogram"}


def texts(nb) -> list:
    """Each code cell's outputs as comparable text (memory addresses removed),
    the way `nbrewind verify` compares them."""
    from nbrewind.verify import output_text

    return ["".join(output_text(c.get("outputs", []))) for c in nb.cells
            if c.cell_type == "code"]


def r(x, digits=3):
    return round(x, digits)


def med(xs):
    return statistics.median(xs)


def load() -> list:
    return [round(x, 2) for x in os.getloadavg()]


# ---- running notebooks ---------------------------------------------------------------

def audit(path: str) -> dict:
    from nbrewind.runner import audit_notebook

    t0 = time.perf_counter()
    audit_notebook(path, progress=False, timeout=3600)
    wall = time.perf_counter() - t0
    return {"wall_s": r(wall), "durations_s": durations(path), "texts": texts(nbformat.read(path, 4))}


def durations(path: str) -> dict:
    """The latest record duration of each cell of the notebook (its store)."""
    from nbrewind import _core
    from nbrewind.history import executions

    store = os.path.splitext(path)[0] + ".nbrewind"
    with _core.Store(store, "r") as st:
        runs = executions(st, os.path.abspath(path))
    return {e.record.cell_id: r(e.record.duration or 0.0, 4) for e in runs}


def plain_run(path: str, kernel_dirs: list) -> dict:
    """The notebook in a plain ipykernel (no nbrewind), kernel start to shutdown."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, 4)
    km = KernelManager(kernel_name="plain", kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs))
    client = NotebookClient(nb, km=km, timeout=3600, allow_errors=False,
                            resources={"metadata": {"path": os.path.dirname(path)}})
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        try:
            if km.has_kernel:
                km.shutdown_kernel(now=False)
        except Exception:
            km.shutdown_kernel(now=True)
    wall = time.perf_counter() - t0
    nbformat.write(nb, path)
    return {"wall_s": r(wall), "texts": texts(nb)}


class Phases:
    """Times nbrewind.repeat's phases by wrapping its functions (this process)."""

    def __init__(self):
        import nbclient.client
        from nbrewind import notebook as nbfile, repeat

        self.t = {}
        self.restores = []
        self._undo = []
        for mod, name, key in [(repeat, "build_plan", "build_plan_s"), (repeat, "explain", "explain_s"),
                               (repeat, "_restore", "restore_s"), (repeat, "_report", "report_s"),
                               (repeat, "shutdown", "kernel_shutdown_s"),
                               (nbfile, "sync", "sync_s"), (nbfile, "write", "write_s"),
                               (nbclient.client.NotebookClient, "execute_cell", "execute_cells_s")]:
            self._wrap(mod, name, key)

    def _wrap(self, owner, name, key):
        orig = getattr(owner, name)
        phases = self

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                phases.t[key] = phases.t.get(key, 0.0) + dt
                if key == "restore_s":
                    phases.restores.append({"cell": args[3], "s": r(dt, 4)})

        setattr(owner, name, timed)
        self._undo.append((owner, name, orig))

    def close(self):
        for owner, name, orig in reversed(self._undo):
            setattr(owner, name, orig)


def repeat(path: str) -> dict:
    from nbrewind.repeat import repeat_notebook

    phases = Phases()
    try:
        t0 = time.perf_counter()
        result = repeat_notebook(path, report=io.StringIO(), timeout=3600)
        wall = time.perf_counter() - t0
    finally:
        phases.close()
    p = {k: r(v, 4) for k, v in phases.t.items()}
    inside = sum(phases.t.get(k, 0.0) for k in ("restore_s", "execute_cells_s", "report_s",
                                                 "kernel_shutdown_s"))
    p["kernel_start_and_client_setup_s"] = r(result["seconds"] - inside, 4)
    p["repeat_execute_total_s"] = r(result["seconds"], 4)
    return {"wall_s": r(wall), "ran": result["ran"], "phases": p, "restores": phases.restores,
            "plan": [{"cell": row["cell"], "state": row["state"], "why": row["why"],
                      "restores": row["restores"]} for row in result["rows"]],
            "texts": texts(nbformat.read(path, 4)), "durations_s": durations(path)}


def edit(path: str, cell_id: str, old: str, new: str):
    nb = nbformat.read(path, 4)
    cell = next(c for c in nb.cells if c.id == cell_id)
    assert old in cell.source, (cell_id, old)
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)


def copy_notebook(path: str, where: str) -> str:
    os.makedirs(where)
    return shutil.copy(path, where)


# ---- figures -------------------------------------------------------------------------

def repeats(nb: str, edits: list, before_last=None) -> dict:
    """Make each edit and repeat after it; before the last repeat, call
    before_last() (copies for the baselines).  The median repeat is the figure."""
    runs = []
    for i, change in enumerate(edits):
        edit(nb, *change)
        if i == len(edits) - 1 and before_last:
            before_last()
        runs.append(repeat(nb))
        print(f"   repeat {runs[-1]['wall_s']} s, ran {runs[-1]['ran']}, phases "
              f"{runs[-1]['phases']}", flush=True)
    walls = [x["wall_s"] for x in runs]
    median = sorted(runs, key=lambda x: x["wall_s"])[len(runs) // 2]
    return {"runs": runs, "walls": walls, "median": median, "last": runs[-1]}


def bound_check(reps: dict, must: list, fresh_durations: dict) -> dict:
    rep = reps["median"]
    must_s = sum(fresh_durations.get(c, 0.0) for c in must)
    must_repeat_s = med([sum(x["durations_s"].get(c, 0.0) for c in must) for x in reps["runs"]])
    bound = 1.2 * must_s + 2.0
    return {"must_rerun": must, "ran": [x["ran"] for x in reps["runs"]],
            "ran_is_must": all(x["ran"] == must for x in reps["runs"]),
            "must_rerun_s_fresh_audit_records": r(must_s, 4),
            "must_rerun_s_repeat_records_median": r(must_repeat_s, 4),
            "repeat_wall_s_each": reps["walls"],
            "repeat_wall_s": rep["wall_s"], "bound_s": r(bound),
            "excess_over_must_s": r(rep["wall_s"] - must_s),
            "met": rep["wall_s"] <= bound,
            "repeat_phases_s_each": [x["phases"] for x in reps["runs"]],
            "restores_each": [x["restores"] for x in reps["runs"]]}


def fig_decode(path: str, audit_durations: dict) -> dict:
    from nbrewind import _core, serialize
    from nbrewind.history import executions

    store = os.path.splitext(path)[0] + ".nbrewind"
    out = {}
    with _core.Store(store, "r") as st:
        runs = {e.record.cell_id: e.record for e in executions(st, os.path.abspath(path))}
        for name, cell in BIG.items():
            oid = runs[cell].writes[name]
            info = st.object_info(oid)
            times = []
            for _ in range(4):
                t0 = time.perf_counter()
                value = serialize.decode(st, oid)
                times.append(time.perf_counter() - t0)
            producer = audit_durations[cell]
            decode = med(times[1:])
            out[name] = {"producer_cell": cell, "kind": info["kind"], "shape": list(getattr(value, "shape", [])),
                         "nbytes": int(getattr(value, "nbytes", 0)),
                         "decode_first_s": r(times[0], 5), "decode_median_s": r(decode, 5),
                         "producer_cell_duration_s": producer,
                         "producer_plus_cluster_s": r(producer + audit_durations["cluster"], 4),
                         "ratio_producer_over_decode": r(producer / decode, 1),
                         "met": producer / decode >= 20}
    return out


def fig_planning(scratch: str, cells: int) -> dict:
    from nbrewind import _core, notebook as nbfile
    from nbrewind._core import Plan
    from nbrewind.repeat import build_plan, explain, print_plan, repeat_notebook

    where = os.path.join(scratch, "plan")
    os.makedirs(where)
    path = make_notebook.write(os.path.join(where, "chain.ipynb"), make_notebook.chain_cells(cells))
    t0 = time.perf_counter()
    from nbrewind.runner import audit_notebook
    audit_notebook(path, progress=False, timeout=3600)
    audit_s = time.perf_counter() - t0
    edit(path, "c000", "v0 = 0", "v0 = 1")
    store = os.path.splitext(path)[0] + ".nbrewind"
    pieces = {k: [] for k in ("read_s", "store_open_s", "build_plan_s", "core_plan_s", "explain_s",
                              "print_plan_s", "total_s")}
    states = None
    for _ in range(8):
        t = [time.perf_counter()]
        nb = nbfile.read(path)
        t.append(time.perf_counter())
        with _core.Store(store, "r") as st:
            t.append(time.perf_counter())
            plan = build_plan(nb, path, st)
            t.append(time.perf_counter())
        with Plan(plan.graph) as core_plan:
            t.append(time.perf_counter())
            rows = explain(plan, core_plan)
            t.append(time.perf_counter())
            print_plan(rows, io.StringIO())
            t.append(time.perf_counter())
        for key, a, b in zip(pieces, t, t[1:]):
            pieces[key].append(b - a)
        pieces["total_s"].append(t[-1] - t[0])
        states = {s: sum(1 for row in rows if row["state"] == s) for s in {row["state"] for row in rows}}
    planning = {k: r(med(v[1:]) * 1000, 2) for k, v in pieces.items()}  # ms, first pass untimed
    api = []
    for _ in range(6):
        t0 = time.perf_counter()
        repeat_notebook(path, dry_run=True, report=io.StringIO())
        api.append(time.perf_counter() - t0)
    exe = os.path.join(os.path.dirname(sys.executable), "nbrewind")

    def wall(argv, n=5):
        ts = []
        for _ in range(n + 1):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            ts.append(time.perf_counter() - t0)
        return r(med(ts[1:]) * 1000, 1)

    cli_ms = wall([exe, "repeat", path, "--dry-run"])
    python_ms = wall([sys.executable, "-c", "pass"])
    import_ms = wall([sys.executable, "-c", "import nbrewind.cli"])
    total = planning["total_s"]
    return {"cells": cells, "audit_wall_s": r(audit_s, 1), "states": states,
            "in_process_ms_median_of_7": {k.replace("_s", "_ms"): v for k, v in planning.items()},
            "repeat_notebook_dry_run_ms_median_of_5": r(med(api[1:]) * 1000, 2),
            "cli_dry_run_wall_ms_median_of_5": cli_ms,
            "python_c_pass_ms": python_ms, "python_import_nbrewind_cli_ms": import_ms,
            "target_ms": 100, "met": total <= 100,
            "cli_met": cli_ms <= 100}


# ---- main ----------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("NBR_BENCH_REPEAT_QUICK", "") not in ("", "0")
    mode = "quick" if quick else "full"
    scratch = tempfile.mkdtemp(prefix="nbr-bench-repeat.",
                               dir=os.environ.get("NBR_BENCH_REPEAT_SCRATCH", "/tmp"))
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    installed = snapshot_package(scratch, "bench_repeat.py")
    os.environ["PYTHONPATH"] = os.pathsep.join(  # the kernels use the copy too
        [os.path.join(scratch, "pkg")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    started = time.time()
    result = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
              "machine": machine(("numpy", "dask", "distributed", "ipykernel", "nbclient")), "nbrewind_package_copied_from": installed, "mode": mode,
              "load_average_1_5_15_min": {"start": load()},
              "notebook": {"generator": "benchmarks/repeat/make_notebook.py", "mode": mode,
                           "sizes_N_seeds_M_rows_draws": make_notebook.SIZES[mode],
                           "cells": make_notebook.IDS},
              "figures": {}}
    spec = os.path.join(scratch, "kernels", "plain")
    os.makedirs(spec)
    with open(os.path.join(spec, "kernel.json"), "w") as f:
        json.dump({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                   "display_name": "plain", "language": "python"}, f)
    kernel_dirs = [os.path.dirname(spec)]
    try:
        print("== repeat: warm-up (an audit kernel and a plain kernel import dask.distributed)", flush=True)
        warm = make_notebook.write(os.path.join(scratch, "warm.ipynb"),
                                   ["import numpy, dask.array, dask.distributed", "x = 1"])
        audit(warm)
        plain_run(warm, kernel_dirs)

        work = os.path.join(scratch, "work")
        os.makedirs(work)
        nb = make_notebook.write(os.path.join(work, "dask_pipeline.ipynb"),
                                 make_notebook.dask_cells(mode), make_notebook.IDS)
        print(f"== repeat: audit of the distributed notebook ({mode})", flush=True)
        first = audit(nb)
        print(f"   audit {first['wall_s']} s; cells {first['durations_s']}", flush=True)
        result["audit"] = {"wall_s": first["wall_s"], "durations_s": first["durations_s"],
                           "cells_total_s": r(sum(first["durations_s"].values()))}

        print("== repeat: figure 3, decode of the big values", flush=True)
        result["figures"]["restore_vs_rerun"] = fig_decode(nb, first["durations_s"])

        print("== repeat: late edit (last cell): repeat, fresh audit, plain run", flush=True)
        copies = {}

        def copy_late():
            copies["fresh"] = copy_notebook(nb, os.path.join(scratch, "fresh_late"))
            copies["plain"] = copy_notebook(nb, os.path.join(scratch, "plain_late"))

        lates = repeats(nb, LATE_EDITS, copy_late)
        late, last = lates["median"], lates["last"]
        fresh = audit(copies["fresh"])
        print(f"   fresh audit {fresh['wall_s']} s", flush=True)
        plain = plain_run(copies["plain"], kernel_dirs)
        print(f"   plain run {plain['wall_s']} s", flush=True)
        diff = [i for i, (a, b) in enumerate(zip(last["texts"], fresh["texts"])) if a != b]
        diff_plain = [i for i, (a, b) in enumerate(zip(last["texts"], plain["texts"])) if a != b]
        result["figures"]["late_edit_speedup"] = {
            "edits": [f"cell {c}: {o!r} -> {n!r}" for c, o, n in LATE_EDITS],
            "ran": late["ran"], "repeat_wall_s": late["wall_s"], "repeat_wall_s_each": lates["walls"],
            "fresh_audit_wall_s": fresh["wall_s"], "plain_kernel_wall_s": plain["wall_s"],
            "speedup_vs_fresh_audit": r(fresh["wall_s"] / late["wall_s"], 1),
            "speedup_vs_plain_kernel": r(plain["wall_s"] / late["wall_s"], 1),
            "outputs_identical_to_fresh_audit": not diff and len(last["texts"]) == len(fresh["texts"]),
            "outputs_identical_to_plain_run": not diff_plain and len(last["texts"]) == len(plain["texts"]),
            "differing_cells_vs_fresh": diff, "differing_cells_vs_plain": diff_plain,
            "target": 10, "met": plain["wall_s"] / late["wall_s"] >= 10 and not diff,
            "plan": late["plan"],
        }
        if diff or diff_plain:
            result["figures"]["late_edit_speedup"]["texts"] = {
                "repeat": last["texts"], "fresh": fresh["texts"], "plain": plain["texts"]}
        bound = {"late_edit": bound_check(lates, [LATE_EDITS[0][0]], fresh["durations_s"])}

        print("== repeat: mid-notebook edit (first summary cell): repeat, fresh audit", flush=True)
        mids = repeats(nb, MID_EDITS, lambda: copies.update(
            mid=copy_notebook(nb, os.path.join(scratch, "fresh_mid"))))
        mid, last = mids["median"], mids["last"]
        fresh2 = audit(copies["mid"])
        print(f"   fresh audit {fresh2['wall_s']} s", flush=True)
        diff2 = [i for i, (a, b) in enumerate(zip(last["texts"], fresh2["texts"])) if a != b]
        bound["mid_edit"] = bound_check(mids, MID_MUST, fresh2["durations_s"])
        bound["mid_edit"].update({
            "edits": [f"cell {c}: {o!r} -> {n!r}" for c, o, n in MID_EDITS],
            "fresh_audit_wall_s": fresh2["wall_s"],
            "speedup_vs_fresh_audit": r(fresh2["wall_s"] / mid["wall_s"], 1),
            "outputs_identical_to_fresh_audit": not diff2, "differing_cells": diff2,
            "plan": mid["plan"]})
        result["figures"]["repeat_vs_must_rerun"] = bound

        print("== repeat: figure 4, planning a 500-cell notebook", flush=True)
        result["figures"]["planning_500_cells"] = fig_planning(scratch, 500)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    result["load_average_1_5_15_min"]["end"] = load()
    result["elapsed_s"] = round(time.time() - started, 1)
    report(result)
    out = args.out or os.path.join(TOP, "benchmarks", "results",
                                   "repeat-quick.json" if quick else "repeat.json")
    write_result(result, out)


def report(res: dict):
    f = res["figures"]
    met = lambda ok: "met" if ok else "NOT met"
    la = res["load_average_1_5_15_min"]
    print(f"mode {res['mode']}; load average start {la['start']}, end {la['end']}; "
          f"{res['elapsed_s']} s")
    a = res["audit"]
    print(f"audit of the distributed notebook: {a['wall_s']} s wall, cells {a['cells_total_s']} s")
    s = f["late_edit_speedup"]
    print(f"1 late edit: repeat {s['repeat_wall_s']} s (median of {s['repeat_wall_s_each']}, ran {s['ran']}); fresh audit "
          f"{s['fresh_audit_wall_s']} s -> {s['speedup_vs_fresh_audit']}x; plain kernel "
          f"{s['plain_kernel_wall_s']} s -> {s['speedup_vs_plain_kernel']}x; outputs identical: "
          f"fresh {s['outputs_identical_to_fresh_audit']}, plain {s['outputs_identical_to_plain_run']}; "
          f"target 10x: {met(s['met'])}")
    for key, b in f["repeat_vs_must_rerun"].items():
        print(f"2 {key}: repeat {b['repeat_wall_s']} s; must re-run {b['must_rerun']} "
              f"{b['must_rerun_s_fresh_audit_records']} s (fresh audit records); bound "
              f"{b['bound_s']} s: {met(b['met'])}; each {b['repeat_wall_s_each']}")
    for name, d in f["restore_vs_rerun"].items():
        print(f"3 {name} ({d['nbytes']} bytes): decode {d['decode_median_s']} s vs cell "
              f"{d['producer_cell']} {d['producer_cell_duration_s']} s -> "
              f"{d['ratio_producer_over_decode']}x: {met(d['met'])}")
    p = f["planning_500_cells"]
    print(f"4 planning {p['cells']} cells: {p['in_process_ms_median_of_7']} ms; "
          f"repeat_notebook(dry_run) {p['repeat_notebook_dry_run_ms_median_of_5']} ms; CLI "
          f"{p['cli_dry_run_wall_ms_median_of_5']} ms (python -c pass {p['python_c_pass_ms']} ms, "
          f"import nbrewind.cli {p['python_import_nbrewind_cli_ms']} ms); target 100 ms: "
          f"{met(p['met'])} (CLI: {met(p['cli_met'])})")


if __name__ == "__main__":
    main()
