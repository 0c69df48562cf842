#!/usr/bin/python3
"""The nbr command-line tool, driven as a user drives it.

Usage: test_nbr.py NBR EXAMPLES_DIR

Runs the real binary on the bundled example notebooks and on generated good
and bad inputs, and checks exit codes, stdout and stderr.  Set NBR_WRAPPER to
run nbr under a tool, e.g. NBR_WRAPPER="valgrind -q --error-exitcode=99
--leak-check=full --errors-for-leak-kinds=definite".
Prints "N passed, N failed".
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

NBR = sys.argv[1]
EXAMPLES = sys.argv[2]
WRAPPER = shlex.split(os.environ.get("NBR_WRAPPER", ""))
DEMO = os.path.join(EXAMPLES, "demo.ipynb")
DEMO_R = os.path.join(EXAMPLES, "demo_r.ipynb")

ANALYSIS_KEYS = {"defs", "uses", "may_mutate", "deletes", "imports", "assumed", "functions",
                 "classes", "flags", "errors"}
NAME_LISTS = ["defs", "uses", "may_mutate", "deletes", "imports", "assumed"]

passed = 0
failed = 0


def check(what, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}" + (f"\n      {detail}" if detail else ""))
    return condition


def run(*args, stdin=b""):
    """(exit code, stdout, stderr) of nbr with these arguments."""
    result = subprocess.run(WRAPPER + [NBR, *args], input=stdin, capture_output=True,
                            timeout=300)
    return (result.returncode, result.stdout.decode("utf-8", "replace"),
            result.stderr.decode("utf-8", "replace"))


def parse_json(what, text):
    try:
        return json.loads(text)
    except ValueError as error:
        check(f"{what}: stdout is JSON", False, f"{error}: {text[:300]!r}")
        return None


def check_analysis_shape(what, analysis):
    """The exact shape the issue promises for one cell's analysis."""
    if not check(f"{what}: analysis is an object", isinstance(analysis, dict), repr(analysis)):
        return
    check(f"{what}: exact key set", set(analysis) == ANALYSIS_KEYS, sorted(analysis))
    for key in NAME_LISTS:
        value = analysis.get(key)
        check(f"{what}: {key} is a list of strings",
              isinstance(value, list) and all(isinstance(n, str) for n in value), repr(value))
    for key in ("functions", "classes"):
        value = analysis.get(key)
        ok = isinstance(value, dict) and all(
            isinstance(d, dict) and set(d) == {"reads", "writes"}
            and all(isinstance(n, str) for n in d["reads"] + d["writes"])
            for d in value.values())
        check(f"{what}: {key} maps names to reads/writes", ok, repr(value))
    for key in ("flags", "errors"):
        value = analysis.get(key)
        ok = isinstance(value, list) and all(
            isinstance(d, dict) and set(d) == {"message", "line", "column"}
            and isinstance(d["message"], str) and isinstance(d["line"], int)
            and isinstance(d["column"], int) and d["line"] >= 1 and d["column"] >= 1
            for d in value)
        check(f"{what}: {key} are message/line/column objects", ok, repr(value))


def check_one_line_error(what, result, *needles):
    """Exit 2, nothing on stdout, one line on stderr naming the input and cause."""
    code, out, err = result
    check(f"{what}: exit 2", code == 2, f"exit {code}, stderr {err!r}")
    check(f"{what}: nothing on stdout", out == "", repr(out))
    lines = err.splitlines()
    check(f"{what}: one line on stderr", len(lines) == 1 and err.startswith("nbr: "), repr(err))
    for needle in needles:
        check(f"{what}: stderr mentions {needle!r}", needle in err, repr(err))


# ---------------------------------------------------------------------------

