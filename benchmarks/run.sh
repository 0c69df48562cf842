#!/usr/bin/env bash
# Runs the benchmarks and writes benchmarks/results/analysis.json and
# benchmarks/results/store.json, which docs/performance.md quotes.  Every
# figure is compared with a baseline measured in the same run:
#  - analysis: on the same cells, CPython's ast.parse (and ast.parse +
#    symtable) for Python cells, R's parse() for R cells;
#  - store: on the same arrays, memcpy, fwrite + fsync and h5py (gzip level 1
#    writes; reads of the store's own datasets through Debian's Blosc plugin).
# Usage: benchmarks/run.sh [BUILD_DIR]   (default: build; relative to the
#        source tree if not absolute)
# NBR_BENCH_SECTIONS: which parts to run, default "analysis store"; "audit"
#        runs the audit-kernel benchmarks (benchmarks/audit/bench_audit.py,
#        ~10 minutes, writes benchmarks/results/audit.json; it needs the
#        Python package's venv, BUILD_DIR/venv, from `make python`).
#        NBR_BENCH_AUDIT_ARGS passes arguments to it (e.g. "--quick", or
#        figure names: overhead shared idle dill).
# NBR_BENCH_STORE_DIR: where the store part's scratch directory goes (default
#        /tmp); it needs ~10 GB free and lives on the disk being measured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=${1:-$top/build}
[[ $build == /* ]] || build=$top/$build
py=/usr/bin/python3
passes=${NBR_BENCH_PASSES:-20}
sections=" ${NBR_BENCH_SECTIONS:-analysis store} "
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- analysis (body not indented, to keep it as it was) -------------------
if [[ $sections == *" analysis "* ]]; then
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
fi

venv_python() {
  local py=$build/venv/bin/python
  if [[ ! -x $py ]]; then
    echo "run.sh: $py is missing: run \`make python\` first (the $1 benchmarks need the venv)" >&2
    return 1
  fi
  echo "$py"
}

# ---- checkpoint store ------------------------------------------------------
if [[ $sections == *" store "* ]]; then
store_dir=$(mktemp -d "${NBR_BENCH_STORE_DIR:-/tmp}/nbr-bench-store.XXXXXX")
trap 'rm -rf "$work" "$store_dir"' EXIT
# HDF5 allocates per chunk: keep glibc from returning that memory to the
# system (and faulting it in again) between chunks, for every process of this
# part, nbrewind's and the baselines' alike (docs/performance.md).
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296
unset BLOSC_NTHREADS # Blosc on one thread, in nbrewind and in the h5py plugin
bench=$build/benchmarks/bench_store
df --output=source,fstype,target "$store_dir" | tail -1 > "$work/store-fs.txt"
cut -d' ' -f1-3 /proc/loadavg > "$work/store-load-start.txt" # other work on the machine skews figures
echo "== store: scratch directory $store_dir on $(cat "$work/store-fs.txt")"
echo "== store: write 1 GiB (fwrite + fsync, store lz4 / zstd), re-put, read"
"$bench" write "$store_dir" 8 3 | tee "$work/store-write.json"
echo "== store: baselines with h5py (gzip-1 writes, reads of the store's datasets)"
"$py" "$here/bench_store_h5py.py" "$store_dir" 2 3 | tee "$work/store-h5py.json"
rm -rf "$store_dir"/raw.bin "$store_dir"/store-*
echo "== store: the lz4 write again with BLOSC_NTHREADS=2 (with its own fwrite + fsync)"
BLOSC_NTHREADS=2 "$bench" write-lz4 "$store_dir" 8 3 | tee "$work/store-write-threads.json"
echo "== store: open a store of 10000 checkpoints, resolve a name"
"$bench" open "$store_dir" 10000 | tee "$work/store-open.json"
rm -rf "$store_dir"/store-many
echo "== store: 100 checkpoints of a 100 MB array, 1 % overwritten each (chunk dedup), read cost"
"$bench" blocks "$store_dir" 100 | tee "$work/store-blocks.json"
echo "== store: h5py reading that array (a virtual dataset) and the same array stored plain"
"$py" "$here/bench_store_h5py.py" blocks "$store_dir" | tee "$work/store-blocks-h5py.json"
rm -rf "$store_dir"/store-blocks*
echo "== store: what a virtual dataset adds to a segment file (benchmarks/results/store-vds-segment.json)"
"$(venv_python store)" "$here/bench_vds_segment.py"
echo "== store: new files' pages kept in the page cache or dropped (benchmarks/results/page-cache.json)"
TMPDIR=${NBR_BENCH_STORE_DIR:-/tmp} "$(venv_python store)" "$here/bench_page_cache.py"

mkdir -p "$here/results"
commit=$(git -C "$top" --no-optional-locks rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$top" --no-optional-locks status --porcelain -- libnbrewind include 2>/dev/null | wc -l)
"$py" - "$work" "$here/results/store.json" "$commit" "$dirty" "${NBR_BENCH_STORE_DIR:-/tmp}" <<'PY'
import datetime, json, os, pathlib, platform, sys
work, out, commit, dirty = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
scratch_parent = sys.argv[5]
load = lambda name: json.loads((work / name).read_text())
ratio = lambda a, b: round(a / b, 2)
w, h, wt, o, b, bh = (load(f"store-{n}.json")
                      for n in ("write", "h5py", "write-threads", "open", "blocks", "blocks-h5py"))
ba, bu, brd = b["aligned"], b["unaligned"], b["read"]
fs = (work / "store-fs.txt").read_text().split()
lz4, raw, gz, gzs = w["store_write_lz4"]["gb_per_s"], w["fwrite_fsync"]["gb_per_s"], \
    h["h5py_write_gzip1"]["gb_per_s"], h["h5py_write_gzip1_shuffle"]["gb_per_s"]
result = {
    "date": datetime.date.today().isoformat(),
    "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
    "library": {"commit": commit, "uncommitted_changes_in_libnbrewind_include": dirty > 0},
    "scratch_filesystem": {"device": fs[0], "type": fs[1], "mount": fs[2], "dir": f"{scratch_parent} (mktemp -d)"},
    "load_average_1_5_15_min": {"start": (work / "store-load-start.txt").read_text().split(),
                                "end": [f"{x:.2f}" for x in os.getloadavg()]},
    "environment": {"GLIBC_TUNABLES": os.environ.get("GLIBC_TUNABLES", ""),
                    "BLOSC_NTHREADS": "unset (1 thread) except in write_threads"},
    "data": {"arrays": w["arrays"], "shape": w["shape"], "dtype": w["dtype"], "bytes": w["bytes"],
             "what": "sin(a x + t) cos(b y - t) + 1e-3 uniform noise, float64",
             "store_chunks": h["chunks"]},
    "rehash_existing": {
        "store_reput": w["reput_existing"], "memcpy": w["memcpy"], "xxh3_128_alone": w["xxh3_128_alone"],
        "ratio_vs_memcpy": ratio(w["reput_existing"]["gb_per_s"], w["memcpy"]["gb_per_s"]),
        "commit_ms": w["reput_commit_ms"], "stored_bytes_added": w["reput_stored_bytes_added"],
        "target_gb_per_s": 5, "met": w["reput_existing"]["gb_per_s"] >= 5,
    },
    "write_new": {
        "trials": w["trials"], "warmup_gb_per_s": w["warmup_gb_per_s"],
        "store_lz4": w["store_write_lz4"], "store_zstd": w["store_write_zstd"],
        "store_zstd_level1": w["store_write_zstd_level1"],
        "store_lz4_no_chunk_dedup": w["store_write_lz4_no_chunk_dedup"],
        "ratio_lz4_vs_lz4_no_chunk_dedup": ratio(lz4, w["store_write_lz4_no_chunk_dedup"]["gb_per_s"]),
        "fwrite_fsync": w["fwrite_fsync"],
        "blosc_lz4_shuffle_alone_1_thread": w["blosc_lz4_shuffle_alone_1_thread"],
        "blosc_lz4_shuffle_alone_2_threads": w["blosc_lz4_shuffle_alone_2_threads"],
        "h5py_gzip1": h["h5py_write_gzip1"], "h5py_gzip1_shuffle": h["h5py_write_gzip1_shuffle"],
        "ratio_lz4_vs_fwrite_fsync": ratio(lz4, raw),
        "ratio_lz4_vs_h5py_gzip1": ratio(lz4, gz),
        "ratio_lz4_vs_h5py_gzip1_shuffle": ratio(lz4, gzs),
        "ratio_zstd_vs_fwrite_fsync": ratio(w["store_write_zstd"]["gb_per_s"], raw),
        "ratio_zstd_vs_h5py_gzip1": ratio(w["store_write_zstd"]["gb_per_s"], gz),
        "ratio_zstd_level1_vs_fwrite_fsync": ratio(w["store_write_zstd_level1"]["gb_per_s"], raw),
        "ratio_zstd_level1_vs_h5py_gzip1": ratio(w["store_write_zstd_level1"]["gb_per_s"], gz),
        "target": "faster than fwrite + fsync, and >= 3x h5py gzip-1",
        "met_vs_fwrite_fsync": lz4 > raw, "met_vs_h5py_gzip1": lz4 >= 3 * gz,
        "write_threads": {
            "blosc_nthreads": wt["blosc_nthreads"], "store_lz4": wt["store_write_lz4"],
            "fwrite_fsync": wt["fwrite_fsync"],
            "ratio_lz4_vs_fwrite_fsync": ratio(wt["store_write_lz4"]["gb_per_s"], wt["fwrite_fsync"]["gb_per_s"]),
        },
    },
    "read": {
        "store_lz4": w["store_read_lz4"], "store_zstd": w["store_read_zstd"],
        "store_lz4_no_chunk_dedup": w["store_read_lz4_no_chunk_dedup"],
        "h5py_lz4": h["h5py_read_store_lz4"], "h5py_zstd": h["h5py_read_store_zstd"],
        "ratio_lz4_vs_h5py": ratio(w["store_read_lz4"]["gb_per_s"], h["h5py_read_store_lz4"]["gb_per_s"]),
        "ratio_zstd_vs_h5py": ratio(w["store_read_zstd"]["gb_per_s"], h["h5py_read_store_zstd"]["gb_per_s"]),
        "versions": {"h5py": h["h5py_version"], "hdf5": h["hdf5_version"]},
        "target_gb_per_s": 2, "met": w["store_read_lz4"]["gb_per_s"] >= 2,
    },
    "open_many": dict(o, target_ms=10, met=o["open_and_resolve_ms"] <= 10),
    "overwrite_blocks": {
        "what": "100 checkpoints of a 100 MB float64 smooth field; before each, one contiguous "
                "1 % row block gets the next time step; chunk dedup on (the default)",
        "aligned": ba, "unaligned_worse_case": bu,
        "ratio_stored_chunks_to_compressed_array": round(ba["store_stats_stored_bytes"] / ba["array_compressed_bytes"], 3),
        # From the byte counts, not the printed ratio (rounded to 4 decimals).
        "target_ratio": 2,
        "met": ba["disk_allocated_bytes"] <= 2 * ba["array_compressed_bytes"],
        "read_last_array": dict(brd, **bh,
            ratio_nbr_chunked_vs_h5py_virtual=ratio(brd["nbr_read_chunked"]["gb_per_s"], bh["h5py_read_virtual"]["gb_per_s"])),
    },
}
out.write_text(json.dumps(result, indent=2) + "\n")
r, wn, rd, om, ob = (result[k] for k in ("rehash_existing", "write_new", "read", "open_many", "overwrite_blocks"))
print(f"re-put of existing arrays {r['store_reput']['gb_per_s']} GB/s, memcpy {r['memcpy']['gb_per_s']} GB/s "
      f"(ratio {r['ratio_vs_memcpy']}); target 5 GB/s: {'met' if r['met'] else 'NOT met'}")
print(f"write lz4 {lz4} GB/s; fwrite+fsync {raw} GB/s (ratio {wn['ratio_lz4_vs_fwrite_fsync']}); "
      f"h5py gzip-1 {gz} GB/s (ratio {wn['ratio_lz4_vs_h5py_gzip1']}); zstd {wn['store_zstd']['gb_per_s']} GB/s")
print(f"read lz4 {rd['store_lz4']['gb_per_s']} GB/s; h5py {rd['h5py_lz4']['gb_per_s']} GB/s "
      f"(ratio {rd['ratio_lz4_vs_h5py']}); target 2 GB/s: {'met' if rd['met'] else 'NOT met'}")
print(f"open {om['checkpoints']} checkpoints + resolve: {om['open_and_resolve_ms']} ms; target 10 ms: "
      f"{'met' if om['met'] else 'NOT met'}")
print(f"{ba['checkpoints']} aligned block overwrites: {ba['disk_allocated_bytes']} bytes on disk, "
      f"{ba['ratio_disk_to_compressed_array']}x the compressed array (chunk data "
      f"{ob['ratio_stored_chunks_to_compressed_array']}x); target 2x: {'met' if ob['met'] else 'NOT met'}; "
      f"unaligned {bu['ratio_disk_to_compressed_array']}x")
rl = ob["read_last_array"]
print(f"read of that array: ours {rl['nbr_read_chunked']['gb_per_s']} GB/s (plain {rl['nbr_read_plain']['gb_per_s']}), "
      f"h5py through the virtual dataset {rl['h5py_read_virtual']['gb_per_s']} GB/s (plain {rl['h5py_read_plain']['gb_per_s']})")
print(f"wrote {out}")
PY
fi

# The audit and repeat parts run in the package's venv: its python, or a
# message naming the part and exit status 1.

# ---- audit kernel (issue 4) --------------------------------------------------
if [[ $sections == *" audit "* ]]; then
venv_py=$(venv_python audit) || exit 1
echo "== audit: numpy-heavy notebook under a plain and the audit kernel, dill baseline, idle cells"
# shellcheck disable=SC2086 # NBR_BENCH_AUDIT_ARGS is a list of words
"$venv_py" "$here/audit/bench_audit.py" ${NBR_BENCH_AUDIT_ARGS:-}
echo "== audit: what work on the second core costs the notebook's loop (benchmarks/results/audit-contention.json)"
"$venv_py" "$here/audit/bench_contention.py"
echo "== audit: the writer's CPU per new array, lz4 against no compression (benchmarks/results/audit-writer-cost.json)"
"$venv_py" "$here/audit/bench_writer_cost.py"
fi

# ---- repeat (issue 5) --------------------------------------------------------
# NBR_BENCH_SECTIONS="repeat": benchmarks/repeat/bench_repeat.py (a Dask notebook
# audited, edited late and mid-notebook, repeated; fresh-audit and plain-kernel
# baselines; restore vs re-run; 500-cell dry-run planning; ~10 minutes, writes
# benchmarks/results/repeat.json; needs BUILD_DIR/venv from `make python`).
# NBR_BENCH_REPEAT_ARGS passes arguments to it (e.g. "--quick": ~3 minutes,
# writes repeat-quick.json).
if [[ $sections == *" repeat "* ]]; then
repeat_py=$(venv_python repeat) || exit 1
echo "== repeat: distributed notebook, late and mid edits, restores, 500-cell planning"
# shellcheck disable=SC2086 # NBR_BENCH_REPEAT_ARGS is a list of words
"$repeat_py" "$here/repeat/bench_repeat.py" ${NBR_BENCH_REPEAT_ARGS:-}
fi
