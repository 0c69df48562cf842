"""Which names share mutable state with what a cell may have changed.

The analysis names what a cell may mutate by the names it goes through, but
one object can be reached by many paths: ``w = u[1:]; w += 1`` changes ``u``
through a view, ``lst[0][:] = 7`` changes the array ``lst`` holds (and any
other name bound to it), ``x = d["k"]; x += 1`` changes ``d``'s pickle.  So
after a cell, every name whose value holds, is held by, or shares array
memory with a value the cell may have mutated is examined again; its content
hash decides whether it really changed, so a false match costs hashing only.

Objects are followed through the garbage collector's references, down to
arrays (known by the object that owns their memory; an object array's items
are followed too); a function through its
closure and defaults only (not its module's globals), a bound method through
its object.  Atoms, modules and classes are not followed: they are shared by
everything and the audit stores them by other means.  A value too big to
follow to the end counts as sharing (examined again), never as not sharing.
"""
from __future__ import annotations

import gc
import types

import numpy as np

# References that are never state a cell changes through a name: followed,
# they would connect every value to every other one.
_NOT_FOLLOWED = (int, float, complex, str, bytes, bool, type(None), type, types.ModuleType,
                 types.CodeType, types.FrameType)

MAX_VISITS = 200_000  # references looked at per value (about 30 ms)


def memory_owner(arr: np.ndarray):
    """The object owning an array's bytes: views of one array share it."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr if arr.base is None else arr.base


def _references(obj) -> list:
    """What `obj` holds: a function its closure's contents and defaults (its
    globals are everyone's), anything else what the collector sees."""
    if isinstance(obj, types.FunctionType):
        held = list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
        for cell in obj.__closure__ or ():
            try:
                held.append(cell.cell_contents)
            except ValueError:  # a cell not yet filled
                pass
        return held
    return gc.get_referents(obj)


def is_stateful_callable(value) -> bool:
    """A callable whose call may change state it holds: a closure, a bound
    method (its object), a callable instance.  Not a class or a module."""
    if isinstance(value, types.FunctionType):
        return bool(value.__closure__)
    if isinstance(value, (types.MethodType, types.BuiltinMethodType)):
        return not isinstance(value.__self__, types.ModuleType)
    return callable(value) and not isinstance(value, (type, types.ModuleType))


def held_state(value, max_visits: int = MAX_VISITS) -> tuple[set, bool]:
    """(ids of the mutable objects `value` holds, itself included, with
    arrays counted by their memory's owner; whether it was followed to the
    end within `max_visits` references)."""
    found: set = set()
    pending = [value]
    visits = 0
    while pending:
        obj = pending.pop()
        visits += 1
        if visits > max_visits:
            return found, False
        if isinstance(obj, np.ndarray):
            found.add(id(memory_owner(obj)))
            if obj.dtype.hasobject:  # its items are objects of their own
                pending.extend(obj.ravel())  # the items themselves, no new lists
        elif not isinstance(obj, _NOT_FOLLOWED) and id(obj) not in found:
            found.add(id(obj))
            pending.extend(_references(obj))
    return found, True


def names_sharing_state(namespace: dict, values: list) -> set[str]:
    """The names of `namespace` whose values share state with any of
    `values` (see the module's docstring)."""
    changed: set = set()
    for value in values:
        changed |= held_state(value)[0]
    if not changed:
        return set()
    names = set()
    for name, value in namespace.items():
        if isinstance(value, _NOT_FOLLOWED):
            continue
        held, complete = held_state(value)
        if not complete or held & changed:
            names.add(name)
    return names
