#!/usr/bin/python3
"""Differential test of the C analyzer against CPython (docs/analysis.md).

Every top-level statement of every .py file of Python's standard library is a
cell.  Its `defs` and `uses` as computed by reference.py (on CPython's own ast
and symtable) must equal what libnbrewind reports through its C API, called
here through ctypes.  So is, by default, the body of every function (dedented
to column 0; its cell is named body:path:LINE): a module's top-level
statements are mostly single statements, while function bodies are runs of
statements whose definite-binding flow (if/try/for/with/match, return, del)
is what the analysis must get right.  --top-level-only leaves them out.

    run_differential.py LIBPATH [--stdlib DIR] [--allow FILE] [--limit N]
                                [--jobs 2] [--only SUBSTR] [--show 30]
                                [--json OUT] [--top-level-only]

Exit status 0 when every disagreement is in the allow-list and every
allow-list entry still disagrees; 1 otherwise.  The last line is
"N passed, N failed" (cells; a stale allow-list entry counts as a failure).

Allow-list lines: `relative/path.py:LINE reason` (LINE is the cell's first
line in the file, its first decorator's line for a decorated def/class), or
`body:relative/path.py:LINE reason` for a function body;
blank lines and lines starting with # are ignored.  Every entry needs a reason.
"""

import argparse
import ast
import concurrent.futures
import ctypes
import json
import os
import sys
import tempfile
import time
import tokenize

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

NBR_LANG_PYTHON = 1
NBR_NAMES_DEFS = 0
NBR_NAMES_USES = 1
NBR_DIAG_ERROR = 1

SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__"}
SKIP_PREFIXES = ("lib2to3/tests/data/",)


# ------------------------------------------------------------------ the C side

class CAnalyzer:
    def __init__(self, libpath):
        lib = ctypes.CDLL(libpath)
        vp = ctypes.c_void_p
        lib.nbr_analysis_new.argtypes = [ctypes.POINTER(vp), ctypes.c_int,
                                         ctypes.c_char_p, ctypes.c_size_t]
        lib.nbr_analysis_new.restype = ctypes.c_int
        lib.nbr_analysis_free.argtypes = [vp]
        lib.nbr_analysis_free.restype = None
        lib.nbr_analysis_name_count.argtypes = [vp, ctypes.c_int]
        lib.nbr_analysis_name_count.restype = ctypes.c_size_t
        lib.nbr_analysis_name.argtypes = [vp, ctypes.c_int, ctypes.c_size_t]
        lib.nbr_analysis_name.restype = ctypes.c_char_p
        lib.nbr_analysis_diagnostic_count.argtypes = [vp, ctypes.c_int]
        lib.nbr_analysis_diagnostic_count.restype = ctypes.c_size_t
        lib.nbr_analysis_diagnostic.argtypes = [
            ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_uint32),
            ctypes.POINTER(ctypes.c_uint32), vp, ctypes.c_int, ctypes.c_size_t]
        lib.nbr_analysis_diagnostic.restype = ctypes.c_int
        lib.nbr_last_error.argtypes = []
        lib.nbr_last_error.restype = ctypes.c_char_p
        self.lib = lib

    def _names(self, a, which):
        lib = self.lib
        n = lib.nbr_analysis_name_count(a, which)
        return {lib.nbr_analysis_name(a, which, i).decode("utf-8") for i in range(n)}

    def analyze(self, source):
        """(defs, uses, errors) or raises RuntimeError when the call fails."""
        data = source.encode("utf-8")
        a = ctypes.c_void_p()
        rc = self.lib.nbr_analysis_new(ctypes.byref(a), NBR_LANG_PYTHON, data, len(data))
        if rc != 0:
            raise RuntimeError("nbr_analysis_new failed (%d): %s"
                               % (rc, self.lib.nbr_last_error().decode("utf-8", "replace")))
        try:
            defs = self._names(a, NBR_NAMES_DEFS)
            uses = self._names(a, NBR_NAMES_USES)
            errors = []
            for i in range(self.lib.nbr_analysis_diagnostic_count(a, NBR_DIAG_ERROR)):
                msg = ctypes.c_char_p()
                line = ctypes.c_uint32()
                col = ctypes.c_uint32()
                self.lib.nbr_analysis_diagnostic(ctypes.byref(msg), ctypes.byref(line),
                                                 ctypes.byref(col), a, NBR_DIAG_ERROR, i)
                errors.append("%d:%d %s" % (line.value, col.value,
                                            (msg.value or b"").decode("utf-8", "replace")))
        finally:
            self.lib.nbr_analysis_free(a)
        return defs, uses, errors


# ------------------------------------------------------------------ the cells

