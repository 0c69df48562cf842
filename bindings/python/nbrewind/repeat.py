"""`nbrewind repeat`: re-execute only the cells an edit can affect.

The audit history of the notebook (the latest record of each cell, from its
store) becomes the core's graph: one execution per cell, in notebook order,
with the analysis of the source it ran and what the audit observed (ids
read and written, deletions, aliases, values that could not be stored).
The differences between that history and the notebook as it is now become
edits: a changed source, a new cell, a cell moved, a cell that failed in the
audit, an input file whose content changed, a cell whose input came from a
deleted cell.  The core's plan says what must run; each cell it returns is
executed in a real kernel after restoring exactly the values the plan lists
(straight from the store, as of the cell that produced them), and what the
cell wrote is reported back by id, so that readers of unchanged values drop
out of the plan (early cutoff).  Every other cell keeps its outputs.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import sys
import time
from dataclasses import dataclass, field

from . import _core, notebook as nbfile
from .files import content_id
from .record import ADVANCED_IN_PLACE, NAMES_RANDOM, RNG_NAMES, connected, references
from .history import executions
from .locate import NOTEBOOK_ENV, STORE_ENV, store_for_notebook
from .runner import AuditFailed, kernel_client, shutdown

DELETED = "<deleted>"
# What the graph sees written for a value that could not be stored (a Dask
# client, a lock).  Such a value is a resource, not content: a re-run cell
# that leaves it unstorable again (re-creating the client, submitting work
# to it) reports the same token, so the cells that read it re-run only if
# something they read by content changed.
UNSTORABLE = "unstorable"


@dataclass
class Cell:
    """A code cell of the notebook and its latest audited execution."""

    id: str
    index: int  # position among all cells (0-based)
    source: str
    run: object | None  # history.Execution
    reasons: list = field(default_factory=list)
    withheld: str | None = None  # why its pickled values are not restored (untrusted store)

    @property
    def record(self):
        return self.run.record if self.run else None

    @functools.cached_property
    def audited_analysis(self) -> dict | None:
        """The C analysis of the source its record was made from, or None."""
        source = _audited_source(self.run) if self.run else None
        return None if source is None else _core.analyze(source)

    @functools.cached_property
    def changed_in_place(self) -> set:
        """The names its audited source changes in place and never rebinds
        (`a.append(1)`): the write of one leaves its aliases aliased.  Empty
        when the record wrote a name the source does not spell (through a
        function, which may rebind it, or through an alias) or the source
        defeats analysis."""
        analysis = self.audited_analysis
        if analysis is None:
            return set()
        spelled = {*analysis["defs"], *analysis["may_mutate"], *analysis["deletes"]}
        if analysis["flags"] or any(n not in spelled and not n.startswith("@")
                                    for n in self.record.writes):
            return set()
        return set(analysis["may_mutate"]) - set(analysis["defs"]) - set(analysis["deletes"])


@dataclass
class RepeatPlan:
    cells: list  # Cell, notebook order
    graph: object
    deleted: list  # records of cells no longer in the notebook
    # Kept while the repeat runs: {cell id: names} a re-run cell reported
    # for relations it left otherwise than the records (diverged), and the
    # names its audit found bound or changed (changed_by); {name: the cell
    # as of which the kernel was last given its value} (restored_from).
    diverged: dict = field(default_factory=dict)
    changed_by: dict = field(default_factory=dict)
    restored_from: dict = field(default_factory=dict)
    _writes: dict = field(default_factory=dict, repr=False, compare=False)

    def cell(self, cell_id: str) -> Cell:
        return next(c for c in self.cells if c.id == cell_id)

    def index(self, cell_id: str) -> int:
        return next(i for i, c in enumerate(self.cells) if c.id == cell_id)

    def last_mention(self, name: str, end: int) -> Cell | None:
        """The last of the first `end` cells whose record binds, changes or
        deletes `name`."""
        for cell in reversed(self.cells[:end]):
            rec = cell.record
            if rec is not None and (name in rec.writes or name in rec.recompute or
                                    name in rec.deletes):
                return cell
        return None

    def value_as_of(self, name: str, producer: str):
        """(object id or None, why) of `name` after `producer`, walking back
        through the history in notebook order."""
        cell = self.last_mention(name, self.index(producer) + 1)
        if cell is None:
            return None, "never stored"
        rec = cell.record
        if name in rec.writes:
            return rec.writes[name], None
        if name in rec.recompute:
            return None, rec.recompute[name]
        return None, "deleted"

    def latest_writer(self, name: str, consumer: str) -> str | None:
        """The last cell before `consumer` whose record binds, changes or
        deletes `name`."""
        cell = self.last_mention(name, self.index(consumer))
        return cell.id if cell else None

    def writes(self, cell_id: str) -> set:
        """The names the graph has the cell write (its record's, and what an
        edited or new source may write)."""
        if cell_id not in self._writes:
            self._writes[cell_id] = set(self.graph.cell_names(cell_id, "writes"))
        return self._writes[cell_id]

    def _last_writer(self, name: str, end: int) -> Cell | None:
        """The last of the first `end` cells that may write `name` (as the
        graph knows its writes) or reported it (diverged)."""
        for cell in reversed(self.cells[:end]):
            if name in self.writes(cell.id) or name in self.diverged.get(cell.id, ()):
                return cell
        return None

    def ran_a_writer(self, name: str, consumer: str, core_plan) -> bool:
        """Whether the last cell before `consumer` that may write `name` ran
        in this repeat: the kernel may hold what it left."""
        writer = self._last_writer(name, self.index(consumer))
        return writer is not None and core_plan.state(writer.id) == "done"

    def holds(self, name: str, end: int, core_plan) -> bool:
        """Whether the kernel's value of `name` is the one it has after the
        first `end` cells in this repeat: the last of them that wrote it ran
        here (and bound or changed it, or reported it), or gave the kernel
        its value (restored_from).  A cell that ran and left the name alone
        (an `if` that did not bind it) shows the value before it."""
        while (writer := self._last_writer(name, end)) is not None:
            if name in self.diverged.get(writer.id, ()):
                return True
            if core_plan.state(writer.id) != "done":
                return self.restored_from.get(name) == writer.id
            if name in self.changed_by.get(writer.id, (name,)):
                return True
            end = self.index(writer.id)
        return False

    def relations(self, consumer: str) -> "Relations":
        """The aliases and sharing the records leave just before `consumer`."""
        return Relations(self.cells, self.index(consumer))


def _alias_pairs(cells: list, end: int) -> dict:
    """{member: twin} of the aliases (one object, two names) the records of
    the first `end` cells leave: an alias a later cell made counts (`b = a`
    after `a`'s own cell), one that a cell broke by rebinding either name
    does not; a change in place breaks none, though its record, made where
    the alias did not hold (a deleted cell had ended it), writes one name."""
    pairs: dict = {}
    for cell in cells[:end]:
        rec = cell.record
        if rec is None:
            continue
        paired = set(rec.aliases) | set(rec.aliases.values())
        rebound = set(rec.writes) - cell.changed_in_place
        rebound = (rebound | set(rec.recompute) | set(rec.deletes)) - paired
        pairs = {m: t for m, t in pairs.items() if m not in rebound and t not in rebound}
        pairs.update(rec.aliases)
    return pairs


def _sharing_links(cells: list, end: int) -> dict:
    """{name: names} whose values, as the records of the first `end` cells
    stored them, reference one another's stored values (a view `v = a[1:]`
    its array, a part `cfg = config["solver"]` its holder, a dict holding a
    named array), both ways; a reference to a value since changed or
    rebound no longer counts (the audit stores the referrer again when the
    relation still holds)."""
    current: dict = {}  # name -> object id, as of the end
    refs: dict = {}  # name -> {referenced name: id} of its latest stored value
    for cell in cells[:end]:
        rec = cell.record
        if rec is None:
            continue
        for bound in (*rec.writes, *rec.recompute, *rec.deletes):
            current.pop(bound, None)
            refs.pop(bound, None)
        current.update(rec.writes)
        refs.update(references(rec))
    links: dict = {}
    for name, referenced in refs.items():
        for other, object_id in referenced.items():
            if name in current and current.get(other) == object_id:
                links.setdefault(name, set()).add(other)
                links.setdefault(other, set()).add(name)
    return links


class Relations:
    """The names that are one object, or share one, as the records of the
    first `end` cells leave them: aliases (_alias_pairs) and views, parts
    and holders (_sharing_links).  Built once per cell that needs them."""

    def __init__(self, cells: list, end: int):
        self.pairs = _alias_pairs(cells, end)
        self.aliases: dict = {}  # name -> the names it is paired with, both ways
        for member, twin in self.pairs.items():
            self.aliases.setdefault(member, set()).add(twin)
            self.aliases.setdefault(twin, set()).add(member)
        self.mates = _sharing_links(cells, end)
        for name, others in self.aliases.items():
            self.mates.setdefault(name, set()).update(others)

    def together(self, name: str) -> tuple[set, dict]:
        """The names to restore with `name`, and the {member: twin} aliases
        among them: its aliases, the names it shares memory or objects
        with, theirs in turn.  Restored together they are one object, or
        share one, again: a change through one is seen through the others."""
        group = connected(self.mates, name)
        return group, {m: t for m, t in self.pairs.items() if m in group and t in group}

    def twins(self, names: set, live: set) -> dict:
        """{name: twin} for the names of `names` that the aliases make one
        object with another of `names` or of `live` (directly or through
        others): the first of those, live ones first."""
        out = {}
        for name in sorted(names):
            group = connected(self.aliases, name) - {name}
            twin = min(group & live, default=None) or min(group & names, default=None)
            if twin is not None and out.get(twin) != name:
                out[name] = twin
        return out


# ---- building the plan --------------------------------------------------------

def _latest_per_cell(runs) -> dict:
    latest = {}
    for run in runs:
        latest[run.record.cell_id] = run
    return latest


def _audited_source(run) -> str | None:
    return (run.record.host or {}).get("source")


def _observe(graph, cell_id: str, rec, binds: set):
    """`binds`: the names the audited source binds (its analysis' defs)."""

    for name, object_id in rec.reads.items():
        graph.observe(cell_id, "read", name, object_id)
    for name, object_id in rec.writes.items():
        graph.observe(cell_id, "write", name, object_id)
        if name not in binds and not name.startswith("@"):
            # Changed in place, through another name (a view's array, a
            # part's holder, an alias) or a function: what it was before is
            # an input, so a re-run that changes it (`v = a[2:]` for
            # `v = a[:2]`) re-runs this cell too.
            graph.observe(cell_id, "read", name, None)
    for name in rec.deletes:
        graph.observe(cell_id, "delete", name, None)
    for name, reason in rec.recompute.items():
        # An unstorable value the cell advanced in place (`next(gen)`, a call
        # filling an lru_cache) is not the one its previous writer left: a
        # token of its own, so the graph does not take the write for "no
        # change", and a re-run that needs the value replays this cell too.
        advanced = name not in binds and reason.startswith(ADVANCED_IN_PLACE)
        token = f"{UNSTORABLE}:advanced by {cell_id}" if advanced else UNSTORABLE
        graph.observe(cell_id, "write", name, token)
        graph.mark_unrestorable(cell_id, name)
    for name, twin in rec.aliases.items():
        graph.observe_alias(cell_id, name, twin)
    # A name the cell read and left as it was (a may-mutate name is hashed
    # after the cell; any other it did not touch) kept the id it was read
    # with.  Saying so lets the graph drop it from the cell's writes, so its
    # readers do not wait on this cell.  (One observation per name read: no
    # query of the graph while it is being built, which would re-derive it.)
    settled = set(rec.writes) | set(rec.deletes) | set(rec.recompute)
    for name, object_id in rec.reads.items():
        if object_id and name not in settled:
            graph.observe(cell_id, "write", name, object_id)


def _moved(cells, audited_order: list) -> set:
    """Cells whose audited order disagrees with the notebook's: those off a
    longest run of cells still in audited order.  The audited order is the
    notebook's as it was last synced (metadata.nbrewind.order), or else the
    order of the checkpoints."""
    rank = {cell_id: i for i, cell_id in enumerate(audited_order)}
    seqs = [(c.id, rank[c.id] if rank else int(c.run.checkpoint)) for c in cells
            if c.run and (not rank or c.id in rank)]
    best: list = []
    tails: list = []
    for cell_id, seq in seqs:  # longest increasing subsequence, O(n^2): n is small
        chain = max((t for t in tails if t[-1][1] < seq), key=len, default=[])
        tails.append(chain + [(cell_id, seq)])
        if len(tails[-1]) > len(best):
            best = tails[-1]
    kept = {cell_id for cell_id, _ in best}
    return {cell_id for cell_id, _ in seqs if cell_id not in kept}


def _written_files(cells) -> set:
    return {n for c in cells if c.record for n in c.record.writes if n.startswith("@file:")}


def _changed_inputs(cell: Cell, base: str, written: set) -> list:
    changed = []
    for name, recorded in cell.record.reads.items():
        if not name.startswith("@file:") or name in written:
            continue
        path = os.path.join(base, name[len("@file:"):])
        try:
            now = content_id(path)
        except OSError:
            now = None
        if now != recorded:
            changed.append(name[len("@file:"):])
    return changed


@dataclass
class _History:
    """What build_plan knows besides each cell's own record."""

    moved: set  # ids of cells off the audited order
    base: str  # the notebook's directory, which `@file:` names are relative to
    written_files: set  # `@file:` names some cell's record wrote
    deleted_ids: set  # object ids the records of deleted cells wrote
    deleted_names: set  # names they wrote
    moved_names: set = field(default_factory=set)  # names the records of moved cells bind
    bound: dict = field(default_factory=dict)  # name -> ids the cells so far wrote it with


def build_plan(nb, notebook_path: str, store) -> RepeatPlan:
    from ._core import Graph

    runs = executions(store, os.path.abspath(notebook_path))
    if not runs:
        raise AuditFailed(f"{notebook_path}: its store has no audited execution of this "
                          f"notebook (run `nbrewind audit {notebook_path}` first)", 4)
    latest = _latest_per_cell(runs)
    cells = [Cell(c.id, i, c.source, latest.get(c.id)) for i, c in enumerate(nb.cells)
             if c.cell_type == "code"]
    if not any(c.run for c in cells):
        raise AuditFailed(f"{notebook_path}: none of its cells has an audited execution in "
                          f"{store.path}: the record is from another notebook", 4)
    present = {c.id for c in cells}
    deleted = [r.record for cid, r in latest.items() if cid not in present]
    graph = Graph()
    moved = _moved(cells, nb.metadata.get(nbfile.METADATA_KEY, {}).get("order", []))
    history = _History(
        moved=moved,
        base=os.path.dirname(os.path.abspath(notebook_path)),
        written_files=_written_files(cells),
        deleted_ids={i for rec in deleted for i in rec.writes.values()},
        deleted_names={n for rec in deleted for n in rec.writes if not n.startswith("@")},
        moved_names={n for c in cells if c.id in moved and c.record
                     for n in (*c.record.writes, *c.record.deletes, *c.record.recompute)})
    for index, cell in enumerate(cells):
        _add_cell(graph, cell, history)
        if cell.run is None or "edited" in cell.reasons:
            _observe_shared_changes(graph, cell, cells, index)
        if cell.record is not None:
            for name, object_id in cell.record.writes.items():
                if not name.startswith("@"):
                    history.bound.setdefault(name, set()).add(object_id)
    _withhold_untrusted_pickles(graph, cells, store, notebook_path)
    return RepeatPlan(cells, graph, deleted)


def _withhold_untrusted_pickles(graph, cells, store, notebook_path: str):
    """Unpickling runs code: in a store from elsewhere that the user has not
    trusted (nbrewind.trust), every pickled value is unrestorable, so the
    cell that made it re-runs when a re-run cell needs it."""
    from .trust import is_trusted

    if is_trusted(store.path):
        return
    from .serialize import PICKLE_CODEC  # numpy comes with it: only when needed
    reason = (f"untrusted store: pickled value not loaded (run `nbrewind trust "
              f"{notebook_path}` to allow)")
    for cell in cells:
        if cell.record is None or cell.reasons:
            continue  # runs anyway
        for name, object_id in cell.record.writes.items():
            try:
                info = store.object_info(object_id)
            except _core.NotFoundError:
                continue  # a file's content hash: nothing stored
            if info["kind"] == "blob" and info["type"] == PICKLE_CODEC:
                graph.mark_unrestorable(cell.id, name)
                cell.withheld = reason


# The random states are pseudo-variables the audit observes, so a new or
# edited source that may draw (the audit's own test: it names `random`) is
# said to read and change them: it gets the state its predecessors left, and
# the later cells that draw see what it left.


def _observe_new_source(graph, cell_id: str, source: str, bound: dict):
    """`bound`: the names earlier cells wrote.  A source the analysis flags
    (`exec`, `globals()[...] = ...`) may rebind any of them."""
    if NAMES_RANDOM.search(source):
        for name in RNG_NAMES:
            graph.observe(cell_id, "read", name, None)
            graph.observe(cell_id, "write", name, None)
    if _core.analyze(source)["flags"]:
        for name in bound:
            graph.observe(cell_id, "write", name, None)


def _observe_shared_changes(graph, cell: Cell, cells: list, index: int):
    """A new or edited source that changes a value in place changes the
    values sharing it (views, parts, holders: Relations), as the
    records of the cells before it left them.  (An audited cell's record
    lists those itself; a graph alias would outlive the sharing, which a
    change inside the holder can end.)"""
    try:
        mutated = _core.analyze(cell.source)["may_mutate"]
    except _core.Error:
        return  # a source that does not parse runs, and fails, as it is
    relations = Relations(cells, index)
    for name in mutated:
        for member in relations.together(name)[0] - {name}:
            graph.observe(cell.id, "write", member, None)


def _reads_unmade(rec, bound: dict) -> bool:
    """Whether the record read a stored value that no earlier cell's latest
    record wrote: its producer was deleted (after a gc, its record too), ran
    after it, or ran again since.  A fresh run would not have that value
    there: the cell runs, and fails as a fresh run would if it must."""
    return any(object_id is not None and not name.startswith("@") and
               object_id not in bound.get(name, ())
               for name, object_id in rec.reads.items())


def _changes_unmade(rec, binds: set, history: _History) -> bool:
    """Whether the record changed in place (through a view, a part, an
    alias) a name that a deleted cell bound and no earlier cell here does:
    in a fresh run the name is not there (`v = a[:2]` deleted, then
    `a[0] = 5` recorded v's change too)."""
    return any(name in history.deleted_names and name not in history.bound and
               name not in binds for name in rec.writes)


def _relation_moved(rec, analysis: dict, history: _History) -> bool:
    """Whether the record changed in place a name (or one through another:
    an alias, a view, a part) that a moved cell binds: the move may make or
    end the relation the change went through (`b.append(1)` moved before
    `b = a` no longer changes a), which the record, made in the audited
    order, cannot say."""
    if not history.moved_names:
        return False
    spelled = {*analysis["defs"], *analysis["deletes"]}
    changed = {n for n in rec.writes if n not in spelled and not n.startswith("@")}
    changed |= set(analysis["may_mutate"]) - spelled
    return bool(changed & history.moved_names)


def _add_cell(graph, cell: Cell, history: _History):
    audited = _audited_source(cell.run) if cell.run else None
    if cell.run is None or audited is None:
        graph.add_cell(cell.id, cell.source)
        graph.mark_edited(cell.id)
        _observe_new_source(graph, cell.id, cell.source, history.bound)
        cell.reasons.append("new cell" if cell.run is None else "no audited source")
        return
    graph.add_cell(cell.id, audited)
    analysis = cell.audited_analysis
    binds = set(analysis["defs"])
    _observe(graph, cell.id, cell.record, binds)
    if nbfile.source_hash_text(cell.source) != cell.record.source_hash:
        graph.edit_cell(cell.id, cell.source)
        _observe_new_source(graph, cell.id, cell.source, history.bound)
        cell.reasons.append("edited")
    if cell.record.status != "ok":
        cell.reasons.append(f"failed in the audit ({cell.record.error_name})")
    if cell.id in history.moved:
        cell.reasons.append("moved")
    elif _relation_moved(cell.record, analysis, history):
        cell.reasons.append("changes in place a name a moved cell binds")
    for path in _changed_inputs(cell, history.base, history.written_files):
        cell.reasons.append(f"input file {path} changed")
    if any(i in history.deleted_ids for i in cell.record.reads.values()):
        cell.reasons.append("reads a value made by a deleted cell")
    elif _changes_unmade(cell.record, binds, history):
        cell.reasons.append("changes a value made by a deleted cell")
    elif _reads_unmade(cell.record, history.bound):
        cell.reasons.append("reads a value no earlier cell makes")
    if cell.reasons and "edited" not in cell.reasons:
        graph.mark_edited(cell.id)


# ---- showing it -----------------------------------------------------------------

STATE_WORDS = {"must_run": "runs", "may_run": "may run", "producer": "runs (producer)",
               "skip": "kept", "done": "ran"}


def explain(plan: RepeatPlan, core_plan) -> list[dict]:
    """Per cell: its state, why, and what it would restore from where."""
    out = []
    for position, cell in enumerate(plan.cells, start=1):
        state = core_plan.state(cell.id)
        why = list(cell.reasons)
        if state == "may_run" and not why:
            why.append("reads a value an earlier re-run cell may change")
        if state == "producer":
            why.append(cell.withheld or "makes a value a re-run cell needs that cannot be "
                       "stored")
        restores = []
        if state != "skip":
            for name, producer in core_plan.restores(cell.id):
                restores.append((name, producer))
        out.append({"position": position, "cell": cell.id, "state": state, "why": why,
                    "restores": restores,
                    "seconds": cell.record.duration if cell.record and cell.record.duration
                    else 0.0})
    return out


def print_plan(rows: list[dict], out=sys.stdout):
    total = sum(r["seconds"] for r in rows)
    rerun = sum(r["seconds"] for r in rows if r["state"] != "skip")
    for r in rows:
        line = f"{r['position']:>4} {r['cell'][:14]:<14} {STATE_WORDS[r['state']]:<16}"
        if r["why"]:
            line += " " + "; ".join(r["why"])
        print(line, file=out)
        if r["restores"]:
            names = ", ".join(f"{n} (from {p})" for n, p in r["restores"])
            print(f"{'':>20}restores {names}", file=out)
    print(f"estimated time: {rerun:.2f} s of {total:.2f} s for a full run "
          f"(from the audit's timings)", file=out)


# ---- running it -----------------------------------------------------------------

def _kernel_call(client, function: str, argument) -> dict:
    """Call nbrewind.restore.<function>(json) in the kernel, silently (not
    audited), and return its JSON result."""
    expr = (f"__import__('nbrewind.restore').restore.{function}"
            f"({json.dumps(json.dumps(argument))})")
    msg_id = client.kc.execute("", silent=True, store_history=False,
                               user_expressions={"r": expr})
    reply = client.wait_for_reply(msg_id)
    result = reply["content"]["user_expressions"]["r"]
    if result.get("status") != "ok":
        raise AuditFailed(f"restoring in the kernel failed: {result.get('ename')}: "
                          f"{result.get('evalue')}", 3)
    return json.loads(ast.literal_eval(result["data"]["text/plain"]))


def _restore(client, plan: RepeatPlan, core_plan, cell_id: str):
    """Put into the kernel the values the plan lists for the cell, as of
    the cells that made them, with every name aliasing one of them (so that
    `b = a` stays one object, and a change through b is seen through a)."""
    values, aliases = {}, {}
    relations = plan.relations(cell_id)
    end = plan.index(cell_id)
    for name, producer in core_plan.restores(cell_id):
        if name.startswith("@file:"):
            continue  # files are on disk
        object_id, why = plan.value_as_of(name, producer)
        if object_id is None and why != "deleted":
            raise AuditFailed(f"cell {cell_id} needs {name} as of cell {producer}, "
                              f"which was not stored ({why})", 4)
        # Given as of that producer for an earlier cell, it may be shared
        # since (a part a re-run cell took): a second copy would not be.
        if plan.restored_from.get(name) != producer or not plan.holds(name, end, core_plan):
            values[name] = object_id
            plan.restored_from[name] = producer
        members, pairs = relations.together(name)
        aliases.update(pairs)
        for member, writer, member_id in _mates(client, plan, core_plan, cell_id,
                                                members - {name}):
            if member not in values:
                values[member] = member_id
                plan.restored_from[member] = writer
    _one_content_for_twins(plan, values, aliases, end)
    if values:
        _kernel_call(client, "apply", {"values": sorted(values.items()), "aliases": aliases})


def _one_content_for_twins(plan: RepeatPlan, values: dict, aliases: dict, end: int):
    """Twins are one object, so one content: where the records give them
    different ids (a cell that changed one in place was audited while the
    alias did not hold, as a deleted cell had ended it), both take the id
    of the later write of either."""
    def written_at(name):
        cell = plan.last_mention(name, end)
        return -1 if cell is None else plan.index(cell.id)

    for _ in range(len(aliases)):  # a chain of twins (c~b~a) settles in as many rounds
        settled = True
        for member, twin in aliases.items():
            ids = values.get(member), values.get(twin)
            if None not in ids and ids[0] != ids[1]:
                newer = max((member, twin), key=written_at)
                values[member] = values[twin] = values[newer]
                settled = False
        if settled:
            break


def _mates(client, plan: RepeatPlan, core_plan, cell_id: str, members: set) -> list:
    """[(name, writer, object id)] of `members` (Relations.together) to
    restore for the cell, each as of its own last writer, but for those a
    cell that ran here may have written (or reported) and the kernel holds
    (a cell whose `if` did not bind it leaves it unbound: restored then),
    those the kernel has as of here already (RepeatPlan.holds: given as of
    that writer, or bound, changed or deleted by a cell that ran), and
    those withheld (their pickles are from an untrusted store)."""
    ran = sorted(m for m in members if plan.ran_a_writer(m, cell_id, core_plan))
    held = _kernel_call(client, "current_ids", ran) if ran else {}
    end = plan.index(cell_id)
    out = []
    for member in sorted(members):
        if member in ran and held.get(member) != DELETED:
            continue
        if plan.holds(member, end, core_plan):
            continue  # as of here already (deleted, or the very object others share)
        stored = _stored_value(plan, core_plan, member, end)
        if stored is not None and stored[1] is not None:
            out.append((member, *stored))
    return out


def _stored_value(plan: RepeatPlan, core_plan, name: str, end: int):
    """(writer, object id or None if deleted) of `name` as the records of the
    first `end` cells leave it, if the kernel can be given that: None when
    no record has it, its writer ran here, its pickle is withheld, or it was
    not stored."""
    writer = plan.last_mention(name, end)
    if writer is None or core_plan.state(writer.id) == "done" or writer.withheld:
        return None
    object_id, why = plan.value_as_of(name, writer.id)
    if object_id is None and why != "deleted":
        return None
    return writer.id, object_id


def _report_relation_changes(client, plan: RepeatPlan, core_plan, cell_id: str):
    """After a re-run cell: report as changed the names whose aliases,
    views and parts the kernel now has otherwise than the records have
    them after this cell.  An edit that makes or ends `v = a` (or a view,
    or a part) changes what later cells change through one name: the
    records of those cells, made under the old relations, no longer say
    what a fresh run does, so the readers of all these names run."""
    index = plan.index(cell_id)
    written = sorted(n for n in plan.writes(cell_id) if not n.startswith("@"))
    recorded = Relations(plan.cells, index + 1)
    expected = {n: recorded.together(n)[0] - {n} for n in written}
    live = _kernel_call(client, "relations", sorted(set(written).union(*expected.values())))
    related, changed = live["related"], set(live["changed"])
    plan.changed_by[cell_id] = changed
    seen = set(related).union(*map(set, related.values()))
    current = {n for n in seen if n in changed or plan.holds(n, index, core_plan)}
    diverged = set()
    for name in written:
        if name not in current:
            continue  # left unbound (or deleted): _report says so
        now = set(related[name]) & current
        if now != expected[name]:
            diverged |= {name} | now | expected[name]
    if diverged:
        deleted = _restore_apart(client, plan, core_plan, index, diverged - current,
                                 recorded, current - set(written))
        diverged &= current | deleted.keys()
        plan.diverged[cell_id] = diverged
        for name in sorted(diverged):
            core_plan.report(cell_id, "delete" if deleted.get(name) else "write", name, None)


def _restore_apart(client, plan: RepeatPlan, core_plan, index: int, names: set,
                   recorded: Relations, live: set) -> dict:
    """Give the kernel the values of `names` (a relation with the names a
    re-run cell wrote is what ended) as the records before that cell leave
    them, each an alias of those the records alias it to, among them or
    among the `live` names the kernel holds as of here.  {name: whether it
    was deleted there} of those restored; the others (not stored, withheld,
    written by a cell that ran) stay as the kernel has them."""
    values, restored = {}, {}
    for name in sorted(names):
        if plan.holds(name, index, core_plan):
            continue  # not bound here, as a cell that ran here left it (`del a`)
        stored = _stored_value(plan, core_plan, name, index)
        if stored is not None:
            plan.restored_from[name] = stored[0]
            values[name] = stored[1]
            restored[name] = stored[1] is None
    if values:
        _kernel_call(client, "apply", {"values": sorted(values.items()),
                                       "aliases": recorded.twins(set(values), live)})
    return restored


def _module_files_changed(cell: Cell, store, name: str, object_id) -> bool:
    """Whether `name` is a module the cell imported again from a file that
    changed since the audit: its import record is the same, its content is
    not (`import mymod` after mymod.py was edited)."""
    if not any(r.startswith("input file ") for r in cell.reasons) or cell.record is None:
        return False
    if object_id is None or cell.record.writes.get(name) != object_id:
        return False
    try:
        info = store.object_info(object_id)
    except _core.NotFoundError:
        return False
    from .serialize import MODULE_CODEC
    return info["kind"] == "blob" and info["type"] == MODULE_CODEC


def _report(client, plan: RepeatPlan, core_plan, cell_id: str, base: str, store):
    names = plan.graph.cell_names(cell_id, "writes")
    ids = _kernel_call(client, "current_ids", names)
    cell = plan.cell(cell_id)
    record = cell.record
    unstorable = record.recompute if record else {}
    for name in names:
        if name.startswith("@file:"):
            path = os.path.join(base, name[len("@file:"):])
            try:
                core_plan.report(cell_id, "write", name, content_id(path))
            except OSError:
                core_plan.report(cell_id, "delete", name, None)
        elif ids.get(name) == DELETED:
            core_plan.report(cell_id, "delete", name, None)
        elif name in ids:
            if ids[name] is None and name in unstorable:
                core_plan.report(cell_id, "write", name, UNSTORABLE)
            elif _module_files_changed(cell, store, name, ids[name]):
                core_plan.report(cell_id, "write", name, None)  # new content, same name
            elif "moved" in cell.reasons and _read_otherwise_after(plan, cell_id, name,
                                                                   ids[name]):
                core_plan.report(cell_id, "write", name, None)
            else:
                core_plan.report(cell_id, "write", name, ids[name])


def _read_otherwise_after(plan: RepeatPlan, cell_id: str, name: str, object_id) -> bool:
    """Whether a cell after this one read `name` with another id than
    `object_id` before a cell rewrote it.  A moved cell that writes what it
    wrote in the audit still changes what follows it now: those cells read
    what another cell left, in the audited order (`b = a` moved after
    `b.append(1)`)."""
    for cell in plan.cells[plan.index(cell_id) + 1:]:
        rec = cell.record
        if rec is None:
            continue
        if rec.reads.get(name, object_id) != object_id:
            return True
        if name in rec.writes or name in rec.deletes or name in rec.recompute:
            return False
    return False


def _report_environment(nb, report):
    """Before anything runs: how this interpreter differs from the audit's."""
    from .pack import environment_differences

    recorded = nb.metadata.get(nbfile.METADATA_KEY, {}).get("environment")
    if recorded:
        lines = environment_differences(recorded, "the audit")
        if len(lines) > 1:
            print("\n".join(lines), file=report)


def repeat_notebook(path: str, out: str | None = None, store: str | None = None,
                    dry_run: bool = False, timeout: int | None = None,
                    report=sys.stdout) -> dict:
    from ._core import Plan

    nb = nbfile.read(path)
    store_path = store_for_notebook(os.path.abspath(path), store)
    if not os.path.isdir(store_path):
        raise AuditFailed(f"{path}: no store at {store_path}: nothing was audited (run "
                          f"`nbrewind audit {path}` first)", 4)
    with _core.Store(store_path, "r") as st:
        plan = build_plan(nb, path, st)
    _report_environment(nb, report)
    with Plan(plan.graph) as core_plan:
        rows = explain(plan, core_plan)
        if dry_run:
            print_plan(rows, report)
            return {"ran": [], "rows": rows}
        ran, seconds = _execute(nb, path, store_path, plan, core_plan, timeout)
    target = os.path.abspath(out or path)
    nbfile.sync(nb, target, store_path)
    nbfile.write(nb, target)
    full = sum(r["seconds"] for r in rows)
    return {"ran": ran, "rows": rows, "seconds": seconds, "full_seconds": full}


def _execute(nb, path, store_path, plan, core_plan, timeout):
    base = os.path.dirname(os.path.abspath(path))
    env = dict(os.environ, **{NOTEBOOK_ENV: os.path.abspath(path), STORE_ENV: store_path,
                              "NBREWIND_BACKGROUND": "0"})
    # The audit kernel: the driver restores what it decided; a live replay
    # (the repeat kernel's) must not second-guess it.
    client, state = kernel_client(nb, base, timeout, None, mode="audit")
    by_id = {c.id: (i, c) for i, c in enumerate(nb.cells)}
    client.allow_errors = True  # a cell that failed in the audit may fail again
    ran, started = [], time.perf_counter()
    try:
        with _core.Store(store_path, "r") as store:
            _run_cells(client, state, plan, core_plan, by_id, base, ran, env, store)
    finally:
        shutdown(client)
    return ran, time.perf_counter() - started


def _run_cells(client, state, plan, core_plan, by_id, base, ran, env, store):
    with client.setup_kernel(env=env):
        while True:
            cell_id = core_plan.next()
            if cell_id is None:
                break
            index, cell = by_id[cell_id]
            _restore(client, plan, core_plan, cell_id)
            state["cell"], state["index"] = cell, index
            client.execute_cell(cell, index)
            _report(client, plan, core_plan, cell_id, base, store)
            _report_relation_changes(client, plan, core_plan, cell_id)
            core_plan.cell_done(cell_id)
            ran.append(cell_id)