def test_version_and_help():
    code, out, err = run("--version")
    check("--version exits 0", code == 0, err)
    check("--version prints 'nbr X.Y.Z'", re.fullmatch(r"nbr \d+\.\d+\.\d+\n", out), repr(out))
    code, out, _ = run("--help")
    check("--help exits 0 and lists analyze", code == 0 and "analyze" in out and "usage:" in out)
    code, out2, _ = run("help")
    check("'nbr help' is --help", code == 0 and out2 == out)
    code, out, _ = run("help", "analyze")
    check("help analyze", code == 0 and "--notebook" in out and "--lang" in out, out)
    code, out2, _ = run("analyze", "--help")
    check("analyze --help is 'help analyze'", code == 0 and out2 == out)
    code, out, err = run()
    check("no command: usage on stderr, exit 2", code == 2 and out == "" and "usage:" in err)
    code, out, err = run("frobnicate")
    check("unknown command: exit 2, named", code == 2 and "'frobnicate'" in err, err)
    code, out, err = run("help", "frobnicate")
    check("help for unknown command: exit 2", code == 2 and "frobnicate" in err, err)
    code, out, err = run("--bogus")
    check("unknown global option: exit 2", code == 2 and "--bogus" in err, err)


def test_cell(tmp):
    path = os.path.join(tmp, "cell.py")
    source = b"import numpy as np\nx = np.zeros(3)\nx[0] = y\n"
    with open(path, "wb") as f:
        f.write(source)
    code, out, err = run("analyze", "--lang", "python", path)
    check("python cell: exit 0", code == 0, err)
    check("python cell: one line of output", out.endswith("\n") and out.count("\n") == 1, repr(out))
    analysis = parse_json("python cell", out)
    check_analysis_shape("python cell", analysis)
    if analysis:
        check("python cell: defs x, np", {"x", "np"} <= set(analysis["defs"]), analysis)
        check("python cell: uses y", "y" in analysis["uses"], analysis)
        check("python cell: may mutate x", "x" in analysis["may_mutate"], analysis)
        check("python cell: imports numpy", analysis["imports"] == ["numpy"], analysis)

    code, out_stdin, err = run("analyze", "--lang", "python", "-", stdin=source)
    check("stdin '-': same output as the file", code == 0 and out_stdin == out, err)
    code, out_stdin, err = run("analyze", "--lang=python", stdin=source)
    check("no FILE reads stdin; --lang=VALUE form", code == 0 and out_stdin == out, err)
    code, out_ext, err = run("analyze", path)
    check("language from the .py extension", code == 0 and out_ext == out, err)
    code, out_bom, err = run("analyze", "-l", "python", "-", stdin=b"\xef\xbb\xbf" + source)
    check("a leading byte order mark is ignored", code == 0 and out_bom == out, err)

    code, out, err = run("analyze", "--lang", "r", "-", stdin=b"x <- f(y)\nnames(x) <- 'a'\n")
    check("R cell: exit 0", code == 0, err)
    analysis = parse_json("R cell", out)
    check_analysis_shape("R cell", analysis)

    code, out, err = run("analyze", "--lang", "python", "-", stdin=b"")
    check("empty cell: exit 0", code == 0, err)
    check_analysis_shape("empty cell", parse_json("empty cell", out))

    code, out, err = run("analyze", "--lang", "python", "--format", "text", "-",
                         stdin=source)
    check("cell as text", code == 0 and "inputs:" in out and "outputs:" in out, out + err)


def test_syntax_errors():
    code, out, err = run("analyze", "--lang", "python", "-", stdin=b"x = 1\ndef f(:\n    pass\n")
    check("python syntax error: exit 1", code == 1, f"exit {code} {err}")
    analysis = parse_json("python syntax error", out)
    check_analysis_shape("python syntax error", analysis)
    if analysis:
        check("python syntax error: errors reported", len(analysis["errors"]) >= 1, analysis)
        check("python syntax error: partial result kept", "x" in analysis["defs"], analysis)
    code, out, err = run("analyze", "--lang", "r", "-", stdin=b"x <- (1 + \ny <- 2\n)))\n")
    check("R syntax error: exit 1", code == 1, f"exit {code} {out} {err}")
    analysis = parse_json("R syntax error", out)
    if analysis:
        check("R syntax error: errors reported", len(analysis["errors"]) >= 1, analysis)


