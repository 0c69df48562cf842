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

import bisect
import collections
import gc
import itertools
import sys
import types

import numpy as np

from .serialize import byte_bounds, memory_owner

# References that are never state a cell changes through a name: followed,
# they would connect every value to every other one.
_NOT_FOLLOWED = (int, float, complex, str, bytes, bool, type(None), type, types.ModuleType,
                 types.CodeType, types.FrameType)

MAX_VISITS = 1_000_000  # objects looked at per value, atoms included


def _defaults(fn: types.FunctionType) -> list:
    return list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())


def _references(obj, budget: int):
    """What `obj` holds, at most `budget` of it: a plain container's items
    (without copying a long list first), a function its closure's contents
    and defaults (its globals are everyone's), a numpy iterator its arrays,
    anything else what the collector sees."""
    kind = type(obj)
    if kind in (list, tuple, set, frozenset):
        return itertools.islice(obj, budget)
    if kind is dict:
        return itertools.islice(itertools.chain(obj.keys(), obj.values()), budget)
    if kind is types.FunctionType:
        return function_state(obj)
    # numpy's iterators hold their arrays where the collector does not look.
    if kind is np.flatiter:
        return [obj.base]
    if kind is np.nditer:
        return _nditer_operands(obj)
    return gc.get_referents(obj)


def _nditer_operands(it) -> list:
    try:
        return list(it.operands)
    except ValueError:  # a closed iterator holds nothing any more
        return []


def figure_names(namespace: dict) -> set:
    """The names holding matplotlib figures or axes (alone, or in an array
    or a list as `plt.subplots(2, 2)` gives them)."""
    artist = getattr(sys.modules.get("matplotlib.artist"), "Artist", None)
    if artist is None:
        return set()

    def holds_artist(value) -> bool:
        if isinstance(value, artist):
            return True
        if isinstance(value, np.ndarray) and value.dtype == object and value.size:
            return isinstance(value.flat[0], artist)
        return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], artist)

    return {name for name, value in namespace.items() if holds_artist(value)}


def notebook_classes(cls: type) -> list:
    """The classes of `cls`'s method resolution order defined in the notebook."""
    return [klass for klass in cls.__mro__ if klass.__module__ == "__main__"]


def class_state(value) -> list:
    """The mutable class attributes a change to a notebook class, or to an
    instance of one, may have gone through (`Pool.members.append(1)`,
    `pool.members.append(1)`): classes are not followed otherwise, since
    every instance holds its class."""
    cls = value if isinstance(value, type) else type(value)
    if cls.__module__ != "__main__":
        return []
    return [v for klass in notebook_classes(cls) for v in vars(klass).values()
            if not _is_atom(v) and not callable(v) and
            not isinstance(v, (staticmethod, classmethod, property, types.MemberDescriptorType,
                               types.GetSetDescriptorType))]


def function_state(fn: types.FunctionType) -> list:
    """What a function holds of its own: its defaults and its closure's
    contents (its globals are everyone's)."""
    held = _defaults(fn)
    for cell in fn.__closure__ or ():
        try:
            held.append(cell.cell_contents)
        except ValueError:  # a cell not yet filled
            pass
    return held


def _is_atom(value) -> bool:
    # type(), not isinstance(): a dead weakref proxy raises on isinstance.
    return issubclass(type(value), _NOT_FOLLOWED)


def is_stateful_callable(value) -> bool:
    """A callable whose call may change state it holds: a closure, a function
    with mutable defaults, a bound method (its object), a callable instance.
    Not a class or a module."""
    if isinstance(value, types.FunctionType):
        return bool(value.__closure__) or not all(_is_atom(d) for d in _defaults(value))
    if isinstance(value, (types.MethodType, types.BuiltinMethodType)):
        return not isinstance(value.__self__, types.ModuleType)
    return callable(value) and not isinstance(value, (type, types.ModuleType))


def held_state(value, max_visits: int = MAX_VISITS, ranges: list | None = None) \
        -> tuple[set, bool]:
    """(ids of the mutable objects `value` holds, itself included, with
    arrays counted by their memory's owner; whether it was followed to the
    end within `max_visits` objects, atoms included; an object that cannot
    be followed, a dead weakref proxy, makes it incomplete).  The arrays'
    byte ranges go to `ranges` when given: views whose owner is no array
    (np.lib.stride_tricks, an nditer's items) are known by their memory."""
    found: set = set()
    seen_arrays: set = set()
    alive = []  # temporary field views, kept so that their ids stay theirs
    pending = [value]
    visits = 0
    try:
        while pending:
            obj = pending.pop()
            visits += 1
            if visits > max_visits:
                return found, False
            if _is_atom(obj):
                continue
            if issubclass(type(obj), np.ndarray):
                if id(obj) in seen_arrays:
                    continue
                seen_arrays.add(id(obj))
                found.add(id(memory_owner(obj)))
                if ranges is not None and obj.size:
                    ranges.append(byte_bounds(obj))
                if obj.dtype.names:  # a structured array: its object fields
                    fields = [obj[f] for f in obj.dtype.names if obj.dtype[f].hasobject]
                    alive += fields
                    pending += fields
                elif obj.dtype.hasobject:  # its items are objects of their own
                    items = np.asarray(obj).ravel()
                    pending.extend(itertools.islice(items, max_visits - visits + 1))
            elif id(obj) not in found:
                found.add(id(obj))
                pending.extend(_references(obj, max_visits - visits + 1))
    except Exception:  # noqa: BLE001 - a value we cannot walk counts as sharing
        return found, False
    return found, True


