/* test_analysis_python.c - what the analysis reports for Python cells.
 *
 * Each case is one behaviour of docs/analysis.md.  Columns: name, source,
 * defs, uses, may_mutate, deletes, imports, functions, classes, flags, errors
 * (NULL = not checked, "" = must be empty). */
#include <stdlib.h>

#include "analysis_cases.h"
#include "nbr_test.h"

#define N NULL

static const analysis_case cases[] = {
    /* ---- assignment forms ---- */
    {"simple assignment", "x = 1\n", "x", "", "", "", "", N, N, "", 0},
    {"assignment reads its value", "y = x + 1\n", "y", "x", "", "", "", N, N, "", 0},
    {"self reference reads first", "x = x + 1\n", "x", "x", "", "", "", N, N, "", 0},
    {"chained assignment", "a = b = c\n", "a b", "c", "", "", "", N, N, "", 0},
    {"tuple unpacking", "a, (b, *c) = d\n", "a b c", "d", "", "", "", N, N, "", 0},
    {"list target", "[a, b] = 1, 2\n", "a b", "", "", "", "", N, N, "", 0},
    {"starred target", "first, *rest = xs\n", "first rest", "xs", "", "", "", N, N, "", 0},
    {"annotated with value", "x: int = 5\n", "x", "int", "", "", "", N, N, "", 0},
    {"bare annotation binds nothing", "x: int\n", "", "int", "", "", "", N, N, "", 0},
    {"bound then read", "x = 1\ny = x\n", "x y", "", "", "", "", N, N, "", 0},
    {"read then bound", "y = x\nx = 1\n", "x y", "x", "", "", "", N, N, "", 0},
    {"augmented assignment reads and binds", "total += 1\n", "total", "total", "total", "", "",
     N, N, "", 0},
    {"augmented after binding", "t = 0\nt += 1\n", "t", "", "t", "", "", N, N, "", 0},
    {"attribute store mutates root", "obj.x = 2\n", "", "obj", "obj", "", "", N, N, "", 0},
    {"subscript store mutates root", "a[0] = 1\n", "", "a", "a", "", "", N, N, "", 0},
    {"nested subscript store", "a.b[i].c = v\n", "", "v a i", "a", "", "", N, N, "", 0},
    {"augmented subscript", "counts[k] += 1\n", "", "counts k", "counts", "", "", N, N, "", 0},
    {"walrus at top level", "if (n := len(xs)) > 3:\n    pass\nprint(n)\n", "n", "len xs print",
     "", "", "", N, N, "", 0},
    {"walrus in comprehension binds in cell", "ys = [y := f(v) for v in vs]\nprint(y)\n",
     "ys y", "f vs print y", "vs", "", "", N, N, "", 0},
    {"walrus after or is not definite", "ok = a or (b := 2)\nprint(b)\n", "ok b", "a print b",
     "", "", "", N, N, "", 0},
    {"type alias", "type Vec = list[float]\n", "Vec", "list float", "", "", "", N, N, "", 0},

    /* ---- control flow ---- */
    {"if without else is not definite", "if c:\n    x = 1\nprint(x)\n", "x", "c print x", "",
     "", "", N, N, "", 0},
    {"if else both bind", "if c:\n    x = 1\nelse:\n    x = 2\nprint(x)\n", "x", "c print",
     "", "", "", N, N, "", 0},
    {"elif chain missing else", "if a:\n    x = 1\nelif b:\n    x = 2\nx\n", "x", "a b x", "",
     "", "", N, N, "", 0},
    {"elif chain with else", "if a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    x = 3\nx\n",
     "x", "a b", "", "", "", N, N, "", 0},
    {"raise ends a branch", "if not ok:\n    raise ValueError(m)\nelse:\n    y = 1\ny\n", "y",
     "ok ValueError m", "m", "", "", N, N, "", 0},
    {"for target not definite after loop", "for i in range(3):\n    pass\nprint(i)\n", "i",
     "range print i", "", "", "", N, N, "", 0},
    {"for body reads before its own binding", "for v in vs:\n    print(acc)\n    acc = v\n",
     "v acc", "vs print acc", "", "", "", N, N, "", 0},
    {"for else", "for v in vs:\n    break\nelse:\n    w = 1\nw\n", "v w", "vs w", "", "", "", N,
     N, "", 0},
    {"while condition walrus is definite", "while (line := f.readline()):\n    pass\nline\n",
     "line", "f", "f", "", "", N, N, "", 0},
    {"while body not definite", "while c:\n    z = 1\nz\n", "z", "c z", "", "", "", N, N, "", 0},
    {"try except both bind", "try:\n    import numpy as np\nexcept ImportError:\n    np = None\nnp\n",
     "np", "ImportError", "", "", "numpy", N, N, "", 0},
    {"try handler without binding", "try:\n    v = f()\nexcept E:\n    pass\nv\n", "v", "f E v",
     "", "", "", N, N, "", 0},
    {"handler reads earlier binding as input", "x = 1\ntry:\n    x = g()\nexcept E:\n    print(x)\n",
     "x", "g E print", "", "", "", N, N, "", 0},
    {"except as is unbound after", "try:\n    f()\nexcept E as e:\n    log(e)\ne\n", "e",
     "f E log e", "e", "", "", N, N, "", 0},
    {"try else continues body", "try:\n    a = 1\nexcept E:\n    a = 2\nelse:\n    b = a\nb\n",
     "a b", "E b", "", "", "", N, N, "", 0},
    {"finally binding is definite", "try:\n    f()\nfinally:\n    done = True\ndone\n", "done",
     "f", "", "", "", N, N, "", 0},
    {"with as binds", "with open(p) as fh:\n    data = fh.read()\nprint(data)\n", "fh data",
     "open p print", "fh", "", "", N, N, "", 0},
    {"with multiple items", "with a() as x, b(x) as y:\n    pass\n", "x y", "a b", "x", "", "",
     N, N, "", 0},
    {"match captures", "match p:\n    case Point(x=px, y=py):\n        r = px\n",
     "px py r", "p Point", "", "", "", N, N, "", 0},
    {"match value pattern reads", "match c:\n    case Color.RED:\n        hit = 1\n", "hit",
     "c Color", "", "", "", N, N, "", 0},
    {"match sequence and star", "match xs:\n    case [first, *others]:\n        pass\n",
     "first others", "xs", "", "", "", N, N, "", 0},
    {"match mapping rest", "match d:\n    case {'k': v, **rest}:\n        pass\n", "v rest", "d",
     "", "", "", N, N, "", 0},
    {"match irrefutable makes definite",
     "match v:\n    case 1:\n        r = 'a'\n    case _:\n        r = 'b'\nr\n", "r", "v", "", "",
     "", N, N, "", 0},
    {"match without default is not definite", "match v:\n    case 1:\n        r = 'a'\nr\n", "r",
     "v r", "", "", "", N, N, "", 0},
    {"match guard reads", "match v:\n    case [a] if a > lim:\n        pass\n", "a", "v lim", "",
     "", "", N, N, "", 0},
    {"match as pattern", "match v:\n    case [1, 2] as pair:\n        pass\n", "pair", "v", "",
     "", "", N, N, "", 0},
    {"conditional definition", "if fast:\n    def f(): return 1\nelse:\n    def f(): return 2\nf()\n",
     "f", "fast", "", "", "", "f: r= w=", N, "", 0},

    /* ---- functions ---- */
    {"def binds name", "def f(a, b=1):\n    return a + b\n", "f", "", "", "", "", "f: r= w=", N,
     "", 0},
    {"function body globals are uses", "def f():\n    return g(k)\n", "f", "g k", "",
     "", "", "f: r=g,k w=k", N, "", 0},
    {"recursion does not use itself", "def fact(n):\n    return n * fact(n - 1)\n", "fact", "",
     "", "", "", "fact: r=fact w=", N, "", 0},
    {"default evaluated at def", "def f(a=default):\n    return a\n", "f", "default", "", "", "",
     "f: r= w=", N, "", 0},
    {"annotations evaluated at def", "def f(a: T) -> R:\n    pass\n", "f", "T R", "", "", "",
     "f: r= w=", N, "", 0},
    {"decorator evaluated at def", "@cache\ndef f():\n    pass\n", "f", "cache", "", "", "",
     "f: r= w=", N, "", 0},
    {"global declaration writes", "def bump():\n    global count\n    count += 1\n", "bump",
     "count", "", "", "", "bump: r=count w=count", N, "", 0},
    {"global assignment only writes", "def reset():\n    global state\n    state = {}\n", "reset",
     "", "", "", "", "reset: r= w=state", N, "", 0},
    {"local shadows global", "def f():\n    x = 1\n    return x\n", "f", "", "", "", "",
     "f: r= w=", N, "", 0},
    {"local read before assignment is local", "def f():\n    print(x)\n    x = 1\n", "f", "print",
     "", "", "", "f: r=print w=", N, "", 0},
    {"nonlocal is not global",
     "def outer():\n    n = 0\n    def inner():\n        nonlocal n\n        n += 1\n    return inner\n",
     "outer", "", "", "", "", "outer: r= w=", N, "", 0},
    {"closure variable is not global",
     "def outer(k):\n    def inner():\n        return k * scale\n    return inner\n", "outer",
     "scale", "", "", "", "outer: r=scale w=", N, "", 0},
    {"mutation of global in function", "def add(v):\n    items.append(v)\n", "add", "items", "",
     "", "", "add: r=items w=items", N, "", 0},
    {"subscript store on global in function", "def put(k, v):\n    table[k] = v\n", "put",
     "table", "", "", "", "put: r=table w=table", N, "", 0},
    {"parameter mutation is local", "def f(xs):\n    xs.append(1)\n", "f", "", "", "", "",
     "f: r= w=", N, "", 0},
    {"function defined after its global is bound", "g = 1\ndef f():\n    return g\n", "g f", "",
     "", "", "", "f: r=g w=", N, "", 0},
    {"lambda body reads", "f = lambda a: a + off\n", "f", "off", "", "", "", N, N, "", 0},
    {"lambda default in enclosing scope", "f = lambda a=d: a\n", "f", "d", "", "", "", N, N, "",
     0},
    {"nested function star params", "def f(*args, **kw):\n    return g(*args, **kw)\n", "f", "g",
     "", "", "", "f: r=g w=", N, "", 0},
    {"keyword only params", "def f(a, *, b=c):\n    return a, b\n", "f", "c", "", "", "",
     "f: r= w=", N, "", 0},
    {"import inside function is local", "def f():\n    import os\n    return os.getcwd()\n", "f",
     "", "", "", "os", "f: r= w=", N, "", 0},
    {"two definitions merge", "def f():\n    return a\ndef f():\n    return b\n", "f", "a b", "",
     "", "", "f: r=a,b w=", N, "", 0},
    {"async function", "async def fetch(u):\n    return await get(u)\n", "fetch", "get", "", "",
     "", "fetch: r=get w=", N, "", 0},

    /* ---- classes ---- */
    {"class body runs at once", "class A(Base):\n    x = y\n", "A", "Base y", "", "", "", N,
     "A: r=y w=", "", 0},
    {"class body reads its own binding", "class A:\n    x = 1\n    y = x\n", "A", "", "", "", "",
     N, "A: r= w=", "", 0},
    {"methods do not see class scope", "class A:\n    x = 1\n    def m(self):\n        return x\n",
     "A", "x", "", "", "", N, "A: r=x w=", "", 0},
    {"method may name its class", "class Node:\n    def copy(self):\n        return Node()\n",
     "Node", "", "", "", "", N, "Node: r=Node w=", "", 0},
    {"class keyword arguments", "class A(Base, metaclass=Meta):\n    pass\n", "A", "Base Meta",
     "", "", "", N, "A: r= w=", "", 0},
    {"class decorator", "@dataclass\nclass P:\n    x: int = 0\n", "P", "dataclass int", "", "",
     "", N, "P: r=int w=", "", 0},
    {"method writes global", "class C:\n    def m(self):\n        global hits\n        hits = 1\n",
     "C", "", "", "", "", N, "C: r= w=hits", "", 0},
    {"comprehension in class body sees globals only",
     "class A:\n    k = 2\n    vals = [k * v for v in range(3)]\n", "A", "range k", "", "", "", N,
     N, "", 0},

    /* ---- comprehensions and lambdas ---- */
    {"comprehension variable is local", "ys = [v * 2 for v in xs]\n", "ys", "xs", "", "", "", N,
     N, "", 0},
    {"comprehension condition reads", "ys = [v for v in xs if v > lo]\n", "ys", "xs lo", "", "",
     "", N, N, "", 0},
    {"nested comprehension clauses", "ps = [(a, b) for a in A for b in B[a]]\n", "ps", "A B", "",
     "", "", N, N, "", 0},
    {"first iterable in enclosing scope", "v = [x for x in x]\n", "v", "x", "", "", "", N, N, "",
     0},
    {"dict comprehension", "d = {k: f(v) for k, v in items}\n", "d", "f items", "items", "", "", N,
     N, "", 0},
    {"generator argument", "s = sum(v for v in vals)\n", "s", "sum vals", "", "", "", N, N, "", 0},
    {"set comprehension", "s = {w.lower() for w in words}\n", "s", "words", "words", "", "", N, N,
     "", 0},
    {"comprehension does not leak", "ys = [i for i in r]\ni\n", "ys", "r i", "", "", "", N, N, "",
     0},

    /* ---- may-mutate ---- */
    {"method call receiver", "xs.append(1)\n", "", "xs", "xs", "", "", N, N, "", 0},
    {"inplace method", "df.dropna(inplace=True)\n", "", "df", "df", "", "", N, N, "", 0},
    {"chained attribute receiver", "a.b.c()\n", "", "a", "a", "", "", N, N, "", 0},
    {"subscript receiver", "df['x'].fillna(0, inplace=True)\n", "", "df", "df", "", "", N, N,
     "", 0},
    {"argument may be mutated", "shuffle(deck)\n", "", "shuffle deck", "deck", "", "", N, N, "",
     0},
    {"loop target changed in place changes the iterable's items",
     "for a in [u, v]:\n    a += 1\n", "a", "u v", "u v a", "", "", N, N, "", 0},
    {"loop over a method's result changes its receiver", "for a in d.values():\n    a[:] = 0\n",
     "a", "d", "d a", "", "", N, N, "", 0},
    {"zip and enumerate are not containers",
     "for i, (a, b) in enumerate(zip(us, vs)):\n    a.fill(i)\n", "i a b", "enumerate zip us vs",
     "us vs a i", "", "", N, N, "", 0},
    {"loop target only read leaves the iterable", "for a in xs:\n    print(a)\n", "a",
     "xs print", "", "", "", N, N, "", 0},
    {"loop target rebound leaves the iterable", "for k in ks:\n    k = k + 1\n", "k", "ks", "",
     "", "", N, N, "", 0},
    {"comprehension target changed in place", "[x.sort() for row in m for x in row]\n", "", "m",
     "m", "", "", N, N, "", 0},
    {"print does not mutate", "print(big)\n", "", "print big", "", "", "", N, N, "", 0},
    {"len and sorted do not mutate", "n = len(xs) + len(sorted(ys))\n", "n", "len xs sorted ys",
     "", "", "", N, N, "", 0},
    {"numpy reduction does not mutate", "m = np.mean(a) + numpy.sum(b)\n", "m", "np a numpy b",
     "", "", "", N, N, "", 0},
    {"pure method does not mutate", "c = df.copy()\nk = d.keys()\n", "c k", "df d", "", "", "",
     N, N, "", 0},
    {"numpy out= is written", "np.abs(a, out=b)\nnp.sum(c, axis=0, out=d)\n", "",
     "np a b c d", "b d", "", "", N, N, "", 0},
    {"numpy positional output is written", "np.sqrt(a, b)\nnp.hypot(c, d, e)\nnp.max(f, 0, g)\n",
     "", "np a b c d e f g", "b e g", "", "", N, N, "", 0},
    {"numpy submodules are known", "s = np.fft.rfft2(v)\nn = numpy.linalg.norm(m)\n", "s n",
     "np v numpy m", "", "", "", N, N, "", 0},
    {"star arguments may reach an output", "np.add(*xs)\nnp.mean(a, **kw)\nprint(*ys)\n", "",
     "np xs a kw print ys", "xs kw", "", "", N, N, "", 0},
    {"view methods leave the receiver", "i = u.ravel()[k]\nt = v.astype(float).round(2)\n",
     "i t", "u k v float", "float", "", "", N, N, "", 0},
    {"a read-only call's result may be part of what it read",
     "u.reshape(-1)[:5] = 0\nd.get('k').append(1)\nnp.ravel(v)[0] = 1\nsorted(xs)[0].x = 1\n", "",
     "u d np v sorted xs", "u d v xs", "", "", N, N, "", 0},
    {"other calls' results are new objects", "f(a)[0] = 1\nb.pop().append(2)\n", "", "f a b",
     "a b", "", "", N, N, "", 0},
    {"overwrite_input sorts the input in place",
     "np.median(a, overwrite_input=True)\nnp.percentile(b, 50, None, None, True)\n"
     "np.quantile(c, 0.5, **kw)\nm = np.median(d, 0)\n",
     "m", "np a b c kw d", "np a b c kw", "", "", N, N, "", 0},
    {"out= as a tuple, print's file=", "np.sqrt(a, out=(b,))\nprint(x, file=buf)\n", "",
     "np a b print x buf", "b buf", "", "", N, N, "", 0},
    {"literals, comprehensions and generators passed on hold what they read",
     "f([a, b])\ng({'k': c})\nh(r for r in rows)\nk([v * 2 for v in vs if t])\n", "",
     "f a b g c h rows k vs t", "a b c rows vs t", "", "", N, N, "", 0},
    {"concatenations hold their operands' elements; other operators give new values",
     "f(a + b)\n(c * 2)[0].append(1)\ng(*(d | e))\nh(p - q)\nk(-r)\ns = t + w\n"
     "m(x + 1, 2.5 * y, z * 1.0, 'a' + v)\n", "s",
     "f a b c d e g h p q k r t w m x y z v", "a b c d e", "", "", N, N, "", 0},
    {"what a chain may yield", "(a if c else b).append(1)\n(d or e).append(2)\n"
     "sorted(x for x in xs)[0].append(1)\nmax([p, q], key=len).append(0)\n",
     "", "a c b d e sorted xs max p q len", "a c b d e xs p q len", "", "", N, N, "", 0},
    {"a comprehension's first iterable is the cell's", "f([x for x in x])\n", "", "f x", "x",
     "", "", N, N, "", 0},
    {"type(o)[k] = v is no type alias", "type(p)[k] = v\n", "", "type p k v", "p", "", "", N, N,
     "", 0},
    {"calling what a subscript or call gave", "ops['k'](1)\ngetattr(acc, 'add')(2)\n", "",
     "ops getattr acc", "ops acc", "", "", N, N, "", 0},
    {"calling a loop target", "for fn in [a.add, b.add]:\n    fn(2)\n[f(1) for f in (c.append,)]\n",
     "fn", "a b c", "a b fn c", "", "", N, N, "", 0},
    {"what a lambda outside any def changes is the cell's; defaults it may change",
     "sorted(xs, key=lambda x: seen.append(x))\n(lambda: log.append(1))()\n"
     "f = lambda a=acc: a.append(1)\ng = lambda b=keep: b\n"
     "def h():\n    return lambda: inner.append(1)\n",
     "f g h", "sorted xs seen log acc keep inner", "seen log acc", "", "", N, N, "", 0},
    {"__globals__, f_globals and the shell's code runners flagged",
     "note.__globals__['g'].append(1)\nfr = sys._getframe().f_globals\n"
     "get_ipython().ex('x = 1')\nget_ipython().run_cell('y = 1')\n"
     "get_ipython().run_line_magic(m, '')\n",
     "fr", "note sys m", "note sys m", "", "", N, N, "1:1 2:6 3:1 4:1 5:1", 0},
    {"a lambda's literal defaults; a parameter named like a builtin is no builtin",
     "f = lambda acc=(a, b): acc[0].append(1)\n(lambda sum: sum(c, 0, None, d))(np.sum)\n",
     "f", "a b c d np", "a b c d np", "", "", N, N, "", 0},
    {"user_ns flagged", "get_ipython().user_ns['d']['k'] = 1\n", "", "", "", "", "", N,
     N, "1:1", 0},
    {"parenthesized callee", "(u.reshape)()[0] = 1\n", "", "u", "u", "", "", N, N, "", 0},
    {"unknown numpy function may mutate", "np.clip(p, 0, 1, out=p)\nnp.random.shuffle(q)\n", "",
     "np p q", "np p q", "", "", N, N, "", 0},
    {"keyword argument may be mutated", "fit(model, data=frame)\n", "", "fit model frame",
     "model frame", "", "", N, N, "", 0},
    {"star argument may be mutated", "f(*args, **opts)\n", "", "f args opts", "args opts", "",
     "", N, N, "", 0},
    {"attribute argument mutates root", "update(cfg.section)\n", "", "update cfg", "cfg", "", "",
     N, N, "", 0},
    {"call result receiver is not a name", "make().append(1)\n", "", "make", "", "", "", N, N,
     "", 0},
    {"literal arguments", "f(1, 'a', x + 1)\n", "", "f x", "", "", "", N, N, "", 0},
    {"mutation inside function body is not the cell's", "def f():\n    xs.append(1)\n", "f",
     "xs", "", "", "", "f: r=xs w=xs", N, "", 0},

    /* ---- deletes ---- */
    {"del name", "del x\n", "", "x", "", "x", "", N, N, "", 0},
    {"del unbinds", "x = 1\ndel x\nprint(x)\n", "x", "print x", "", "x", "", N, N, "", 0},
    {"del subscript mutates", "del d[k]\n", "", "d k", "d", "", "", N, N, "", 0},
    {"del several", "del a, b.c\n", "", "a b", "b", "a", "", N, N, "", 0},
    {"del in function with global", "def f():\n    global g\n    del g\n", "f", "g", "", "", "",
     "f: r=g w=g", N, "", 0},

    /* ---- imports ---- */
    {"import dotted", "import a.b.c\n", "a", "", "", "", "a.b.c", N, N, "", 0},
    {"import as", "import a.b.c as abc\n", "abc", "", "", "", "a.b.c", N, N, "", 0},
    {"from import", "from m import x, y as z\n", "x z", "", "", "", "m", N, N, "", 0},
    {"relative import", "from .pkg import mod\n", "mod", "", "", "", ".pkg", N, N, "", 0},
    {"future import", "from __future__ import annotations\n", "annotations", "", "", "",
     "__future__", N, N, "", 0},
    {"several imports", "import os, sys\n", "os sys", "", "", "", "os sys", N, N, "", 0},

    /* ---- flags ---- */
    {"exec flagged", "exec(code)\n", "", "exec code", "code", "", "", N, N, "1:1", 0},
    {"eval flagged", "y = eval(s)\n", "y", "eval s", "s", "", "", N, N, "1:5", 0},
    {"globals flagged", "g = globals()\n", "g", "globals", "", "", "", N, N, "1:5", 0},
    {"vars with argument not flagged", "v = vars(obj)\n", "v", "vars obj", "obj", "", "", N, N,
     "", 0},
    {"locals flagged", "l = locals()\n", "l", "locals", "", "", "", N, N, "1:5", 0},
    {"star import flagged", "from m import *\n", "", "", "", "", "m", N, N, "1:1", 0},
    {"dunder import flagged", "m = __import__(name)\n", "m", "__import__ name", "name", "", "", N,
     N, "1:5", 0},
    {"run magic flagged", "%run -i script.py\nx = 1\n", "x", "", "", "", "", N, N, "1:1", 0},
    {"translated run magic flagged", "get_ipython().run_line_magic('run', 's.py')\n", "", "", "",
     "", "", N, N, "1:1", 0},
    {"run magic in a time cell flagged", "%%time\ny = 2\n%run s.py\n", "y", "", "", "", "", N, N,
     "3:1", 0},
    {"other magics not flagged", "%matplotlib inline\n%autoreload 2\n", "", "", "", "", "", N, N,
     "", 0},
    {"importlib flagged", "import importlib\nm = importlib.import_module(n)\n", "importlib m",
     "n", "importlib n", "", "importlib", N, N, "1:8 2:5", 0},
    {"setattr on module flagged", "import sys\nsetattr(sys.modules[__name__], 'x', 1)\n", "sys",
     "setattr __name__", "sys", "", "sys", N, N, "2:1", 0},
    {"setattr on imported module flagged", "import cfg\nsetattr(cfg, 'debug', True)\n", "cfg",
     "setattr", "cfg", "", "cfg", N, N, "2:1", 0},
    {"setattr on object not flagged", "setattr(obj, 'a', 1)\n", "", "setattr obj", "obj", "", "",
     N, N, "", 0},
    {"exec inside function flagged", "def f():\n    exec(s)\n", "f", "exec s", "", "", "",
     "f: r=exec,s w=s", N, "2:5", 0},

    /* ---- IPython syntax ---- */
    {"line magic", "%matplotlib inline\nx = 1\n", "x", "", "", "", "", N, N, "", 0},
    {"%who and dir() read every name", "%who\nnames = dir()\nattrs = dir(obj)\nls = %who_ls\n",
     "names attrs ls", "dir obj", "obj", "", "", N, N, "1:1 2:9 4:6", 0},
    {"shell escape", "!ls -l\nx = 1\n", "x", "", "", "", "", N, N, "", 0},
    {"assigned shell output", "files = !ls *.csv\n", "files", "", "", "", "", N, N, "", 0},
    {"assigned magic output", "names = %who_ls\n", "names", "", "", "", "", N, N, "1:9", 0},
    {"expansions in shell commands and magics are reads",
     "!cp {src} $dst\nfiles = !ls {path}/*.csv\n%env A={val!r}\n%cd $dir.name.\n"
     "!echo {d['k']} {len(xs)} {a[1:2]}{b}$c\n",
     "files", "src dst path val dir d len xs a b c", "", "", "", N, N, "", 0},
    {"what IPython would not expand is no read",
     "!awk '{print $1}' f\n!find . -exec {} \\;\n!echo {x:>8} {{y}} $$z {a != b}\n"
     "!echo {f(v) for v in w}\n",
     "", "", "", "", "", N, N, "", 0},
    {"a command line that would not parse with its expansions costs nothing around it",
     "for f in fs:\n    !parallel echo {.} ::: {x}\n    d.append(1)\n"
     "if a:\n    !echo {**kw} {2x} {1..5} cfg{,.bak} {x+}\n    e.update(g)\nq = 2\n"
     "!mv $log $log.1 $na\xc3\xafve\n",
     "f q", "fs x d a e g log na\xc3\xafve", "d e g", "", "", N, N, "", 0},
    {"an expansion that passes the checks but does not parse: the cell without them",
     "for f in fs:\n    !echo {\xc3\x97} {z}\n    d.append(1)\n", "f", "fs d", "d", "", "",
     N, N, "", 0},
    {"a cell magic's line is expanded, its other body is not Python",
     "%%writefile {fname}\nprint({q})\n", "", "fname", "", "", "", N, N, "", 0},
    {"help request", "obj?\nnp.mean??\n?thing\n", "", "", "", "", "", N, N, "", 0},
    {"time magic runs its statement", "%time r = f(x)\n", "r", "f x", "x", "", "", N, N, "", 0},
    {"timeit options skipped", "%timeit -n 10 -r 3 g(y)\n", "", "g y", "y", "", "", N, N, "", 0},
    {"time cell magic is python", "%%time\nz = work(a)\n", "z", "work a", "a", "", "", N, N, "",
     0},
    {"capture cell magic binds", "%%capture out\nprint(v)\n", "out", "print v", "", "", "", N, N,
     "", 0},
    {"other cell magic body is not python", "%%bash\necho $x; y=1\n", "", "", "", "", "", N, N,
     "", 0},
    {"magic inside block", "if debug:\n    %load_ext autoreload\n    level = 2\n", "level",
     "debug", "", "", "", N, N, "2:5", 0},
    {"time magic inside block keeps indentation", "for i in r:\n    %time f(i)\n    g(i)\n", "i",
     "r f g", "r i", "", "", N, N, "", 0},
    {"percent inside string is not magic", "s = '''\n%not a magic\n'''\n", "s", "", "", "", "",
     N, N, "", 0},
    {"percent operator continues a line", "v = (a\n%b)\n", "v", "a b", "", "", "", N, N, "", 0},
    {"translated line magic", "get_ipython().run_line_magic('matplotlib', 'inline')\n", "", "",
     "", "", "", N, N, "", 0},
    {"translated time magic", "get_ipython().run_line_magic('time', 'r = f(x)')\n", "r", "f x",
     "x", "", "", N, N, "", 0},
    {"translated cell magic", "get_ipython().run_cell_magic('time', '', 'z = work(a)\\n')\n", "z",
     "work a", "a", "", "", N, N, "", 0},
    {"translated getoutput", "files = get_ipython().getoutput('ls')\n", "files", "", "", "", "",
     N, N, "", 0},


    /* ---- found by the differential test against CPython ---- */
    {"try finally keeps body bindings", "try:\n    x = 1\nfinally:\n    pass\nprint(x)\n", "x",
     "print", "", "", "", N, N, "", 0},
    {"finally deletion is not definite", "x = 0\ntry:\n    pass\nfinally:\n    del x\nx\n", "x", "x",
     "", "x", "", N, N, "", 0},
    {"lambda with bare name body", "f(lambda: z)\n", "", "f z", "", "", "", N, N, "", 0},
    {"type call as target object changes the class", "type(m).x = 1\n", "", "type m", "m", "",
     "", N, N, "", 0},
    {"type subscript target", "type[0] = 1\n", "", "type", "type", "", "", N, N, "", 0},
    {"real type alias", "type Alias = int\n", "Alias", "int", "", "", "", N, N, "", 0},
    {"except as unbinds an earlier binding",
     "e = 1\ntry:\n    pass\nexcept E as e:\n    pass\nprint(e)\n", "e", "E print e", "", "", "",
     N, N, "", 0},
    {"with conditional as target", "with a if b else d as c:\n    c\n", "c", "a b d", "", "", "", N,
     N, "", 0},
    {"walrus in nested default is local to the function",
     "def f():\n    def g(d=(x := 1)):\n        return x\n", "f", "", "", "", "", "f: r= w=", N, "",
     0},
    {"class body name bound later reads the global",
     "def f():\n    x = 1\n    class A:\n        y = x\n        x = 2\n", "f", "x", "", "", "",
     "f: r=x w=", N, "", 0},
    {"nested class is not visible to its methods",
     "class A:\n    class B:\n        def m(self):\n            return B\n", "A", "B", "", "", "", N,
     N, "", 0},
    {"del before break reaches the loop exit",
     "z = 0\nfor a in r:\n    if a:\n        del z\n        break\nprint(z)\n", "z a", "r print z",
     "", "z", "", N, N, "", 0},
    {"del before continue reaches the loop exit", "z = 0\nwhile c:\n    del z\n    continue\nz\n",
     "z", "c z", "", "z", "", N, N, "", 0},
    {"loop else binding is definite without break", "for i in r:\n    pass\nelse:\n    z = 1\nz\n",
     "i z", "r", "", "", "", N, N, "", 0},
    {"binding before break is definite", "for i in r:\n    x = 1\n    break\nelse:\n    x = 2\nx\n",
     "i x", "r", "", "", "", N, N, "", 0},
    {"chained comparison tail may not run", "a < (b := 1) < (c := 2)\nprint(b, c)\n", "b c",
     "a print c", "", "", "", N, N, "", 0},
    {"assert message may not run", "assert x, (m := 1)\nprint(m)\n", "m", "x print m", "", "", "", N,
     N, "", 0},
    {"boolean chain binds for later operands", "x and (y := 1) and y\n", "y", "x", "", "", "", N, N,
     "", 0},
    {"conditional keeps what both branches bind", "v = (b := 1) if c else (b := 2)\nb\n", "v b", "c",
     "", "", "", N, N, "", 0},
    {"comprehension reads its own walrus", "ys = [y for x in xs if (y := x)]\n", "ys y", "xs", "", "",
     "", N, N, "", 0},
    {"annotated attribute without value reads object", "a.b: int\n", "", "a int", "", "", "", N, N,
     "", 0},
    {"dunder class in method is a cell", "class A:\n    def m(self):\n        return __class__\n", "A",
     "", "", "", "", N, "A: r= w=", "", 0},
    {"del in class body reads no global", "class A:\n    for t in r:\n        pass\n    del t\n", "A",
     "r", "", "", "", N, N, "", 0},
    {"private names are mangled", "class A:\n    def m(self):\n        return __g\n", "A", "_A__g", "",
     "", "", N, "A: r=_A__g w=", "", 0},
    {"class namespace has module and qualname", "class A:\n    m = __module__ + __qualname__\n", "A",
     "", "", "", "", N, N, "", 0},
    {"global in top-level class body binds the cell's global",
     "class A:\n    global g\n    g = 1\nprint(g)\n", "A g", "print", "", "", "", N, "A: r= w=g", "",
     0},

    /* ---- syntax errors and odd input ---- */
    {"empty cell", "", "", "", "", "", "", "", "", "", 0},
    {"only comments", "# nothing here\n", "", "", "", "", "", "", "", "", 0},
    {"unclosed paren still reports", "y = f(x\nz = 2\n", N, N, N, N, N, N, N, N, 1},
    {"bad indentation", "x = 1\n    y = 2\n", N, N, N, N, N, N, N, N, 1},
    {"partial result before error", "a = b\nif :\n", "a", "b", N, N, N, N, N, N, 1},
    {"python 2 print", "print 'hello'\n", N, N, N, N, N, N, N, N, -1},
    {"unicode identifiers", "π = 3.14\nrésumé = π * r\n", "π résumé", "r", "", "", "", N, N, "",
     0},
    {"crlf line endings", "x = 1\r\ny = x\r\n", "x y", "", "", "", "", N, N, "", 0},
    {"no trailing newline", "x = y", "x", "y", "", "", "", N, N, "", 0},
    {"f-string reads", "s = f'{name!r:>{width}}'\n", "s", "name width", "", "", "", N, N, "", 0},
    {"assert reads", "assert ok, msg\n", "", "ok msg", "", "", "", N, N, "", 0},
    {"global at top level", "global x\nx = 1\n", "x", "", "", "", "", N, N, "", 0},
};

