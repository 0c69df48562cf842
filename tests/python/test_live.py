"""The repeat kernel in a live session: matching cells come back from the
store instead of running; `%nbrewind rewind K` brings a past namespace back."""
from __future__ import annotations

import os

import nbformat

from nbrewind.runner import kernel_client, shutdown
from notebooks import audit, make_notebook, store_of


def execute(nb, path, mode):
    """Execute `nb` in an nbrewind kernel like a frontend would (cell ids
    sent), told that it is `path`'s session, without writing any file."""
    client, _ = kernel_client(nb, os.path.dirname(str(path)), 120, None, mode=mode)
    env = dict(os.environ, NBREWIND_NOTEBOOK=path, NBREWIND_STORE=store_of(path))
    try:
        client.execute(env=env)
    finally:
        shutdown(client)
    return nb


def run_in_kernel(path, mode="repeat"):
    """The notebook at `path`, executed (see execute)."""
    return execute(nbformat.read(path, as_version=4), path, mode)


def run_probe(tmp_path, path, *cells):
    """`cells` run in a fresh audit kernel on `path`'s store (a `%nbrewind
    rewind` session); the executed probe notebook."""
    ids = [f"p{i}" for i in range(1, len(cells) + 1)]
    nb = nbformat.read(make_notebook(tmp_path / "probe.ipynb", *cells, ids=ids), as_version=4)
    return execute(nb, path, "audit")


def stream(nb, index, name="stdout"):
    return "".join(o.get("text", "") for o in nb.cells[index].outputs
                   if o.output_type == "stream" and o.name == name)


CELLS = ["import numpy as np\nx = np.arange(5)",
         "y = x * 2\nprint('computed', y.sum())",
         "print('total', y.sum() + x.sum())"]


def test_matching_cells_are_restored_not_run(tmp_path):
    path = make_notebook(tmp_path / "live.ipynb", *CELLS)
    audit(path)
    nb = run_in_kernel(path)
    for index in range(3):
        assert "restored from the audit" in stream(nb, index, "stderr")
    assert stream(nb, 1) == "computed 20\n"  # the recorded output, shown again
    assert stream(nb, 2) == "total 30\n"


def run_edited(tmp_path, index: int, source: str):
    """CELLS audited, then cell `index` edited and the notebook run in the
    repeat kernel; the executed notebook."""
    path = make_notebook(tmp_path / "live.ipynb", *CELLS)
    audit(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, path)
    return run_in_kernel(path)


def test_an_edited_cell_runs_with_the_values_it_needs_loaded(tmp_path):
    nb = run_edited(tmp_path, 2, "print('total', y.sum() + x.sum() + 1)")
    assert "restored from the audit" in stream(nb, 1, "stderr")
    assert "restored" not in stream(nb, 2, "stderr")
    assert stream(nb, 2) == "total 31\n"


def test_an_edited_cell_the_analysis_cannot_see_gets_every_value(tmp_path):
    nb = run_edited(tmp_path, 2, "exec(\"print('total', y.sum() + x.sum() + 2)\")")
    assert stream(nb, 2) == "total 32\n"


def test_a_cell_whose_inputs_differ_runs(tmp_path):
    nb = run_edited(tmp_path, 0, "import numpy as np\nx = np.arange(6)")
    assert "restored" not in stream(nb, 1, "stderr")
    assert stream(nb, 1) == "computed 30\n" and stream(nb, 2) == "total 45\n"


def test_restored_holders_share_the_restored_array(tmp_path):
    from test_audit import HOLDERS

    path = make_notebook(tmp_path / "holders.ipynb", *HOLDERS)
    audit(path)
    check = "print(model.data is data, pair[0] is data, data[0])"
    # lazily, in the repeat kernel: every cell restored, the edited one reads them
    nb = run_in_kernel(make_notebook(tmp_path / "holders.ipynb", *HOLDERS, check))
    assert stream(nb, 3) == "True True -1.0\n"
    # through %nbrewind rewind
    nb = run_probe(tmp_path, path, "%nbrewind rewind 2", check)
    assert stream(nb, 1) == "True True 0.0\n"


def test_a_reference_to_an_aliased_array_restores_as_the_same_object(tmp_path):
    path = make_notebook(tmp_path / "alias.ipynb", "import numpy as np\nz = np.arange(5.0)",
                         "a = z", "d = {'x': a}")
    audit(path)
    nb = run_probe(tmp_path, path, "%nbrewind rewind 3", "print(a is z, d['x'] is z)")
    assert stream(nb, 1) == "True True\n"


def test_rewind_brings_back_an_earlier_namespace(tmp_path):
    path = make_notebook(tmp_path / "rw.ipynb", "a = [1]", "a.append(2)\nb = 'later'",
                         "a.append(3)")
    audit(path)
    nb = run_probe(tmp_path, path, "%nbrewind rewind 2", "print(a, b)",
                   "%nbrewind rewind cell1", "print(a, 'b' in globals())")
    assert stream(nb, 1) == "[1, 2] later\n"
    assert stream(nb, 3) == "[1] False\n"
    assert "rewound to execution 2" in stream(nb, 0)


def test_views_and_holders_follow_a_change_of_their_array_after_a_rewind(tmp_path):
    path = make_notebook(tmp_path / "views.ipynb",
                         "import numpy as np\na = np.arange(12.0).reshape(3, 4)",
                         "row = a[1]\nt = a.T\nrev = a[::-1, ::-1]\nbox = {'d': a}")
    audit(path)
    # the cell changing `a` loads it alone; its views and holders come along
    nb = run_probe(tmp_path, path, "%nbrewind rewind 2", "a[1, 2] = -1.0",
                   "print(row[2], t[2, 1], rev[1, 1], box['d'] is a)")
    assert stream(nb, 2) == "-1.0 -1.0 -1.0 True\n"


def test_parts_come_back_inside_their_holders_after_a_rewind(tmp_path):
    path = make_notebook(tmp_path / "parts.ipynb", "config = {'solver': {'tol': 1}}",
                         "cfg = config['solver']\nlst = [1]", "d = {'k': lst}",
                         "cfg['tol'] = 2")
    audit(path)
    nb = run_probe(tmp_path, path, "%nbrewind rewind 3", "cfg['tol'] = 3\nlst.append(2)",
                   "print(config['solver'] is cfg, d['k'] is lst, config, d)")
    assert stream(nb, 2) == "True True {'solver': {'tol': 3}} {'k': [1, 2]}\n"


def test_rewind_keeps_sharing_only_where_it_was(tmp_path):
    path = make_notebook(tmp_path / "share.ipynb",
                         "import numpy as np\na = np.arange(4.0)\ntrain = a[:2]\n"
                         "box = {'t': train}",
                         "v = a[1:]", "a = a.copy()")
    audit(path)
    # `a = a.copy()` left v a view of the old array, equal in content to the new
    nb = run_probe(tmp_path, path, "%nbrewind rewind 3", "a[1] = 99.0",
                   "print(v[0], box['t'] is train, np.shares_memory(a, v))")
    assert stream(nb, 2) == "1.0 True False\n"