def overlaps(ranges: list, changed: list, starts: list | None = None) -> bool:
    """Whether any [low, high) of `ranges` overlaps one of `changed`
    (disjoint, sorted: merged_ranges; `starts` their lows, if at hand)."""
    if starts is None:
        starts = [low for low, _ in changed]
    for low, high in ranges:
        i = bisect.bisect_right(starts, low)
        if (i and changed[i - 1][1] > low) or (i < len(changed) and changed[i][0] < high):
            return True
    return False


def merged_ranges(ranges: list) -> list:
    """[low, high) ranges merged where they overlap or touch, sorted."""
    merged: list = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return merged


def names_sharing_state(namespace: dict, values: list) -> set[str]:
    """The names of `namespace` whose values share state with any of
    `values` (see the module's docstring); all of them when a value that
    may have changed is too big (or too odd) to follow to the end."""
    changed: set = set()
    changed_ranges: list = []
    for value in values:
        held, complete = held_state(value, ranges=changed_ranges)
        if not complete:
            return set(namespace)
        changed |= held
    if not changed:
        return set()
    merged = merged_ranges(changed_ranges)
    starts = [low for low, _ in merged]
    names = set()
    for name, value in namespace.items():
        if _is_atom(value):
            continue
        ranges: list = []
        held, complete = held_state(value, ranges=ranges)
        if not complete or held & changed or (merged and overlaps(ranges, merged, starts)):
            names.add(name)
    return names


# ---- parts: values that lie inside another name's value -------------------------
#
# `cfg = config["solver"]` binds a part of config's value to a name of its
# own.  Restored from two pickles, cfg would no longer be config["solver"]:
# the audit stores such a part as a path into its holder's stored value
# (serialize.encode_part), followed only through structures whose pickle
# keeps them as they are (plain containers, notebook objects without pickling
# methods of their own), never through a library object's internals.

PART_MAX_DEPTH = 4
PART_MAX_VISITS = 10_000
_MAPPINGS = (dict, collections.OrderedDict, collections.defaultdict)
_SEQUENCES = (list, tuple)


def _plain_object(value) -> bool:
    """A notebook object whose pickle is its instance dict."""
    cls = type(value)
    return (cls.__module__ == "__main__" and hasattr(value, "__dict__") and
            not hasattr(cls, "__slots__") and
            cls.__reduce_ex__ is object.__reduce_ex__ and cls.__reduce__ is object.__reduce__ and
            getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__ and
            not hasattr(cls, "__setstate__"))


def may_be_part(value) -> bool:
    """Whether `value`'s identity is worth keeping as part of a holder: an
    object with state of its own, a container, a DataFrame, a notebook
    object (arrays have references and views of their own; atoms, tuples
    and code have no state to share)."""
    return not (_is_atom(value) or isinstance(value, (np.ndarray, tuple, frozenset)) or
                callable(value))


def _steps(value):
    """(step, item) for what a part may be reached through: (("item", key),
    value) of a mapping with str or int keys, (("item", i), x) of a list or
    tuple, (("attr", name), x) of a notebook object's dict."""
    if type(value) in _MAPPINGS:
        return ((("item", k), v) for k, v in value.items() if type(k) in (str, int))
    if type(value) in _SEQUENCES:
        return ((("item", i), v) for i, v in enumerate(value))
    if _plain_object(value):
        return ((("attr", k), v) for k, v in vars(value).items() if type(k) is str)
    return ()


def paths_within(value, wanted: dict) -> dict:
    """{name: path} for the objects of `wanted` ({id(object): name}) that
    `value` holds, the shortest path to each (a tuple of steps, see _steps),
    looking at most PART_MAX_DEPTH levels down and PART_MAX_VISITS objects."""
    found: dict = {}
    level = [((), value)]
    visits = 0
    for _ in range(PART_MAX_DEPTH):
        below = []
        for path, holder in level:
            for step, item in _steps(holder):
                visits += 1
                if visits > PART_MAX_VISITS:
                    return found
                name = wanted.get(id(item))
                if name is not None and name not in found:
                    found[name] = (*path, step)
                if not _is_atom(item):
                    below.append(((*path, step), item))
        level = below
    return found


def find_parts(namespace: dict, holders, eligible, may_hold=None) -> dict:
    """{name: (holder, path)} for the names of `namespace` whose values lie
    inside the value of one of `holders` (`cfg = config["solver"]`, or
    `d = {"k": lst}` for an earlier `lst`), the part `eligible(name)`, the
    holder `may_hold(name)` (by default eligible too).  The
    holder is the first by name of those that lie in no other: a holder is
    never a part itself, so holders and parts form no cycle (a value found
    only inside values that are parts, a cycle, stays a value of its own)."""
    targets = {id(v): n for n, v in sorted(namespace.items(), reverse=True)
               if eligible(n) and _quietly(may_be_part, v, False)}
    found = {}
    if not targets:
        return {}
    for holder in sorted(n for n in set(holders) & namespace.keys() if (may_hold or eligible)(n)):
        value = namespace[holder]
        paths = _quietly(paths_within, value, {}, targets)
        # not the holder itself, met again through a cycle
        paths = {n: p for n, p in paths.items() if namespace[n] is not value}
        if paths:
            found[holder] = paths
    contained = {name for paths in found.values() for name in paths}
    parts: dict = {}
    for holder, paths in found.items():
        if holder not in contained:
            for name, path in paths.items():
                parts.setdefault(name, (holder, path))
    return parts


def _quietly(fn, value, failed, *args):
    """fn(value, *args), or `failed` when looking into the value raises (a
    dict another thread changes meanwhile, an object whose attributes
    raise): a part not found is stored as a value of its own, no error."""
    try:
        return fn(value, *args)
    except Exception:  # noqa: BLE001 - the user's objects run arbitrary code
        return failed
