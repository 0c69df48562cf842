"""Checks of the oracle itself: reference.py on small cells, one or more per
rule of docs/analysis.md, against hand-written defs and uses.

Run with `/usr/bin/python3 -m pytest -q tests/differential/test_reference.py`,
or plainly with `/usr/bin/python3 tests/differential/test_reference.py`.
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

# (rule, cell, defs, uses)
CASES = [
    # ---- binding: defs
    ("chained assignment", "a = b = c", "a b", "c"),
    ("nested unpacking", "a, (b, *c) = d", "a b c", "d"),
    ("list target", "[a, b] = d", "a b", "d"),
    ("augmented assignment", "x += 1", "x", "x"),
    ("annotated assignment", "x: int = 1", "x", "int"),
    ("bare annotation binds nothing", "x: int", "", "int"),
    ("for target", "for i in r:\n    pass", "i", "r"),
    ("with target", "with open(p) as f:\n    pass", "f", "open p"),
    ("except name", "try:\n    pass\nexcept E as e:\n    pass", "e", "E"),
    ("walrus", "(n := len(a))", "n", "len a"),
    ("walrus in comprehension binds in the cell", "[y := f(x) for x in xs]", "y", "f xs"),
    ("match captures",
     "match p:\n    case Point(x=px):\n        pass\n    case [a, *rest]:\n        pass\n"
     "    case {**kw}:\n        pass\n    case _ as y:\n        pass",
     "px a rest kw y", "p Point"),
    ("import a.b binds a", "import a.b", "a", ""),
    ("import as", "import a.b as c", "c", ""),
    ("from import as", "from m import x as y, z", "y z", ""),
    ("star import binds nothing known", "from m import *", "", ""),
    ("def and class names", "def f():\n    pass\nclass C:\n    pass", "f C", ""),
    ("attribute and subscript stores bind nothing", "a.x = 1\nb[0] = 2", "", "a b"),
    ("augmented attribute", "a.b += 1", "", "a"),
    ("del attribute", "del a.b", "", "a"),
    ("__future__ import binds its name", "from __future__ import annotations",
     "annotations", ""),

    # ---- reading: uses, evaluation order
    ("right-hand side first", "x = x + 1", "x", "x"),
    ("del needs the binding", "del x", "", "x"),
    ("del unbinds", "x = 1\ndel x\nprint(x)", "x", "print x"),
    ("store then read", "x = 1\nprint(x)", "x", "print"),
    ("target subexpressions after earlier targets", "i, a[i] = 0, 1", "i", "a"),
    ("builtins are reported", "print(len(x))", "", "print len x"),
    ("get_ipython is never reported", "get_ipython()", "", ""),

    # ---- if / elif / else
    ("if/elif/else all bind", "if c:\n    x = 1\nelif d:\n    x = 2\nelse:\n    x = 3\nprint(x)",
     "x", "c d print"),
    ("missing else is an empty branch", "if c:\n    x = 1\nprint(x)", "x", "c print x"),
    ("walrus in condition is definite", "if (m := f()):\n    pass\nprint(m)", "m", "f print"),
    ("del on one branch", "x = 1\nif c:\n    del x\nprint(x)", "x", "c print x"),

    # ---- loops
    ("for body may not run", "for i in r:\n    y = i\nprint(i, y)", "i y", "r print i y"),
    ("for target bound in body", "for i in r:\n    print(i)", "i", "r print"),
    ("while condition walrus", "while (line := read()):\n    pass\nprint(line)", "line",
     "read print"),
    ("loop else without break", "for i in r:\n    pass\nelse:\n    z = 1\nprint(z)", "i z",
     "r print"),
    ("loop else skipped by break",
     "for i in r:\n    if i:\n        break\nelse:\n    z = 1\nprint(z)", "i z", "r print z"),
    ("continue ends a path",
     "for i in r:\n    if i:\n        continue\n    else:\n        w = 1\n    print(w)",
     "i w", "r print"),
    ("del in a loop body", "x = 1\nwhile c:\n    del x\nprint(x)", "x", "c print x"),
    ("del in a loop body before continue",
     "x = 1\nfor i in r:\n    if i:\n        del x\n        continue\n    x = 2\nprint(x)",
     "x i", "r print x"),
    ("binding before break is definite on the break path",
     "for i in r:\n    x = 1\n    break\nelse:\n    x = 2\nprint(x)", "i x", "r print"),
    ("break before binding leaves it indefinite",
     "for i in r:\n    break\n    x = 1\nelse:\n    x = 2\nprint(x)", "i x", "r print x"),
    ("break ends a path",
     "while c:\n    if d:\n        q = 1\n    else:\n        break\n    print(q)", "q",
     "c d print"),

    # ---- try
    ("ImportError fallback", "try:\n    import json\nexcept ImportError:\n    json = None\njson",
     "json", "ImportError"),
    ("handler starts before the try", "try:\n    x = f()\nexcept E:\n    print(x)", "x",
     "f E print x"),
    ("except name unbound afterwards", "try:\n    pass\nexcept E as e:\n    pass\nprint(e)",
     "e", "E print e"),
    ("except name unbinds an earlier binding",
     "e = 1\ntry:\n    pass\nexcept E as e:\n    pass\nprint(e)", "e", "E print e"),
    ("else continues the body",
     "try:\n    x = 1\nexcept E:\n    raise\nelse:\n    y = x\nprint(x, y)", "x y", "E print"),
    ("handler that re-raises", "try:\n    x = 1\nexcept E:\n    raise\nprint(x)", "x",
     "E print"),
    ("handler that binds too", "try:\n    x = 1\nexcept E:\n    x = 2\nprint(x)", "x",
     "E print"),
    ("finally binds", "try:\n    pass\nfinally:\n    z = 1\nprint(z)", "z", "print"),
    ("finally deletes", "x = 1\ntry:\n    pass\nfinally:\n    del x\nprint(x)", "x",
     "print x"),
    ("finally reads from before the try", "try:\n    x = 1\nfinally:\n    print(x)", "x",
     "print x"),
    ("except* as a try", "try:\n    pass\nexcept* E as g:\n    h = g\nprint(g)", "g h",
     "E print g"),

    # ---- with
    ("with body definite after",
     "with f() as g:\n    h = g\nprint(h)", "g h", "f print"),
    ("with items in order", "with a as b, b as c:\n    pass", "b c", "a"),

    # ---- match
    ("match exhaustive by wildcard",
     "match v:\n    case 1:\n        x = 1\n    case _:\n        x = 2\nprint(x)", "x",
     "v print"),
    ("match not exhaustive", "match v:\n    case 1:\n        x = 1\nprint(x)", "x",
     "v print x"),
    ("value and class patterns read", "match v:\n    case Color.RED | Shape():\n        pass",
     "", "v Color Shape"),
    ("guarded wildcard is refutable",
     "match v:\n    case _ if g:\n        x = 1\nprint(x)", "x", "v g print x"),
    ("bare capture is irrefutable",
     "match v:\n    case 1:\n        x = 1\n    case y:\n        x = y\nprint(x)", "x y",
     "v print"),
    ("captures bound for the guard", "match v:\n    case [a] if a:\n        pass", "a", "v"),

    # ---- raise / break / continue end a path
    ("raise ends a path", "if not ok:\n    raise X\nelse:\n    y = 1\nprint(y)", "y",
     "ok X print"),

    # ---- short-circuit and conditional expressions
    ("walrus in right operand not definite", "a and (b := 1)\nprint(b)", "b", "a print b"),
    ("walrus in left operand definite", "(b := f()) or c\nprint(b)", "b", "f c print"),
    ("operands run in sequence", "x and (y := 1) and y", "y", "x"),
    ("conditional expression branch", "(x := 1) if c else 0\nprint(x)", "x", "c print x"),
    ("chained comparison", "a < (b := 1) < (c := 2)\nprint(b, c)", "b c", "a print c"),

    # ---- comprehensions
    ("comprehension walrus never definite", "[(y := v) for v in vs]\nprint(y)", "y",
     "vs print y"),
    ("first iterable in the enclosing scope", "[x for x in x]", "", "x"),
    ("comprehension targets are local", "[a for a in b if a]", "", "b"),
    ("nested comprehension", "[[y for y in x] for x in xs]", "", "xs"),
    ("comprehension reads globals", "[f(v) for v in vs]", "", "f vs"),
    ("generator expression", "g = (h(v) for v in vs)", "g", "h vs"),
    ("dict comprehension", "{k: v for k, v in items}", "", "items"),
    ("later for clause in comprehension scope", "[y for x in xs for y in x if p(y)]", "",
     "xs p"),
    ("walrus earlier in the same comprehension", "[y for x in xs if (y := x)]", "y", "xs"),

    # ---- functions and lambdas
    ("decorators, defaults, annotations at the def",
     "@dec\ndef f(a: A = d, *, k: K = e) -> R:\n    return a", "f", "dec A d K e R"),
    ("decorator before the name is bound", "@f\ndef f():\n    pass", "f", "f"),
    ("default before the name is bound", "def f(x=f):\n    pass", "f", "f"),
    ("body globals not yet bound", "def f():\n    return g + h\ng = 1", "f g", "g h"),
    ("body globals already bound", "g = 1\ndef f():\n    return g", "g f", ""),
    ("later definition is still a use", "def f():\n    return later()\ndef later():\n    pass",
     "f later", "later"),
    ("locals are not uses", "def f(a):\n    b = a\n    for c in b:\n        pass\n    return c",
     "f", ""),
    ("global declaration", "def f():\n    global n\n    n += 1", "f", "n"),
    ("global written only is not read", "def f():\n    global n\n    n = 1", "f", ""),
    ("closure and nonlocal",
     "def f():\n    x = 1\n    def g():\n        nonlocal x\n        return x + y\n    return g",
     "f", "y"),
    ("recursion", "def fact(n):\n    return n * fact(n - 1)", "fact", ""),
    ("lambda", "f = lambda a, b=d: a + c", "f", "d c"),
    ("lambda reads its own name before the binding", "f = lambda n: f(n)", "f", "f"),
    ("function-local annotation counts", "def f():\n    x: T = 1", "f", "T"),
    ("comprehension in a function", "def f(a):\n    return [a + b for _ in a]", "f", "b"),
    ("async constructs",
     "async def f():\n    async with a as b:\n        await b\n    async for c in d:\n"
     "        pass", "f", "a d"),

    # ---- classes
    ("class body, bases, keywords, methods",
     "class A(Base, metaclass=M):\n    x = 1\n    y = x + z\n    def m(self):\n"
     "        return x", "A", "Base M z x"),
    ("class body reads before binding from globals", "class A:\n    x = x", "A", "x"),
    ("method reads its class", "class A:\n    def m(self):\n        return A()", "A", ""),
    ("class scope invisible to comprehensions",
     "class A:\n    n = 1\n    xs = [n for _ in range(3)]", "A", "range n"),
    ("class decorator", "@d\nclass A:\n    pass", "A", "d"),
    ("method annotations in the class", "class A:\n    def m(self, x: T) -> R:\n        pass",
     "A", "T R"),
    ("class-level annotation", "class A:\n    x: int", "A", "int"),
    ("method default from the class namespace",
     "class A:\n    k = 1\n    def m(self, x=k):\n        pass", "A", ""),
    ("__module__ is in the class namespace", "class A:\n    m = __module__", "A", ""),
    ("private names are mangled", "class A:\n    __x = 1\n    y = __x", "A", ""),
    ("del in a class body is not a global read", "class A:\n    del x", "A", ""),
    ("class nested in a function", "def f():\n    class A:\n        x = x", "f", "x"),
    ("class name bound after the body", "class A:\n    x = A", "A", "A"),
    ("scopes on one line: nested first iterables",
     "[[z for z in w] for q in [u for u in v]]", "", "w v"),
    ("scopes on one line: dict comprehension, lambdas",
     "{(lambda: k1): (lambda: v1) for x in y}", "", "y k1 v1"),
    ("global declared in a class body",
     "class A:\n    global g\n    g = 1\n    k = g\nprint(g)", "A", "print"),
    ("nested class name is not a global",
     "class A:\n    class B:\n        def m(self):\n            return A, B", "A", "B"),
    ("class-local read before binding, class in a function",
     "def f():\n    x = 1\n    class A:\n        y = x\n        x = 2", "f", "x"),
    ("lambda body is a bare name", "f(lambda: z)", "", "f z"),
    ("lambda in a comprehension", "[lambda: w for v in vs]", "", "vs w"),
    ("try/finally keeps the body's bindings", "try:\n    x = 1\nfinally:\n    pass\nprint(x)",
     "x", "print"),
    ("assert message runs only on failure", "assert x, (m := 1)\nprint(m)", "m", "x print m"),
    ("unreachable code after raise", "raise E\nprint(x)", "", "E"),
    ("annotated attribute without value reads the object", "a.b: int", "", "a int"),
    ("__class__ is a closure cell", "class A:\n    def m(self):\n        return __class__",
     "A", ""),
    ("mangled global read in a method", "class A:\n    def m(self):\n        return __g", "A",
     "_A__g"),
]


def _check(src, defs, uses):
    got_defs, got_uses = reference.analyze(src)
    assert (sorted(got_defs), sorted(got_uses)) == (sorted(defs.split()), sorted(uses.split())), \
        "cell %r: got defs %s uses %s" % (src, sorted(got_defs), sorted(got_uses))


try:
    import pytest
except ImportError:  # pragma: no cover
    pytest = None

if pytest is not None:
    @pytest.mark.parametrize("rule,src,defs,uses", CASES, ids=[c[0] for c in CASES])
    def test_reference(rule, src, defs, uses):
        _check(src, defs, uses)


def main():
    failed = 0
    for rule, src, defs, uses in CASES:
        try:
            _check(src, defs, uses)
        except AssertionError as exc:
            failed += 1
            print("FAIL %s: %s" % (rule, exc))
    print("%d passed, %d failed" % (len(CASES) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
