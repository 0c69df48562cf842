"""`nbrewind verify`: re-execute audited cells from their restored inputs and
compare what they write and show with the record.

Each chosen cell runs twice, each time in a kernel state holding exactly its
inputs as of the cells that produced them (straight from the store).  Both
runs agreeing with the record: verified.  Both agreeing with each other but
not with the record: a difference (the audit and now disagree: another
package version, a changed file, a bug).  The two runs disagreeing: the cell
is not deterministic, and is reported as such rather than hidden.
"""
from __future__ import annotations

import os
import random as _random
import re
from dataclasses import dataclass, field

from . import _core, notebook as nbfile
from .locate import NOTEBOOK_ENV, STORE_ENV, store_for_notebook
from .repeat import DELETED, UNSTORABLE, _kernel_call, build_plan
from .runner import AuditFailed, kernel_client, shutdown

_ADDRESS = re.compile(r"0x[0-9a-f]{6,}")


@dataclass
class Verdict:
    cell: str
    position: int
    status: str = "verified"  # verified | differs | nondeterministic | skipped
    details: list = field(default_factory=list)


def output_text(outputs) -> list[str]:
    """Outputs as comparable text (memory addresses removed)."""
    texts = []
    for o in outputs:
        if o.get("output_type") == "stream":
            texts.append(f"{o.get('name')}:{o.get('text')}")
        elif o.get("output_type") in ("execute_result", "display_data"):
            data = o.get("data", {})
            texts.append(data.get("text/plain", "") if "text/plain" in data
                         else ",".join(sorted(data)))
        elif o.get("output_type") == "error":
            texts.append(f"error:{o.get('ename')}:{o.get('evalue')}")
    return [_ADDRESS.sub("0x?", t) for t in texts]


def _inputs(plan, cell_id: str) -> dict:
    """The `apply` request for what the cell read, with what shares it
    (views, parts, aliases: repeat.Relations, so that they are stored as
    the audit stored them), each as of the cell that produced it."""
    values, aliases = {}, {}
    relations = plan.relations(cell_id)
    for name in plan.cell(cell_id).record.reads:
        if name.startswith("@file:"):
            continue
        members, pairs = relations.together(name)
        aliases.update(pairs)
        for member in sorted(members - values.keys()):
            producer = plan.latest_writer(member, cell_id)
            if producer is None:
                continue
            object_id, why = plan.value_as_of(member, producer)
            if object_id is None and why != "deleted":
                if member != name:
                    continue  # it shared the input, but was not stored: the input alone
                raise AuditFailed(f"cell {cell_id}: its input {name} was not stored ({why}); "
                                  f"verify needs every input restorable", 4)
            values[member] = object_id
    return {"values": sorted(values.items()), "aliases": aliases}


def _run_once(client, state, nb, index, cell_id, inputs, names):
    _kernel_call(client, "apply", inputs)
    cell = nb.cells[index].copy()
    state["cell"], state["index"] = cell, index
    client.execute_cell(cell, index)
    ids = _kernel_call(client, "current_ids", names)
    return output_text(cell.get("outputs", [])), ids


def _compare(verdict, recorded, first, second):
    (out1, ids1), (out2, ids2) = first, second
    if out1 != out2 or ids1 != ids2:
        verdict.status = "nondeterministic"
        changed = sorted(n for n in ids1 if ids1.get(n) != ids2.get(n))
        verdict.details.append("two runs from the same inputs differ"
                               + (f" in {', '.join(changed)}" if changed else " in outputs"))
        return
    rec_out, rec_ids = recorded
    for name, want in rec_ids.items():
        got = ids1.get(name)
        if got is None and want == UNSTORABLE:
            continue
        if got != want:
            verdict.status = "differs"
            verdict.details.append(f"{name}: recorded {want}, now {got}")
    if out1 != rec_out:
        verdict.status = "differs"
        verdict.details.append("displayed outputs differ from the notebook's")


def verify_notebook(path: str, cells: list | None = None, sample: int | None = None,
                    store: str | None = None, timeout: int | None = None) -> list[Verdict]:
    nb = nbfile.read(path)
    store_path = store_for_notebook(os.path.abspath(path), store)
    if not os.path.isdir(store_path):
        raise AuditFailed(f"{path}: no store at {store_path} (run `nbrewind audit` first)", 4)
    with _core.Store(store_path, "r") as st:
        plan = build_plan(nb, path, st)
    chosen = _choose(plan, cells, sample)
    base = os.path.dirname(os.path.abspath(path))
    env = dict(os.environ, **{NOTEBOOK_ENV: os.path.abspath(path), STORE_ENV: store_path,
                              "NBREWIND_BACKGROUND": "0"})
    # The audit kernel: the driver restores what it decided; a live replay
    # (the repeat kernel's) must not second-guess it.
    client, state = kernel_client(nb, base, timeout, None, mode="audit")
    client.allow_errors = True
    index_of = {c.id: i for i, c in enumerate(nb.cells)}
    verdicts = []
    try:
        with client.setup_kernel(env=env):
            for cell in chosen:
                verdicts.append(_verify_cell(client, state, nb, plan, cell, index_of))
    finally:
        shutdown(client)
    return verdicts


def _verify_cell(client, state, nb, plan, cell, index_of) -> Verdict:
    verdict = Verdict(cell.id, plan.cells.index(cell) + 1)
    if cell.record is None or nbfile.source_hash_text(cell.source) != cell.record.source_hash:
        verdict.status = "skipped"
        verdict.details.append("edited since its audit (or never audited): nothing to compare")
        return verdict
    inputs = _inputs(plan, cell.id)
    rec = cell.record
    names = sorted(set(rec.writes) | set(rec.deletes) | set(rec.recompute))
    names = [n for n in names if not n.startswith("@file:")]
    recorded = {n: rec.writes.get(n, DELETED if n in rec.deletes else UNSTORABLE) for n in names}
    notebook_outputs = output_text(nb.cells[index_of[cell.id]].get("outputs", []))
    runs = [_run_once(client, state, nb, index_of[cell.id], cell.id, inputs, names)
            for _ in range(2)]
    _compare(verdict, (notebook_outputs, recorded), runs[0], runs[1])
    return verdict


def _choose(plan, cells: list | None, sample: int | None) -> list:
    audited = [c for c in plan.cells if c.record is not None]
    if cells:
        chosen = []
        for key in cells:
            if key.isdigit() and 1 <= int(key) <= len(plan.cells):
                chosen.append(plan.cells[int(key) - 1])
            elif any(c.id == key for c in plan.cells):
                chosen.append(plan.cell(key))
            else:
                raise AuditFailed(f"--rerun {key}: no such cell (a position 1-"
                                  f"{len(plan.cells)} or a cell id)", 2)
        return chosen
    count = min(sample or 3, len(audited))
    return sorted(_random.Random(0).sample(audited, count), key=plan.cells.index)
