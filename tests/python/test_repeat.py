"""`nbrewind repeat`: audit -> edit -> repeat through real kernels.

Each case states the exact cells that must re-run, and checks the oracle:
every cell's outputs after the repeat equal those of a fresh full run of the
edited notebook (text compared after removing memory addresses)."""
from __future__ import annotations

import io
import os
import re
import shutil

import nbformat
import pytest

from nbrewind.repeat import repeat_notebook
from nbrewind.runner import AuditFailed
from notebooks import audit, cli, make_notebook

ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


def texts(nb) -> list:
    """Each code cell's outputs as comparable text."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                parts.append(f"{o.name}:{o.text}")
            elif o.output_type in ("execute_result", "display_data"):
                parts.append(str(o.data.get("text/plain", "")))
            elif o.output_type == "error":
                parts.append(f"error:{o.ename}:{o.evalue}")
        out.append(ADDRESS.sub("0x?", "".join(parts)))
    return out


def fresh_run(path, tmp_path) -> list:
    """The edited notebook run top to bottom in a fresh kernel (own store)."""
    fresh = tmp_path / "fresh" / os.path.basename(path)
    fresh.parent.mkdir(exist_ok=True)
    shutil.copy(path, fresh)
    for name in os.listdir(os.path.dirname(path)):  # input files travel along
        src = os.path.join(os.path.dirname(path), name)
        if os.path.isfile(src) and not name.endswith(".ipynb"):
            shutil.copy(src, fresh.parent / name)
    try:
        audit(fresh)
    except Exception:
        pass  # a failing cell is part of the oracle too
    return texts(nbformat.read(str(fresh), as_version=4))


def edit(path, changes: dict, insert: dict | None = None, delete: tuple = ()):
    nb = nbformat.read(path, as_version=4)
    for index, source in changes.items():
        nb.cells[index].source = source
    for index, (cell_id, source) in sorted((insert or {}).items(), reverse=True):
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cell_id
        nb.cells.insert(index, cell)
    nb.cells = [c for i, c in enumerate(nb.cells) if c.id not in delete]
    nbformat.write(nb, path)


def case(tmp_path, cells, changes, expect_ran, insert=None, delete=(), setup=None):
    path = make_notebook(tmp_path / "nb.ipynb", *cells)
    if setup:
        setup(tmp_path)
    try:
        audit(path)
    except AuditFailed as failed:  # a notebook audited with a failing cell
        assert failed.code == 1
    edit(path, changes, insert, delete)
    if setup:
        setup(tmp_path, edited=True)
    result = repeat_notebook(path, report=io.StringIO())
    assert result["ran"] == expect_ran
    assert_same_outputs(path, tmp_path)
    return result


def assert_same_outputs(path, tmp_path):
    """The oracle: outputs equal a fresh full run's.  A cell whose output
    differs between two fresh runs is not deterministic: it is reported (and
    left out of the comparison) rather than hidden or failed."""
    repeated = texts(nbformat.read(path, as_version=4))
    fresh = fresh_run(path, tmp_path)
    if repeated == fresh:
        return
    shutil.rmtree(tmp_path / "fresh")
    again = fresh_run(path, tmp_path)
    unstable = [i for i, (a, b) in enumerate(zip(fresh, again)) if a != b]
    if unstable:
        print(f"non-deterministic cells (outputs differ between two fresh runs): "
              f"{[i + 1 for i in unstable]}")
    keep = [i for i in range(len(fresh)) if i not in unstable]
    assert [repeated[i] for i in keep] == [fresh[i] for i in keep]


def test_late_edit_reruns_only_the_last_cell(tmp_path):
    case(tmp_path, ["import numpy as np\nx = np.arange(10)", "y = x * 2", "print(y.sum())"],
         {2: "print(y.sum() + 1)"}, ["cell3"])


def test_early_parameter_edit_reruns_its_readers(tmp_path):
    case(tmp_path, ["n = 5", "sq = [i * i for i in range(n)]", "other = 'unrelated'",
                    "print(sum(sq), other)"],
         {0: "n = 6"}, ["cell1", "cell2", "cell4"])


def test_function_body_edit_reruns_its_callers(tmp_path):
    case(tmp_path, ["def f(v):\n    return v + 1", "a = f(1)", "b = 10", "print(a, b)"],
         {0: "def f(v):\n    return v + 100"}, ["cell1", "cell2", "cell4"])


# ---- found by a differential probe (each failed before its fix) -----------------

def test_an_alias_made_by_a_later_cell_is_restored_with_its_twin(tmp_path):
    # cell3 restores `a` from cell1; `b = a` (cell2) must come back as the
    # same object, or cell4 finds no `b` (NameError before).
    case(tmp_path, ["a = [1]", "b = a", "a.append(2)", "print(b)"], {2: "a.append(3)"},
         ["cell3", "cell4"])


def test_a_rebinding_breaks_the_alias_it_ended(tmp_path):
    # `a = [2]` ends `b = a`: restoring `a` for cell5 must not overwrite the
    # new `b` with the audited one (printed `[2] [1]` before).
    case(tmp_path, ["a = [1]", "b = a", "a = [2]", "b.append(3)", "print(a, b)"],
         {3: "b.append(4)"}, ["cell4", "cell5"])


def test_an_edit_that_starts_drawing_takes_the_seeded_state_and_passes_it_on(tmp_path):
    # The edited cell gets the state cell2 left (it drew unseeded before),
    # and cell4 draws after it (it restored cell2's state before).
    case(tmp_path, ["import random\nrandom.seed(1)", "a = random.random()", "b = 5",
                    "c = random.random()", "print(round(a, 6), round(b, 6), round(c, 6))"],
         {2: "b = random.random()"}, ["cell3", "cell4", "cell5"])


def test_an_inserted_cell_that_draws_moves_the_later_draws(tmp_path):
    case(tmp_path, ["import numpy as np\nnp.random.seed(1)", "a = np.random.rand()",
                    "c = np.random.rand()", "print(round(a, 6), round(c, 6))"],
         {}, ["new1", "cell3", "cell4"], insert={2: ("new1", "b = np.random.rand()")})


def test_a_producer_rerun_replays_the_cells_that_advanced_its_value(tmp_path):
    # gen cannot be stored: cell1 re-creates it, and cell2's next() must run
    # again before the edited cell3 (it printed `0 100` before).
    case(tmp_path, ["gen = (i * i for i in range(5))", "a = next(gen)", "b = next(gen)",
                    "print(a, b)"], {2: "b = next(gen) + 100"}, ["cell1", "cell2", "cell3", "cell4"])


def test_an_lru_cached_function_is_recomputed_with_its_cache(tmp_path):
    # A library wrapper pickled by its notebook name cannot be restored
    # (repeat aborted before): its cell re-runs, and so does the call that
    # filled its cache.
    case(tmp_path, ["k = 1", "import functools\n@functools.lru_cache(None)\ndef f(v):\n"
                    "    return v * k", "a = f(2)", "k = 5", "print(f(2))"],
         {4: "print(f(2), 'x')"}, ["cell2", "cell3", "cell5"])


def test_an_edit_that_introduces_exec_may_rebind_any_name(tmp_path):
    case(tmp_path, ["x = 1", "y = 2", "print(x)"], {1: "exec('x = 5')"}, ["cell2", "cell3"])


def test_a_changed_module_file_reruns_the_readers_of_the_module(tmp_path):
    def module(directory, edited=False):
        (directory / "mymod.py").write_text(f"VAL = {2 if edited else 1}\n")
    case(tmp_path, ["import sys, os\nsys.path.insert(0, os.getcwd())\nimport mymod",
                    "v = mymod.VAL", "print(v)"], {}, ["cell1", "cell2", "cell3"], setup=module)


def test_who_and_dir_read_every_name(tmp_path):
    case(tmp_path, ["alpha = 1", "beta = 2", "%who", "x = 1", "del x",
                    "print('x' in dir())"], {1: "gamma = 2", 4: "pass"},
         ["cell2", "cell3", "cell5", "cell6"])


def test_edit_reruns_shell_commands_that_expand_the_name(tmp_path):
    # IPython expands {expr} and $name in `!` commands and magics: reads.
    case(tmp_path, ["word = 'alpha'", "other = 'beta'", "out = !echo {word.upper()}",
                    "!echo $other", "print(out)"],
         {0: "word = 'gamma'"}, ["cell1", "cell3", "cell5"])


def test_edit_with_the_same_result_stops_at_the_edited_cell(tmp_path):
    case(tmp_path, ["x = 1 + 1", "y = x * 10", "print(y)"], {0: "x = 2"}, ["cell1"])


def test_plot_like_edit_does_not_rerun_readers_of_the_data(tmp_path):
    case(tmp_path, ["import numpy as np\ndata = np.linspace(0, 1, 50)",
                    "print('plot of', len(data))", "print(data.mean())"],
         {1: "print('PLOT of', len(data))"}, ["cell2"])


def test_aliasing_mutation_through_the_alias(tmp_path):
    case(tmp_path, ["a = [1, 2]\nb = a", "b.append(3)", "print(a)"],
         {1: "b.append(4)"}, ["cell2", "cell3"])


def test_an_object_holding_an_array_sees_it_changed_after_a_restore(tmp_path):
    case(tmp_path, ["import numpy as np\ndata = np.zeros(5)",
                    "class Model:\n    def __init__(self, d):\n        self.d = d\nmodel = Model(data)",
                    "data[0] = 1.0\nprint(model.d[0])"],
         {2: "data[0] = 2.0\nprint(model.d[0], model.d is data)"}, ["cell3"])


def test_a_view_sees_its_array_changed_by_a_rerun_cell(tmp_path):
    # cell3 restores `a`; `v` must come back as a view of it (NameError before)
    case(tmp_path, ["import numpy as np\na = np.zeros(4)", "v = a[:2]", "a[0] = 5.0", "print(v)"],
         {2: "a[0] = 7.0"}, ["cell3", "cell4"])


def test_an_array_changed_through_its_view_by_a_rerun_cell(tmp_path):
    case(tmp_path, ["import numpy as np\na = np.zeros(4)", "v = a[1:3]", "v[0] = 5.0", "print(a)"],
         {2: "v[0] = 7.0"}, ["cell3", "cell4"])


def test_an_inserted_cell_changing_an_array_reruns_the_readers_of_its_views(tmp_path):
    # the view shares the array's memory: for the plan, a change of the array
    # is a change of the view (cell3 kept its audited `[0. 0.]` before), and
    # the view is restored with the array for the new cell
    case(tmp_path, ["import numpy as np\na = np.zeros(4)", "v = a[:2]", "print(v)"],
         {}, ["new", "cell3"], insert={2: ("new", "a[1] = 3.0")})


def test_a_view_rebound_by_an_inserted_cell_is_not_restored_over(tmp_path):
    # restoring `a` for cell3 brings its audited view along, unless a cell
    # that ran here bound `v` since: printed `[7. 0.]` for `[1. 1.]` before
    case(tmp_path, ["import numpy as np\na = np.zeros(4)", "v = a[:2]", "a[0] = 5.0", "print(v)"],
         {2: "a[0] = 7.0"}, ["new", "cell3", "cell4"], insert={2: ("new", "v = np.ones(2)")})


def test_a_dict_holding_an_array_changed_by_a_rerun_cell(tmp_path):
    case(tmp_path, ["import numpy as np\ndata = np.zeros(3)", "box = {'d': data}",
                    "data[0] = 1.0", "print(box['d'])"],
         {2: "data[0] = 2.0"}, ["cell3", "cell4"])


def test_a_part_of_a_dict_changed_by_a_rerun_cell(tmp_path):
    # cfg is stored as config["solver"]: restored for cell3, it brings config
    # along as one object with it (NameError for config in cell4 before)
    case(tmp_path, ["config = {'solver': {'tol': 1}, 'n': 3}", "cfg = config['solver']",
                    "cfg['tol'] = 2", "print(config)"],
         {2: "cfg['tol'] = 5"}, ["cell3", "cell4"])


def test_a_list_put_in_a_dict_later_changed_by_a_rerun_cell(tmp_path):
    case(tmp_path, ["lst = [1]", "d = {'k': lst}", "lst.append(2)", "print(d)"],
         {2: "lst.append(3)"}, ["cell3", "cell4"])


def test_a_dataframe_in_a_dict_changed_by_a_rerun_cell(tmp_path):
    # the dict's pickle has the frame's buffers; df is a path into it, and
    # keeps them bound (NameError for frames in cell4 before)
    case(tmp_path, ["import pandas as pd\nframes = {'a': pd.DataFrame({'x': [1, 2]})}",
                    "df = frames['a']", "df['x'] = df['x'] * 2", "print(frames['a'])"],
         {2: "df['x'] = df['x'] * 3"}, ["cell3", "cell4"])


def test_an_alias_of_a_part_keeps_it_in_its_holder(tmp_path):
    # `d2 = df` stores df again: still as a path into frames, not whole
    # (NameError for frames in cell5 before)
    case(tmp_path, ["frames = {'a': {'x': [1]}, 'b': {}}", "df = frames['a']", "d2 = df",
                    "d2['z'] = 3", "print(frames['a'])"],
         {3: "d2['z'] = 4"}, ["cell4", "cell5"])


def test_a_part_of_a_holder_with_an_alias_that_sorts_first(tmp_path):
    # `fr` is the representative of frames' alias group: it may hold parts
    case(tmp_path, ["frames = {'a': {'x': 0}}", "fr = frames", "df = frames['a']",
                    "df['x'] = 9", "print(fr['a'])"],
         {3: "df['x'] = 8"}, ["cell4", "cell5"])


def test_an_attribute_of_a_notebook_object_changed_by_a_rerun_cell(tmp_path):
    case(tmp_path, ["class Run:\n    pass\nrun = Run()\nrun.log = []", "log = run.log",
                    "log.append('a')", "print(run.log)"],
         {2: "log.append('b')"}, ["cell3", "cell4"])


# found by a differential probe and a review of views and parts (each failed
# before its fix)

def test_a_part_taken_out_of_its_holder_is_no_longer_shared(tmp_path):
    # `del config['s']` ends the sharing: cell4 changes cfg alone, and config
    # is restored for cell5 (NameError: the sharing had outlived the del)
    case(tmp_path, ["config = {'s': {'t': 1}}", "cfg = config['s']", "del config['s']",
                    "cfg['t'] = 2", "print(cfg, config)"],
         {3: "cfg['t'] = 3"}, ["cell4", "cell5"])


def test_a_slot_replaced_with_equal_content_is_no_longer_shared(tmp_path):
    # config['s'] got a new dict equal to cfg's: cfg must not be restored as
    # config['s'] (printed {'s': {'t': 3}} before)
    case(tmp_path, ["config = {'s': {'t': 1}}", "cfg = config['s']", "config['s'] = {'t': 1}",
                    "cfg['t'] = 2", "print(config, cfg)"],
         {3: "cfg['t'] = 3"}, ["cell4", "cell5"])


def test_an_array_rebound_to_an_equal_copy_no_longer_has_the_view(tmp_path):
    case(tmp_path, ["import numpy as np\na = np.arange(4.0)", "v = a[1:]", "a = a.copy()",
                    "a[1] = 50.0\nprint(v)"],
         {3: "a[1] = 60.0\nprint(v)"}, ["cell4"])


def test_two_parts_of_one_holder_come_back_one_object(tmp_path):
    case(tmp_path, ["config = {'s': {'t': 1}}", "cfg = config['s']", "cfg2 = config['s']",
                    "cfg2['t'] = 2", "print(cfg, config, cfg is cfg2)"],
         {3: "cfg2['t'] = 3"}, ["cell4", "cell5"])


def test_an_alias_of_an_array_changed_through_its_view(tmp_path):
    case(tmp_path, ["import numpy as np\na = np.zeros(4)", "b = a", "v = a[:2]", "v[0] = 1.0",
                    "print(b)"],
         {3: "v[0] = 2.0"}, ["cell4", "cell5"])


def test_an_alias_a_rerun_cell_only_might_have_rebound_is_restored(tmp_path):
    # cell3's `if` binds b only when flag is set: b is restored for cell4
    # (NameError when any cell that may bind a name counted as binding it)
    case(tmp_path, ["a = [1]", "b = a", "flag = False\nif flag:\n    b = None", "a.append(2)",
                    "print(b)"],
         {2: "flag = False\nif flag:\n    b = None  # edited", 3: "a.append(3)"},
         ["cell3", "cell4", "cell5"])



# ---- edits that make or end a relation (each failed before its fix) -------------
#
# The records say what later cells changed through an alias, a view or a part
# as the audited sources related the names.  An edit (or an inserted or
# deleted cell) that makes or ends such a relation makes those records wrong:
# the re-run cell's relations are compared with the records' (and the cells
# changing a name in place through another read it), so the cells whose
# effect depended on the relation run again.

NP = "import numpy as np\n"


def test_an_alias_edited_to_name_another_object(tmp_path):
    # printed the audited `[1, 0]`: v no longer aliases the a that cell3 changes
    case(tmp_path, ["a = [0, 0]\nb = [0, 0]", "v = a", "a[0] = 1", "print(v)"],
         {1: "v = b"}, ["cell2", "cell3", "cell4"])


def test_an_alias_edited_to_name_another_object_changed_through_it(tmp_path):
    case(tmp_path, ["a = [0, 0]\nb = [1, 1]", "v = a", "v[0] = 5", "print(a, b)"],
         {1: "v = b"}, ["cell2", "cell3", "cell4"])


def test_a_copy_edited_into_an_alias(tmp_path):
    # `b = a` for `b = list(a)`: b.append changes a too (printed `[0]`)
    case(tmp_path, ["a = [0]", "b = list(a)", "b.append(1)", "print(a)"], {1: "b = a"},
         ["cell2", "cell3", "cell4"])


def test_a_copy_edited_into_an_alias_changed_by_two_later_cells(tmp_path):
    case(tmp_path, ["a = [0]", "b = list(a)", "a.append(2)", "b.append(1)", "print(a)"],
         {1: "b = a"}, ["cell2", "cell3", "cell4", "cell5"])


def test_an_inserted_cell_rebinding_an_aliased_name(tmp_path):
    case(tmp_path, ["a = [0, 0]", "v = a", "v[0] = 1", "print(a, v)"], {},
         ["new", "cell3", "cell4"], insert={2: ("new", "a = [1, 1]")})


def test_a_copy_edited_into_a_part(tmp_path):
    case(tmp_path, ["config = {'s': {'t': 1}}", "cfg = dict(config['s'])", "cfg['t'] = 2",
                    "print(config)"], {1: "cfg = config['s']"}, ["cell2", "cell3", "cell4"])


def test_a_part_edited_to_lie_in_another_holder(tmp_path):
    case(tmp_path, ["A = {'k': [1]}\nB = {'k': [2]}", "part = A['k']", "part.append(9)",
                    "print(A, B)"], {1: "part = B['k']"}, ["cell2", "cell3", "cell4"])


def test_an_inserted_cell_rebinding_a_holder(tmp_path):
    case(tmp_path, ["config = {'s': {'t': 1}}", "cfg = config['s']", "cfg['t'] = 2",
                    "print(config)"], {}, ["new", "cell3", "cell4"],
         insert={2: ("new", "config = {'s': {'t': 7}}")})


def test_an_inserted_cell_taking_another_part_of_a_restored_holder(tmp_path):
    # config, given to the kernel for the new cell, is what cfg is a part of
    # now: restoring it again for cell3 cut cfg off it ({'b': {}} printed)
    case(tmp_path, ["config = {'a': {}, 'b': {}}", "cfg = config['a']", "cfg['t'] = 1",
                    "print(config)"], {}, ["new", "cell3", "cell4"],
         insert={2: ("new", "cfg = config['b']")})


def test_a_copy_edited_into_a_view(tmp_path):
    case(tmp_path, [NP + "a = np.zeros(4)", "v = a[:2].copy()", "v[0] = 1.0", "print(a)"],
         {1: "v = a[:2]"}, ["cell2", "cell3", "cell4"])


def test_a_view_edited_to_other_elements(tmp_path):
    # the relation stays, its geometry changes: `a[2] = 1` now shows in v
    case(tmp_path, [NP + "a = np.zeros(4)", "v = a[:2]", "a[2] = 1.0", "print(v)"],
         {1: "v = a[2:]"}, ["cell2", "cell3", "cell4"])


def test_a_view_edited_to_look_into_another_array(tmp_path):
    case(tmp_path, [NP + "a = np.zeros(4)\nb = np.ones(4)", "v = a[:2]", "v[0] = 5.0",
                    "print(a, b)"], {1: "v = b[:2]"}, ["cell2", "cell3", "cell4"])


def test_an_inserted_cell_rebinding_the_array_of_a_view(tmp_path):
    case(tmp_path, [NP + "a = np.zeros(4)", "v = a[:2]", "v[0] = 1.0", "print(a, v)"], {},
         ["new", "cell3", "cell4"], insert={2: ("new", "a = np.ones(4)")})


def test_names_aliased_to_a_rebound_name_stay_one_object(tmp_path):
    # `a = [1, 1]` ends a's relation with v and w, not theirs with each other:
    # restored apart from a, they are one object (w printed [0, 0] in review)
    case(tmp_path, ["a = [0, 0]\nv = a\nw = a", "v[0] = 1", "print(w)"], {},
         ["new", "cell2", "cell3"], insert={1: ("new", "a = [1, 1]")})


def test_deleting_the_cell_that_ended_an_alias(tmp_path):
    # cell4 was audited while b was [7], so its record changes a alone;
    # without cell3, b is a again and shows the append (it printed [0])
    case(tmp_path, ["a = [0]", "b = a", "b = [7]", "a.append(1)", "print(b)"], {}, ["cell5"],
         delete=("cell3",))


def test_a_file_a_deleted_cell_wrote_does_not_rerun_its_later_writers(tmp_path):
    case(tmp_path, ["open('o.txt', 'w').write('a')", "open('o.txt', 'w').write('b')", "print(1)"],
         {}, [], delete=("cell1",))


def test_deleting_the_cell_that_made_a_view(tmp_path):
    # cell3's record changed v too: without `v = a[:2]`, print(v) fails as
    # in a fresh run (it printed the audited view before)
    case(tmp_path, [NP + "a = np.zeros(4)", "v = a[:2]", "a[0] = 5.0", "print(a)", "print(v)"],
         {}, ["cell3", "cell4", "cell5"], delete=("cell2",))


def test_deleting_the_cell_that_took_a_part(tmp_path):
    case(tmp_path, ["config = {'s': {'t': 1}}", "cfg = config['s']", "config['s']['t'] = 2",
                    "print(config)", "print(cfg)"], {}, ["cell3", "cell4", "cell5"],
         delete=("cell2",))


def test_a_cell_running_unseen_code_reruns_when_any_earlier_value_changes(tmp_path):
    # exec and %run -i read x where the analysis cannot see it; the audit
    # records them as reading every name, so an edit of x reruns them.
    (tmp_path / "exec").mkdir()
    case(tmp_path / "exec", ["x = 1", "exec('y = x + 1')", "z = 5", "print(y)"], {0: "x = 2"},
         ["cell1", "cell2", "cell4"])
    (tmp_path / "run").mkdir()
    (tmp_path / "s.py").write_text("w = x * 10\n")
    case(tmp_path / "run", ["x = 1", f"%run -i {tmp_path / 's.py'}", "z = 5", "print(w)"],
         {0: "x = 2"}, ["cell1", "cell2", "cell4"])


def test_inplace_numpy_edit(tmp_path):
    case(tmp_path, ["import numpy as np\na = np.zeros(5)", "a[1:3] = 7.0", "print(a.sum())",
                    "c = 3"],
         {1: "a[1:4] = 7.0"}, ["cell2", "cell3"])


def test_inplace_pandas_edit(tmp_path):
    case(tmp_path, ["import pandas as pd\ndf = pd.DataFrame({'v': [1.0, None, 3.0]})",
                    "df.fillna(0, inplace=True)", "print(df.v.sum())"],
         {1: "df.fillna(10, inplace=True)"}, ["cell2", "cell3"])


def test_global_written_by_a_function(tmp_path):
    case(tmp_path, ["total = 0\ndef add(k):\n    global total\n    total += k", "add(5)",
                    "print(total)"],
         {1: "add(6)"}, ["cell2", "cell3"])


def test_numpy_rng_drawn_early_and_an_unrelated_late_edit(tmp_path):
    case(tmp_path, ["import numpy as np\nnp.random.seed(3)", "u = np.random.rand(3)",
                    "print(u.round(6))", "print('done')"],
         {3: "print('finished')"}, ["cell4"])


def test_random_state_edit_early_reruns_later_draws(tmp_path):
    case(tmp_path, ["import random\nrandom.seed(1)", "first = random.random()",
                    "second = random.random()", "print(round(first, 8), round(second, 8))"],
         {0: "import random\nrandom.seed(2)"}, ["cell1", "cell2", "cell3", "cell4"])


def test_edit_of_a_cell_whose_outputs_nobody_reads(tmp_path):
    case(tmp_path, ["x = 3", "unused = x * 2", "print(x)"], {1: "unused = x * 3"}, ["cell2"])


def test_deleted_variable(tmp_path):
    case(tmp_path, ["tmp = 1\nkeep = 2", "del tmp", "print(keep, 'tmp' in dir())"],
         {1: "keep = keep + 1\ndel tmp"}, ["cell2", "cell3"])


def test_failing_cell_fixed_reruns_it_and_its_readers(tmp_path):
    case(tmp_path, ["x = 1", "y = x / 0", "print(y)"], {1: "y = x / 2"}, ["cell2", "cell3"])


def test_changed_input_file_reruns_its_reader(tmp_path):
    def setup(directory, edited=False):
        (directory / "in.txt").write_text("2" if edited else "1")

    case(tmp_path, ["v = int(open('in.txt').read())", "print(v * 10)", "w = 5"], {},
         ["cell1", "cell2"], setup=setup)


def test_inserted_cell_runs_and_feeds_later_cells(tmp_path):
    case(tmp_path, ["x = 1", "y = x + 1", "print(y)"], {}, ["new1", "cell2", "cell3"],
         insert={1: ("new1", "x = 10")})


def test_a_reader_whose_producer_was_deleted_and_collected_reruns(tmp_path):
    # gc drops the deleted cell's record: the read of a value no earlier cell
    # makes says so (the print kept its output before; a fresh run fails)
    path = make_notebook(tmp_path / "nb.ipynb", "x = 1", "y = x + 1", "print(y)")
    audit(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[1:]
    nb.cells[1].source = "print(y, 0)"
    nbformat.write(nb, path)
    assert cli("sync", path).returncode == 0 and cli("gc", path).returncode == 0
    result = repeat_notebook(path, report=io.StringIO())
    assert result["ran"] == ["cell2", "cell3"]
    assert_same_outputs(path, tmp_path)


def test_deleted_cell_reruns_the_readers_of_its_values(tmp_path):
    case(tmp_path, ["x = 1", "x = x + 1", "print(x)"], {}, ["cell3"], delete=("cell2",))


def test_unstorable_producer_reruns_when_a_rerun_cell_needs_it(tmp_path):
    case(tmp_path, ["import threading\nlock = threading.Lock()\nbase = 4",
                    "with lock:\n    v = base * 2", "print(v)"],
         {1: "with lock:\n    v = base * 3"}, ["cell1", "cell2", "cell3"])


def test_dry_run_lists_the_plan_and_runs_nothing(tmp_path):
    path = make_notebook(tmp_path / "nb.ipynb", "a = 1", "b = a + 1", "c = 7")
    audit(path)
    edit(path, {0: "a = 2"})
    report = io.StringIO()
    result = repeat_notebook(path, dry_run=True, report=report)
    assert result["ran"] == []
    text = report.getvalue()
    assert "edited" in text and "restores" not in text.splitlines()[0]
    assert "estimated time" in text
    states = {r["cell"]: r["state"] for r in result["rows"]}
    assert states == {"cell1": "must_run", "cell2": "may_run", "cell3": "skip"}


def test_a_repeated_notebook_can_be_repeated_again(tmp_path):
    path = make_notebook(tmp_path / "nb.ipynb", "a = 1", "b = a + 1", "print(b)")
    audit(path)
    edit(path, {0: "a = 5"})
    assert repeat_notebook(path, report=io.StringIO())["ran"] == ["cell1", "cell2", "cell3"]
    edit(path, {2: "print(b * 2)"})
    assert repeat_notebook(path, report=io.StringIO())["ran"] == ["cell3"]
    assert texts(nbformat.read(path, as_version=4))[2] == "stdout:12\n"



def test_a_part_taken_again_in_a_repeat_stays_a_part_for_the_next_one(tmp_path):
    # The first repeat runs `cfg = config['s']` with config restored: its
    # new record must store cfg as a part of config (a restored holder's
    # pickle needs are read from the store), or the second repeat restores
    # cfg alone and cell4 keeps the audited {'s': {'t': 2}}.
    path = make_notebook(tmp_path / "nb.ipynb", "config = {'s': {'t': 1}}", "cfg = config['s']",
                         "cfg['t'] = 2", "print(config)")
    audit(path)
    edit(path, {1: "cfg = config['s']  # again"})
    assert repeat_notebook(path, report=io.StringIO())["ran"] == ["cell2"]
    edit(path, {2: "cfg['t'] = 5"})
    assert repeat_notebook(path, report=io.StringIO())["ran"] == ["cell3", "cell4"]
    assert_same_outputs(path, tmp_path)

def test_repeat_without_an_audit_says_what_to_do(tmp_path):
    path = make_notebook(tmp_path / "nb.ipynb", "a = 1")
    with pytest.raises(AuditFailed, match="nbrewind audit"):
        repeat_notebook(path, report=io.StringIO())


DASK = ["from dask.distributed import LocalCluster, Client\n"
        "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,\n"
        "                       host='127.0.0.1', dashboard_address=':0')\n"
        "client = Client(cluster)",
        "import numpy as np\nsquares = np.array(client.gather(client.map(lambda i: i * i, range(20))))",
        "cubes = np.array(client.gather(client.map(lambda i: i ** 3, range(20))))",
        "print('plot:', squares.sum(), cubes.sum())"]


def test_dask_late_plot_edit_reruns_neither_cluster_nor_computations(tmp_path):
    case(tmp_path, DASK, {3: "print('PLOT:', squares.sum(), cubes.sum())"}, ["cell4"])


def test_dask_rerun_cell_needing_the_client_reruns_the_client_cell(tmp_path):
    edited = "import numpy as np\nsquares = np.array(client.gather(client.map(lambda i: i * i + 1, range(20))))"
    # The client cell re-runs (its client cannot be stored); cubes is restored.
    case(tmp_path, DASK, {1: edited}, ["cell1", "cell2", "cell4"])


def test_no_edit_runs_nothing(tmp_path):
    case(tmp_path, ["x = 1", "print(x)"], {}, [])


def moved_case(tmp_path, cells, order, expect_ran):
    """Audit `cells`, put them in `order` (indexes), repeat."""
    path = make_notebook(tmp_path / "nb.ipynb", *cells)
    audit(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells = [nb.cells[i] for i in order]
    nbformat.write(nb, path)
    result = repeat_notebook(path, report=io.StringIO())
    assert result["ran"] == expect_ran
    assert_same_outputs(path, tmp_path)


def test_moved_cell_reruns(tmp_path):
    moved_case(tmp_path, ["a = 1", "b = 2", "print(a + b)"], [1, 0, 2], ["cell1"])


def test_a_change_in_place_moved_before_the_alias_it_went_through(tmp_path):
    # b.append(1), audited after b = a, changed a too; moved before it, it
    # changes cell2's b alone, and cell3's b = a then leaves b as [0], not
    # as the [0, 1] that cell5's record read (it printed [0, 1] [0, 1])
    moved_case(tmp_path, ["a = [0]", "b = [0]", "b = a", "b.append(1)", "print(a, b)"],
               [0, 1, 3, 2, 4], ["cell4", "cell3", "cell5"])


def test_edit_of_a_function_called_through_another(tmp_path):
    case(tmp_path, ["def g(v):\n    return v * 2", "def f(v):\n    return g(v) + 1",
                    "r = f(5)", "print(r)", "s = 'other'"],
         {0: "def g(v):\n    return v * 3"}, ["cell1", "cell2", "cell3", "cell4"])


def test_class_method_edit_reruns_its_users(tmp_path):
    case(tmp_path, ["class Box:\n    def __init__(self, v):\n        self.v = v\n"
                    "    def area(self):\n        return self.v ** 2",
                    "box = Box(3)", "print(box.area())", "n = 1"],
         {0: "class Box:\n    def __init__(self, v):\n        self.v = v\n"
             "    def area(self):\n        return self.v ** 3"},
         ["cell1", "cell2", "cell3"])


def test_file_written_by_the_notebook_feeds_a_later_reader(tmp_path):
    case(tmp_path, ["with open('mid.txt', 'w') as f:\n    f.write('7')",
                    "v = int(open('mid.txt').read())", "print(v + 1)"],
         {0: "with open('mid.txt', 'w') as f:\n    f.write('8')"}, ["cell1", "cell2", "cell3"])


def test_numpy_rng_seed_edit_reruns_later_draws(tmp_path):
    case(tmp_path, ["import numpy as np\nnp.random.seed(1)", "x = 5",
                    "u = np.random.rand(2)", "print(u.round(6), x)"],
         {0: "import numpy as np\nnp.random.seed(9)"}, ["cell1", "cell3", "cell4"])


def test_dict_mutation_edit(tmp_path):
    case(tmp_path, ["d = {}", "d['k'] = 1", "print(d)", "e = 2"], {1: "d['k'] = 2"},
         ["cell2", "cell3"])


def test_big_array_is_restored_not_recomputed(tmp_path):
    result = case(tmp_path, ["import numpy as np\nbig = np.arange(2_000_000.0)", "s = big.sum()",
                             "print(s, big[-1])"],
                  {2: "print('sum', s, big[-1])"}, ["cell3"])
    restores = {r["cell"]: r["restores"] for r in result["rows"]}
    assert sorted(restores["cell3"]) == [("big", "cell1"), ("s", "cell2")]


def test_lambda_edit(tmp_path):
    case(tmp_path, ["sq = lambda v: v * v", "vals = [sq(i) for i in range(4)]", "print(vals)"],
         {0: "sq = lambda v: v * v * v"}, ["cell1", "cell2", "cell3"])


def test_verify_reports_agreement_differences_and_nondeterminism(tmp_path):
    from nbrewind.verify import verify_notebook

    (tmp_path / "in.txt").write_text("3")
    path = make_notebook(tmp_path / "nb.ipynb", "import numpy as np\nbase = np.arange(4)",
                         "v = int(open('in.txt').read())\ntwice = base * v\nprint(twice)",
                         "import os\nnoise = os.urandom(4).hex()\nprint(len(noise))",
                         "import random\nrandom.seed(5)\nr = random.random()")
    audit(path)
    verdicts = {v.cell: v for v in verify_notebook(path, ["2", "cell3", "4"])}
    assert verdicts["cell2"].status == "verified"
    assert verdicts["cell3"].status == "nondeterministic"
    assert verdicts["cell4"].status == "verified"
    (tmp_path / "in.txt").write_text("4")  # the world changed since the audit
    changed = verify_notebook(path, ["cell2"])[0]
    assert changed.status == "differs" and any("twice" in d for d in changed.details)


def test_oracle_reports_a_nondeterministic_cell_instead_of_hiding_it(tmp_path, capsys):
    # os.urandom differs on every run: the repeat keeps the audited output, a
    # fresh run prints another; the oracle names the cell instead of failing.
    case(tmp_path, ["import os\ntoken = os.urandom(8).hex()\nprint(token)", "x = 1",
                    "print(x)"], {2: "print(x + 1)"}, ["cell3"])
    assert "non-deterministic cells (outputs differ between two fresh runs): [1]" in \
        capsys.readouterr().out


def test_verify_restores_a_view_with_its_array(tmp_path):
    # restored alone, v would be the root of w, and w's id would differ
    from nbrewind.verify import verify_notebook

    path = make_notebook(tmp_path / "nb.ipynb", "import numpy as np\na = np.arange(6.0)",
                         "v = a[:4]", "w = v[1:]\nprint(w)")
    audit(path)
    verdict = verify_notebook(path, ["cell3"])[0]
    assert verdict.status == "verified", verdict.details
