"""The audit kernel, end to end: real ipykernel processes driven by nbclient,
the real store, values read back and compared with a replay of the cells."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import nbformat
import numpy as np
import pytest

from nbrewind import _core, serialize
from notebooks import (NBREWIND, audit, cli, id_after, make_notebook, outputs_text, replay_ids,
                       runs, store_of, value_after)

SCIENCE = [
    "import numpy as np\nimport pandas as pd\nrng = np.random.default_rng(7)",
    "grid = np.linspace(0, 1, 200_000).reshape(400, 500)\nparams = {'k': 3, 'names': ['a', 'b']}",
    "field = np.sin(grid * params['k'])\nframe = pd.DataFrame({'x': field[:, 0], 'y': field[:, 1]})",
    "field[10:20] = 0.0\nitems = [1, 2.5, 'three', (4,)]",
    "frame['z'] = frame.x + frame.y\nparams['k'] = 4",
    "total = float(field.sum())\ndel items",
]


def comparable(ids: dict) -> dict:
    """Drop what a replay cannot reproduce byte for byte (functions, the
    Generator object's pickle) from a replay's ids."""
    return {k: v for k, v in ids.items() if k not in ("rng",)}


def test_stored_state_equals_live_state_after_every_cell(tmp_path):
    nb = make_notebook(tmp_path / "science.ipynb", *SCIENCE)
    audit(nb)
    log = runs(nb)
    assert [r.record.cell_id for r in log] == [f"cell{i}" for i in range(1, 7)]
    expected = replay_ids(*SCIENCE)
    for position, state in enumerate(expected):
        for name, object_id in comparable(state).items():
            assert id_after(nb, name, position) == object_id, (position, name)
    with pytest.raises(_core.NotFoundError):
        id_after(nb, "never_bound")
    assert id_after(nb, "items") is None  # deleted by the last cell
    assert log[-1].record.deletes == ["items"]


def assert_stored_equals_replay(nb, cells: list[str], functions=()):
    """After each cell the store holds what a fresh in-process run has (but
    for the named functions, whose pickles carry where they were defined)."""
    for position, state in enumerate(replay_ids(*cells)):
        for name, object_id in state.items():
            if name not in functions:
                assert id_after(nb, name, position) == object_id, (position, name)


SHARED_STATE = [
    "import numpy as np\nu = np.zeros(10)\nv = np.zeros(4)\nd = {'k': np.ones(3)}",
    "w = u[1:]\nw += 1",  # through a view
    "for a in [u, v]:\n    a += 1",  # through a loop target
    "lst = [u]",
    "lst[0][:] = 7",  # through a container's item: u, w and lst change
    "x = d['k']\nx *= 2",  # through a name bound to a container's item: d changes
    "scaled = [b * 2 for b in (u, v)]\n[b.fill(0) for b in (v,)]",  # in a comprehension
]


def test_changes_through_views_loops_and_containers_are_stored(tmp_path):
    nb = make_notebook(tmp_path / "shared.ipynb", *SHARED_STATE)
    audit(nb)
    assert_stored_equals_replay(nb, SHARED_STATE)
    assert list(value_after(nb, "u")) == [7.0] * 10
    assert list(value_after(nb, "v")) == [0.0] * 4
    assert list(value_after(nb, "d")["k"]) == [2.0] * 3


NUMPY_OUTPUTS = [
    "import numpy as np\na = np.arange(6.0) - 3\nb = np.zeros(6)\nc = np.zeros(6)\nm = np.zeros(3)",
    "np.abs(a, out=b)",  # a known read-only function writes its out=
    "np.sqrt(b, c)",  # ... and a positional output
    "np.max(a.reshape(2, 3), 0, m)",
    "a.reshape(2, 3)[0] = 9\nd = {'k': [1]}",  # through a view a read-only call returned
    "d.get('k').append(2)",  # through an item a read-only call returned
    "import io\nbuf = io.StringIO()\np, q = [1], [2]\nz = np.array([3.0, 1.0, 2.0])",
    "print('x', file=buf)\nnp.median(z, overwrite_input=True)",  # print's file=, numpy's sort
    "def bump(xs):\n    for x in xs:\n        x.append(0)\nbump([p, q])",  # through a literal
    "s = np.fft.rfft(a)\nr = float(a.ravel()[::2].sum())",  # only reads a
]


def test_outputs_views_and_literals_passed_on_are_stored(tmp_path):
    nb = make_notebook(tmp_path / "outputs.ipynb", *NUMPY_OUTPUTS)
    audit(nb)
    assert_stored_equals_replay(nb, NUMPY_OUTPUTS, functions=("bump",))
    assert list(value_after(nb, "c")) == [3 ** 0.5, 2 ** 0.5, 1, 0, 1, 2 ** 0.5]
    assert list(value_after(nb, "m")) == [0, 1, 2]
    assert list(value_after(nb, "a")) == [9, 9, 9, 0, 1, 2]
    assert value_after(nb, "d") == {"k": [1, 2]}
    assert value_after(nb, "buf").getvalue() == "x\n"
    assert value_after(nb, "p") == [1, 0] and value_after(nb, "q") == [2, 0]
    assert set(runs(nb)[-1].record.writes) == {"r", "s"}


def test_sharing_follows_views_containers_and_objects_not_atoms():
    from nbrewind import sharing

    class Holder:
        def __init__(self, item):
            self.item = item

    u, other = np.zeros(8), np.zeros(8)
    namespace = {"u": u, "view": u[2:], "transposed": u.reshape(2, 4).T, "lst": [1, u],
                 "obj": Holder({"deep": (u,)}), "other": other, "ints": [1, 2, 3],
                 "text": "abc", "np": np}
    assert sharing.names_sharing_state(namespace, [u[::2]]) == \
        {"u", "view", "transposed", "lst", "obj"}
    # Atoms are looked at but hold nothing; an object array holding itself ends.
    assert sharing.held_state(list(range(300_000)))[1]
    loop = np.empty(1, dtype=object)
    loop[0] = loop
    assert sharing.held_state(loop)[1]
    # Arrays over one buffer share it; a dead weak proxy (isinstance raises on
    # it) holds nothing and breaks nothing.
    import weakref
    raw = bytearray(64)
    over = {"a": np.frombuffer(raw), "b": np.frombuffer(raw)[2:]}
    assert sharing.names_sharing_state(over, [over["a"]]) == {"a", "b"}
    gone = Holder(None)
    dead = [weakref.proxy(gone)]
    del gone
    assert sharing.names_sharing_state({"dead": dead, "u": u}, [u]) == {"u"}
    # A function with a mutable default holds state.
    assert sharing.is_stateful_callable(eval("lambda x, acc=[]: acc"))
    assert not sharing.is_stateful_callable(eval("lambda x, n=3: n"))
    # A structured array's object fields are followed.
    record = np.zeros(2, dtype=[("a", object), ("b", float)])
    record["a"][0] = namespace["lst"]
    assert "record" in sharing.names_sharing_state(dict(namespace, record=record), [u])
    # An object array's items are followed.
    boxed = np.empty(2, dtype=object)
    boxed[0] = namespace["lst"]
    assert "boxed" in sharing.names_sharing_state(dict(namespace, boxed=boxed), [u])
    # The same small int in two lists is not shared state.
    assert sharing.names_sharing_state(namespace, [[1, 2]]) == set()
    # A value too big to follow is examined again rather than assumed unchanged.
    namespace["big"] = list(range(sharing.MAX_VISITS + 10))
    assert sharing.names_sharing_state(namespace, [other]) == {"other", "big"}


def test_changes_the_analysis_cannot_see_are_stored(tmp_path):
    # exec, globals() and %run -i are flagged by the analysis: after such a
    # cell every name is examined, so their changes in place are not lost.
    (tmp_path / "script.py").write_text("u[0] = 5.0\n")
    nb = make_notebook(tmp_path / "opaque.ipynb", "import numpy as np\nu = np.zeros(3)",
                       "exec('u[1] = 1.0')", f"%run -i {tmp_path / 'script.py'}",
                       "globals()['u'][2] = 2.0")
    audit(nb)
    assert [list(value_after(nb, "u", k)) for k in range(4)] == [
        [0, 0, 0], [0, 1, 0], [5, 1, 0], [5, 1, 2]]


def test_changes_made_by_methods_closures_and_callable_objects_are_stored(tmp_path):
    cells = ["import numpy as np\nstate = [0]\nu = np.zeros(3)\n"
             "class C:\n    def step(self):\n        state[0] += 1\nc = C()",
             "c.step()",  # a method writing a global, called through an instance
             "def make(a):\n    def bump():\n        a[:] += 1\n    return bump\nbump = make(u)",
             "bump()",  # a closure changing the array it holds
             "m = c.step\nm()",  # a bound method
             "class D:\n    def __init__(self, a):\n        self.a = a\n"
             "    def __call__(self):\n        self.a[0] = 9\nd = D(u)",
             "d()"]  # a callable object changing the array it holds
    nb = make_notebook(tmp_path / "calls.ipynb", *cells)
    audit(nb)
    assert [value_after(nb, "state", k) for k in (0, 1, 4)] == [[0], [1], [2]]
    assert [list(value_after(nb, "u", k)) for k in (2, 3, 6)] == [
        [0, 0, 0], [1, 1, 1], [9, 1, 1]]


HOLDERS = ["import numpy as np\ndata = np.arange(1_000_000, dtype=np.float64)",
           "class Model:\n    def __init__(self, data):\n        self.data = data\n"
           "model = Model(data)\npair = [data, data[:10]]",
           "data[0] = -1.0"]


def test_arrays_held_by_other_values_are_stored_once_by_reference(tmp_path):
    nb = make_notebook(tmp_path / "holders.ipynb", *HOLDERS)
    audit(nb)
    log = runs(nb)
    # model and pair reference data's stored array instead of pickling its 8 MB
    assert log[1].stored_bytes < 100_000, log[1].stored_bytes
    assert log[1].record.writes.keys() >= {"model", "pair"}
    # data changed in place: both holders are taken again, with the new data
    assert log[2].record.writes.keys() >= {"data", "model", "pair"}
    model, pair = value_after(nb, "model"), value_after(nb, "pair")
    assert model.data[0] == -1.0 and pair[0][0] == -1.0 and pair[1][0] == -1.0
    assert value_after(nb, "model", 1).data[0] == 0.0
    assert cli("fsck", nb).returncode == 0


def test_a_change_inside_a_value_too_big_to_follow_is_still_stored(tmp_path):
    cells = ["import numpy as np\ndata = np.zeros(4)\nholder = list(range(1_100_000)) + [data]",
             "holder[-1][:] = 9"]
    nb = make_notebook(tmp_path / "big.ipynb", *cells)
    audit(nb)
    assert list(value_after(nb, "data")) == [9.0] * 4
    assert list(value_after(nb, "holder")[-1]) == [9.0] * 4


PARTS = [
    "import numpy as np\nimport pandas as pd\n"
    "df = pd.DataFrame({'a': np.arange(300_000), 'b': np.ones(300_000)})\n"
    "data = np.arange(100_000.0)\nheld = {'data': data, 'also': np.zeros(50_000)}",
    "df = df[['a']].copy()\nheld = {'data': data}",  # fewer buffers, no second reference
    "del df\nheld = 1",
]


def part_bindings(nb, position, owners=("df", "held")) -> set:
    with _core.Store(store_of(nb), "r") as store:
        checkpoint = runs(nb)[position].checkpoint
        return {name for name, _ in store.diff(None, checkpoint)
                if serialize.is_part_name(name) and serialize.part_owner(name) in owners
                and store.resolve(name, checkpoint)}


def test_parts_a_value_no_longer_has_are_unbound(tmp_path):
    nb = make_notebook(tmp_path / "parts.ipynb", *PARTS)
    audit(nb)
    assert part_bindings(nb, 0) == {"@buffer:df:0", "@buffer:df:1", "@buffer:held:0",
                                    "@ref:held:0"}
    assert part_bindings(nb, 1) == {"@buffer:df:0", "@ref:held:0"}
    assert part_bindings(nb, 2) == set()
    assert value_after(nb, "df", 1).columns.tolist() == ["a"]
    assert value_after(nb, "held", 1)["data"][-1] == 99_999.0
    # A later session finds what an earlier one bound.
    make_notebook(nb, PARTS[0])
    audit(nb)
    make_notebook(nb, "import numpy as np\nimport pandas as pd\n"
                  "df = pd.DataFrame({'a': np.arange(300_000)})")
    audit(nb)
    assert part_bindings(nb, -1) == {"@buffer:df:0", "@buffer:held:0", "@ref:held:0"}


class OnePickle:
    """A store holding one pickle, for decoding without a store."""

    def __init__(self, payload: bytes):
        self.payload = payload

    def object_info(self, object_id):
        return {"kind": "blob", "type": serialize.PICKLE_CODEC}

    def read_blob(self, object_id):
        return self.payload


def test_one_array_referenced_twice_is_one_object_after_decoding():
    from nbrewind import serialize

    data, f = np.arange(5.0), np.asfortranarray(np.ones((3, 4)))
    names = {id(data): ("data", "d" * 32), id(f): ("f", "f" * 32)}
    encoded = serialize.encode({"x": data, "y": data, "f": [f]},
                               array_ref=lambda arr: names.get(id(arr)))
    assert sorted(encoded.refs) == [("data", "d" * 32), ("f", "f" * 32)]
    value = serialize.decode(OnePickle(encoded.payload), "x", resolve=lambda name, i: np.zeros(1))
    assert value["x"] is value["y"] and value["f"][0] is not value["x"]


def view_geometries(a: np.ndarray) -> dict:
    fields = np.zeros(6, dtype=[("x", "<f8"), ("n", "<i4")])
    return {"row": a[1], "column": a[:, 2], "transpose": a.T, "reversed": a[::-1, ::-1],
            "as_int": a.view(np.int64), "flat": a.reshape(-1)[3:9], "empty": a[2:2],
            "strided": a[::2, 1::2], "field": fields["n"], "fields": fields}


def test_views_of_a_named_array_decode_as_views_of_it():
    a = np.arange(12.0).reshape(3, 4)
    named = {"a": a, "unrelated": np.ones(3), **view_geometries(a)}
    roots = serialize.view_roots(named)
    # each view's root is the named array owning its memory; an empty view
    # shares nothing; an owner is never a view of its own views
    assert {n for n, v in named.items() if id(v) in roots} == \
        {"row", "column", "transpose", "reversed", "as_int", "flat", "strided", "field"}
    assert roots[id(named["field"])] is named["fields"] and roots[id(named["row"])] is a
    ids = {id(a): ("a", "a" * 32), id(named["fields"]): ("fields", "f" * 32)}
    for name, view in named.items():
        if id(view) not in roots:
            continue
        encoded = serialize.encode(view, array_ref=lambda arr: ids.get(id(arr)),
                                   view_root=roots[id(view)])
        assert encoded.kind == "pickle" and encoded.nbytes < 1000, name
        assert encoded.refs == [ids[id(roots[id(view)])]], name
        restored_root = roots[id(view)].copy()
        value = serialize.decode(OnePickle(encoded.payload), name,
                                 resolve=lambda n, i: restored_root)
        assert value.dtype == view.dtype and value.shape == view.shape, name
        assert np.array_equal(value, view) and np.shares_memory(value, restored_root), name
    # without its root stored under a name, a view is an array of its own
    assert serialize.encode(named["row"], array_ref=lambda arr: None,
                            view_root=a).kind == "array"


VIEWS = ["import numpy as np\na = np.arange(200_000.0).reshape(400, 500)",
         "top = a[:10]\ncorner = a[::-1, ::-1][:3, :3]\nt = a.T",
         "a[0, 0] = -1.0",
         "top[1, 1] = -2.0"]


def test_views_are_stored_as_views_of_their_named_array(tmp_path):
    nb = make_notebook(tmp_path / "views.ipynb", *VIEWS)
    audit(nb)
    log = runs(nb)
    assert log[1].stored_bytes < 10_000, log[1].stored_bytes  # no copy of a's 1.6 MB
    # a change through the array or a view is a change of every one of them
    assert log[2].record.writes.keys() >= {"a", "top", "t"}
    assert log[3].record.writes.keys() >= {"a", "top", "t"}
    assert value_after(nb, "top", 2)[0, 0] == -1.0 and value_after(nb, "t", 3)[1, 1] == -2.0
    assert value_after(nb, "corner")[0, 0] == 199_999.0
    assert np.array_equal(value_after(nb, "t", 1), np.arange(200_000.0).reshape(400, 500).T)
    assert cli("fsck", nb).returncode == 0


PARTS_OF = ["config = {'solver': {'tol': 1, 'steps': list(range(100_000))}, 'n': 3}",
            "cfg = config['solver']\nsteps = cfg['steps']",
            "cfg['tol'] = 2",
            "config['solver'] = {'tol': 9}"]


def test_a_value_inside_another_is_stored_as_a_path_into_it(tmp_path):
    nb = make_notebook(tmp_path / "parts.ipynb", *PARTS_OF)
    audit(nb)
    log = runs(nb)
    # cfg and steps are paths into config's stored pickle, not copies of it
    assert log[1].stored_bytes < 2_000, log[1].stored_bytes
    assert log[1].record.host["refs"] == {"cfg": [["config", log[0].record.writes["config"]]],
                                          "steps": [["config", log[0].record.writes["config"]]]}
    assert log[2].record.writes.keys() >= {"cfg", "config"}
    assert value_after(nb, "cfg", 2) == {"tol": 2, "steps": list(range(100_000))}
    # config let go of cfg's dict: cfg keeps it, as a path into config as it was
    assert value_after(nb, "config")["solver"] == {"tol": 9}
    assert value_after(nb, "cfg")["tol"] == 2 and value_after(nb, "steps")[-1] == 99_999
    assert cli("fsck", nb).returncode == 0


def test_a_part_keeps_what_its_holder_needs_after_the_holder_is_gone(tmp_path):
    # config's pickle references arr and holds a frame's buffers: cfg, a path
    # into it, keeps them all bound, so gc keeps them once config and arr are gone
    cells = ["import numpy as np\nimport pandas as pd\narr = np.arange(5.0)\n"
             "config = {'data': arr, 'frame': pd.DataFrame({'x': np.arange(1000.0)}),"
             " 'solver': {'t': 1}}",
             "cfg = config['solver']\nframe = config['frame']",
             "del config\narr = None"]
    nb = make_notebook(tmp_path / "chain.ipynb", *cells)
    audit(nb)
    assert runs(nb)[1].record.host["refs"].keys() == {"cfg", "frame"}
    gc_keeping_the_last(nb, cells, 1)  # the cells that made arr and config are gone
    assert value_after(nb, "cfg") == {"t": 1}
    assert value_after(nb, "frame")["x"].sum() == 499_500.0
    assert cli("fsck", nb).returncode == 0


def gc_keeping_the_last(nb, cells: list, count: int):
    """Delete all but the last `count` cells of an audited notebook, sync
    and gc: only the values of the latest record are retained."""
    make_notebook(nb, *cells[-count:])
    edited = nbformat.read(nb, as_version=4)
    for index, cell in enumerate(edited.cells):
        cell.id = f"cell{len(cells) - count + index + 1}"
    nbformat.write(edited, nb)
    assert cli("sync", nb).returncode == 0
    done = cli("gc", nb)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("second", ["b = a", "b = a.copy()"])
def test_a_second_name_for_a_stored_pickle_keeps_its_buffers_through_gc(tmp_path, second):
    # the second name's pickle was stored already (the alias's, or an equal
    # copy's): binding only that left its buffers bound to `a` alone, and gc
    # deleted them once `a` was gone (the store has no object ...)
    cells = ["import numpy as np\nimport pandas as pd\na = pd.DataFrame({'x': np.arange(1000.0)})",
             second, "del a"]
    nb = make_notebook(tmp_path / "second.ipynb", *cells)
    audit(nb)
    gc_keeping_the_last(nb, cells, 1)
    assert value_after(nb, "b")["x"].sum() == 499_500.0


def test_notebook_objects_restoring_their_own_state_are_not_holders(tmp_path):
    cells = ["class Run:\n    def __setstate__(self, state):\n"
             "        self.__dict__.update(state, log=list(state['log']))\n"
             "run = Run()\nrun.log = [1]",
             "log = run.log"]
    nb = make_notebook(tmp_path / "setstate.ipynb", *cells)
    audit(nb)
    assert "refs" not in (runs(nb)[1].record.host or {})
    assert value_after(nb, "log") == [1]


def test_values_restore_exactly(tmp_path):
    nb = make_notebook(tmp_path / "science.ipynb", *SCIENCE)
    audit(nb)
    field = value_after(nb, "field")
    expected = np.sin(np.linspace(0, 1, 200_000).reshape(400, 500) * 3)
    expected[10:20] = 0.0
    assert np.array_equal(field, expected)
    frame = value_after(nb, "frame")
    assert list(frame.columns) == ["x", "y", "z"]
    assert value_after(nb, "params") == {"k": 4, "names": ["a", "b"]}
    assert value_after(nb, "params", 1) == {"k": 3, "names": ["a", "b"]}
    assert isinstance(value_after(nb, "np"), types.ModuleType)


def test_only_changed_values_are_written(tmp_path):
    cells = ["import numpy as np\nbig = np.arange(5_000_000, dtype=np.float64)",
             "s = big.sum()",
             "n = len(big)",
             "big[0] = -1.0"]
    nb = make_notebook(tmp_path / "dedup.ipynb", *cells)
    audit(nb)
    log = runs(nb)
    assert "big" in log[0].record.writes
    assert "big" not in log[1].record.writes and "big" not in log[2].record.writes
    assert log[1].record.reads["big"] == log[0].record.writes["big"]
    assert log[1].stored_bytes < 100_000 and log[2].stored_bytes < 100_000
    assert log[3].record.writes["big"] != log[0].record.writes["big"]  # mutated in place


def test_aliases_stay_one_object(tmp_path):
    cells = ["a = [1, 2]\nb = a", "a.append(3)", "c = b\nc.append(4)"]
    nb = make_notebook(tmp_path / "alias.ipynb", *cells)
    audit(nb)
    log = runs(nb)
    assert log[0].record.aliases == {"b": "a"}
    assert log[0].record.writes["a"] == log[0].record.writes["b"]
    # A mutation through one name is a change of every name bound to it.
    assert log[1].record.writes["a"] == log[1].record.writes["b"]
    assert value_after(nb, "b", 1) == [1, 2, 3]
    assert log[2].record.aliases["c"] in ("a", "b")
    assert value_after(nb, "a") == [1, 2, 3, 4]


def test_notebook_functions_and_classes_travel_by_value(tmp_path):
    cells = ["def scale(x, k=2):\n    return x * k",
             "class Point:\n    def __init__(self, x):\n        self.x = x\n"
             "    def norm(self):\n        return abs(self.x)",
             "p = Point(-3)\ntwice = lambda v: scale(v)"]
    nb = make_notebook(tmp_path / "funcs.ipynb", *cells)
    audit(nb)
    code = (f"import sys; sys.path[:0] = {sys.path!r}\n"
            "from notebooks import value_after\n"
            f"nb = {str(nb)!r}\n"
            "p = value_after(nb, 'p'); twice = value_after(nb, 'twice')\n"
            "print(p.norm(), twice(5))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(__file__), check=True)
    assert out.stdout.split() == ["3", "10"]


def test_function_writing_a_global_is_checkpointed(tmp_path):
    cells = ["counter = {'n': 0}\ndef bump():\n    counter['n'] += 1",
             "bump()\nbump()"]
    nb = make_notebook(tmp_path / "globals.ipynb", *cells)
    audit(nb)
    assert value_after(nb, "counter") == {"n": 2}
    assert "counter" in runs(nb)[1].record.writes


def test_unpicklable_values_are_recorded_as_recompute(tmp_path):
    cells = ["import threading, socket\nlock = threading.Lock()\n"
             "gen = (i for i in range(3))\nsock = socket.socket()\nfine = 1",
             "sock.close()"]
    nb = make_notebook(tmp_path / "unpicklable.ipynb", *cells)
    audit(nb)
    rec = runs(nb)[0].record
    assert set(rec.recompute) == {"lock", "gen", "sock"}
    assert "cannot be pickled" in rec.recompute["lock"]
    assert "fine" in rec.writes
    with pytest.raises(_core.NotFoundError):  # never bound to a value in the store
        id_after(nb, "lock")


def test_pyplot_drawing_on_a_figure_bound_earlier_is_stored(tmp_path):
    # pyplot and pandas draw on the current figure without naming it.
    cells = ["import io\nimport matplotlib\nmatplotlib.use('Agg')\n"
             "import matplotlib.pyplot as plt\nimport pandas as pd\n"
             "fig, ax = plt.subplots()\naxs = plt.subplots(1, 2)[1]\ns = pd.Series([1.0, 2.0])",
             "plt.plot([1, 2])",
             "plt.gca().set_title('t')",
             "s.hist()"]
    nb = make_notebook(tmp_path / "pyplot.ipynb", *cells)
    audit(nb)
    assert value_after(nb, "ax", 0).get_title() == ""
    assert len(value_after(nb, "axs", 1)[1].lines) == 1  # the current axes then
    assert value_after(nb, "axs", 2)[1].get_title() == "t"
    assert len(value_after(nb, "axs", 3)[1].patches) > 0
    assert len(value_after(nb, "ax", 3).lines) == 0  # not the current one


def test_dask_client_is_recompute_and_results_are_stored(tmp_path):
    cells = ["from dask.distributed import LocalCluster, Client\n"
             "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,\n"
             "                       host='127.0.0.1', dashboard_address=':0')\n"
             "client = Client(cluster)",
             "import numpy as np\nfutures = client.map(lambda i: i * i, range(10))\n"
             "squares = np.array(client.gather(futures))",
             "client.close()\ncluster.close()"]
    nb = make_notebook(tmp_path / "dask.ipynb", *cells)
    audit(nb, timeout=300)
    first, second, _ = runs(nb)
    assert {"client", "cluster"} <= set(first.record.recompute)
    assert "client" in second.record.reads
    assert list(value_after(nb, "squares")) == [i * i for i in range(10)]


def test_failing_cell_is_recorded_with_its_partial_effects(tmp_path):
    nb = make_notebook(tmp_path / "fails.ipynb", "x = 1", "y = 2\nraise ValueError('boom')",
                       "z = 3")
    result = cli("audit", "-q", nb)
    assert result.returncode == 1
    assert "cell 2 (id cell2) raised ValueError: boom" in result.stderr
    log = runs(nb)
    assert [r.record.status for r in log] == ["ok", "error"]
    assert log[1].record.error_name == "ValueError" and log[1].record.writes.get("y")
    assert value_after(nb, "y") == 2
    saved = nbformat.read(nb, as_version=4)
    assert saved.metadata["nbrewind"]["cells"]["cell2"]["status"] == "error"


def test_ipython_magics_and_shell_escapes(tmp_path):
    cells = ["%time a = 40 + 2", "b = !echo hi\nc = a + 1", "%%capture out\nprint('x')\nd = 5"]
    nb = make_notebook(tmp_path / "magics.ipynb", *cells)
    audit(nb)
    assert value_after(nb, "a") == 42 and value_after(nb, "c") == 43
    assert list(value_after(nb, "b")) == ["hi"]
    assert value_after(nb, "d") == 5


def test_random_state_is_a_pseudo_variable(tmp_path):
    cells = ["import random\nimport numpy as np\nrandom.seed(1)\nnp.random.seed(2)",
             "n = len('abc')",
             "u = np.random.rand(3)"]
    nb = make_notebook(tmp_path / "rng.ipynb", *cells)
    audit(nb)
    log = runs(nb)
    assert "@rng:numpy" in log[0].record.writes and "@rng:random" in log[0].record.writes
    assert not any(n.startswith("@rng") for n in log[1].record.writes)
    assert log[2].record.reads["@rng:numpy"] == log[0].record.writes["@rng:numpy"]
    assert "@rng:numpy" in log[2].record.writes and "@rng:random" not in log[2].record.writes


def test_files_read_and_written_are_recorded_by_hash(tmp_path):
    (tmp_path / "input.csv").write_text("a,b\n1,2\n")
    cells = ["import pandas as pd\ndf = pd.read_csv('input.csv')",
             "df.to_csv('output.csv', index=False)\nopen('notes.txt', 'w').write('n')"]
    nb = make_notebook(tmp_path / "files.ipynb", *cells)
    audit(nb)
    first, second = runs(nb)
    assert first.record.reads["@file:input.csv"] == _core.hash_bytes(b"a,b\n1,2\n")
    assert set(n for n in second.record.writes if n.startswith("@file:")) == \
        {"@file:output.csv", "@file:notes.txt"}


def test_displayed_outputs_are_stored(tmp_path):
    nb = make_notebook(tmp_path / "out.ipynb", "print('hello')\n6 * 7")
    audit(nb)
    rec = runs(nb)[0].record
    assert len(rec.outputs) == 2
    with _core.Store(store_of(nb), "r") as store:
        shown = [json.loads(store.read_blob(i)) for i in rec.outputs]
    assert shown[0] == {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    assert shown[1]["output_type"] == "execute_result"
    assert shown[1]["data"]["text/plain"] == "42"


def test_excluded_and_oversized_values_are_not_stored(tmp_path):
    cells = ["%nbrewind exclude token\n%nbrewind max-object-size 1MB",
             "token = 'secret-123'\nimport numpy as np\nhuge = np.zeros(1_000_000)\nsmall = 1"]
    nb = make_notebook(tmp_path / "exclude.ipynb", *cells)
    audit(nb)
    rec = runs(nb)[1].record
    assert "excluded" in rec.recompute["token"]
    assert "over the cap" in rec.recompute["huge"]
    # No object holds it.  (The record, with the cell's source, is in the
    # manifest, which a segment carries at its end: left out here.)
    segments = os.path.join(store_of(nb), "segments")
    for name in os.listdir(segments):
        with open(os.path.join(segments, name), "rb") as f:
            data = f.read()
        if data.endswith(b"NBRMANIF"):
            data = data[:-32 - int.from_bytes(data[-32:-24], "little")]
        assert b"secret-123" not in data


def test_notebook_metadata_validates_and_matches_cells(tmp_path):
    nb = make_notebook(tmp_path / "meta.ipynb", "x = 1", "y = x + 1")
    audit(nb)
    saved = nbformat.read(nb, as_version=4)
    nbformat.validate(saved)
    meta = saved.metadata["nbrewind"]
    assert meta["format"] == 1 and meta["store"]["path"] == "meta.nbrewind"
    assert set(meta["cells"]) == {"cell1", "cell2"}
    assert meta["cells"]["cell2"]["writes"]["y"] == id_after(nb, "y")
    assert meta["environment"]["hashseed"] == "0"
    assert meta["environment"]["packages"]["numpy"] == np.__version__


def test_h5py_reads_stored_arrays_without_nbrewind(tmp_path):
    nb = make_notebook(tmp_path / "h5.ipynb",
                       "import numpy as np\nm = np.arange(12, dtype='<i4').reshape(3, 4).T")
    audit(nb)
    object_id = id_after(nb, "m")
    code = ("import glob, sys, h5py, numpy as np\n"
            f"for path in glob.glob({store_of(nb) + '/segments/*.h5'!r}):\n"
            "    with h5py.File(path, 'r') as f:\n"
            f"        if 'objects/{object_id}' in f:\n"
            f"            print(f['objects/{object_id}'][()].tolist())\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == np.arange(12).reshape(3, 4).T.tolist()


def test_load_ext_in_a_plain_kernel(tmp_path):
    from nbclient import NotebookClient

    nb_path = make_notebook(tmp_path / "plain.ipynb", "%load_ext nbrewind", "x = [1, 2, 3]",
                            "%nbrewind status")
    nb = nbformat.read(nb_path, as_version=4)
    env = dict(os.environ, NBREWIND_NOTEBOOK=nb_path)
    # The plain ipykernel of this interpreter, as `python -m ipykernel install` makes it.
    spec = tmp_path / "kernels" / "plain"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "plain", "language": "python"}))
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="plain",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)]))
    try:
        NotebookClient(nb, km=km, timeout=120,
                       resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    finally:
        km.shutdown_kernel()
    assert value_after(nb_path, "x") == [1, 2, 3]
    assert "last checkpoint: 00000" in nb.cells[2].outputs[0]["text"]


def test_installed_kernelspec_runs_the_audit(tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    prefix = tmp_path / "prefix"
    assert cli("install-kernels", "--prefix", prefix).returncode == 0
    kernels = prefix / "share" / "jupyter" / "kernels"
    manager = KernelSpecManager(kernel_dirs=[str(kernels)])
    spec = manager.get_kernel_spec("nbrewind-audit-python3")
    assert spec.display_name == "nbrewind audit (Python 3)"
    assert "nbrewind-repeat-python3" in manager.find_kernel_specs()
    nb_path = make_notebook(tmp_path / "spec.ipynb", "import os\nseed = os.environ['PYTHONHASHSEED']")
    nb = nbformat.read(nb_path, as_version=4)
    env = dict(os.environ, NBREWIND_NOTEBOOK=nb_path)
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="nbrewind-audit-python3", kernel_spec_manager=manager)
    try:
        NotebookClient(nb, km=km, timeout=120,
                       resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    finally:
        km.shutdown_kernel()
    assert value_after(nb_path, "seed") == "0"


def test_a_failure_of_ours_is_a_warning_not_an_error(tmp_path):
    # cell2 waits for cell1's checkpoint (written in the background) before
    # it limits the file size: under load it could still be in flight, and
    # fail too (a checkpoint in flight is what a failure may lose).
    cells = ["import numpy as np\nkept = np.arange(10)",
             "%nbrewind flush\nimport resource, signal\n"
             "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
             "noise = np.random.default_rng(0).random(2_000_000)\nnoise.size",
             "%nbrewind flush\nprint(kept.sum())"]
    nb = make_notebook(tmp_path / "full.ipynb", *cells)
    result = cli("audit", "-q", nb)
    assert result.returncode == 5, result.stderr  # audit incomplete, named
    saved = nbformat.read(nb, as_version=4)
    outputs = saved.cells[1].outputs
    assert any(o.output_type == "execute_result" and o.data["text/plain"] == "2000000"
               for o in outputs)
    # Reported in the cell's output, or the next one's when written in the background.
    warning = "".join(o.get("text", "") for cell in saved.cells[1:] for o in cell.outputs
                      if o.output_type == "stream")
    assert "nbrewind: warning: the checkpoint of cell cell2 (execution 2) failed" in warning
    assert "45\n" in outputs_text(nb, 2)
    assert list(value_after(nb, "kept")) == list(range(10))
    assert cli("fsck", nb).returncode == 0


def test_values_of_a_failed_checkpoint_are_stored_by_the_next_one(tmp_path):
    # Cell 2's checkpoint fails (the file size limit); once the limit is lifted,
    # cell 3's checkpoint must store the bytes cell 2 could not, both for the
    # name cell 2 bound (untouched by cell 3) and for a new name with the same
    # content, which must not become a reference to an object never stored.
    cells = ["import numpy as np, resource, signal\n"
             "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)",
             "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
             "noise = np.random.default_rng(0).random(2_000_000)\ndraw = np.random.random()",
             "%nbrewind flush\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)\n"
             "again = noise.copy()"]
    nb = make_notebook(tmp_path / "heals.ipynb", *cells)
    result = cli("audit", "-q", nb)
    assert result.returncode == 5, result.stderr  # cell 2's checkpoint failed, named
    assert "cell2" in result.stderr
    expected = np.random.default_rng(0).random(2_000_000)
    assert np.array_equal(value_after(nb, "again"), expected)
    assert np.array_equal(value_after(nb, "noise"), expected)
    # the global RNG state cell 2 changed is stored again, not deleted
    assert id_after(nb, "@rng:numpy") is not None
    assert cli("fsck", nb).returncode == 0


def test_kernel_killed_mid_audit_leaves_a_sound_store(tmp_path):
    cells = ["import numpy as np\na = np.ones(1000)", "import os\nos.kill(os.getpid(), 9)"]
    nb = make_notebook(tmp_path / "killed.ipynb", *cells)
    result = cli("audit", "-q", nb)
    assert result.returncode == 3 and "kernel died" in result.stderr
    assert cli("fsck", nb).returncode == 0
    make_notebook(tmp_path / "killed.ipynb", cells[0], "b = a.sum()")
    assert cli("audit", "-q", nb).returncode == 0  # no stale lock
    assert value_after(nb, "b") == 1000.0


def test_cli_log_show_du_and_gc(tmp_path):
    nb = make_notebook(tmp_path / "tools.ipynb",
                       "import numpy as np\nv = np.arange(6.0)", "v = v * 2", "w = v.sum()")
    audit(nb)
    log = cli("log", nb)
    assert log.returncode == 0 and len(log.stdout.strip().splitlines()) == 4
    records = json.loads(cli("log", "--json", nb).stdout)
    assert [r["record"]["cell_id"] for r in records] == ["cell1", "cell2", "cell3"]
    shown = cli("show", nb, "v", "--cell", "1")
    assert "shape=(6,)" in shown.stdout and "max=5.0" in shown.stdout
    out = tmp_path / "v.npy"
    assert cli("show", nb, "v", "--cell", "cell2", "--out", out).returncode == 0
    assert np.load(out).tolist() == [0, 2, 4, 6, 8, 10]
    assert cli("show", nb, "nope").returncode == 4
    du = cli("du", nb)
    assert du.returncode == 0 and "v (2 values)" in du.stdout
    assert cli("gc", nb).returncode == 0
    assert value_after(nb, "w") == 30.0


def test_cli_names_bad_input(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    result = cli("audit", bad)
    assert result.returncode == 2 and "bad.ipynb: not a notebook" in result.stderr
    future = tmp_path / "future.ipynb"
    future.write_text(json.dumps({"nbformat": 5, "nbformat_minor": 0, "metadata": {},
                                  "cells": []}))
    result = cli("audit", future)
    assert result.returncode == 2 and "nbformat 5 is newer" in result.stderr
    nb = make_notebook(tmp_path / "newer.ipynb", "x = 1")
    os.makedirs(store_of(nb))
    with open(os.path.join(store_of(nb), "FORMAT"), "w") as f:
        json.dump({"format": "nbrewind-store", "version": 99, "codec": "lz4", "level": 5,
                   "shuffle": True, "chunk_bytes": 1048576}, f)
    result = cli("audit", nb)
    assert result.returncode == 4 and "FORMAT" in result.stderr
    assert cli("frobnicate").returncode == 2
    assert "usage: nbrewind" in cli("--help").stdout


def test_locked_store_is_named(tmp_path):
    nb = make_notebook(tmp_path / "locked.ipynb", "x = 1")
    with _core.Store(store_of(nb), "c"):
        result = cli("audit", nb)
    assert result.returncode == 4 and "LOCK" in result.stderr


@pytest.mark.parametrize("live", ["1", "0"])
def test_background_write_keeps_the_end_of_cell_state(tmp_path, monkeypatch, live):
    # The next cell overwrites the arrays at once, while the first checkpoint
    # (20 million floats) is still being compressed and written: copied
    # before it runs (big arrays written live, the default), or at the end
    # of the first cell (NBREWIND_LIVE_ARRAYS=0: two big arrays are then
    # hashed and copied side by side).
    monkeypatch.setenv("NBREWIND_LIVE_ARRAYS", live)
    cells = ["import numpy as np\na = np.zeros(20_000_000)\nc = np.full((3, 1_000_000), 2.0)\n"
             "d = {'k': a[:3].tolist()}",
             "a[:] = 1.0\nc[:, ::2] = 3.0\nd['k'].append(9)", "b = a.sum()"]
    nb = make_notebook(tmp_path / "inflight.ipynb", *cells)
    audit(nb)
    assert not value_after(nb, "a", 0).any()
    assert (value_after(nb, "c", 0) == 2.0).all()
    assert value_after(nb, "d", 0) == {"k": [0.0, 0.0, 0.0]}
    assert value_after(nb, "a", 1).min() == 1.0
    after = value_after(nb, "c", 1)
    assert (after[:, ::2] == 3.0).all() and (after[:, 1::2] == 2.0).all()
    assert [id_after(nb, n, k) for n in "ac" for k in (0, 1)] == \
        [replay_ids(*cells)[k][n] for n in "ac" for k in (0, 1)]
    assert value_after(nb, "b") == 20_000_000.0


def test_an_array_changed_between_cells_unseen_is_recompute_then_stored_again(tmp_path):
    # Big arrays are written from the user's memory in the background.  A
    # post_run_cell callback of the user's runs after the audit's own, while
    # cell 0's checkpoint is being written, and changes the last element of
    # `a` (the last chunk the writer reads), which no cell's analysis sees.
    cells = ["import numpy as np\na = np.zeros(25_000_000)\na2 = np.zeros(25_000_000)\n"
             "def _touch(result):\n    a[-1] = 7.0\n"
             "    get_ipython().events.unregister('post_run_cell', _touch)\n"
             "get_ipython().events.register('post_run_cell', _touch)",
             "import time\ntime.sleep(2)",  # the writer finds the change meanwhile
             "b = 1"]
    nb = make_notebook(tmp_path / "unseen.ipynb", *cells)
    audit(nb)
    first, second, _ = runs(nb)
    assert "a" not in first.record.writes  # never the wrong bytes under a's id
    assert "changed after cell" in first.record.recompute["a"]
    # a2, equal to a as it was, is stored from its own memory: nothing lost with a
    assert "a2" in first.record.writes and not value_after(nb, "a2", 0).any()
    assert "a changed after cell" in outputs_text(nb, 1)  # the warning, in the next cell
    assert "a" in second.record.writes and value_after(nb, "a", 1)[-1] == 7.0
    assert cli("fsck", nb).returncode == 0


def test_a_silent_execution_is_protected_against_like_a_cell(tmp_path):
    # Frontends and widgets run code silently: IPython sends it no
    # pre_run_cell, and it is not audited, yet it may change the big arrays
    # still being written from the user's memory.  A post_run_cell callback
    # of the user's runs code silently, while cell 0's checkpoint is being
    # written, that changes the last element of `a` (the last chunk the
    # writer reads): `a` is copied before that code runs, and cell 0 keeps
    # the value `a` had when it ended.
    cells = ["import numpy as np\na = np.zeros(25_000_000)\na2 = np.zeros(25_000_000)\n"
             "def _touch(result):\n"
             "    get_ipython().events.unregister('post_run_cell', _touch)\n"
             "    get_ipython().run_cell('a[-1] = 7.0', silent=True)\n"
             "get_ipython().events.register('post_run_cell', _touch)",
             "c = float(a[-1])"]
    nb = make_notebook(tmp_path / "silent.ipynb", *cells)
    audit(nb)
    first, _ = runs(nb)
    assert {"a", "a2"} <= first.record.writes.keys() and "a" not in first.record.recompute
    assert not value_after(nb, "a", 0).any()
    assert value_after(nb, "c") == 7.0  # the silent code ran
    assert "changed after cell" not in outputs_text(nb, 1)


def test_arrays_the_next_cell_changes_through_new_names_are_copied_before_it_runs(tmp_path):
    # Big arrays wait to be written from the user's memory; the next cell
    # changes them at their ends (what the writer reads last) through a view
    # it binds itself and through the bytearray one lies over: both are
    # copied before it runs, and the first cell's checkpoint keeps them.
    cells = ["import numpy as np\na = np.zeros(25_000_000)\nbuf = bytearray(50_000_000)\n"
             "b = np.frombuffer(buf, np.uint8)",
             "v = a.reshape(-1)\nv[-10:] = 1.0\nbuf[-10:] = b'x' * 10"]
    nb = make_notebook(tmp_path / "through.ipynb", *cells)
    audit(nb)
    first, second = runs(nb)
    assert {"a", "b", "buf"} <= first.record.writes.keys() and not first.record.recompute
    assert not value_after(nb, "a", 0).any() and not value_after(nb, "b", 0).any()
    assert value_after(nb, "a", 1)[-1] == 1.0 and value_after(nb, "b", 1)[-1] == ord("x")
    assert "changed after cell" not in outputs_text(nb, 1)


@pytest.mark.parametrize("code, names, read", [
    ("u = np.ones((N, N))\nu[s] = 1\nu += 0.1 * r.random((N, N))", {"u"}, {"u", "np", "N", "r"}),
    ("v = a.reshape(-1)\nv[-1] = 1", {"v"}, {"v", "a"}),
    ("x, (y, *z) = a, (b, c, d)\nx[0] = z[0][0] = 1", {"x", "z"}, {"x", "z", "a", "b", "c", "d"}),
    ("(w := a)[0] = 1", {"w"}, {"w", "a"}),
    ("w = a[:9]\nv = w.reshape(-1)\nv[:] = 1", {"v"}, {"v", "w", "a"}),  # through w
    ("s = {}\ns['x'] = data\ns['x'] -= 1", {"s"}, {"s", "data"}),  # stored into s
    ("cfg['view'] = a[-10:]\ncfg['view'][:] = 1", set(), {"a"}),  # cfg from before the cell
    ("for v in arrays:\n    v[:] = 0", {"v"}, None),  # bound by a loop: anything used
    ("with open(p) as v:\n    v.read()", {"v"}, None),
    ("if any((h := x).max() > 1 for x in (a, b)):\n    h /= 2", {"h"}, None),
    ("f = get_ipython().run_line_magic('time', 'a[::2]')\nf *= 2", {"f"}, None),  # a magic
    ("v[0] = 1", {"v"}, None),  # not bound in the cell at all
    ("v = (", {"v"}, None),  # does not parse
])
def test_what_a_cell_binds_a_changed_name_from(code, names, read):
    from nbrewind.audit import _read_by_bindings

    assert _read_by_bindings(code, names) == read


def test_synchronous_mode_gives_the_same_store(tmp_path, monkeypatch):
    ids = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("NBREWIND_BACKGROUND", mode)
        nb = make_notebook(tmp_path / f"mode{mode}.ipynb", *SCIENCE)
        audit(nb)
        # The unseeded global generators differ between any two kernels.
        ids[mode] = [(r.record.cell_id, {k: v for k, v in r.record.writes.items() if "@rng" not in k},
                      {k: v for k, v in r.record.reads.items() if "@rng" not in k})
                     for r in runs(nb)]
    assert ids["0"] == ids["1"]


@pytest.mark.parametrize("setting, cpus, expected", [
    ("auto", {0}, False), ("auto", {0, 1}, True), ("auto", {0, 1, 2}, True), (None, {0}, False),
    (None, {3, 5}, True), (None, set(range(64)), True), ("1", {0}, True),
    ("0", set(range(64)), False)])
def test_background_commits_by_default_only_with_two_cpus_or_more(monkeypatch, setting, cpus,
                                                                  expected):
    from nbrewind import audit as audit_module

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus)
    if setting is None:
        monkeypatch.delenv("NBREWIND_BACKGROUND", raising=False)
    else:
        monkeypatch.setenv("NBREWIND_BACKGROUND", setting)
    assert audit_module.background_default() is expected


def test_a_kernel_on_one_cpu_writes_in_the_cells_thread(tmp_path):
    # The kernel nbrewind audit starts inherits the command's CPU affinity.
    nb = make_notebook(tmp_path / "one_cpu.ipynb", "x = 1", "%nbrewind status")
    env = {k: v for k, v in os.environ.items() if k != "NBREWIND_BACKGROUND"}
    result = subprocess.run(["taskset", "-c", "0", NBREWIND, "audit", "-q", str(nb)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "background commits: off" in outputs_text(nb, 1)


def test_dataframe_buffers_that_did_not_change_store_no_new_bytes(tmp_path):
    cells = ["import numpy as np, pandas as pd\n"
             "df = pd.DataFrame({'a': np.arange(4_000_000), 'b': np.linspace(0, 1, 4_000_000)})",
             "df['label'] = 'x'",  # a new object column; the numeric blocks stay as they are
             "df.attrs['note'] = 'metadata only'"]
    nb = make_notebook(tmp_path / "frame.ipynb", *cells)
    audit(nb)
    first, second, third = runs(nb)
    assert first.stored_bytes > 1_000_000
    assert "df" in second.record.writes and "df" in third.record.writes
    assert second.stored_bytes < first.stored_bytes / 10
    assert third.stored_bytes < 100_000
    frame = value_after(nb, "df")
    assert frame.attrs == {"note": "metadata only"} and frame["a"].iloc[-1] == 3_999_999


def test_sync_copies_a_live_sessions_records_into_the_notebook(tmp_path):
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    from nbrewind.kernelspec import audit_spec_manager

    nb_path = make_notebook(tmp_path / "live.ipynb", "x = 2", "y = x ** 10")
    nb = nbformat.read(nb_path, as_version=4)
    km = KernelManager(kernel_name="nbrewind-audit-python3",
                       kernel_spec_manager=audit_spec_manager())
    try:  # a frontend runs the cells; the kernel never writes the .ipynb
        NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(tmp_path)}}
                       ).execute(env=dict(os.environ, NBREWIND_NOTEBOOK=nb_path))
    finally:
        km.shutdown_kernel()
    assert "nbrewind" not in nbformat.read(nb_path, as_version=4).metadata
    result = cli("sync", nb_path)
    assert result.returncode == 0, result.stderr
    assert "2 cells have a record, 0 have none" in result.stdout
    meta = nbformat.read(nb_path, as_version=4).metadata["nbrewind"]
    assert meta["cells"]["cell2"]["writes"]["y"] == id_after(nb_path, "y")
    # An edited cell no longer matches its record.
    edited = nbformat.read(nb_path, as_version=4)
    edited.cells[1].source = "y = x ** 11"
    nbformat.write(edited, nb_path)
    assert "1 cells have a record, 1 have none" in cli("sync", nb_path).stdout


def test_killing_the_command_leaves_a_store_the_next_audit_reuses(tmp_path):
    import signal
    import time

    cells = ["import numpy as np\na = np.arange(1_000_000.0)", "import time\ntime.sleep(60)"]
    nb = make_notebook(tmp_path / "cmdkill.ipynb", *cells)
    proc = subprocess.Popen([sys.executable, "-m", "nbrewind", "audit", "-q", nb],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(
            os.path.join(store_of(nb), "checkpoints", "0000000000000001.json")):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cli("fsck", nb).returncode == 0
    make_notebook(tmp_path / "cmdkill.ipynb", cells[0], "s = a.sum()")
    deadline = time.time() + 30  # the orphaned kernel notices its parent is gone
    while True:
        result = cli("audit", "-q", nb)
        if result.returncode != 4 or time.time() > deadline:
            break
        time.sleep(1)
    assert result.returncode == 0, result.stderr
    assert value_after(nb, "s") == sum(range(1_000_000))


def test_a_kernel_that_does_not_start_is_named(tmp_path):
    nb = make_notebook(tmp_path / "nostart.ipynb", "x = 1")
    # An invalid hash seed makes the interpreter refuse to start.
    result = cli("audit", "-q", nb, env=dict(os.environ, NBREWIND_HASHSEED="not-a-number"))
    assert result.returncode == 3, result.stderr
    assert "kernel" in result.stderr and "nostart.ipynb" in result.stderr


def test_snapshots_reuse_pool_memory_and_keep_their_own_copy():
    """Snapshots copy into pooled buffers (arrays, and the out-of-band
    buffers of a pickle); a later snapshot of the same size or up to half as
    big reuses a returned buffer, and changing the original afterwards does
    not change the copy."""
    from nbrewind import serialize
    from nbrewind.writer import BufferPool

    pool = BufferPool()
    arr = np.arange(1_000_000, dtype=np.float64)
    first = serialize.snapshot(serialize.encode(arr), pool)
    arr[:] = -1.0
    assert first.array[5] == 5.0 and len(first.pooled) == 1
    pool.give(first.pooled[0])
    smaller = np.ones(600_000)  # 40 % smaller: served from the same buffer
    second = serialize.snapshot(serialize.encode(smaller), pool)
    assert second.pooled[0] is first.pooled[0] and second.array.shape == (600_000,)
    assert (second.array == 1.0).all()
    pool.give(second.pooled[0])
    tiny = serialize.snapshot(serialize.encode(np.ones(1000)), pool)  # far smaller: fresh
    assert tiny.pooled[0] is not first.pooled[0]

    fortran = np.asfortranarray(np.arange(600_000.0).reshape(600, 1000))
    kept = serialize.snapshot(serialize.encode(fortran), pool)
    assert kept.array.flags.f_contiguous and kept.id == serialize.array_id(fortran.copy(order="C"))
    fortran[:] = 0.0
    assert kept.array[599, 999] == 599_999.0

    frame = types.SimpleNamespace(block=np.arange(500_000, dtype=np.int64))
    encoded = serialize.encode(frame)
    copy = serialize.snapshot(encoded, pool)
    frame.block[:] = 0
    assert len(copy.pooled) == 1 and copy.buffers[0][0] == encoded.buffers[0][0]
    assert np.frombuffer(copy.buffers[0][1], dtype=np.int64)[7] == 7


def test_long_double_arrays_are_pickled_not_dropped(tmp_path):
    """The store has no portable type for long double: such an array goes
    through pickle, with the rest of the cell checkpointed as usual."""
    cells = ["import numpy as np\nq = np.ones(5, dtype=np.longdouble) / 3\n"
             "big = np.full((2, 3_000_000), np.longdouble(1) / 7)\n"
             "big64 = np.full((2, 3_000_000), 0.5)\nd = np.arange(4.0)"]  # two big: side by side
    nb = make_notebook(tmp_path / "longdouble.ipynb", *cells)
    audit(nb)
    q = value_after(nb, "q")
    assert q.dtype == np.longdouble and (q == np.ones(5, dtype=np.longdouble) / 3).all()
    assert value_after(nb, "big").dtype == np.longdouble
    assert (value_after(nb, "big64") == 0.5).all()
    assert list(value_after(nb, "d")) == [0.0, 1.0, 2.0, 3.0]
    assert not runs(nb)[-1].record.recompute
