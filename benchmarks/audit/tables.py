#!/usr/bin/env python3
"""Prints the markdown tables docs/performance.md ("Audit kernel (issue 4)")
quotes, from a result file of bench_audit.py:

    tables.py [benchmarks/results/audit.json]
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(x):
    return f"{100 * x:+.2f} %"


def ms(x):
    return f"{1e3 * x:.1f} ms"


def gb(x):
    return f"{x / 1e9:.2f} GB"


def print_per_cell_medians(plain: dict, a1: dict, a0: dict):
    """Each cell's own time over plain's, medians over the repetitions: where
    the audit's cost lands besides the checkpoint's own time."""
    pm = plain["per_cell_code_s_median"]
    print("Per cell, medians over the repetitions (s): the cell's own time over plain's, and the "
          "checkpoint's time in the cell's thread (before and after it).\n")
    print("| cell | plain: code | bg on: code over plain | bg on: checkpoint | bg off: code over plain "
          "| bg off: checkpoint |")
    print("|---|---|---|---|---|---|")
    for cell, base in pm.items():
        print(f"| {cell} | {base} | {a1['per_cell_code_s_median'][cell] - base:+.3f} | "
              f"{a1['per_cell_checkpoint_s_median'][cell]} | "
              f"{a0['per_cell_code_s_median'][cell] - base:+.3f} | "
              f"{a0['per_cell_checkpoint_s_median'][cell]} |")
    print()


def print_threads(o: dict):
    """Where the kernels' CPU time went (runs from 2026-11-27 on record it)."""
    kinds = (("plain ipykernel", o["plain"]), ("audit, background commits on", o["audit_background_1"]),
             ("audit, background commits off", o["audit_background_0"]))
    if not all(kind.get("threads") for _, kind in kinds):
        return
    print("Kernel threads over the cells, each run (s): the cells' thread's CPU time, its time "
          "runnable but waiting for a CPU, and the other threads' CPU time (the audit's writer, "
          "ipykernel's own); from run 45 on, also the whole machine's system and steal time "
          "(both vCPUs) from the kernel's start to the last reply.")
    print()
    keys = ["main_cpu_s", "main_wait_s", "other_cpu_s"]
    header = "| kernel | cells' thread CPU | waiting for a CPU | other threads' CPU |"
    if o["plain"]["threads"].get("machine_steal_s_median") is not None:
        keys += ["machine_system_s", "machine_steal_s"]  # recorded since run 45
        header += " machine: system | machine: steal |"
    print(header)
    print("|---" * (len(keys) + 1) + "|")
    for label, kind in kinds:
        t = kind["threads"]
        print(f"| {label} | " + " | ".join(f"{', '.join(map(str, t[key]))} (median {t[key + '_median']})"
                                          for key in keys) + " |")
    print()


