#!/usr/bin/env bash
# Runs the benchmarks and writes benchmarks/results/analysis.json, which
# docs/performance.md quotes.  Each figure is compared with its baseline
# measured in the same run: CPython's own ast.parse (+ symtable) on the same
# cells.  Usage: benchmarks/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${1:-$top/build}
py=/usr/bin/python3
passes=${NBR_BENCH_PASSES:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== corpus"
"$py" "$here/make_corpus.py" "$work/cells.bin" --cells 1500 --lines 20 | tee "$work/corpus.txt"

echo "== nbrewind analysis (C, tree-sitter)"
"$build/benchmarks/bench_analysis" "$work/cells.bin" python "$passes" | tee "$work/nbr.json"
echo "== baseline: CPython ast.parse, ast.parse + symtable"
"$py" "$here/bench_python_ast.py" "$work/cells.bin" "$passes" | tee "$work/ast.json"

mkdir -p "$here/results"
"$py" - "$work" "$here/results/analysis.json" <<'PY'
import json, pathlib, platform, sys, datetime
work, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
nbr = json.loads((work / "nbr.json").read_text())
base = json.loads((work / "ast.json").read_text())
result = {
    "date": datetime.date.today().isoformat(),
    "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
    "corpus": (work / "corpus.txt").read_text().strip(),
    "nbrewind_analysis": nbr,
    "cpython_ast_parse": base["ast_parse"],
    "cpython_ast_parse_symtable": base["ast_parse_symtable"],
    "ratio_vs_ast_parse": round(nbr["median_us"] / base["ast_parse"]["median_us"], 2),
    "ratio_vs_ast_parse_symtable": round(nbr["median_us"] / base["ast_parse_symtable"]["median_us"], 2),
}
out.write_text(json.dumps(result, indent=2) + "\n")
print(f"median per cell: nbrewind {nbr['median_us']} us, ast.parse {base['ast_parse']['median_us']} us "
      f"(ratio {result['ratio_vs_ast_parse']}), ast.parse+symtable "
      f"{base['ast_parse_symtable']['median_us']} us (ratio {result['ratio_vs_ast_parse_symtable']})")
print(f"wrote {out}")
PY
