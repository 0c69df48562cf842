"""Builds the benchmark corpus: real cells cut from code Debian ships.

Python: Debian's standard library.  R: the demos of R's base packages and the
tests of the r-cran-* packages (their top-level expressions found by R itself,
benchmarks/r_expression_lines.R).  Consecutive top-level statements of each file
are grouped into cells of about 20 lines (the size of a typical notebook cell),
the way a person splits a script into cells.  Cells are written NUL-separated so
the C benchmark can read them without a parser.
Usage: make_corpus.py OUT [--lang python|r] [--cells N] [--lines L]
"""
import argparse
import ast
import pathlib
import random
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
STDLIB = pathlib.Path("/usr/lib/python3.11")
R_SOURCES = [pathlib.Path("/usr/lib/R/library"), pathlib.Path("/usr/share/doc")]


def python_statements(path):
    """(first line, last line) of each top-level statement, 1-based."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for stmt in tree.body:
        first = stmt.decorator_list[0].lineno if getattr(stmt, "decorator_list", None) else stmt.lineno
        yield first, stmt.end_lineno


def r_statements_by_file(paths):
    """R's own parser finds the top-level expressions of every file at once."""
    out = subprocess.run(["Rscript", "--vanilla", str(HERE / "r_expression_lines.R")],
                         input="\n".join(map(str, paths)), capture_output=True, text=True,
                         check=True).stdout
    spans = {}
    for line in out.splitlines():
        path, first, last = line.split("\t")
        spans.setdefault(path, []).append((int(first), int(last)))
    return spans


def cells_of(path, statements, target_lines):
    source = path.read_text(encoding="utf-8")
    lines = [line + "\n" for line in source.split("\n")]  # not splitlines: it splits on \f too
    cell, cell_lines = [], 0
    for first, last in statements:
        chunk = lines[first - 1:last]
        if len(chunk) > target_lines:
            continue  # whole classes/functions of hundreds of lines are not typical cells
        if cell and cell_lines + len(chunk) > target_lines * 5 // 4:
            yield "".join(cell)
            cell, cell_lines = [], 0
        cell.extend(chunk)
        cell_lines += len(chunk)
        if cell_lines >= target_lines:
            yield "".join(cell)
            cell, cell_lines = [], 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--lang", choices=["python", "r"], default="python")
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=20)
    args = parser.parse_args()
    if args.lang == "python":
        files = sorted(p for p in STDLIB.rglob("*.py")
                       if "site-packages" not in p.parts and "test" not in p.parts
                       and "lib2to3" not in p.parts)
    else:
        files = sorted(p for root in R_SOURCES for p in root.rglob("*.R"))
        spans = r_statements_by_file(files)
    random.Random(1).shuffle(files)
    corpus = []
    for path in files:
        try:
            statements = (list(python_statements(path)) if args.lang == "python"
                          else spans.get(str(path), []))
            corpus.extend(cells_of(path, statements, args.lines))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        if len(corpus) >= args.cells:
            break
    corpus = corpus[:args.cells]
    pathlib.Path(args.out).write_bytes(b"\0".join(c.encode() for c in corpus))
    print(f"{len(corpus)} cells, {sum(c.count(chr(10)) for c in corpus) / len(corpus):.1f} "
          f"lines and {sum(len(c) for c in corpus) / len(corpus):.0f} bytes per cell on average")


if __name__ == "__main__":
    main()
