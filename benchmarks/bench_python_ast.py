"""Baseline for bench_analysis: CPython's own parser and symbol table on the same cells.

Prints one JSON object with the per-cell mean and median of ast.parse alone and
of ast.parse + symtable.symtable.  Usage: bench_python_ast.py CORPUS [PASSES]
"""
import ast
import json
import statistics
import sys
import symtable
import time


def per_cell_us(cells, passes, work):
    for cell in cells:  # warm-up pass, untimed
        work(cell)
    times = []
    for cell in cells:
        start = time.perf_counter_ns()
        for _ in range(passes):
            work(cell)
        times.append((time.perf_counter_ns() - start) / passes / 1000)
    times.sort()
    return {"mean_us": round(statistics.fmean(times), 2), "median_us": round(times[len(times) // 2], 2),
            "p90_us": round(times[len(times) * 9 // 10], 2)}


def parse_and_scope(cell):
    ast.parse(cell)
    symtable.symtable(cell, "<cell>", "exec")


def main():
    corpus = open(sys.argv[1], "rb").read().decode().split("\0")
    passes = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    result = {"cells": len(corpus), "passes": passes,
              "ast_parse": per_cell_us(corpus, passes, ast.parse),
              "ast_parse_symtable": per_cell_us(corpus, passes, parse_and_scope)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
