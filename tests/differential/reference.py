"""Reference analysis of one Python cell: its `defs` and `uses`.

This is the oracle of the differential test (run_differential.py): a small,
independent implementation of docs/analysis.md on top of CPython's own `ast`
(for evaluation order) and `symtable` (for the scoping of function, lambda,
comprehension and class bodies).  It does not look at the C analyzer.

    defs(source), uses(source) = analyze(source)

Model, following docs/analysis.md:

* The cell is walked in Python's evaluation order, keeping the set of names
  that are *definitely bound* at each point.  A state is a frozenset of names,
  or ALL ("everything bound") after raise/return/break/continue, which never
  weakens an intersection (code after it is unreachable: its reads are no
  uses, its bindings are still defs).
* A read of a global while it is not definitely bound is a use.  Builtins are
  reported like any name; `get_ipython` never is.
* Code that runs later (function and lambda bodies) is not walked for flow:
  every global its body (or anything nested in it) may read is collected, and
  counted as a use if it is not definitely bound when that code is created.
* A class body runs at once like a small cell with its own definite state
  (starting with __module__, __qualname__ and, with a docstring, __doc__); a
  name it reads that its own namespace does not (yet) definitely hold is read
  from the globals (LOAD_NAME), judged in the cell's state at the class
  statement.  This holds for classes nested in functions too.
* Comprehensions run at once: the first iterable in the enclosing scope, the
  rest in the comprehension's scope; walrus targets never stay definite after.

Where docs/analysis.md leaves a choice, the reference takes what CPython does
at run time:

* "at the def": a `def f` is checked once it has bound `f` (recursion does not
  make `f` an input); functions and lambdas created in a top-level class body
  are checked once the class name is bound (a method returning `A()` does not
  make `A` an input).  Other lambdas are checked where they are created.
* Sequences inside an expression are sequential: in `a and (b := 1) and b`,
  `(b := x) + b` inside a conditional branch, or `[y for x in xs if (y := x)]`
  the later read of the walrus target is no use; only what is definite after
  the whole expression is restricted (right operands of and/or, the branches
  of `x if c else y` (their intersection), comparisons after the first in a
  chain, the message of `assert`, comprehension bodies).
* Loops: the body and else start from the state before the loop; after the
  loop (and for its else) a name is definite if it was before and is still at
  the end of the body and at every `continue`; an else clause's bindings are
  definite unless a `break` may skip it; what the body bound is never.
* `del x` needs the binding of its own namespace: at the cell level that is a
  use, in a class body (DELETE_NAME on the class namespace) it reads no global.
* `global g` then `g = ...` in a top-level class body binds the cell's `g` for
  the rest of the cell (not reported in defs, which stay top-level).
* Private names are mangled inside classes (`__x` in class A is `_A__x`).
* `from __future__ import annotations` binds `annotations`, as it does at run
  time.
"""

from __future__ import annotations

import ast
import symtable

from _symtable import FREE, GLOBAL_EXPLICIT, GLOBAL_IMPLICIT, SCOPE_MASK, SCOPE_OFF

__all__ = ["analyze", "ALL"]


class _All:
    """The state after a path ended (raise/return/break/continue)."""

    def __repr__(self):
        return "ALL"


ALL = _All()


def _bound(state, name):
    return state is ALL or name in state


def _add(state, name):
    return state if state is ALL else state | {name}


def _remove(state, name):
    return state if state is ALL else state - {name}


def _meet(a, b):
    if a is ALL:
        return b
    if b is ALL:
        return a
    return a & b


