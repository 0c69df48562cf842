"""Builds the benchmark corpus: real Python cells cut from Debian's standard library.

Consecutive top-level statements of each module are grouped into cells of about
20 lines (the size of a typical notebook cell), the way a person splits a script
into cells.  Cells are written NUL-separated so the C benchmark can read them
without a parser.  Usage: make_corpus.py OUT [--cells N] [--lines L]
"""
import argparse
import ast
import pathlib
import random

STDLIB = pathlib.Path("/usr/lib/python3.11")


def cells_of(path, target_lines):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = [line + "\n" for line in source.split("\n")]  # not splitlines: it splits on \f too
    cell, cell_lines = [], 0
    for stmt in tree.body:
        start = (stmt.decorator_list[0].lineno if getattr(stmt, "decorator_list", None)
                 else stmt.lineno) - 1
        chunk = lines[start:stmt.end_lineno]
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
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=20)
    args = parser.parse_args()
    files = sorted(p for p in STDLIB.rglob("*.py")
                   if "site-packages" not in p.parts and "test" not in p.parts
                   and "lib2to3" not in p.parts)
    random.Random(1).shuffle(files)
    corpus = []
    for path in files:
        try:
            corpus.extend(cells_of(path, args.lines))
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
