"""nbrewind.Graph and nbrewind.Plan (nbr_graph, nbr_plan): edges, edits and
early cutoff, restores, unrestorable values, the graph frozen while a plan is
open, errors, and a 500-cell notebook."""
import time

import pytest

import nbrewind

# cell id -> source; each cell's write is observed with hash "h:<name>".
NOTEBOOK = {
    "load": "x = 1\n",
    "scale": "y = x * 2\n",
    "report": "z = y + 1\n",
    "other": "w = x - 1\n",
}
WRITES = {"load": "x", "scale": "y", "report": "z", "other": "w"}


def audited(cells=NOTEBOOK, writes=WRITES):
    """A graph of the cells in order, each cell's write observed."""
    graph = nbrewind.Graph()
    for cell_id, source in cells.items():
        graph.add_cell(cell_id, source)
        graph.observe(cell_id, "write", writes[cell_id], "h:" + writes[cell_id])
    return graph


def states(plan, graph):
    return {cell_id: plan.state(cell_id) for cell_id in graph.cells()}


def rerun(plan, cell_id, **hashes):
    """Re-run the cell next() returned: report its writes, then done."""
    assert plan.next() == cell_id
    for name, value in hashes.items():
        plan.report(cell_id, "write", name, value)
    plan.cell_done(cell_id)


def test_small_notebook_has_an_edge_per_value_read_from_its_latest_writer():
    graph = audited()
    assert graph.cells() == ["load", "scale", "report", "other"]
    assert graph.edges() == [("load", "scale", "x"), ("scale", "report", "y"),
                             ("load", "other", "x")]
    assert graph.cell_names("scale", "reads") == ["x"]
    assert graph.cell_names("scale", "writes") == ["y"]


def test_edit_makes_the_edited_cell_must_run_and_its_dependants_may_run():
    graph = audited()
    graph.edit_cell("load", "x = 2\n")
    with nbrewind.Plan(graph) as plan:
        assert states(plan, graph) == {"load": "must_run", "scale": "may_run",
                                       "report": "may_run", "other": "may_run"}


def test_early_cutoff_skips_readers_when_the_rerun_leaves_the_same_hash():
    graph = audited()
    graph.mark_edited("load")
    with nbrewind.Plan(graph) as plan:
        rerun(plan, "load", x="h:x")
        assert plan.next() is None
        assert states(plan, graph) == {"load": "done", "scale": "skip", "report": "skip",
                                       "other": "skip"}


def test_changed_hash_makes_the_readers_must_run():
    graph = audited()
    graph.edit_cell("load", "x = 2\n")
    with nbrewind.Plan(graph) as plan:
        rerun(plan, "load", x="h:x-new")
        assert plan.next() == "scale"
        assert plan.state("scale") == "must_run"
        plan.report("scale", "write", "y", "h:y")  # y came out the same
        plan.cell_done("scale")
        assert plan.next() == "other"  # report is cut off
        assert plan.state("report") == "skip"


def test_restores_name_each_value_read_with_the_cell_that_produced_it():
    cells = {"a": "x = 1\n", "b": "y = 2\n", "c": "z = x + y\n"}
    graph = audited(cells, {"a": "x", "b": "y", "c": "z"})
    graph.edit_cell("c", "z = x * y\n")
    with nbrewind.Plan(graph) as plan:
        assert plan.restores("c") == [("x", "a"), ("y", "b")]
        assert plan.restores("a") == []


def test_unrestorable_value_makes_its_producer_a_producer():
    cells = {"connect": "client = make_client()\n", "n": "n = 3\n",
             "use": "r = len(client) + n\n"}
    graph = audited(cells, {"connect": "client", "n": "n", "use": "r"})
    graph.mark_unrestorable("connect", "client")
    graph.edit_cell("use", "r = len(client) * n\n")
    with nbrewind.Plan(graph) as plan:
        assert states(plan, graph) == {"connect": "producer", "n": "skip", "use": "must_run"}
        assert plan.restores("use") == [("n", "n")]


