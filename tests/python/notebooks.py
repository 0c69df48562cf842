"""Helpers for the audit tests: build a notebook from cell sources, audit it
through the real kernel (nbclient), and read back what the store holds."""
from __future__ import annotations

import os
import subprocess
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from nbrewind import _core, serialize, sharing
from nbrewind.history import executions
from nbrewind.runner import audit_notebook

NBREWIND = os.path.join(os.path.dirname(sys.executable), "nbrewind")


def make_notebook(path, *sources, ids=None) -> str:
    nb = new_notebook()
    nb.cells = [new_code_cell(src) for src in sources]
    for index, cell in enumerate(nb.cells):
        cell.id = ids[index] if ids else f"cell{index + 1}"
    nbformat.write(nb, str(path))
    return str(path)


def audit(path, **kwargs) -> dict:
    return audit_notebook(str(path), progress=False, **kwargs)


def store_of(path) -> str:
    return os.path.splitext(str(path))[0] + ".nbrewind"


def runs(path):
    with _core.Store(store_of(path), "r") as store:
        return executions(store, os.path.abspath(str(path)), with_stats=True)


def value_after(path, name, position=-1):
    """The value of `name` the store gives as of an execution (index into
    the log, -1: the latest)."""
    run = runs(path)[position]
    with _core.Store(store_of(path), "r") as store:
        object_id = store.resolve(name, run.checkpoint)
        return None if object_id is None else serialize.decode(store, object_id)


def id_after(path, name, position=-1):
    run = runs(path)[position]
    with _core.Store(store_of(path), "r") as store:
        return store.resolve(name, run.checkpoint)


def replay_ids(*sources) -> list[dict]:
    """Run the cells in a plain namespace (no kernel, no nbrewind) and give,
    after each cell, the id every storable value would have: the oracle the
    store's state is compared with."""
    namespace: dict = {}
    states = []
    for source in sources:
        exec(compile(source, "<cell>", "exec"), namespace)
        names = sorted(n for n in namespace if not n.startswith("__"))
        # An array bound to a name of its own is referenced, not pickled, by
        # the values holding it (serialize.pickle_value), and by its views
        # bound to other names (serialize.view_roots): the same here.
        roots = serialize.view_roots({n: namespace[n] for n in names
                                      if serialize.is_plain_array(namespace[n])})
        arrays = {}
        for name in sorted(names, key=lambda n: id(namespace[n]) in roots):  # views last
            value = namespace[name]
            if serialize.is_plain_array(value):
                arrays.setdefault(id(value), (name, serialize.encode(
                    value, array_ref=lambda arr: arrays.get(id(arr)),
                    view_root=roots.get(id(value))).id))
        # A value inside another name's value is stored as a path into it
        # (sharing.find_parts); of several names for one object, the first.
        firsts = {}
        for name in names:
            firsts.setdefault(id(namespace[name]), name)
        parts = sharing.find_parts(namespace, names, lambda n: firsts.get(id(namespace[n])) == n,
                                   lambda n: True)
        ids, encoded = {}, {}
        for name in sorted(names, key=lambda n: (firsts[id(namespace[n])] != n, n in parts)):
            first = firsts[id(namespace[name])]
            if first != name:  # an alias is stored as its first name is
                ids[name] = ids[first]
                continue
            try:
                holder, path = parts.get(name, (None, None))
                held = encoded.get(firsts[id(namespace[holder])]) if holder else None
                if held and held.kind == "pickle":
                    ids[name] = serialize.encode_part(namespace[holder], path,
                                                      (holder, held.id)).id
                    continue
                encoded[name] = serialize.encode(namespace[name],
                                                 array_ref=lambda arr: arrays.get(id(arr)),
                                                 view_root=roots.get(id(namespace[name])))
                ids[name] = encoded[name].id
            except serialize.Unstorable:
                ids[name] = None
        states.append(ids)
    return states


def cli(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([NBREWIND, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)


def outputs_text(path, index) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[index].outputs
                   if o.output_type == "stream")
