"""Inside a kernel: putting stored values back into the namespace, and
telling the repeat driver what the namespace now holds.

The repeat driver (repeat.py) calls these through silent executions, which
IPython does not audit; the auditor is told about each restored value, so
the next audited cell compares against it instead of storing it again.
"""
from __future__ import annotations

import json
import random
import types

import numpy as np

from . import serialize
from .audit import Known, alias_groups
from .record import connected

DELETED = "<deleted>"


def _auditor():
    from .extension import current_auditor  # the extension imports this module

    auditor = current_auditor()
    if auditor is None:
        raise RuntimeError("nbrewind: the audit is not loaded in this kernel")
    auditor.flush()
    auditor.open_writer()
    return auditor


def _set_pseudo(auditor, name: str, value, object_id: str):
    if name == "@rng:random":
        random.setstate(value)
    elif name == "@rng:numpy":
        np.random.set_state(value)
    else:
        return  # files are on disk: nothing to restore
    auditor.rng_ids[name] = object_id


def _rebound(function: types.FunctionType, namespace: dict) -> types.FunctionType:
    clone = types.FunctionType(function.__code__, namespace, function.__name__,
                               function.__defaults__, function.__closure__)
    clone.__kwdefaults__ = function.__kwdefaults__
    clone.__dict__.update(function.__dict__)
    clone.__qualname__, clone.__doc__ = function.__qualname__, function.__doc__
    clone.__module__ = function.__module__
    return clone


def bind_globals(value, namespace: dict):
    """A function or class defined in the notebook comes back from its pickle
    with a private globals dict; rebind it (and a class's methods) to the
    kernel's namespace, so `global x` in it means the notebook's x again."""
    if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
        return _rebound(value, namespace)
    if isinstance(value, type) and value.__module__ == "__main__":
        for key, member in list(vars(value).items()):
            if isinstance(member, types.FunctionType):
                setattr(value, key, _rebound(member, namespace))
    return value


def bound_object(auditor, name: str, object_id: str):
    """The namespace's object for `name` if it holds the stored object
    `object_id` (as the audit last recorded it), else None."""
    known = auditor.known.get(name)
    namespace = auditor.shell.user_ns
    if known is not None and known.object_id() == object_id and name in namespace:
        return namespace[name]
    return None


def apply(request: str) -> str:
    """Restore values: `request` is JSON {"values": [[name, object id or
    null], ...], "aliases": {name: twin}}: each name is bound to that stored
    object (null: unbound); a name aliasing another restored name, or one
    the namespace holds with that stored object, gets the very same object.
    Returns JSON {name: object id} of what was restored."""
    spec = json.loads(request)
    auditor = _auditor()
    store, namespace = auditor.store, auditor.shell.user_ns
    restored, objects = {}, {}
    aliases = spec.get("aliases", {})
    wanted = {name: object_id for name, object_id in spec["values"]}

    def restore(name, object_id):
        if restored.get(name) == object_id:
            return objects[name]
        refs: list = []  # the names whose objects its pickle shares, for the audit (Known.refs)

        def resolve(ref_name, ref_id):
            value, shared = referenced(ref_name, ref_id)
            if shared:
                refs.append(ref_name)
            return value

        value = twin_value(aliases.get(name), object_id)
        if value is None:
            value = serialize.decode(store, object_id, resolve=resolve)
        restored[name], objects[name] = object_id, value
        if name.startswith("@"):
            _set_pseudo(auditor, name, value, object_id)
            return value
        value = bind_globals(value, namespace)
        namespace[name] = value
        auditor.known[name] = Known(id(value), object_id, refs=tuple(refs),
                                    needs=serialize.stored_needs(store, object_id))
        return value

    def twin_value(twin, object_id):
        if twin in objects and restored.get(twin) == object_id:
            return objects[twin]
        return bound_object(auditor, twin, object_id) if twin and twin not in wanted else None

    def referenced(name, object_id):
        """(the value a pickle references (an array, a view's array, a part's
        holder), whether it is the one of `name`): the very object restored
        for its name when it is that one (restored now if it is among the
        wanted), or the namespace's own when it holds that one already;
        else a copy of its own."""
        if wanted.get(name) == object_id:
            return restore(name, object_id), True
        value = bound_object(auditor, name, object_id)
        return (serialize.decode(store, object_id), False) if value is None else (value, True)

    for name, object_id in sorted(spec["values"], key=lambda nc: nc[0] in aliases):  # twins last
        if object_id is None:
            namespace.pop(name, None)
        else:
            restore(name, object_id)
    return json.dumps(restored)


def current_ids(names_json: str) -> str:
    """The object id each name holds now ({name: id, None if not stored,
    "<deleted>" if unbound}), once the audit of the last cell is written."""
    auditor = _auditor()
    namespace = auditor.shell.user_ns
    out = {}
    for name in json.loads(names_json):
        if name.startswith("@rng:"):
            out[name] = auditor.rng_ids.get(name)
        elif name.startswith("@"):
            continue
        elif name not in namespace:
            out[name] = DELETED
        else:
            known = auditor.known.get(name)
            out[name] = known.object_id() if known is not None else None
    return json.dumps(out)


def relations(names_json: str) -> str:
    """For each of the names the namespace holds: the other names that are
    one object with it or share one with it, and theirs in turn, as the
    audit relates them when it records a cell (so as the repeat driver's
    Relations has them for the records): aliases, and the names a value's
    stored pickle references (Known.refs: a view's array, a part's holder,
    a named array a container holds).  With the names the last audited cell
    bound, changed or deleted.  JSON {"related": {name: [names]},
    "changed": [names]}."""
    auditor = _auditor()
    namespace = auditor.namespace()
    links: dict = {}

    def link(one, other):
        links.setdefault(one, set()).add(other)
        links.setdefault(other, set()).add(one)

    for group in alias_groups(namespace).values():
        for member in group[1:]:
            link(group[0], member)
    for name, known in auditor.known.items():
        if name in namespace and known.pyid == id(namespace[name]):
            for ref in known.refs:
                if ref in namespace and ref != name:
                    link(name, ref)
    related = {name: sorted(connected(links, name) - {name})
               for name in json.loads(names_json) if name in namespace}
    return json.dumps({"related": related, "changed": sorted(auditor.last_changed)})