def test_changing_the_graph_while_a_plan_is_open_raises_error_naming_the_state():
    graph = audited()
    plan = nbrewind.Plan(graph)
    with pytest.raises(nbrewind.Error, match="plan") as info:
        graph.add_cell("late", "v = 1\n")
    assert info.value.status == "NBR_ESTATE"
    with pytest.raises(nbrewind.Error, match="plan"):
        graph.observe("load", "read", "x", None)
    plan.close()
    plan.close()
    graph.add_cell("late", "v = 1\n")
    assert graph.cells()[-1] == "late"


def test_dropping_the_last_reference_to_an_open_plan_unfreezes_the_graph():
    graph = audited()
    nbrewind.Plan(graph)  # freed at once
    graph.mark_edited("load")


def test_a_plan_keeps_its_graph_alive():
    plan = nbrewind.Plan(audited())
    assert plan.next() is None  # nothing edited
    assert plan.state("load") == "skip"


def test_a_closed_plan_raises_error():
    plan = nbrewind.Plan(audited())
    plan.close()
    with pytest.raises(nbrewind.Error, match="closed"):
        plan.next()


def test_bad_what_or_which_raises_invalid_error():
    graph = audited()
    with pytest.raises(nbrewind.InvalidError, match="bogus"):
        graph.observe("load", "bogus", "x", "h")
    with pytest.raises(nbrewind.InvalidError):
        graph.cell_names("load", "read")
    graph.mark_edited("load")
    with nbrewind.Plan(graph) as plan:
        assert plan.next() == "load"
        with pytest.raises(nbrewind.InvalidError):
            plan.report("load", "read", "x", "h")
        with pytest.raises(nbrewind.InvalidError):
            plan.report("load", "rewrite", "x", "h")


def test_unknown_cell_raises_not_found_error():
    graph = audited()
    with pytest.raises(nbrewind.NotFoundError, match="nowhere"):
        graph.observe("nowhere", "write", "x", "h")
    with pytest.raises(nbrewind.NotFoundError):
        graph.cell_names("nowhere", "writes")
    with nbrewind.Plan(graph) as plan:
        with pytest.raises(nbrewind.NotFoundError):
            plan.state("nowhere")
        with pytest.raises(nbrewind.NotFoundError):
            plan.restores("nowhere")


def test_adding_a_cell_twice_raises_error():
    graph = audited()
    with pytest.raises(nbrewind.Error) as info:
        graph.add_cell("load", "x = 5\n")
    assert info.value.status == "NBR_EEXISTS"


def test_reporting_a_cell_next_did_not_return_raises_error():
    graph = audited()
    graph.mark_edited("load")
    with nbrewind.Plan(graph) as plan:
        with pytest.raises(nbrewind.Error) as info:
            plan.cell_done("scale")
        assert info.value.status == "NBR_ESTATE"


def test_500_cell_chain_plan_runs_to_completion_quickly():
    start = time.perf_counter()
    graph = nbrewind.Graph()
    graph.add_cell("c0", "v0 = 0\n")
    graph.observe("c0", "write", "v0", "h0")
    for i in range(1, 500):
        graph.add_cell(f"c{i}", f"v{i} = v{i - 1} + 1\n")
        graph.observe(f"c{i}", "write", f"v{i}", f"h{i}")
    graph.edit_cell("c1", "v1 = v0 + 2\n")
    built = time.perf_counter()
    ran = []
    with nbrewind.Plan(graph) as plan:
        while (cell_id := plan.next()) is not None:
            ran.append(cell_id)
            plan.restores(cell_id)
            for name in graph.cell_names(cell_id, "writes"):
                plan.report(cell_id, "write", name, "changed")
            plan.cell_done(cell_id)
    elapsed = time.perf_counter() - start
    print(f"500-cell notebook: built in {(built - start) * 1000:.1f} ms, "
          f"{len(ran)} cells planned and re-run in {(start + elapsed - built) * 1000:.1f} ms")
    assert ran == [f"c{i}" for i in range(1, 500)]
    assert elapsed < 5  # the target is 100 ms; only a pathological slowdown fails
