"""What notebook code a cell may run, and what that code may change.

The analysis knows the functions and classes defined with `def`/`class` in
the notebook and what they write.  But a cell also runs notebook code it
never names: a lambda, the inner function a factory returned, a decorator's
wrapper, a `functools.partial`, a bound method kept in a dict, a generator
resumed by `next()`, a method of an object found in a list.  So after a
cell, the values of the names it used or bound are searched for such code
(through containers, partials, bound methods, closures and the methods of
notebook classes), and that code's global names are examined again (its
content hash decides), with the objects it holds (a bound method's object,
a closure's contents).  Code that reaches the namespace itself (`exec`,
`globals()`) means any name may have changed.  Reading a value can run code
too, or change it: `changes_when_read` says which values a read may change.
"""
from __future__ import annotations

import collections
import collections.abc
import functools
import itertools
import types
from dataclasses import dataclass, field

import numpy as np

from . import sharing

# Builtins through which code reaches globals it does not spell.
NAMESPACE_BUILTINS = frozenset({"exec", "eval", "globals"})

# Where library wrappers keep the function they wrap (functools.wraps and
# lru_cache: __wrapped__; np.vectorize: pyfunc).
_WRAPPED = ("__wrapped__", "pyfunc")

MAX_DEPTH = 4  # containers and objects within containers and objects
MAX_ITEMS = 1000  # items looked at per container
MAX_VISITS = 100_000  # past this, the search gives up: anything may change

# Values that hold no code: not searched.
_NO_CODE = (int, float, complex, str, bytes, bool, type(None), np.ndarray, np.generic)


@dataclass
class Reach:
    names: set = field(default_factory=set)  # globals notebook code may read or write
    held: list = field(default_factory=list)  # objects it holds and may change
    everything: bool = False  # it reaches the namespace itself


def _is_notebook_code(fn) -> bool:
    return getattr(fn, "__module__", None) == "__main__"


def _code_names(code: types.CodeType, found: set):
    """Every global or attribute name `code` and the code nested in it use."""
    found.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_names(const, found)


def _notebook_methods(cls: type) -> list:
    return [member for klass in sharing.notebook_classes(cls) for member in vars(klass).values()
            if isinstance(member, (types.FunctionType, staticmethod, classmethod, property))]


class _Search:
    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.reach = Reach()
        self.seen: set = set()
        self.pending: list = []

    def push(self, value, depth: int):
        if depth <= MAX_DEPTH and not issubclass(type(value), _NO_CODE) and \
                id(value) not in self.seen:
            self.pending.append((value, depth))

    def run(self) -> Reach:
        visits = 0
        while self.pending:
            value, depth = self.pending.pop()
            if id(value) in self.seen:
                continue
            self.seen.add(id(value))
            visits += 1
            if visits > MAX_VISITS:
                self.reach.everything = True
                break
            self.visit(value, depth + 1)
        return self.reach

    def code(self, code: types.CodeType, depth: int):
        names: set = set()
        _code_names(code, names)
        if names & NAMESPACE_BUILTINS:
            self.reach.everything = True
        for name in names & self.namespace.keys():
            self.reach.names.add(name)
            self.push(self.namespace[name], depth)  # code it calls in turn

    def visit(self, value, depth: int):
        kind = type(value)
        if kind in (list, tuple, set, frozenset):
            for item in itertools.islice(value, MAX_ITEMS):
                self.push(item, depth)
        elif kind is dict:
            for item in itertools.islice(value.values(), MAX_ITEMS):
                self.push(item, depth)
        elif isinstance(value, functools.partial):
            self.reach.held += [*value.args, *value.keywords.values()]
            for part in (value.func, *value.args, *value.keywords.values()):
                self.push(part, depth)
        elif isinstance(value, types.MethodType):
            self.reach.held.append(value.__self__)
            self.push(value.__func__, depth)
            self.push(value.__self__, depth)
        elif isinstance(value, types.FunctionType):
            self.function(value, depth)
        elif isinstance(value, (types.GeneratorType, types.CoroutineType)):
            frame = getattr(value, "gi_frame", None) or getattr(value, "cr_frame", None)
            if frame is not None and frame.f_globals.get("__name__") == "__main__":
                self.code(frame.f_code, depth)
                self.reach.held += list(frame.f_locals.values())
        elif isinstance(value, (staticmethod, classmethod)):
            self.push(value.__func__, depth)
        elif isinstance(value, property):
            for accessor in (value.fget, value.fset, value.fdel):
                if accessor is not None:
                    self.push(accessor, depth)
        elif isinstance(value, type):
            if value.__module__ == "__main__":
                for member in _notebook_methods(value):
                    self.push(member, depth)
        elif isinstance(value, types.ModuleType) or kind.__module__ == "builtins":
            self.builtin_method(value)
        elif kind.__module__ == "__main__":  # an instance of a notebook class
            self.push(kind, depth)
            for item in itertools.islice(getattr(value, "__dict__", {}).values(), MAX_ITEMS):
                self.push(item, depth)
        else:  # a library's wrapper of notebook code: lru_cache, np.vectorize
            for attribute in _WRAPPED:
                wrapped = getattr(value, attribute, None)
                if callable(wrapped):
                    self.push(wrapped, depth)

    def function(self, fn: types.FunctionType, depth: int):
        if not _is_notebook_code(fn):
            return
        self.code(fn.__code__, depth)
        held = sharing.function_state(fn)
        self.reach.held += held
        for value in held:
            self.push(value, depth)

    def builtin_method(self, value):
        # lst.append, d.__setitem__, arr.fill: the object they are bound to
        owner = getattr(value, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType) and \
                isinstance(value, (types.BuiltinMethodType, types.MethodWrapperType)):
            self.reach.held.append(owner)


def notebook_code_reach(values: list, namespace: dict) -> Reach:
    """What the notebook code that `values` hold or are may change, if the
    cell ran it (see the module's docstring)."""
    search = _Search(namespace)
    for value in values:
        search.push(value, 0)
    try:
        return search.run()
    except Exception:  # noqa: BLE001 - a value we cannot search: anything may change
        return Reach(everything=True)


def _holds_defaultdict(value, depth: int = 0) -> bool:
    if isinstance(value, collections.defaultdict):
        return True
    if depth >= 3:
        return False
    if isinstance(value, collections.ChainMap):
        return any(_holds_defaultdict(m, depth + 1) for m in value.maps[:MAX_ITEMS])
    if type(value) in (dict, list, tuple):
        items = value.values() if type(value) is dict else value
        return any(_holds_defaultdict(v, depth + 1) for v in itertools.islice(items, MAX_ITEMS))
    return False


def changes_when_read(value) -> bool:
    """Whether reading `value` may change it: an iterator advances (a loop,
    `sum(it)`, unpacking); a defaultdict, in it or under it, inserts the key
    asked for; an object of a notebook class runs its own code (a caching
    property, `__getitem__`, `__len__`, `__hash__`, `__enter__`)."""
    try:
        return isinstance(value, (collections.abc.Iterator, collections.defaultdict)) or \
            type(value).__module__ == "__main__" and not isinstance(value, type) or \
            _holds_defaultdict(value)
    except Exception:  # noqa: BLE001 - an object that fails to say counts as changing
        return True