class _Span:
    def __init__(self, lineno, col, end_lineno, end_col):
        self.lineno, self.col_offset = lineno, col
        self.end_lineno, self.end_col_offset = end_lineno, end_col


def _lines(source):
    """The source's lines with their ends.  Only \n ends a line here, as for
    ast (the source was read with universal newlines; str.splitlines would
    also split at \f, \x1c, ...)."""
    return [ln + "\n" for ln in source.split("\n")]


def _segment(lines, span):
    """ast.get_source_segment without re-splitting the source every time:
    columns are UTF-8 byte offsets."""
    first, last = span.lineno - 1, span.end_lineno - 1
    if first == last:
        b = lines[first].encode("utf-8")
        return b[span.col_offset:span.end_col_offset].decode("utf-8")
    head = lines[first].encode("utf-8")[span.col_offset:].decode("utf-8")
    tail = lines[last].encode("utf-8")[:span.end_col_offset].decode("utf-8")
    return "".join([head] + lines[first + 1:last] + [tail])


def cells_of(source):
    """Yield (line, cell source) for each top-level statement of a module."""
    tree = ast.parse(source)
    lines = _lines(source)
    for st in tree.body:
        decos = getattr(st, "decorator_list", None)
        if decos:
            span = _Span(decos[0].lineno, 0, st.end_lineno, st.end_col_offset)
        else:
            span = st
        yield span.lineno, _segment(lines, span)


def _indent(line):
    return len(line) - len(line.lstrip(" \t"))


def body_cells_of(source, tree=None):
    """Yield (line, cell source) for the body of every function of a module.

    A function body is a good cell too: it is a run of statements whose
    definite-binding flow (if/try/for/with/match, return) matters, where a
    module's top-level statements are mostly one-liners.  The body is dedented
    by its first statement's column; lines inside strings or brackets that are
    indented less lose only their leading blanks."""
    tree = tree or ast.parse(source)
    lines = _lines(source)
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first, last = fn.body[0], fn.body[-1]
        if first.lineno == last.end_lineno:
            # `def f(): return 1` or `...) -> T: ...`: the statements of one line.
            yield first.lineno, "\n".join(_segment(lines, st) for st in fn.body)
            continue
        start = first
        decos = getattr(first, "decorator_list", None)
        if decos:
            start = _Span(decos[0].lineno, decos[0].col_offset - 1, 0, 0)
        col = start.col_offset
        if _indent(lines[start.lineno - 1]) != col:
            continue  # `def f(): x = 1; \` ... too odd to cut out
        chunk = lines[start.lineno - 1:last.end_lineno]
        # Cut the last line after the last statement (bytes, as ast counts).
        chunk[-1] = chunk[-1].encode("utf-8")[:last.end_col_offset].decode("utf-8")
        yield start.lineno, "".join(ln[min(col, _indent(ln)):] for ln in chunk)


