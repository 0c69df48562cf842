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

from . import serialize, sharing
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
    object (null: unbound); a name aliasing another restored name gets the
    very same object.  Returns JSON {name: object id} of what was restored."""
    spec = json.loads(request)
    auditor = _auditor()
    store, namespace = auditor.store, auditor.shell.user_ns
    restored, objects = {}, {}
    aliases = spec.get("aliases", {})
    wanted = {name: object_id for name, object_id in spec["values"]}

    def restore(name, object_id):
        if restored.get(name) == object_id:
            return objects[name]
        twin = aliases.get(name)
        refs: list = []  # the names its pickle references, for the audit (Known.refs)

        def resolve(ref_name, ref_id):
            refs.append(ref_name)
            return referenced(ref_name, ref_id)

        if twin in objects and restored.get(twin) == object_id:
            value = objects[twin]
        else:
            value = serialize.decode(store, object_id, resolve=resolve)
        restored[name], objects[name] = object_id, value
        if name.startswith("@"):
            _set_pseudo(auditor, name, value, object_id)
            return value
        value = bind_globals(value, namespace)
        namespace[name] = value
        auditor.known[name] = Known(id(value), object_id, refs=tuple(refs))
        return value

    def referenced(name, object_id):
        """The value a pickle references (an array, a view's array, a part's
        holder): the very object restored for its name when it is that one
        (restored now if it is among the wanted), or the namespace's own
        when it holds that one already."""
        if wanted.get(name) == object_id:
            return restore(name, object_id)
        value = bound_object(auditor, name, object_id)
        return serialize.decode(store, object_id) if value is None else value

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
    repeat driver's Relations has them for the records: aliases, arrays
    over the same memory (a view and its array), a part and its holder
    (sharing.find_parts, as the audit looks for them, or as it recorded
    them: Known.refs).  Looked at in the namespace as it is, so that a
    value the kernel was given (whose holder's pickle the audit does not
    know) counts too.  Names the namespace does not hold are left out.
    JSON {name: [names]}."""
    auditor = _auditor()
    namespace = auditor.namespace()
    links: dict = {}

    def link(one, other):
        if one != other:
            links.setdefault(one, set()).add(other)
            links.setdefault(other, set()).add(one)

    for group in alias_groups(namespace).values():
        for member in group[1:]:
            link(group[0], member)
    owners: dict = {}
    for name, value in namespace.items():
        if serialize.is_plain_array(value):
            owners.setdefault(id(serialize.memory_owner(value)), []).append(name)
    for group in owners.values():
        for member in group[1:]:
            link(group[0], member)
    for name, known in auditor.known.items():
        if name in namespace and known.pyid == id(namespace[name]):
            for ref in known.refs:
                if ref in namespace:
                    link(name, ref)
    kept = [n for n in namespace if n not in auditor.excluded]
    for part, (holder, _) in sharing.find_parts(namespace, kept, kept.__contains__).items():
        link(part, holder)
    out = {}
    for name in json.loads(names_json):
        if name in namespace:
            out[name] = sorted(connected(links, name) - {name})
    return json.dumps(out)