static void python_cases(void)
{
    CHECK(run_analysis_cases(NBR_LANG_PYTHON, cases, sizeof cases / sizeof cases[0]) == 0);
}

static char *analyse_to_json(const char *source)
{
    nbr_analysis *a = NULL;
    char *json = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, source, strlen(source)));
    CHECK_OK(nbr_analysis_to_json(&json, a));
    nbr_analysis_free(a);
    return json;
}

/* A raw cell and IPython's translation of it give the same analysis. */
static void raw_and_translated_cells_agree(void)
{
    static const char *const pairs[][2] = {
        {"%time y = f(x)\n", "get_ipython().run_line_magic('time', 'y = f(x)')\n"},
        {"%%time\ny = f(x)\n", "get_ipython().run_cell_magic('time', '', 'y = f(x)\\n')\n"},
        {"%%capture cap\nprint(q)\n",
         "get_ipython().run_cell_magic('capture', 'cap', 'print(q)\\n')\n"},
        {"files = !ls\n", "files = get_ipython().getoutput('ls')\n"},
        {"x = %who_ls\n", "x = get_ipython().run_line_magic('who_ls', '')\n"},
        {"!pip list\n", "get_ipython().system('pip list')\n"},
        {"obj?\n", "get_ipython().run_line_magic('pinfo', 'obj')\n"},
        {"%timeit -n 3 g(v)\n", "get_ipython().run_line_magic('timeit', '-n 3 g(v)')\n"},
        {"%who\n", "get_ipython().run_line_magic('who', '')\n"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        char *raw = analyse_to_json(pairs[i][0]);
        char *translated = analyse_to_json(pairs[i][1]);
        CHECK(raw && translated);
        if (raw && translated && strcmp(raw, translated)) {
            fprintf(stderr, "raw:        %s\ntranslated: %s\n", raw, translated);
            CHECK(!"raw and translated analyses differ");
        }
        nbr_free(raw);
        nbr_free(translated);
    }
}

static void invalid_utf8_is_rejected(void)
{
    nbr_analysis *a = (nbr_analysis *)1;
    CHECK_STATUS(NBR_EENCODING, nbr_analysis_new(&a, NBR_LANG_PYTHON, "x = '\xff'\n", 8));
    CHECK(a == NULL);
    CHECK(strstr(nbr_last_error(), "byte 5") != NULL);
}

static void nul_byte_is_rejected(void)
{
    nbr_analysis *a = NULL;
    CHECK_STATUS(NBR_EENCODING, nbr_analysis_new(&a, NBR_LANG_PYTHON, "x = 1\0y", 7));
    CHECK(strstr(nbr_last_error(), "NUL") != NULL);
}

static void syntax_error_has_position(void)
{
    nbr_analysis *a = NULL;
    const char *src = "x = 1\ny = (2,\n";
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, src, strlen(src)));
    CHECK(nbr_analysis_diagnostic_count(a, NBR_DIAG_ERROR) >= 1);
    const char *message = NULL;
    uint32_t line = 0, column = 0;
    CHECK_OK(nbr_analysis_diagnostic(&message, &line, &column, a, NBR_DIAG_ERROR, 0));
    CHECK(message && strstr(message, "syntax error") != NULL);
    CHECK(line >= 2);
    CHECK(nbr_analysis_has_name(a, NBR_NAMES_DEFS, "x"));
    nbr_analysis_free(a);
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * times + t + 1);
    for (size_t i = 0; i < times; i++) memcpy(s + i * u, unit, u);
    memcpy(s + u * times, tail, t + 1);
    return s;
}