def main(path):
    with open(path) as f:
        d = json.load(f)
    figs = d["figures"]
    print(f"Run of {d['date']}, {d['machine']['arch']}, {d['machine']['cores']} cores "
          f"({d['machine']['cpu']}), {d['machine']['memory_gb']} GB; load average "
          f"{d['load_average_start']} at the start, {d['load_average_end']} at the end; "
          f"{d['elapsed_s']} s in all.\n")
    o = figs.get("overhead")
    if o:
        nb = o["notebook"]
        print(f"numpy_heavy.ipynb: N = {nb['N']}, {nb['steps_per_block']} steps per block, "
              f"{nb['code_cells']} code cells; {o['reps']} interleaved repetitions "
              f"({', '.join(o['order'])}).\n")
        print("| kernel | notebook wall time, s (each run) | median | vs plain (medians) | vs plain (minimums) "
              "| kernel CPU time vs plain | checkpoint time in the cells' thread / cells' own time | store |")
        print("|---|---|---|---|---|---|---|---|")
        p = o["plain"]
        print(f"| plain ipykernel | {', '.join(map(str, p['cells_s']))} | {p['median_cells_s']} | | | | | |")
        for bg, label in (("1", "audit, background commits on"), ("0", "audit, background commits off")):
            a = o[f"audit_background_{bg}"]
            print(f"| {label} | {', '.join(map(str, a['cells_s']))} | {a['median_cells_s']} | "
                  f"**{pct(a['overhead'])}** | {pct(a['overhead_of_minimums'])} | {pct(a['cpu_overhead'])} | "
                  f"{', '.join(f'{100 * x:.1f} %' for x in a['foreground_over_code'])} | "
                  f"{gb(a['store']['du_bytes'])} |")
        print()
        for bg, label in (("1", "background commits on"), ("0", "background commits off")):
            a = o[f"audit_background_{bg}"]
            if "verdict" in a:
                print(f"- {label}: {a['verdict']}")
        print()
        print_threads(o)
        a1, a0 = o["audit_background_1"], o["audit_background_0"]
        pc = p["per_cell_code_s_last_run"]
        print("Per cell, last repetition (s): the cell's code time in the kernel, and the "
              "checkpoint's time in the cell's thread (post_execute to after nbrewind's "
              "post_run_cell hook), with what the checkpoint added to the store.\n")
        print("| cell | plain: code | bg on: code | bg on: checkpoint | bg off: code | bg off: checkpoint "
              "| stored (bg off) |")
        print("|---|---|---|---|---|---|---|")
        stored = a0["store"]["stored_bytes_added"]
        for i, cell in enumerate(pc):
            s = stored[i] if i < len(stored) else 0
            print(f"| {cell} | {pc[cell]} | {a1['per_cell_code_s_last_run'].get(cell)} | "
                  f"{a1['per_cell_checkpoint_s_last_run'].get(cell)} | "
                  f"{a0['per_cell_code_s_last_run'].get(cell)} | {a0['per_cell_checkpoint_s_last_run'].get(cell)} | "
                  f"{s / 1e6:.1f} MB |")
        print()
        if "per_cell_code_s_median" in p:  # bench_audit.py since f1a749c
            print_per_cell_medians(p, a1, a0)
    dl = figs.get("dill_baseline")
    if dl:
        print(f"dill: {dl['dump_files']} files, {dl['dump_bytes_sum']} bytes "
              f"({gb(dl['dump_bytes_sum'])}), dumps {dl['dump_s_sum']} s; notebook {dl['cells_s']} s "
              f"(+{dl.get('extra_wall_s_vs_plain')} s vs the plain median); errors {dl['dump_errors']}\n")
        print("| | store / dumps on disk | audit time used | dill dump time | size ratio | time ratio "
              "| wall-clock: dill extra / audit extra |")
        print("|---|---|---|---|---|---|---|")
        for key, c in dl.get("comparisons", {}).items():
            label = {"background_1": "background commits on", "background_0": "background commits off"}[key]
            ratio = c["time_ratio_dill_wall_over_audit_wall"]
            print(f"| audit, {label} | {gb(c['store_du_bytes'])} / {gb(dl['dump_bytes_sum'])} | "
                  f"{c['audit_time_s_used']} s (foreground {c['audit_foreground_s']} s, extra CPU "
                  f"{c['audit_extra_cpu_s']} s; wall {c['audit_extra_wall_s']} s) | {dl['dump_s_sum']} s | "
                  f"**{c['size_ratio_dill_over_store']}×** | **{c['time_ratio_dill_dump_over_audit']}×** | "
                  f"{'n/a (audit wall difference <= 0)' if ratio is None else ratio} |")
        print()
    s = figs.get("shared_array")
    if s:
        print(f"shared: array {s['array_bytes']} B, {s['reading_cells']} reading cells, store "
              f"{s['store_du_bytes']} B on disk -> {s['ratio_store_over_array']}× the array, "
              f"{s['ratio_store_over_first_checkpoint']}× what the first checkpoint stored "
              f"({s['first_checkpoint_stored_bytes']} B); added per later checkpoint: "
              f"{s['stored_bytes_added_per_checkpoint'][1:]}\n")
    i = figs.get("idle")
    if i:
        h = i["hash_array_s_in_plain_kernel"]["median"]
        print(f"idle: {i['arrays']} arrays × {i['array_bytes'] / 1e6:.0f} MB = {gb(i['state_bytes'])}; "
              f"{i['cells_per_kind']} cells of each kind; hash_array of one array {ms(h)} (median)\n")
        print("| cell (medians over the cells of its kind) | kernel | wall time | its code | checkpoint "
              "(in the kernel) | wall vs plain | checkpoint / hash | (checkpoint − idle checkpoint) / hash |")
        print("|---|---|---|---|---|---|---|---|")
        names = {"idle": "`print(len(results))`", "np_save": "`np.save(os.devnull, a0)`",
                 "module_call": "`consume(a0)` (a module's function)"}
        for group in ("idle", "np_save", "module_call"):
            g = i[group]
            print(f"| {names[group]} | plain | {ms(g['plain']['median_wall_s'])} | "
                  f"{ms(g['plain']['median_code_s'])} | | | | |")
            for key, label in (("audit_background_1", "audit, bg on"), ("audit_background_0", "audit, bg off")):
                e = g[key]
                extra = ("", "") if group == "idle" else (f"{e['ratio_checkpoint_over_hash']}×",
                                                          f"{e['ratio_excess_over_hash']}×")
                print(f"| | {label} | {ms(e['median_wall_s'])} | {ms(e['median_code_s'])} | "
                      f"**{ms(e['median_checkpoint_s'])}** (max {ms(e['max_checkpoint_s'])}) | "
                      f"{1e3 * e['extra_wall_s']:+.1f} ms | {extra[0]} | {extra[1]} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "results", "audit.json"))
