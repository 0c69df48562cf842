#!/usr/bin/env python3
"""Pools the paired repetitions of several `bench_audit.py overhead` runs and
judges the 2 % target on them (overhead_stats.py says how), for background
commits on and off:

    pool_overhead.py [--out FILE] RESULT.json ...

Each repetition's audit run counts against the plain run of its own
repetition.  Prints a markdown table (docs/performance.md quotes it) and
writes the figures to FILE (default benchmarks/results/audit-overhead-pooled.json).
Pool only runs of the same notebook, machine and code that bears on the
checkpoint: the tool checks the first two and lists the files it read.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
from bench_common import write_result  # noqa: E402
from overhead_stats import LIMIT, TARGET, paired_summary, verdict  # noqa: E402

MODES = (("1", "background commits on"), ("0", "background commits off"))


def load(path: str) -> dict:
    with open(path) as f:
        run = json.load(f)
    if "overhead" not in run.get("figures", {}):
        sys.exit(f"pool_overhead.py: {path}: no overhead figure (not a bench_audit.py overhead run)")
    return run


def same_setting(runs: dict):
    """The notebook's sizes and the machine's CPU and cores, which every
    pooled run must share: exits naming the first file that differs."""
    def setting(run):
        o, m = run["figures"]["overhead"], run["machine"]
        return o["notebook"]["N"], o["notebook"]["steps_per_block"], m["cpu"], m["cores"]
    first_path, first = next(iter(runs.items()))
    for path, run in runs.items():
        if setting(run) != setting(first):
            sys.exit(f"pool_overhead.py: {path}: another notebook or machine than {first_path} "
                     f"({setting(run)} against {setting(first)})")


def gathered(runs: dict, key: str, field: str) -> list:
    """One figure's per-repetition values, every run's in turn."""
    return [x for run in runs.values() for x in run["figures"]["overhead"][key][field]]


def pooled(runs: dict) -> dict:
    result = {"files": [os.path.relpath(p) for p in runs], "target": TARGET, "limit": LIMIT}
    paired = {}
    for bg, label in MODES:
        key = f"audit_background_{bg}"
        paired[bg] = gathered(runs, key, "overhead_paired")
        shares = gathered(runs, key, "foreground_over_code")
        summary = paired_summary(paired[bg])
        summary["foreground_over_code_median"] = round(statistics.median(shares), 4)
        summary["foreground_over_code_range"] = [min(shares), max(shares)]
        summary["met"], summary["verdict"] = verdict(summary, summary["foreground_over_code_median"])
        summary["label"] = label
        result[key] = summary
    if len(paired["1"]) != len(paired["0"]):
        sys.exit("pool_overhead.py: the runs have more repetitions of one mode than of the other")
    difference = paired_summary([a - b for a, b in zip(paired["1"], paired["0"])])
    result["on_minus_off"] = {k: v for k, v in difference.items()
                              if k not in ("above_target", "above_limit")}
    return result


def pct(x):
    return "n/a" if x is None else f"{100 * x:+.2f} %"


def points(x, unit="%"):
    return "n/a" if x is None else f"{100 * x:.2f} {unit}"


def print_table(result: dict):
    print(f"Pooled: {', '.join(result['files'])}\n")
    print("| | repetitions | mean | standard error | 95 % upper bound | median | range "
          "| above 2 % | above 5 % | cells' thread (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for bg, label in MODES:
        s = result[f"audit_background_{bg}"]
        print(f"| {label} | {s['n']} | **{pct(s['mean'])}** | {points(s['standard_error'])} | "
              f"**{pct(s['upper_95'])}** | {pct(s['median'])} | {pct(s['min'])} to {pct(s['max'])} | "
              f"{s['above_target']} | {s['above_limit']} | {100 * s['foreground_over_code_median']:.2f} % |")
    d = result["on_minus_off"]
    print(f"| on minus off, same repetition | {d['n']} | {pct(d['mean'])} | "
          f"{points(d['standard_error'], 'points')} | | {pct(d['median'])} | "
          f"{pct(d['min'])} to {pct(d['max'])} | | | |\n")
    for bg, label in MODES:
        print(f"- {label}: {result[f'audit_background_{bg}']['verdict']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", metavar="RESULT.json")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "results",
                                                      "audit-overhead-pooled.json"))
    args = parser.parse_args()
    runs = {path: load(path) for path in args.results}
    same_setting(runs)
    result = pooled(runs)
    print_table(result)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