class _Box:
    """A mutable holder for a state, shared between frames."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


_COMP_NAMES = {
    ast.ListComp: "listcomp",
    ast.SetComp: "setcomp",
    ast.DictComp: "dictcomp",
    ast.GeneratorExp: "genexpr",
}
_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _scope_key(node):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (node.name, node.lineno)
    if isinstance(node, ast.Lambda):
        return ("lambda", node.lineno)
    return (_COMP_NAMES[type(node)], node.lineno)


def _arg_annotations(args):
    out = []
    for a in args.posonlyargs + args.args:
        if a.annotation is not None:
            out.append(a.annotation)
    if args.vararg is not None and args.vararg.annotation is not None:
        out.append(args.vararg.annotation)
    for a in args.kwonlyargs:
        if a.annotation is not None:
            out.append(a.annotation)
    if args.kwarg is not None and args.kwarg.annotation is not None:
        out.append(args.kwarg.annotation)
    return out


def _outer_parts(node):
    """The parts of a scope-creating node that are evaluated in the enclosing
    scope, in the order symtable visits them (which is what matters here)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = node.args
        parts = list(a.defaults) + [d for d in a.kw_defaults if d is not None]
        parts += [x.annotation for x in a.posonlyargs + a.args if x.annotation]
        parts += [x.annotation for x in (a.vararg, a.kwarg) if x and x.annotation]
        parts += [x.annotation for x in a.kwonlyargs if x.annotation]
        if node.returns is not None:
            parts.append(node.returns)
        return parts + list(node.decorator_list)
    if isinstance(node, ast.ClassDef):
        return list(node.bases) + [k.value for k in node.keywords] + list(node.decorator_list)
    if isinstance(node, ast.Lambda):
        return list(node.args.defaults) + [d for d in node.args.kw_defaults if d is not None]
    return [node.generators[0].iter]


def _inner_parts(node):
    """The parts of a scope-creating node (or a Module) that belong to its own scope."""
    if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return list(node.body)
    if isinstance(node, ast.Lambda):
        return [node.body]
    first = node.generators[0]
    parts = [first.target] + list(first.ifs)
    for gen in node.generators[1:]:
        parts += [gen.iter, gen.target] + list(gen.ifs)
    if isinstance(node, ast.DictComp):
        parts += [node.value, node.key]   # symtable's order
    else:
        parts.append(node.elt)
    return parts


def _child_tables(node, table):
    """Map id(scope node) -> symtable for the scopes directly nested in `node`."""
    found = []

    def visit(n):
        if isinstance(n, _SCOPE_NODES):
            # symtable enters a scope after visiting what its node evaluates
            # outside (defaults, decorators, first iterable, ...).
            for p in _outer_parts(n):
                visit(p)
            found.append(n)
            return
        for c in ast.iter_child_nodes(n):
            visit(c)

    for p in _inner_parts(node):
        visit(p)
    by_key = {}
    for child in table.get_children():
        by_key.setdefault((child.get_name(), child.get_lineno()), []).append(child)
    # Scopes are matched by (name, line); only the relative order of scopes
    # with the same key (two lambdas on one line, ...) matters, and `found`
    # follows symtable's visiting order.
    result = {}
    used = {}
    for n in found:
        key = _scope_key(n)
        lst = by_key.get(key)
        i = used.get(key, 0)
        if lst is None or i >= len(lst):
            raise RuntimeError("reference: no symbol table for %r at line %d" % key)
        used[key] = i + 1
        result[id(n)] = lst[i]
    return result


class _Frame:
    """One scope being walked."""

    __slots__ = ("kind", "node", "table", "sbox", "gbox", "children", "loops",
                 "private")

    def __init__(self, kind, node, table, sbox, gbox, private=None):
        self.kind = kind          # "module" | "class" | "function" | "comprehension"
        self.node = node
        self.table = table
        self.sbox = sbox          # the scope's own definite state (module, class)
        self.gbox = gbox          # the state global reads are judged in
        self.children = None      # id(node) -> symtable, computed on demand
        self.loops = []           # per enclosing loop: [saw_break]
        self.private = private    # the enclosing class's name, for mangling

    def child_table(self, node):
        if self.children is None:
            self.children = _child_tables(self.node, self.table)
        return self.children[id(node)]


