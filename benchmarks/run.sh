#!/usr/bin/env bash
# Runs the benchmarks and writes benchmarks/results/analysis.json, which
# docs/performance.md quotes.  Every figure is compared with a baseline
# measured in the same run on the same cells: CPython's ast.parse (and
# ast.parse + symtable) for Python cells, R's parse() for R cells.
# Usage: benchmarks/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${1:-$top/build}
py=/usr/bin/python3
passes=${NBR_BENCH_PASSES:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for lang in python r; do
  echo "== $lang: corpus"
  "$py" "$here/make_corpus.py" "$work/$lang.bin" --lang "$lang" --cells 1500 --lines 20 \
    | tee "$work/$lang-corpus.txt"
  echo "== $lang: nbrewind analysis (C, tree-sitter) and tree-sitter's parse alone"
  "$build/benchmarks/bench_analysis" "$work/$lang.bin" "$lang" "$passes" | tee "$work/$lang-nbr.json"
done
echo "== baseline: CPython ast.parse, ast.parse + symtable"
"$py" "$here/bench_python_ast.py" "$work/python.bin" "$passes" | tee "$work/python-base.json"
echo "== baseline: R parse()"
Rscript --vanilla "$here/bench_r_parse.R" "$work/r.bin" "$passes" | tee "$work/r-base.json"

mkdir -p "$here/results"
"$py" - "$work" "$here/results/analysis.json" <<'PY'
import datetime, json, os, pathlib, platform, sys
work, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
load = lambda name: json.loads((work / name).read_text())
ratio = lambda a, b: round(a / b, 2)
py, py_base, r, r_base = load("python-nbr.json"), load("python-base.json"), load("r-nbr.json"), load("r-base.json")
result = {
    "date": datetime.date.today().isoformat(),
    "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
    "python": {
        "corpus": (work / "python-corpus.txt").read_text().strip(),
        "nbrewind_analysis": py["analysis"],
        "tree_sitter_parse_only": py["parse_only"],
        "tree_sitter_parse_reusing_parser": py["parse_reusing_parser"],
        "cpython_ast_parse": py_base["ast_parse"],
        "cpython_ast_parse_symtable": py_base["ast_parse_symtable"],
        "median_ratio_vs_ast_parse": ratio(py["analysis"]["median_us"], py_base["ast_parse"]["median_us"]),
        "median_ratio_vs_ast_parse_symtable":
            ratio(py["analysis"]["median_us"], py_base["ast_parse_symtable"]["median_us"]),
        "parse_share_of_analysis": ratio(py["parse_only"]["median_us"], py["analysis"]["median_us"]),
    },
    "r": {
        "corpus": (work / "r-corpus.txt").read_text().strip(),
        "nbrewind_analysis": r["analysis"],
        "tree_sitter_parse_only": r["parse_only"],
        "tree_sitter_parse_reusing_parser": r["parse_reusing_parser"],
        "r_parse": r_base["r_parse"],
        "mean_ratio_vs_r_parse": ratio(r["analysis"]["mean_us"], r_base["r_parse"]["mean_us"]),
        "parse_share_of_analysis": ratio(r["parse_only"]["median_us"], r["analysis"]["median_us"]),
    },
}
out.write_text(json.dumps(result, indent=2) + "\n")
p, q = result["python"], result["r"]
print(f"Python, median per cell: nbrewind {p['nbrewind_analysis']['median_us']} us "
      f"(tree-sitter parse alone {p['tree_sitter_parse_only']['median_us']} us); "
      f"ast.parse {p['cpython_ast_parse']['median_us']} us -> ratio {p['median_ratio_vs_ast_parse']}; "
      f"ast.parse+symtable {p['cpython_ast_parse_symtable']['median_us']} us -> ratio "
      f"{p['median_ratio_vs_ast_parse_symtable']}")
print(f"R, mean per cell: nbrewind {q['nbrewind_analysis']['mean_us']} us "
      f"(tree-sitter parse alone {q['tree_sitter_parse_only']['mean_us']} us); "
      f"R parse() {q['r_parse']['mean_us']} us -> ratio {q['mean_ratio_vs_r_parse']}")
print(f"wrote {out}")
PY
