#!/usr/bin/python3
"""Generates docs/api.md, the C API reference, from include/nbrewind.h (and the
optional headers next to it: include/nbrewind_mpi.h).

The header is the manual: every declaration carries the comment that says what
it does, who owns what and what it returns.  This script only rearranges those
comments into Markdown, so the reference can never say something the header
does not.  `--check` exits 1 if docs/api.md is out of date (a ctest runs it).
Usage: gen-api-doc.py [--check] [HEADER [OUT [MORE_HEADER ...]]]
(defaults: include/nbrewind.h, docs/api.md, include/nbrewind_mpi.h).
"""
import pathlib
import re
import sys

TOP = pathlib.Path(__file__).resolve().parent.parent
BANNER = re.compile(r"/\* -{10,} \*/\n/\* (.+?)\s*\*/\n/\* -{10,} \*/\n")
# A comment immediately followed by a declaration (up to ; or the closing } of a typedef).
ITEM = re.compile(r"(/\*(?:[^*]|\*(?!/))*\*/)\n((?:typedef\s+enum[^}]*\}[^;]*;)|(?:typedef[^;]*;)|"
                  r"(?:NBR_API[^;]*;)|(?:#define[^\n]*(?:\\\n[^\n]*)*))", re.S)


def clean_comment(comment):
    body = comment[2:-2]
    lines = [re.sub(r"^\s*\* ?", "", line) for line in body.strip("\n").split("\n")]
    return " ".join(line.strip() for line in lines if line.strip())


def declared_name(decl):
    m = re.search(r"\b(nbr_\w+)\s*\(", decl) or re.search(r"\}\s*(nbr_\w+)\s*;", decl) \
        or re.search(r"typedef\s+struct\s+\w+\s+(nbr_\w+)\s*;", decl) or re.search(r"#define\s+(\w+)", decl)
    return m.group(1) if m else decl.split()[1]


def render(header_text):
    out = ["# libnbrewind C API reference", "",
           "Generated from `include/nbrewind.h` by `scripts/gen-api-doc.py`; the header is the",
           "source of truth. Conventions (ownership, errors, threads) are in the header's opening",
           "comment, repeated here:", ""]
    intro = re.match(r"/\*(.*?)\*/", header_text, re.S).group(1)
    out += ["> " + re.sub(r"^\s*\* ?", "", line) for line in intro.strip("\n").split("\n")]
    sections = BANNER.split(header_text)
    for i in range(1, len(sections), 2):
        title, body = sections[i], sections[i + 1]
        out += ["", f"## {title}", ""]
        for comment, decl in ITEM.findall(body):
            decl = re.sub(r"\s+\n", "\n", decl.strip())
            out += [f"### `{declared_name(decl)}`", "", "```c", decl, "```", "",
                    clean_comment(comment), ""]
    return out


def render_more(header_name, header_text):
    """A header with no section banners (nbrewind_mpi.h): one section, its
    opening comment quoted, then its declarations."""
    intro = re.match(r"/\*(.*?)\*/", header_text, re.S)
    first = re.sub(r"^\s*\* ?", "", intro.group(1).strip("\n").split("\n")[0]).strip()
    title = first.split(" - ", 1)[1].rstrip(".") if " - " in first else header_name
    out = ["", f"## `{header_name}`: {title}", ""]
    out += ["> " + re.sub(r"^\s*\* ?", "", line) for line in intro.group(1).strip().split("\n")]
    out += [""]
    for comment, decl in ITEM.findall(header_text[intro.end():]):
        decl = re.sub(r"\s+\n", "\n", decl.strip())
        out += [f"### `{declared_name(decl)}`", "", "```c", decl, "```", "",
                clean_comment(comment), ""]
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    header = pathlib.Path(args[0]) if args else TOP / "include" / "nbrewind.h"
    target = pathlib.Path(args[1]) if len(args) > 1 else TOP / "docs" / "api.md"
    more = [pathlib.Path(a) for a in args[2:]] if len(args) > 2 else \
        ([TOP / "include" / "nbrewind_mpi.h"] if not args else [])
    header_text = header.read_text()
    lines = render(header_text)
    texts = {header: header_text}
    for path in more:
        texts[path] = path.read_text()
        lines += render_more(path.name, texts[path])
    text = "\n".join(lines).rstrip() + "\n"
    for path, body in texts.items():
        undocumented = [name for name in re.findall(r"NBR_API\b[^;(]*?\b(nbr_\w+)\s*\(", body)
                        if f"### `{name}`" not in text]
        if undocumented:
            print(f"{path}: no comment directly above: {', '.join(undocumented)}", file=sys.stderr)
            return 1
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print(f"{target} is out of date with {header}: run scripts/gen-api-doc.py", file=sys.stderr)
            return 1
        print("1 passed, 0 failed")
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