class _Walker:
    def __init__(self, tree, table):
        self.defs = set()
        self.uses = set()
        self.collect = None       # set of deferred global reads, or None (live)
        self.class_defer = None   # deferred reads of a top-level class body
        self.mute = 0             # >0: do not record uses (second walk of finally)
        box = _Box(frozenset())
        self.frame = _Frame("module", tree, table, box, box)

    # ---------------------------------------------------------------- names

    @property
    def state(self):
        return self.frame.sbox.value

    @state.setter
    def state(self, value):
        self.frame.sbox.value = value

    def _global_read(self, name):
        if self.collect is not None:
            self.collect.add(name)
        elif not self.mute and not _bound(self.frame.gbox.value, name):
            self.uses.add(name)

    def load(self, name):
        f = self.frame
        name = _mangle(f.private, name)
        if f.kind == "module":
            self._global_read(name)
            return
        scope = _scope(f.table, name)
        if f.kind == "class":
            # LOAD_NAME / LOAD_CLASSDEREF: the class namespace first.
            if scope == GLOBAL_EXPLICIT:
                self._global_read(name)
            elif _bound(f.sbox.value, name):
                return
            elif scope == FREE:
                return            # a variable of an enclosing function
            else:
                self._global_read(name)
            return
        if scope in (GLOBAL_IMPLICIT, GLOBAL_EXPLICIT):
            self._global_read(name)

    def store(self, name):
        f = self.frame
        name = _mangle(f.private, name)
        if f.kind == "module":
            self.defs.add(name)
            f.sbox.value = _add(f.sbox.value, name)
        elif f.kind == "class":
            if _scope(f.table, name) != GLOBAL_EXPLICIT:
                f.sbox.value = _add(f.sbox.value, name)
            elif self.collect is None:
                # `global g` then `g = ...` in a class body at the cell's
                # level binds the cell's g (not reported in defs: the spec
                # keeps defs to the top level).
                f.gbox.value = _add(f.gbox.value, name)
        elif f.kind == "comprehension":
            # A walrus target of a comprehension that is global here binds
            # in the cell when the comprehension is not inside a function.
            if self.collect is None and _scope(f.table, name) in (GLOBAL_IMPLICIT,
                                                                  GLOBAL_EXPLICIT):
                self.defs.add(name)
                f.gbox.value = _add(f.gbox.value, name)

    def unbind(self, name):
        f = self.frame
        name = _mangle(f.private, name)
        if f.kind == "class" and _scope(f.table, name) == GLOBAL_EXPLICIT:
            if self.collect is None:
                f.gbox.value = _remove(f.gbox.value, name)
        elif f.kind in ("module", "class"):
            f.sbox.value = _remove(f.sbox.value, name)

    # ---------------------------------------------------------- statements

    def body(self, stmts):
        for s in stmts:
            self.stmt(s)

    def stmt(self, s):
        getattr(self, "s_" + type(s).__name__)(s)

    def s_Expr(self, s):
        self.expr(s.value)

    def s_Pass(self, s):
        pass

    def s_Global(self, s):
        pass

    s_Nonlocal = s_Global

    def s_Assign(self, s):
        self.expr(s.value)
        for t in s.targets:
            self.target(t)

    def s_AugAssign(self, s):
        t = s.target
        if isinstance(t, ast.Name):
            self.load(t.id)
            self.expr(s.value)
            self.store(t.id)
        elif isinstance(t, ast.Attribute):
            self.expr(t.value)
            self.expr(s.value)
        else:
            self.expr(t.value)
            self.expr(t.slice)
            self.expr(s.value)

    def s_AnnAssign(self, s):
        if s.value is not None:
            self.expr(s.value)
            self.target(s.target)
        elif not isinstance(s.target, ast.Name):
            # `a.b: T` / `a[i]: T` evaluate the target's object (and index).
            t = s.target
            self.expr(t.value)
            if isinstance(t, ast.Subscript):
                self.expr(t.slice)
        self.expr(s.annotation)   # annotations always count as reads

    def s_Delete(self, s):
        for t in s.targets:
            self.del_target(t)

    def del_target(self, t):
        if isinstance(t, ast.Name):
            f = self.frame
            # `del x` needs the binding: at the cell level the global one.  In
            # a class body it is DELETE_NAME on the class namespace, which
            # never falls back to the globals (unless x is declared global).
            if f.kind != "class" or _scope(f.table, _mangle(f.private, t.id)) == GLOBAL_EXPLICIT:
                self.load(t.id)
            self.unbind(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.del_target(e)
        elif isinstance(t, ast.Attribute):
            self.expr(t.value)
        elif isinstance(t, ast.Subscript):
            self.expr(t.value)
            self.expr(t.slice)
        else:
            self.expr(t)

    def s_Import(self, s):
        for a in s.names:
            self.store(a.asname or a.name.split(".")[0])

    def s_ImportFrom(self, s):
        for a in s.names:
            if a.name != "*":
                self.store(a.asname or a.name)

    def s_Return(self, s):
        if s.value is not None:
            self.expr(s.value)
        self.state = ALL

    def s_Raise(self, s):
        if s.exc is not None:
            self.expr(s.exc)
        if s.cause is not None:
            self.expr(s.cause)
        self.state = ALL

    def s_Break(self, s):
        if self.frame.loops:
            self.frame.loops[-1][0].append(self.state)
        self.state = ALL

    def s_Continue(self, s):
        if self.frame.loops:
            self.frame.loops[-1][1].append(self.state)
        self.state = ALL

    def s_Assert(self, s):
        self.expr(s.test)
        if s.msg is not None:
            before = self.state
            self.expr(s.msg)      # only when the test fails, then it raises
            self.state = before

    def s_If(self, s):
        self.expr(s.test)
        start = self.state
        self.body(s.body)
        end_body = self.state
        self.state = start
        self.body(s.orelse)
        self.state = _meet(end_body, self.state)

    def _loop(self, s, start, bind_target):
        self.frame.loops.append(([], []))   # states at break, at continue
        self.state = start
        if bind_target is not None:
            self.target(bind_target)
        self.body(s.body)
        breaks, continues = self.frame.loops.pop()
        # The loop ends normally after zero or more runs of the body: what
        # was bound before and is still bound at the end of every run (a
        # `del` in the body counts; a binding in the body does not).
        exit_state = _meet(start, self.state)
        for st in continues:
            exit_state = _meet(exit_state, st)
        self.state = exit_state
        self.body(s.orelse)
        # A break skips the else clause; on that path the body ran up to the
        # break, so what it bound there is bound.
        after = self.state
        for st in breaks:
            after = _meet(after, st)
        self.state = after

    def s_For(self, s):
        self.expr(s.iter)
        self._loop(s, self.state, s.target)

    s_AsyncFor = s_For

    def s_While(self, s):
        self.expr(s.test)
        self._loop(s, self.state, None)

    def s_With(self, s):
        for item in s.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.body(s.body)

    s_AsyncWith = s_With

    def s_Try(self, s):
        before = self.state
        self.body(s.body)
        self.body(s.orelse)
        after = self.state
        for h in s.handlers:
            self.state = before
            if h.type is not None:
                self.expr(h.type)
            if h.name is not None:
                self.store(h.name)
            self.body(h.body)
            if h.name is not None:
                self.unbind(h.name)   # `except E as e` deletes e at its end
            after = _meet(after, self.state)
        if s.finalbody:
            # Reads: from the state before the try (an exception may come
            # from anywhere).  State afterwards: the finally clause run from
            # the normal end of the statement.
            self.state = before
            self.body(s.finalbody)
            self.mute += 1
            saved_collect = self.collect
            self.collect = set()      # deferred reads were recorded above
            self.state = after
            self.body(s.finalbody)
            after = self.state
            self.collect = saved_collect
            self.mute -= 1
        self.state = after

    s_TryStar = s_Try

    def s_Match(self, s):
        self.expr(s.subject)
        start = self.state
        after = None
        exhaustive = False
        for case in s.cases:
            self.state = start
            captures = []
            self.pattern(case.pattern, captures)
            for name in captures:
                self.store(name)
            if case.guard is not None:
                self.expr(case.guard)
            self.body(case.body)
            after = self.state if after is None else _meet(after, self.state)
            if case.guard is None and _irrefutable(case.pattern):
                exhaustive = True
        if not exhaustive:
            after = start if after is None else _meet(after, start)
        self.state = after

    def pattern(self, p, captures):
        """Walk a pattern's reads; collect its capture names (bound after it)."""
        if isinstance(p, ast.MatchValue):
            self.expr(p.value)
        elif isinstance(p, ast.MatchSingleton):
            pass
        elif isinstance(p, ast.MatchSequence):
            for q in p.patterns:
                self.pattern(q, captures)
        elif isinstance(p, ast.MatchMapping):
            for k, q in zip(p.keys, p.patterns):
                self.expr(k)
                self.pattern(q, captures)
            if p.rest is not None:
                captures.append(p.rest)
        elif isinstance(p, ast.MatchClass):
            self.expr(p.cls)
            for q in p.patterns:
                self.pattern(q, captures)
            for q in p.kwd_patterns:
                self.pattern(q, captures)
        elif isinstance(p, ast.MatchStar):
            if p.name is not None:
                captures.append(p.name)
        elif isinstance(p, ast.MatchAs):
            if p.pattern is not None:
                self.pattern(p.pattern, captures)
            if p.name is not None:
                captures.append(p.name)
        elif isinstance(p, ast.MatchOr):
            for q in p.patterns:
                self.pattern(q, captures)
        else:  # pragma: no cover
            raise RuntimeError("reference: unknown pattern %r" % p)

    # ------------------------------------------------ functions and classes

    def _decorators_and_signature(self, s):
        for d in s.decorator_list:
            self.expr(d)
        for d in s.args.defaults:
            self.expr(d)
        for d in s.args.kw_defaults:
            if d is not None:
                self.expr(d)
        for a in _arg_annotations(s.args):
            self.expr(a)
        if s.returns is not None:
            self.expr(s.returns)

    def _function_body(self, node, stmts):
        """Walk a function or lambda body, collecting its global reads.

        Returns the collected set when the caller must check it (code created
        at the cell level), else None (the reads went to an outer collector).
        """
        table = self.frame.child_table(node)
        saved_frame, saved_collect = self.frame, self.collect
        mine = None
        if self.collect is None:
            if self.class_defer is not None:
                self.collect = self.class_defer
            else:
                mine = self.collect = set()
        self.frame = _Frame("function", node, table, _Box(frozenset()), saved_frame.gbox,
                            saved_frame.private)
        if isinstance(stmts, list):
            self.body(stmts)
        else:
            self.expr(stmts)
        self.frame, self.collect = saved_frame, saved_collect
        return mine

    def _check_deferred(self, reads):
        if reads and not self.mute:
            state = self.frame.gbox.value
            for name in reads:
                if not _bound(state, name):
                    self.uses.add(name)

    def s_FunctionDef(self, s):
        self._decorators_and_signature(s)
        self.store(s.name)
        reads = self._function_body(s, s.body)
        # Checked once the def has bound its name: the body runs later.
        self._check_deferred(reads)

    s_AsyncFunctionDef = s_FunctionDef

    def s_ClassDef(self, s):
        for d in s.decorator_list:
            self.expr(d)
        for b in s.bases:
            self.expr(b)
        for k in s.keywords:
            self.expr(k.value)
        table = self.frame.child_table(s)
        saved_frame, saved_defer = self.frame, self.class_defer
        mine = None
        if self.collect is None and self.class_defer is None:
            mine = self.class_defer = set()
        start = {"__module__", "__qualname__"}
        if (s.body and isinstance(s.body[0], ast.Expr)
                and isinstance(s.body[0].value, ast.Constant)
                and isinstance(s.body[0].value.value, str)):
            start.add("__doc__")
        self.frame = _Frame("class", s, table, _Box(frozenset(start)), saved_frame.gbox,
                            s.name)
        self.body(s.body)
        self.frame, self.class_defer = saved_frame, saved_defer
        self.store(s.name)
        # Methods (and lambdas) of a class run once the class exists.
        self._check_deferred(mine)

    # --------------------------------------------------------- expressions

    def target(self, t):
        if isinstance(t, ast.Name):
            self.store(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                self.target(e)
        elif isinstance(t, ast.Starred):
            self.target(t.value)
        elif isinstance(t, ast.Attribute):
            self.expr(t.value)
        elif isinstance(t, ast.Subscript):
            self.expr(t.value)
            self.expr(t.slice)
        else:  # pragma: no cover
            raise RuntimeError("reference: unknown target %r" % t)

    def expr(self, e):
        m = getattr(self, "e_" + type(e).__name__, None)
        if m is not None:
            m(e)
        else:
            for c in ast.iter_child_nodes(e):
                self.expr(c)

    def e_Name(self, e):
        if isinstance(e.ctx, ast.Load):
            self.load(e.id)
        elif isinstance(e.ctx, ast.Store):
            self.store(e.id)
        else:
            self.del_target(e)

    def e_Constant(self, e):
        pass

    def e_NamedExpr(self, e):
        self.expr(e.value)
        self.store(e.target.id)

    def _conditional(self, exprs):
        """Evaluate exprs in sequence on a path that may not be taken."""
        box = self.frame.gbox if self.frame.kind == "comprehension" else self.frame.sbox
        before = box.value
        for x in exprs:
            self.expr(x)
        box.value = before

    def e_BoolOp(self, e):
        # Operand i runs only after operands 0..i-1 ran; only the first
        # always runs.
        self.expr(e.values[0])
        self._conditional(e.values[1:])

    def e_Compare(self, e):
        # a < b < c: c only runs when a < b holds.
        self.expr(e.left)
        self.expr(e.comparators[0])
        self._conditional(e.comparators[1:])

    def e_IfExp(self, e):
        self.expr(e.test)
        box = self.frame.gbox if self.frame.kind == "comprehension" else self.frame.sbox
        start = box.value
        self.expr(e.body)
        end_body = box.value
        box.value = start
        self.expr(e.orelse)
        box.value = _meet(end_body, box.value)

    def e_Dict(self, e):
        for k, v in zip(e.keys, e.values):
            if k is not None:
                self.expr(k)
            self.expr(v)

    def e_Call(self, e):
        self.expr(e.func)
        for a in e.args:
            self.expr(a)
        for k in e.keywords:
            self.expr(k.value)

    def e_Lambda(self, e):
        for d in e.args.defaults:
            self.expr(d)
        for d in e.args.kw_defaults:
            if d is not None:
                self.expr(d)
        reads = self._function_body(e, e.body)
        self._check_deferred(reads)

    def _comprehension(self, e):
        self.expr(e.generators[0].iter)
        table = self.frame.child_table(e)
        saved = self.frame
        gbox = _Box(saved.gbox.value)   # walrus targets stay inside
        self.frame = _Frame("comprehension", e, table, _Box(frozenset()), gbox,
                            saved.private)
        for i, gen in enumerate(e.generators):
            if i:
                self.expr(gen.iter)
            self.target(gen.target)
            # Later clauses and the element may run zero times.
            for cond in gen.ifs:
                self.expr(cond)
        if isinstance(e, ast.DictComp):
            self.expr(e.key)
            self.expr(e.value)
        else:
            self.expr(e.elt)
        self.frame = saved

    e_ListComp = e_SetComp = e_DictComp = e_GeneratorExp = _comprehension


def _scope(table, name):
    """The resolved scope (LOCAL, FREE, GLOBAL_IMPLICIT, ...) of a name in a table.

    Read from the raw flags: symtable.Symbol.is_global()/is_local() of 3.11
    mistake any function named `top` for the module scope."""
    return (table._table.symbols[name] >> SCOPE_OFF) & SCOPE_MASK


def _mangle(private, name):
    """Python's private name mangling inside a class: __x -> _Class__x."""
    if private is None or not name.startswith("__") or name.endswith("__"):
        return name
    stripped = private.lstrip("_")
    return "_" + stripped + name if stripped else name


def _irrefutable(p):
    if isinstance(p, ast.MatchAs):
        return p.pattern is None or _irrefutable(p.pattern)
    if isinstance(p, ast.MatchOr):
        return any(_irrefutable(q) for q in p.patterns)
    return False


def analyze(source):
    """Return (defs, uses) of one cell, as sets of names.

    Raises SyntaxError if CPython rejects the cell (ast or symtable)."""
    tree = ast.parse(source)
    table = symtable.symtable(source, "<cell>", "exec")
    w = _Walker(tree, table)
    w.body(tree.body)
    w.uses.discard("get_ipython")
    return w.defs, w.uses


if __name__ == "__main__":
    import sys

    src = sys.stdin.read() if len(sys.argv) < 2 else open(sys.argv[1]).read()
    d, u = analyze(src)
    print("defs:", sorted(d))
    print("uses:", sorted(u))