def stdlib_files(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            if rel.startswith(SKIP_PREFIXES):
                continue
            out.append(rel)
    return out


# ------------------------------------------------------------------ workers

_analyzer = None
_progress_fd = None


def _init_worker(libpath, progress_dir):
    global _analyzer, _progress_fd
    _analyzer = CAnalyzer(libpath)
    _progress_fd = os.open(os.path.join(progress_dir, str(os.getpid())),
                           os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def _progress(text):
    if _progress_fd is None:
        return
    os.ftruncate(_progress_fd, 0)
    os.pwrite(_progress_fd, text.encode(), 0)


def file_cells(root, rel, bodies=False):
    """(prefix, line, cell) of one file: its top-level statements, and with
    bodies=True also its function bodies (prefixed "body:")."""
    with tokenize.open(os.path.join(root, rel)) as fh:
        source = fh.read()
    out = [("", line, cell) for line, cell in cells_of(source)]
    if bodies:
        out += [("body:", line, cell) for line, cell in body_cells_of(source)]
    return out


def check_file(root, rel, skip=(), only_line=None, analyzer=None, bodies=False):
    """Compare every cell of one file.  Returns a dict of counts and records."""
    analyzer = analyzer or _analyzer
    res = {"file": rel, "unparsable": None, "cells": 0, "agree": 0,
           "rejected": [], "disagree": []}
    try:
        cells = file_cells(root, rel, bodies)
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        res["unparsable"] = "%s: %s" % (type(exc).__name__, exc)
        return res
    for prefix, line, cell in cells:
        where = "%s%s:%d" % (prefix, rel, line)
        if where in skip or (only_line is not None and where != only_line):
            continue
        try:
            rdefs, ruses = reference.analyze(cell)
        except SyntaxError as exc:
            # CPython's symtable rejects the statement on its own (e.g. a
            # __future__ import of an unknown feature): not a cell.
            res["rejected"].append("%s %s" % (where, exc))
            continue
        except Exception as exc:  # a bug of the reference: report, do not hide
            res["cells"] += 1
            res["disagree"].append({
                "where": where, "cell": cell, "defs_ref_only": [], "defs_c_only": [],
                "uses_ref_only": [], "uses_c_only": [], "c_errors": [],
                "reference_error": "%s: %s" % (type(exc).__name__, exc)})
            continue
        res["cells"] += 1
        _progress(where)
        try:
            cdefs, cuses, cerrors = analyzer.analyze(cell)
        except RuntimeError as exc:
            cdefs, cuses, cerrors = set(), set(), ["call failed: %s" % exc]
        _progress("")
        if rdefs == cdefs and ruses == cuses and not cerrors:
            res["agree"] += 1
            continue
        res["disagree"].append({
            "where": where, "cell": cell,
            "defs_ref_only": sorted(rdefs - cdefs), "defs_c_only": sorted(cdefs - rdefs),
            "uses_ref_only": sorted(ruses - cuses), "uses_c_only": sorted(cuses - ruses),
            "c_errors": cerrors,
        })
    return res


def _worker(root, rel, skip, bodies):
    return check_file(root, rel, skip, bodies=bodies)


# ------------------------------------------------------------------ driver

def read_allowlist(path):
    entries = {}
    problems = []
    if not path:
        return entries, problems
    with open(path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            if len(parts) < 2 or ":" not in parts[0]:
                problems.append("%s:%d: an entry is `path.py:LINE reason`: %r" % (path, n, line))
                continue
            entries[parts[0]] = parts[1]
    return entries, problems


def run_all(args, files, skip):
    """Run the files on a process pool; survive crashes of the C library."""
    results = []
    crashed = []
    pending = list(files)
    with tempfile.TemporaryDirectory(prefix="nbr-diff-") as progress_dir:
        while pending:
            done = set()
            try:
                with concurrent.futures.ProcessPoolExecutor(
                        max_workers=args.jobs, initializer=_init_worker,
                        initargs=(args.libpath, progress_dir)) as ex:
                    futs = {ex.submit(_worker, args.stdlib, rel, frozenset(skip),
                                      args.bodies): rel
                            for rel in pending}
                    for fut in concurrent.futures.as_completed(futs):
                        results.append(fut.result())
                        done.add(futs[fut])
            except concurrent.futures.process.BrokenProcessPool:
                suspects = set()
                for f in os.listdir(progress_dir):
                    with open(os.path.join(progress_dir, f)) as fh:
                        text = fh.read().strip()
                    if text:
                        suspects.add(text)
                    os.unlink(os.path.join(progress_dir, f))
                if not suspects:
                    raise
                for s in sorted(suspects):
                    if s not in skip:
                        skip.add(s)
                        crashed.append(s)
            pending = [rel for rel in pending if rel not in done]
    return results, crashed


def _split_where(where):
    bodies = where.startswith("body:")
    rel, line = where[5 if bodies else 0:].rsplit(":", 1)
    return rel, bodies


def confirm_crash(libpath, root, where):
    """Re-run one suspected cell alone in a fresh process: did it crash?"""
    rel, bodies = _split_where(where)
    cell = None
    for prefix, line, text in file_cells(root, rel, bodies):
        if "%s%s:%d" % (prefix, rel, line) == where:
            cell = text
    if cell is None:
        return False
    import subprocess
    code = ("import sys; sys.path.insert(0, %r); import run_differential as r; "
            "r.CAnalyzer(%r).analyze(sys.stdin.read())"
            % (os.path.dirname(os.path.abspath(__file__)), libpath))
    proc = subprocess.run([sys.executable, "-c", code], input=cell, text=True,
                          capture_output=True)
    # A signal, or a sanitizer's report (ASan and UBSan exit with status 1,
    # like a Python exception would).
    return proc.returncode < 0 or (proc.returncode != 0 and "Sanitizer" in proc.stderr)


def truncate_cell(cell, lines=12, width=100):
    out = []
    for i, ln in enumerate(cell.splitlines()):
        if i == lines:
            out.append("    ...")
            break
        out.append("    | " + (ln if len(ln) <= width else ln[:width] + "..."))
    return "\n".join(out)


def describe(d):
    parts = []
    for key, label in (("defs", "defs"), ("uses", "uses")):
        r, c = d[key + "_ref_only"], d[key + "_c_only"]
        if r or c:
            parts.append("  %s: reference only %s; C only %s" % (label, r or "-", c or "-"))
    if d.get("reference_error"):
        parts.append("  the reference failed: %s" % d["reference_error"])
    if d["c_errors"]:
        parts.append("  C syntax errors on a cell CPython accepts: %s" % d["c_errors"][:3])
    return "\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("libpath", help="the built libnbrewind.so")
    ap.add_argument("--stdlib", default="/usr/lib/python3.11")
    ap.add_argument("--allow", help="allow-list file")
    ap.add_argument("--limit", type=int, help="only the first N files")
    ap.add_argument("--only", help="only files whose relative path contains this")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--show", type=int, default=30, help="disagreements to print")
    ap.add_argument("--json", help="write every disagreement to this file")
    ap.add_argument("--top-level-only", dest="bodies", action="store_false",
                    help="only the top-level statements; by default every "
                         "function body (dedented) is a cell too, reported as "
                         "body:path:LINE")
    args = ap.parse_args(argv)
    args.libpath = os.path.abspath(args.libpath)
    t0 = time.monotonic()

    CAnalyzer(args.libpath)  # fail early, in the parent, if it does not load
    allow, problems = read_allowlist(args.allow)
    for p in problems:
        print(p)
    files = stdlib_files(args.stdlib)
    if args.only:
        files = [f for f in files if args.only in f]
    if args.limit:
        files = files[:args.limit]
    # Largest first, for an even load on the workers.
    files.sort(key=lambda rel: -os.path.getsize(os.path.join(args.stdlib, rel)))

    results, crashed = run_all(args, files, set())
    crashes = []
    for w in crashed:
        if confirm_crash(args.libpath, args.stdlib, w):
            crashes.append(w)
        else:  # it was only running in the other worker when the crash came
            rel, bodies = _split_where(w)
            results.append(check_file(args.stdlib, rel, only_line=w, bodies=bodies,
                                      analyzer=CAnalyzer(args.libpath)))
    results.sort(key=lambda r: r["file"])

    unparsable = [(r["file"], r["unparsable"]) for r in results if r["unparsable"]]
    rejected = [x for r in results for x in r["rejected"]]
    disagreements = [d for r in results for d in r["disagree"]]
    n_cells = sum(r["cells"] for r in results)
    n_agree = sum(r["agree"] for r in results)
    failing = [d for d in disagreements if d["where"] not in allow]
    allowed = [d for d in disagreements if d["where"] in allow]
    seen = {d["where"] for d in disagreements} | set(crashes)
    checked = {r["file"] for r in results}   # with --only/--limit, not every file
    stale = sorted(w for w in allow if w not in seen and _split_where(w)[0] in checked)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"disagreements": disagreements, "crashes": crashes}, fh, indent=1)

    print("differential: libnbrewind vs reference (CPython %s ast + symtable) over %s"
          % (sys.version.split()[0], args.stdlib))
    for rel, why in unparsable:
        print("  skipped, does not parse under Python 3.11: %s (%s)" % (rel, why))
    for x in rejected[:10]:
        print("  skipped cell, rejected by CPython (ast or symtable): %s" % x)
    if len(rejected) > 10:
        print("  ... and %d more cells rejected by CPython" % (len(rejected) - 10))
    if failing:
        print("\nfirst disagreements (not allow-listed):")
        for d in failing[:args.show]:
            print("%s\n%s\n%s" % (d["where"], truncate_cell(d["cell"]), describe(d)))
        # Which names come up most, to help classify.
        tally = {}
        for d in failing:
            for key in ("defs_ref_only", "defs_c_only", "uses_ref_only", "uses_c_only"):
                for name in d[key]:
                    tally[(key, name)] = tally.get((key, name), 0) + 1
            if d["c_errors"]:
                tally[("c_errors", "-")] = tally.get(("c_errors", "-"), 0) + 1
        print("\nmost frequent differences (list side, name: cells):")
        for (key, name), n in sorted(tally.items(), key=lambda kv: -kv[1])[:20]:
            print("  %-14s %-24s %d" % (key, name, n))
    for w in crashes:
        print("CRASH: the C library crashed on the cell at %s" % w)
    for w in stale:
        print("stale allow-list entry (no longer disagrees; remove it): %s %s" % (w, allow[w]))

    elapsed = time.monotonic() - t0
    print("\nfiles: %d (%d unparsable, skipped)  cells: %d (%d more rejected by CPython)"
          % (len(results), len(unparsable), n_cells, len(rejected)))
    print("agreeing: %d  disagreeing: %d  allow-listed: %d  crashes: %d  stale allow-list "
          "entries: %d  time: %.1f s with %d jobs"
          % (n_agree, len(disagreements), len(allowed), len(crashes), len(stale), elapsed,
             args.jobs))
    failed = len(failing) + len(crashes) + len(stale) + len(problems)
    passed = n_agree + len(allowed)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
