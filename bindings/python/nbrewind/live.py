"""The repeat kernel in a live session, and `%nbrewind rewind`.

In the repeat kernel, a cell whose source and inputs match an audited
execution of it is not run: its effects (the values it wrote, its displayed
outputs) come back from the store, and a line in its output says so.  Any
other cell runs normally (and is audited).  Values come back lazily: the
replay only notes what each name should be, and the values a cell needs are
loaded just before that cell runs (the names its analysis says it reads).

`%nbrewind rewind K` brings the namespace back to its state after the K-th
execution of the log (a position, or a cell id for its latest execution),
lazily as well.
"""
from __future__ import annotations

import json
import sys

from . import _core, serialize
from .audit import Known, cell_id_of
from .history import executions
from .record import references
from .restore import bind_globals, bound_object


class Replayer:
    """Restores recorded executions instead of running them."""

    def __init__(self, auditor):
        self.auditor = auditor
        self.pending: dict[str, str | None] = {}  # name -> object id to load (None: unbind)
        self.aliases: dict[str, str] = {}  # pending name -> the name its object was bound to
        self.refs: dict[str, dict] = {}  # name -> {name: id} its stored value references
        self._history = None

    # ---- the audit history --------------------------------------------------------

    def history(self):
        if self._history is None:
            store = self.auditor.open_writer().store
            self._history = executions(store, self.auditor.notebook)
        return self._history

    def forget_history(self):
        self._history = None

    def _match(self, cell_id: str, source_hash: str):
        """The latest audited ok execution of this cell with this source whose
        inputs are what the namespace holds now."""
        for run in reversed(self.history()):
            rec = run.record
            if rec.source_hash != source_hash or rec.status != "ok":
                continue
            anonymous = cell_id.startswith("src-") or rec.cell_id.startswith("src-")
            if rec.cell_id != cell_id and not anonymous:
                continue  # frontends without cell ids match by source alone
            if self._inputs_match(rec):
                return run
        return None

    def current_id(self, name: str):
        if name in self.pending:
            return self.pending[name]
        known = self.auditor.known.get(name)
        if name.startswith("@rng:"):
            return self.auditor.rng_ids.get(name)
        if known is None or name not in self.auditor.shell.user_ns:
            return None
        return known.object_id()

    def _inputs_match(self, rec) -> bool:
        for name, recorded in rec.reads.items():
            if name.startswith("@file:"):
                continue  # checked by content when a repeat plans; live, trust the store
            if recorded is None or self.current_id(name) != recorded:
                return False
        return True

    # ---- replaying ----------------------------------------------------------------

    def try_replay(self, raw_cell: str, cell_id: str | None) -> bool:
        source_hash = _core.hash_bytes(raw_cell.encode())
        run = self._match(cell_id or "", source_hash)
        if run is None:
            return False
        rec = run.record
        if rec.recompute:  # some of its values cannot come back: it must run after all
            return False
        self.pending.update({n: i for n, i in rec.writes.items() if not n.startswith("@file:")})
        self.aliases.update(rec.aliases)
        self._note_refs(rec)
        for name in rec.deletes:
            self.pending.pop(name, None)
            self.auditor.shell.user_ns.pop(name, None)
            self.auditor.known.pop(name, None)
        self._show_outputs(rec)
        print(f"nbrewind: restored from the audit (cell {rec.cell_id}, checkpoint "
              f"{run.checkpoint}) instead of running it", file=sys.stderr)
        return True

    def _note_refs(self, rec):
        for name in rec.writes:
            self.refs.pop(name, None)
        self.refs.update(references(rec))

    def _show_outputs(self, rec):
        from IPython.display import publish_display_data

        store = self.auditor.store
        for object_id in rec.outputs:
            output = json.loads(store.read_blob(object_id))
            kind = output.get("output_type")
            if kind == "stream":
                stream = sys.stdout if output.get("name") == "stdout" else sys.stderr
                stream.write(output.get("text", ""))
            elif kind in ("display_data", "execute_result"):
                publish_display_data(output.get("data", {}), output.get("metadata", {}))

    # ---- lazy loading ---------------------------------------------------------------

    def load_for(self, raw_cell: str):
        """Load the pending values a cell about to run may need."""
        if not self.pending:
            return
        try:
            analysis = _core.analyze(raw_cell)
            needed = set(analysis["uses"]) | set(analysis["may_mutate"])
            needed |= self.auditor._called_globals(analysis, self.auditor.shell.user_ns)
            if analysis["flags"]:  # exec, %run: it may read anything
                needed = set(self.pending)
        except _core.Error:
            needed = set(self.pending)
        for name in [n for n in self.pending if n in needed or n.startswith("@rng:")]:
            self.load(name)

    def load(self, name: str):
        if name not in self.pending:
            return  # loaded already, as an array another value references
        object_id = self.pending.pop(name)
        namespace = self.auditor.shell.user_ns
        if object_id is None:
            namespace.pop(name, None)
            return
        twin = self.aliases.get(name)
        value = self._bound_as(twin, object_id) if twin else None  # one object, as recorded
        if value is None:
            value = serialize.decode(self.auditor.store, object_id, resolve=self._referenced)
        if name.startswith("@rng:"):
            from .restore import _set_pseudo

            _set_pseudo(self.auditor, name, value, object_id)
            return
        value = bind_globals(value, namespace)
        namespace[name] = value
        self.auditor.known[name] = Known(id(value), object_id, refs=tuple(self.refs.get(name, ())),
                                         needs=serialize.stored_needs(self.auditor.store,
                                                                      object_id))
        # The views and holders of this array come along while it is the
        # stored one: a cell about to change it changes them too.
        for holder in [n for n, refs in self.refs.items()
                       if refs.get(name) == object_id and n in self.pending]:
            self.load(holder)

    def _referenced(self, name: str, object_id: str):
        """The value a pickle being loaded references (an array, a view's
        array, a part's holder): the namespace's own
        object for that name when it is (or is pending as) that one."""
        value = self._bound_as(name, object_id)
        return serialize.decode(self.auditor.store, object_id) if value is None else value

    def _bound_as(self, name: str, object_id: str):
        """The object `name` holds (loading it first if it is pending) when
        it is the stored object `object_id`; else None."""
        if self.pending.get(name) == object_id:
            self.load(name)
        return bound_object(self.auditor, name, object_id)

    def load_all(self):
        for name in list(self.pending):
            self.load(name)

    # ---- rewind -----------------------------------------------------------------------

    def rewind(self, key: str) -> str:
        """Pend the namespace as of the K-th execution of the log."""
        self.auditor.flush()
        self.forget_history()
        runs = self.history()
        if key.isdigit() and 1 <= int(key) <= len(runs):
            target = runs[int(key) - 1]
        else:
            matches = [r for r in runs if r.record.cell_id == key]
            if not matches:
                raise ValueError(f"rewind {key}: not a position 1-{len(runs)} of the log "
                                 f"nor an audited cell id")
            target = matches[-1]
        wanted: dict[str, str | None] = {}
        for run in runs[:runs.index(target) + 1]:
            rec = run.record
            for name in rec.writes:
                if not name.startswith("@file:") and not name.startswith("@output:"):
                    wanted[name] = rec.writes[name]
            for name in list(rec.deletes) + list(rec.recompute):
                wanted[name] = None
            self.aliases.update(rec.aliases)
            self._note_refs(rec)
        for name in list(self.auditor.namespace()):
            if name not in wanted:
                wanted[name] = None  # made after the target: gone
        namespace = self.auditor.shell.user_ns
        for name in [n for n, i in wanted.items() if i is None]:
            namespace.pop(name, None)  # unbinding is cheap: at once
            self.auditor.known.pop(name, None)
        self.pending = {n: i for n, i in wanted.items()
                        if i is not None and not serialize.is_part_name(n)}
        lost = sorted({n for run in runs[:runs.index(target) + 1] for n in run.record.recompute})
        note = f"; not stored, re-run their cells: {', '.join(lost)}" if lost else ""
        return (f"rewound to execution {runs.index(target) + 1} (cell {target.record.cell_id}, "
                f"checkpoint {target.checkpoint}): {len(self.pending)} names will load when "
                f"used{note}")


