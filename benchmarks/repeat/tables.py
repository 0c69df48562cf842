#!/usr/bin/env python3
"""Prints the markdown tables docs/performance.md ("Repeat (issue 5)") quotes,
from a result file of bench_repeat.py:

    tables.py [benchmarks/results/repeat.json]
"""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
YES = lambda ok: "**yes**" if ok else "**no**"  # noqa: E731


def s(x):
    return f"{x:.2f} s"


def main(path):
    with open(path) as f:
        d = json.load(f)
    m, f_ = d["machine"], d["figures"]
    la = d["load_average_1_5_15_min"]
    print(f"Run of {d['date']}, {m['arch']}, {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
          f"package {m.get('nbrewind_package_sha256', '?')}; mode {d['mode']}; load average "
          f"(1, 5, 15 min) {la['start']} at the start, {la['end']} at the end; "
          f"{d['elapsed_s']} s in all.\n")
    a = d["audit"]
    print("| cell of dask_pipeline.ipynb | audit record, s |\n|---|---|")
    for cell, t in a["durations_s"].items():
        print(f"| {cell} | {t:.3f} |")
    print(f"| all cells (audit wall time {s(a['wall_s'])}) | {a['cells_total_s']:.3f} |\n")

    late = f_["late_edit_speedup"]
    b = f_["repeat_vs_must_rerun"]
    mid = b["mid_edit"]
    print("| figure | measured | baseline | ratio | target | met |\n|---|---|---|---|---|---|")
    print(f"| 1 late edit: repeat vs plain kernel run | {s(late['repeat_wall_s'])} | "
          f"{s(late['plain_kernel_wall_s'])} | **{late['speedup_vs_plain_kernel']}×** | ≥ 10× | "
          f"{YES(late['speedup_vs_plain_kernel'] >= 10)} |")
    print(f"| 1 late edit: repeat vs fresh `nbrewind audit` | {s(late['repeat_wall_s'])} | "
          f"{s(late['fresh_audit_wall_s'])} | {late['speedup_vs_fresh_audit']}× | ≥ 10× | "
          f"{YES(late['speedup_vs_fresh_audit'] >= 10)} |")
    print(f"| 1 outputs identical (fresh audit / plain run) | "
          f"{late['outputs_identical_to_fresh_audit']} / {late['outputs_identical_to_plain_run']} "
          f"| | | identical | {YES(late['outputs_identical_to_fresh_audit'] and late['outputs_identical_to_plain_run'])} |")
    for key, label in (("late_edit", "late edit"), ("mid_edit", "mid-notebook edit")):
        x = b[key]
        print(f"| 2 {label}: repeat vs 1.2 × must-re-run + 2 s | {s(x['repeat_wall_s'])} | "
              f"must re-run {s(x['must_rerun_s_fresh_audit_records'])} → bound {s(x['bound_s'])} | "
              f"excess {s(x['excess_over_must_s'])} | ≤ bound | {YES(x['met'])} |")
    r3 = f_["restore_vs_rerun"]
    for name, x in r3.items():
        print(f"| 3 restore `{name}` ({x['nbytes'] / 1e6:.3g} MB) | {x['decode_median_s'] * 1e3:.3g} ms | "
              f"cell {x['producer_cell']} {s(x['producer_cell_duration_s'])} | "
              f"{x['ratio_producer_over_decode']:,.0f}× | ≥ 20× | {YES(x['met'])} |")
    p = f_["planning_500_cells"]
    ip = p["in_process_ms_median_of_7"]
    print(f"| 4 plan 500 cells, in process | {ip['total_ms']} ms | | | ≤ 100 ms | {YES(p['met'])} |")
    print(f"| 4 `nbrewind repeat --dry-run`, CLI wall | {p['cli_dry_run_wall_ms_median_of_5']} ms | | | "
          f"≤ 100 ms | {YES(p['cli_met'])} |\n")

    print("| repeat phase, s (median repeat) | late edit | mid-notebook edit |\n|---|---|---|")
    lp = b["late_edit"]["repeat_phases_s_each"]
    mp = mid["repeat_phases_s_each"]
    li = b["late_edit"]["repeat_wall_s_each"].index(b["late_edit"]["repeat_wall_s"])
    mi = mid["repeat_wall_s_each"].index(mid["repeat_wall_s"])
    keys = ["build_plan_s", "kernel_start_and_client_setup_s", "restore_s", "execute_cells_s",
            "report_s", "kernel_shutdown_s", "sync_s", "write_s"]
    for k in keys:
        print(f"| {k[:-2]} | {lp[li].get(k, 0):.3f} | {mp[mi].get(k, 0):.3f} |")
    print(f"| wall (each of the three) | {b['late_edit']['repeat_wall_s']:.3f} "
          f"({', '.join(map(str, b['late_edit']['repeat_wall_s_each']))}) | {mid['repeat_wall_s']:.3f} "
          f"({', '.join(map(str, mid['repeat_wall_s_each']))}) |")
    print(f"| must re-run, fresh audit records (repeat's own records) | "
          f"{b['late_edit']['must_rerun_s_fresh_audit_records']:.3f} "
          f"({b['late_edit']['must_rerun_s_repeat_records_median']:.3f}) | "
          f"{mid['must_rerun_s_fresh_audit_records']:.3f} ({mid['must_rerun_s_repeat_records_median']:.3f}) |\n")

    print("| planning, 500 cells, cell 1 edited | ms (median of 7) |\n|---|---|")
    for k, v in ip.items():
        print(f"| {k[:-3]} | {v} |")
    print(f"| `repeat_notebook(dry_run=True)` | {p['repeat_notebook_dry_run_ms_median_of_5']} |")
    print(f"| CLI `nbrewind repeat --dry-run` (wall, median of 5) | {p['cli_dry_run_wall_ms_median_of_5']} |")
    print(f"| … `python -c pass` | {p['python_c_pass_ms']} |")
    print(f"| … `python -c 'import nbrewind.cli'` | {p['python_import_nbrewind_cli_ms']} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else
         os.path.join(os.path.dirname(os.path.dirname(HERE)), "benchmarks", "results", "repeat.json"))