def test_usage_errors():
    cases = [
        (("analyze", "--lang"), "needs a value"),
        (("analyze", "--format", "xml", "--lang", "python", "-"), "xml"),
        (("analyze", "--frobnicate"), "--frobnicate"),
        (("analyze", "--lang", "python", "a.py", "b.py"), "more than one input"),
        (("analyze", "--notebook", DEMO, DEMO), "not both"),
        (("analyze", "-"), "--lang"),  # stdin: no extension to go by
    ]
    for args, needle in cases:
        code, out, err = run(*args)
        check(f"usage error {args}: exit 2", code == 2, f"exit {code} {err}")
        check(f"usage error {args}: says {needle!r}", needle in err, err)
        check(f"usage error {args}: nothing on stdout", out == "", out)


def write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def notebook_bytes(cells, metadata=None, nbformat=4, minor=5):
    nb = {"cells": cells, "nbformat": nbformat, "nbformat_minor": minor,
          "metadata": metadata if metadata is not None else
          {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    return json.dumps(nb).encode()


def code_cell(source, cell_id=None):
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": source}
    if cell_id is not None:
        cell["id"] = cell_id
    return cell


def test_bad_input(tmp):
    not_utf8 = write(tmp, "latin1.py", b"x = 1  # caf\xe9 au lait\n")
    check_one_line_error("not UTF-8", run("analyze", "--lang", "python", not_utf8),
                         "latin1.py", "not UTF-8", "offset 12")
    binary = write(tmp, "blob.py", b"x = 1\x00\x01\x02\x03")
    check_one_line_error("binary", run("analyze", "--lang", "python", binary),
                         "blob.py", "binary", "offset 5")
    check_one_line_error("binary notebook", run("analyze", "--notebook", binary), "blob.py")
    png = write(tmp, "plot.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    check_one_line_error("binary with invalid UTF-8 first", run("analyze", "--lang", "r", png),
                         "plot.png", "binary")
    wide = write(tmp, "wide.py", "x = 1\n".encode("utf-16"))
    check_one_line_error("UTF-16", run("analyze", "--lang", "python", wide), "wide.py", "UTF-16")
    check_one_line_error("not UTF-8 on stdin", run("analyze", "--lang", "r", "-", stdin=b"\xff"),
                         "<stdin>", "not UTF-8")
    check_one_line_error("unknown language", run("analyze", "--lang", "julia", not_utf8),
                         "'julia'")
    missing = os.path.join(tmp, "no-such-cell.py")
    check_one_line_error("missing file", run("analyze", "--lang", "python", missing),
                         "no-such-cell.py", "No such file")
    check_one_line_error("missing file, language from extension", run("analyze", missing),
                         "no-such-cell.py", "No such file")
    check_one_line_error("missing notebook", run("analyze", "--notebook", missing + "nb"),
                         "no-such-cell.pynb")
    check_one_line_error("directory", run("analyze", "--lang", "python", tmp), tmp, "directory")
    check_one_line_error("directory as notebook", run("analyze", "--notebook", tmp), "directory")
    unreadable = write(tmp, "secret.py", b"x = 1\n")
    os.chmod(unreadable, 0)
    if os.geteuid() != 0:  # root reads anything
        check_one_line_error("unreadable", run("analyze", "--lang", "python", unreadable),
                             "secret.py", "Permission denied")
    huge = os.path.join(tmp, "huge.py")
    with open(huge, "wb") as f:
        f.truncate(300 << 20)  # sparse: costs no disk
    check_one_line_error("too large", run("analyze", "--lang", "python", huge),
                         "huge.py", "too large", "256 MiB")

    bad_json = write(tmp, "broken.ipynb", b'{\n  "cells": [],\n  "metadata" {}\n}\n')
    check_one_line_error("invalid JSON", run("analyze", "--notebook", bad_json),
                         "broken.ipynb", "invalid JSON", "line 3, column 14", "expected ':'")
    check_one_line_error(".ipynb FILE is read as a notebook", run("analyze", bad_json),
                         "broken.ipynb", "invalid JSON")
    not_nb = write(tmp, "data.json", b'{"name": "not a notebook", "values": [1, 2]}')
    check_one_line_error("not a notebook", run("analyze", "--notebook", not_nb),
                         "data.json", "not a Jupyter notebook", "cells")
    array = write(tmp, "array.json", b"[1, 2, 3]")
    check_one_line_error("JSON array", run("analyze", "--notebook", array),
                         "array.json", "not a Jupyter notebook")
    v3 = write(tmp, "old.ipynb", notebook_bytes([], nbformat=3, minor=0))
    check_one_line_error("nbformat 3", run("analyze", "--notebook", v3), "old.ipynb",
                         "nbformat 3")
    bad_source = write(tmp, "badsrc.ipynb", notebook_bytes([code_cell(42, "a")]))
    check_one_line_error("source not a string", run("analyze", "--notebook", bad_source),
                         "badsrc.ipynb", "cell 1", "source")
    bad_item = write(tmp, "baditem.ipynb", notebook_bytes([code_cell(["x = 1\n", None], "a")]))
    check_one_line_error("source item not a string", run("analyze", "--notebook", bad_item),
                         "baditem.ipynb", "item 2")
    nul_source = write(tmp, "nul.ipynb", notebook_bytes([code_cell("x = '\u0000'", "a")]))
    check_one_line_error("NUL in a cell's source", run("analyze", "--notebook", nul_source),
                         "nul.ipynb", "cell 1", "NUL")
    duplicate = write(tmp, "dup.ipynb", notebook_bytes([code_cell("x = 1", "a"),
                                                        code_cell("y = x", "a")]))
    check_one_line_error("duplicate cell id", run("analyze", "--notebook", duplicate),
                         "dup.ipynb", "duplicate", "'a'")
    no_lang = write(tmp, "nolang.ipynb", notebook_bytes([code_cell("x = 1", "a")], metadata={}))
    check_one_line_error("no language", run("analyze", "--notebook", no_lang),
                         "nolang.ipynb", "--lang")
    julia = write(tmp, "julia.ipynb", notebook_bytes(
        [code_cell("x = 1", "a")], metadata={"kernelspec": {"language": "julia"}}))
    check_one_line_error("unsupported notebook language", run("analyze", "--notebook", julia),
                         "julia.ipynb", "'julia'")
    not_object = write(tmp, "cellnum.ipynb", notebook_bytes([7]))
    check_one_line_error("cell not an object", run("analyze", "--notebook", not_object),
                         "cellnum.ipynb", "cell 1")
    deep = write(tmp, "deep.ipynb", b"[" * 100000 + b"]" * 100000)
    check_one_line_error("deeply nested JSON", run("analyze", "--notebook", deep),
                         "deep.ipynb", "nesting")

    code, out, err = subprocess.run(
        WRAPPER + [NBR, "--version"], stdout=open("/dev/full", "w"), stderr=subprocess.PIPE
    ).returncode, "", ""
    check("write error (/dev/full): exit 2", code == 2, f"exit {code}")


def analyses_by_id(notebook_json):
    return {c["id"]: c["analysis"] for c in notebook_json["cells"]}


def check_notebook_json(what, path, language):
    """Structure common to every notebook: returns the parsed output."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    code_cells = [(i + 1, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    code, out, err = run("analyze", "--notebook", path)
    check(f"{what}: exit 0", code == 0, f"exit {code} {err}")
    result = parse_json(what, out)
    if result is None:
        return None
    check(f"{what}: exact keys", set(result) == {"language", "cells", "edges"}, sorted(result))
    check(f"{what}: language", result.get("language") == language, result.get("language"))
    cells = result.get("cells", [])
    check(f"{what}: one entry per code cell, in order",
          [(c.get("index"), c.get("id")) for c in cells] == [(i, c["id"]) for i, c in code_cells],
          repr([(c.get("index"), c.get("id")) for c in cells]))
    for c in cells:
        check(f"{what}: cell keys", set(c) == {"id", "index", "analysis"}, sorted(c))
        check_analysis_shape(f"{what} cell {c.get('id')}", c.get("analysis"))
    order = {c["id"]: n for n, c in enumerate(cells)}
    for e in result.get("edges", []):
        ok = (set(e) == {"from", "to", "name"} and e["from"] in order and e["to"] in order
              and order[e["from"]] < order[e["to"]] and isinstance(e["name"], str))
        check(f"{what}: edge {e} joins an earlier cell to a later one", ok)
    return result


def has_edge(result, source, target, name):
    return {"from": source, "to": target, "name": name} in result["edges"]


def test_demo_python():
    result = check_notebook_json("demo.ipynb", DEMO, "python")
    if not result:
        return
    cells = analyses_by_id(result)
    facts = [
        ("imports cell imports numpy and dask.array",
         {"numpy", "dask.array"} <= set(cells["imports"]["imports"])),
        ("parameters cell defines the parameters",
         {"n", "steps", "alpha", "seed", "chunk"} <= set(cells["parameters"]["defs"])),
        ("the data cell's outputs include the array",
         {"field", "rng"} <= set(cells["initial-field"]["defs"])),
        ("the data cell reads np, seed and n",
         {"np", "seed", "n"} <= set(cells["initial-field"]["uses"])),
        ("the boundary cell changes field in place",
         "field" in cells["boundary"]["may_mutate"] and "field" in cells["boundary"]["uses"]),
        ("the solver cell defines diffuse, whose body reads np",
         "np" in cells["solver"]["functions"].get("diffuse", {}).get("reads", [])),
        ("the %%time cell is still Python",
         "result" in cells["run"]["defs"] and "diffuse" in cells["run"]["uses"]
         and not cells["run"]["errors"]),
        ("the ! shell cell is no syntax error", not cells["results-dir"]["errors"]),
        ("no cell of the demo has syntax errors", not any(a["errors"] for a in cells.values())),
        ("edge parameters -> initial-field via seed",
         has_edge(result, "parameters", "initial-field", "seed")),
        ("edge initial-field -> boundary via field",
         has_edge(result, "initial-field", "boundary", "field")),
        ("edge solver -> run via diffuse", has_edge(result, "solver", "run", "diffuse")),
        ("edge block-stats -> summary via total_heat",
         has_edge(result, "block-stats", "summary", "total_heat")),
    ]
    for what, ok in facts:
        check(f"demo.ipynb: {what}", ok)

    code, out, err = run("analyze", "--notebook", DEMO, "--format", "text")
    check("demo text: exit 0", code == 0, err)
    check("demo text: header", out.startswith(f"{DEMO}: python notebook, 16 cells, 10 code cells"),
          out[:200])
    for index, cell_id in [(2, "imports"), (7, "initial-field"), (16, "summary")]:
        check(f"demo text: lists cell {index}", f"\ncell {index}  (id {cell_id})\n" in out)
    check("demo text: inputs and outputs lines", "  inputs:     np, seed, n" in out, out)
    check("demo text: edge line", re.search(r"\n  cell 5 -> cell 7 via .*\bseed\b", out), out)
    check("demo text: in-place changes shown apart", "may mutate: " in out)


def test_demo_r():
    result = check_notebook_json("demo_r.ipynb", DEMO_R, "r")
    if not result:
        return
    cells = analyses_by_id(result)
    facts = [
        ("library() imports", {"stats", "utils"} <= set(cells["packages"]["imports"])),
        ("simulate defines x, y, df", {"x", "y", "df"} <= set(cells["simulate"]["defs"])),
        ("simulate reads n and seed", {"n", "seed"} <= set(cells["simulate"]["uses"])),
        ("names(df) <- changes df in place", "df" in cells["rename"]["may_mutate"]),
        ("fit_line is a function", "fit_line" in cells["fit-function"]["functions"]),
        ("utils::head counts as an import", "utils" in cells["summary"]["imports"]),
        ("no cell of the R demo has syntax errors", not any(a["errors"] for a in cells.values())),
        ("edge simulate -> rename via df", has_edge(result, "simulate", "rename", "df")),
        ("edge fit-function -> fit via fit_line",
         has_edge(result, "fit-function", "fit", "fit_line")),
    ]
    for what, ok in facts:
        check(f"demo_r.ipynb: {what}", ok)
    code, out, err = run("analyze", "--notebook", DEMO_R, "--format", "text")
    check("R demo text: exit 0 and header",
          code == 0 and out.startswith(f"{DEMO_R}: r notebook, 9 cells, 7 code cells"), out + err)


def test_notebook_variants(tmp):
    # Pre-4.5 notebook: no ids; source as a string in one cell, a list in another.
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# title"},
             code_cell("x = 1\n"), code_cell(["y = x", " + 1\n"]),
             {"cell_type": "raw", "metadata": {}, "source": "raw"}]
    path = write(tmp, "old45.ipynb", notebook_bytes(cells, minor=4))
    code, out, err = run("analyze", "--notebook", path)
    result = parse_json("ids made up", out) if code == 0 else None
    check("notebook without ids: exit 0", code == 0, err)
    if result:
        check("cells without ids are cell-<index>",
              [c["id"] for c in result["cells"]] == ["cell-2", "cell-3"], result["cells"])
        check("markdown and raw cells are skipped", len(result["cells"]) == 2)
        check("a list source is joined", result["cells"][1]["analysis"]["uses"] == ["x"],
              result["cells"][1])
        check("edge between made-up ids", has_edge(result, "cell-2", "cell-3", "x"), result)
    # A made-up id never collides with a real one.
    cells = [code_cell("a = 1", "cell-2"), code_cell("b = a")]
    path = write(tmp, "collide.ipynb", notebook_bytes(cells))
    code, out, err = run("analyze", "--notebook", path)
    check("made-up id avoids a real one: exit 0", code == 0, err)
    if code == 0:
        ids = [c["id"] for c in json.loads(out)["cells"]]
        check("made-up id avoids a real one", len(set(ids)) == 2 and ids[0] == "cell-2", ids)
    # Language from language_info when there is no kernelspec, and --lang overriding it.
    path = write(tmp, "langinfo.ipynb", notebook_bytes(
        [code_cell("x <- 1", "a")], metadata={"language_info": {"name": "R"}}))
    code, out, err = run("analyze", "--notebook", path)
    check("language from language_info", code == 0 and json.loads(out)["language"] == "r", err)
    code, out, err = run("analyze", "--notebook", path, "--lang", "python")
    check("--lang overrides the metadata", code == 0 and json.loads(out)["language"] == "python",
          err)
    # Empty notebook; notebook on stdin.
    empty = notebook_bytes([])
    code, out, err = run("analyze", "--notebook", "-", stdin=empty)
    check("empty notebook on stdin", code == 0 and json.loads(out) ==
          {"language": "python", "cells": [], "edges": []}, out + err)
    code, out, err = run("analyze", "--notebook", "-", "--format", "text", stdin=empty)
    check("empty notebook as text", code == 0 and "no edges" in out, out + err)
    # A cell with a syntax error: exit 1, everything still printed.
    path = write(tmp, "syntax.ipynb", notebook_bytes(
        [code_cell("x = 1", "ok"), code_cell("def f(:\n", "broken"), code_cell("y = x", "after")]))
    code, out, err = run("analyze", "--notebook", path)
    check("notebook with a syntax error: exit 1", code == 1, f"exit {code} {err}")
    if code in (0, 1) and out:
        result = json.loads(out)
        check("notebook with a syntax error: all cells printed", len(result["cells"]) == 3)
        check("notebook with a syntax error: edges still found",
              has_edge(result, "ok", "after", "x"), result["edges"])
    code, out, err = run("analyze", "--notebook", path, "--format", "text")
    check("text output shows the error", code == 1 and "errors:" in out and "line 1" in out, out)


def main():
    with tempfile.TemporaryDirectory(prefix="nbr-test-") as tmp:
        test_version_and_help()
        test_cell(tmp)
        test_syntax_errors()
        test_usage_errors()
        test_bad_input(tmp)
        test_demo_python()
        test_demo_r()
        test_notebook_variants(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