/* Adversarial nesting must end in an error, not a stack overflow. */
static void deep_nesting_does_not_crash(void)
{
    static const char *const units[] = {"(", "[", "f(", "-", "not ", "lambda: "};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *src = repeat(units[i], 100000, "x\n");
        nbr_analysis *a = NULL;
        CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, src, strlen(src)));
        nbr_analysis_free(a);
        free(src);
    }
}

/* Nested read-only calls whose outputs are calls make following what they
 * change quadratic: past a budget the cell is flagged (the audit then
 * examines every name) instead of taking minutes. */
static void nested_output_calls_are_flagged_not_slow(void)
{
    char *level = repeat("a, ", 200, ""), *unit = malloc(strlen(level) + 16);
    snprintf(unit, strlen(level) + 16, "np.add(b, c, %s", level);
    char *opening = repeat(unit, 300, "a"), *closing = repeat(")", 300, "\n");
    char *src = malloc(strlen(opening) + strlen(closing) + 5);
    snprintf(src, strlen(opening) + strlen(closing) + 5, "x = %s%s", opening, closing);
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, src, strlen(src)));
    const char *message = NULL;
    uint32_t line = 0, column = 0;
    CHECK(nbr_analysis_diagnostic_count(a, NBR_DIAG_FLAG) == 1);
    CHECK_OK(nbr_analysis_diagnostic(&message, &line, &column, a, NBR_DIAG_FLAG, 0));
    CHECK(message && strstr(message, "too many nested calls") != NULL);
    nbr_analysis_free(a);
    free(src);
    free(closing);
    free(opening);
    free(unit);
    free(level);
}

static void many_statements(void)
{
    char *src = repeat("a = b + 1\nb = a\n", 20000, "");
    nbr_analysis *a = NULL;
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, src, strlen(src)));
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_USES) == 1);
    CHECK_STR("b", nbr_analysis_name(a, NBR_NAMES_USES, 0));
    nbr_analysis_free(a);
    free(src);
}

static void aliases_are_recorded(void)
{
    nbr_analysis *a = NULL;
    const char *src = "b = a\nc = b.copy()\n";
    CHECK_OK(nbr_analysis_new(&a, NBR_LANG_PYTHON, src, strlen(src)));
    CHECK(nbr_analysis_name_count(a, NBR_NAMES_DEFS) == 2);
    nbr_analysis_free(a);
}

NBR_TEST_MAIN(TEST(python_cases), TEST(raw_and_translated_cells_agree),
              TEST(invalid_utf8_is_rejected), TEST(nul_byte_is_rejected),
              TEST(syntax_error_has_position), TEST(deep_nesting_does_not_crash),
              TEST(nested_output_calls_are_flagged_not_slow), TEST(many_statements),
              TEST(aliases_are_recorded))