def install(ip, auditor):
    """Make the shell replay matching cells (the repeat kernel) and load
    pending values lazily before any cell runs; before a silent execution,
    which gets no pre_run_cell, copy what the audit's pre_run_cell would."""
    replayer = Replayer(auditor)
    original = ip.run_cell
    replay = auditor.mode == "repeat"

    def prepare(raw_cell, silent):
        if silent:  # no pre_run_cell for it, which would protect
            auditor.protect_pending(raw_cell)
            return
        try:
            replayer.load_for(raw_cell)
        except Exception as exc:
            auditor.warn(f"could not load a rewound value: {exc}")

    def run_cell(raw_cell, store_history=False, silent=False, shell_futures=True,
                 cell_id=None):
        if not silent and replay and raw_cell.strip():
            try:
                if replayer.try_replay(raw_cell, cell_id_of(cell_id, raw_cell)):
                    return _replayed_result(ip, raw_cell, store_history, silent,
                                            shell_futures, cell_id)
            except Exception as exc:  # ours: run the cell instead
                auditor.warn(f"could not restore this cell, running it instead: {exc}")
        prepare(raw_cell, silent)
        return original(raw_cell, store_history=store_history, silent=silent,
                        shell_futures=shell_futures, cell_id=cell_id)

    original_async = ip.run_cell_async

    async def run_cell_async(raw_cell, store_history=False, silent=False, shell_futures=True,
                             **kwargs):
        """Cells with top-level await take this path in ipykernel: they run,
        after the values they need are loaded."""
        prepare(raw_cell, silent)
        return await original_async(raw_cell, store_history=store_history, silent=silent,
                                    shell_futures=shell_futures, **kwargs)

    ip.run_cell = run_cell
    ip.run_cell_async = run_cell_async

    def uninstall():
        ip.run_cell, ip.run_cell_async = original, original_async

    return replayer, uninstall


def _replayed_result(ip, raw_cell, store_history, silent, shell_futures, cell_id):
    """An ExecutionResult for a cell that was restored, not run: counted in
    the history like a run cell, and not audited again."""
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    info = ExecutionInfo(raw_cell, store_history, silent, shell_futures, cell_id)
    result = ExecutionResult(info)
    result.execution_count = ip.execution_count
    if store_history:
        ip.history_manager.store_inputs(ip.execution_count, raw_cell, raw_cell)
        ip.execution_count += 1
    return result
