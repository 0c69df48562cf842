"""The audit: after every cell, an incremental checkpoint plus its record.

What a cell changed is decided in two steps.  The core's analysis of the
cell's source names the candidates (names it defines, deletes or may mutate,
the globals of notebook functions it calls, any name whose object identity
changed, and any name whose value shares state with a value the cell may have
mutated: a view's array, a container's items, sharing.py); every name when the
analysis flags code it cannot see (exec, globals(), %run).  Content hashes
then confirm each candidate: a name whose id is unchanged costs its hashing
and stores nothing.  Only changed values
are encoded and written (serialize.py).  The record of the execution (inputs,
outputs, files, random state, displayed outputs, timing, status) is built by
the core (nbr_record) and kept in the checkpoint, so the store alone holds
the notebook's history.

A failure of ours never reaches the user's cell: the checkpoint is aborted,
earlier ones are untouched, and a warning is printed in the cell's output.
"""
from __future__ import annotations

import ast
import builtins
import datetime as _dt
import json
import os
import random
import re
import sys
import threading
import time
import traceback
import types
import uuid
from dataclasses import dataclass

import numpy as np

from . import _core, reach, record as _record, serialize, sharing
from .files import FileWatcher
from .notebook import ANONYMOUS_CELL
from .writer import Job, Writer

OUTPUT_CODEC = "nbformat-output"
# With background commits, arrays this big are written from the user's
# memory rather than copied at the end of their cell (writer.py: "live").
LIVE_BYTES = 1 << 20
# Names IPython keeps in every namespace (history, output cache, helpers).
_IPYTHON_NAME = re.compile(
    r"_+|_i+|_i?\d+|_(oh|ih|dh|exit_code)|__\w+__|In|Out|exit|quit|get_ipython")


# The modules the analysis's known read-only functions belong to, by the
# name it sees them through (numpy is `np` by convention).
_ASSUMED_MODULES = {"np": "numpy"}
_UNSET = object()


@dataclass
class Known:
    """What the last checkpoint recorded for a name."""

    pyid: int  # id() of the object then: same id, maybe mutated; other id, rebound
    id: str | None  # its object id (hashed when captured), None if not stored
    job: Job | None = None  # the checkpoint that writes it
    stored: bool = True  # False: recorded as "recompute"
    refs: tuple = ()  # the names whose stored values its own references (a view's array)
    # The stored objects its pickle needs to load (buffers, references, and
    # theirs in turn); None when not known, or not a pickle.
    needs: tuple | None = None

    def object_id(self) -> str | None:
        """The stored id; None if not stored, or if the checkpoint that was to
        write it failed or found it changed before writing it (so the value
        counts as changed and is written again)."""
        if self.job is not None and self.job.done.is_set() and \
                (self.job.error is not None or self.id in self.job.lost):
            return None
        return self.id


def utc_now() -> str:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def background_default() -> bool:
    """Whether checkpoints are written while the next cell runs: as
    $NBREWIND_BACKGROUND says (1 or 0), else when this process may run on
    two CPUs or more.  On one, the writer could only take turns with the
    cell; on two it costs the benchmark notebook no more than writing in the
    cell's thread, and since segments leave the page cache (runs 19-27) no
    repetition came out above the 5 % limit with it (docs/performance.md,
    "Background commits on two cores")."""
    setting = os.environ.get("NBREWIND_BACKGROUND", "auto")
    if setting != "auto":
        return setting != "0"
    return usable_cpus() >= 2


def live_bytes_default() -> int | None:
    """The size from which background commits write arrays from the user's
    memory (LIVE_BYTES), or None to copy every array at the end of its cell,
    as $NBREWIND_LIVE_ARRAYS says (0: copy; a kernel whose threads change
    arrays between cells loses no checkpointed value that way)."""
    return None if os.environ.get("NBREWIND_LIVE_ARRAYS", "1") == "0" else LIVE_BYTES


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which batch systems
    and containers set), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no affinity on this system
        return os.cpu_count() or 1


class Auditor:
    """Checkpoints one IPython shell's namespace after each cell."""

    def __init__(self, shell, store_path: str, notebook: str | None = None):
        self.shell = shell
        self.store_path = os.path.abspath(store_path)
        self.notebook = notebook
        self.session = uuid.uuid4().hex
        self.store = None
        self.writer: Writer | None = None
        self.background = background_default()
        self.live_bytes = live_bytes_default()
        self.mode = os.environ.get("NBREWIND_KERNEL", "extension")  # audit, repeat, extension
        self._environment_recorded = False
        self._failed: list = []
        self._lost: list = []  # (job, names): live arrays that changed before written
        self._retry: set[str] = set()  # names a failed checkpoint wrote or deleted
        self.stored_ids: set[str] = set()  # ids this session has put (or queued)
        self.known: dict[str, Known] = {}
        self.functions: dict[str, dict] = {}  # name -> {"reads": [...], "writes": [...]}
        self.rng_ids: dict[str, str] = {}
        self.excluded: set[str] = set()
        self.last_changed: set[str] = set()  # what the last checkpoint bound, changed, deleted
        self.max_object_bytes: int | None = None
        self.enabled = True
        self.last_warning: str | None = None
        self._started = None
        self._clock = 0.0
        self._outputs: list[dict] = []
        self._outputs_lock = threading.Lock()
        self._files = FileWatcher(ignore=[self.store_path])

    # ---- IPython events ----------------------------------------------------------

    def pre_run_cell(self, info):
        self.protect_pending(info.raw_cell)
        self._started = utc_now()
        self._clock = time.perf_counter()
        with self._outputs_lock:
            self._outputs = []
        self._files.start()

    def post_run_cell(self, result):
        duration = time.perf_counter() - self._clock
        self._files.stop()
        if not self.enabled or result.info is None or self._started is None:
            return
        try:
            self.checkpoint(result, duration)
        except Exception as exc:  # ours, never the user's: warn and go on
            self.warn(f"the checkpoint of this cell failed and was dropped "
                      f"(earlier checkpoints are intact): {type(exc).__name__}: {exc}")
            if os.environ.get("NBREWIND_DEBUG"):
                traceback.print_exc()

    def capture_output(self, msg_type: str, content: dict):
        """Called with every output message the kernel publishes for a cell."""
        output = output_from_message(msg_type, content)
        if output is not None:
            with self._outputs_lock:
                self._outputs.append(output)

    def warn(self, text: str):
        self.last_warning = text
        print(f"nbrewind: warning: {text}", file=sys.stderr)

    # ---- the checkpoint ---------------------------------------------------------

    def open_writer(self) -> Writer:
        if self.writer is None:
            self.store = _core.Store(self.store_path, "c")
            self.writer = Writer(self.store, self.background, self._writer_failed,
                                 on_lost=self._writer_lost)
        self.writer.background = self.background
        return self.writer

    @property
    def last_checkpoint(self) -> str | None:
        return self.writer.last_checkpoint if self.writer else None

    def close(self):
        """Flush, then release the store (and its lock)."""
        self.flush()
        if self.store is not None:
            self.store.close()
            self.store = self.writer = None

    def namespace(self) -> dict:
        hidden = self.shell.user_ns_hidden
        return {k: v for k, v in self.shell.user_ns.items()
                if k not in hidden and not _IPYTHON_NAME.fullmatch(k)}

    def checkpoint(self, result, duration: float):
        """Capture the cell's changes into a job (private copies of whatever
        the next cell could change) and hand it to the writer."""
        info = result.info
        source = info.raw_cell
        cell_id = cell_id_of(getattr(info, "cell_id", None), source)
        analysis = _core.analyze(source)
        writer = self.open_writer()
        namespace = self.namespace()
        self._learn_functions(analysis)
        rec = _record.Record(cell_id=cell_id, language="python",
                             source_hash=_core.hash_bytes(source.encode()),
                             status=status_of(result), started=self._started,
                             execution_count=result.execution_count, duration=duration)
        set_error(rec, result)
        rec.host = {"session": self.session, "notebook": self.notebook,
                    "kernel": os.environ.get("NBREWIND_KERNEL", "extension"),
                    "source": source}  # what `repeat` analyses as the audited cell
        if not self._environment_recorded:
            rec.host["environment"] = environment()
            self._environment_recorded = True
        job = Job(cell_id, result.execution_count or 0, rec)
        try:
            called = self._called_globals(analysis, namespace)
            changes = self._capture_changes(job, analysis, namespace, called)
            self._capture_reads(job, analysis, namespace)
            self._capture_rng(job, self._may_draw_python_random(analysis, source, called))
            self._capture_files(rec)
            self._capture_outputs(job)
            self._report_failures()
            writer.submit(job)
        except BaseException:
            self._forget_puts(job)  # never written: a later cell must store them again
            raise
        self.known.update(changes)
        for name in rec.deletes:
            self.known.pop(name, None)
        self.last_changed = set(changes) | set(rec.deletes)
        if not writer.background:
            self._report_failures()

    def flush(self):
        """Wait until every checkpoint taken so far is durable."""
        if self.writer is not None:
            self.writer.flush()
        self._report_failures()

    def _writer_failed(self, job):
        with self._outputs_lock:
            self._failed.append(job)
            # The next checkpoint takes these names again, touched or not:
            # the store never got what this one had for them.
            names = (*job.record.writes, *job.record.recompute, *job.deletes)
            self._retry.update(n for n in names if not n.startswith("@"))
            for name, object_id in job.record.writes.items():  # states captured again
                if name.startswith("@rng:") and self.rng_ids.get(name) == object_id:
                    del self.rng_ids[name]
        self._forget_puts(job)

    def _writer_lost(self, job, names: list):
        with self._outputs_lock:
            self._lost.append((job, names))
            self._retry.update(names)  # the next checkpoint stores them as they are then
            self.stored_ids.difference_update(job.lost)

    def _forget_puts(self, job):
        """The job's new values are not in the store after all."""
        with self._outputs_lock:
            for _, encoded in job.puts:
                self.stored_ids.discard(encoded.id)

    def _report_failures(self):
        with self._outputs_lock:
            failed, self._failed = self._failed, []
            lost, self._lost = self._lost, []
        for job, names in lost:
            self.warn(f"{', '.join(names)} changed after cell {job.cell_id} (execution "
                      f"{job.execution_count}) ended, before its checkpoint had stored "
                      f"{'them' if len(names) > 1 else 'it'}, by code the audit did not "
                      f"foresee changing {'them' if len(names) > 1 else 'it'} (a thread, a "
                      f"callback?): recorded as recompute for that cell, and stored again "
                      f"by the next checkpoint")
        for job in failed:
            self.warn(f"the checkpoint of cell {job.cell_id} (execution "
                      f"{job.execution_count}) failed and was dropped (earlier checkpoints "
                      f"are intact): {type(job.error).__name__}: {job.error}")

    def _learn_functions(self, analysis: dict):
        # A class's entry covers its body and its methods, called through
        # the class or through its instances.
        self.functions.update(analysis.get("functions", {}))
        self.functions.update(analysis.get("classes", {}))

    def _notebook_classes(self, value) -> list[str]:
        """The notebook's classes whose methods a call through `value` (an
        instance, or a method bound to one; for a class, its metaclass:
        `class D(Based)`, `Based()` and `Based.tally()` run the metaclass's
        __new__, __call__ and methods) may run."""
        if isinstance(value, types.MethodType):
            value = value.__self__
        return [c.__qualname__ for c in sharing.notebook_classes(type(value))
                if c.__qualname__ in self.functions]

    def _called_globals(self, analysis: dict, namespace: dict) -> set[str]:
        """Globals that notebook functions and classes the cell may call read
        or write, through calls between them too (a read global may be
        mutated)."""
        used = list(analysis["uses"]) + list(analysis["defs"])
        pending = [n for n in used if n in self.functions]
        for name in used:  # an instance's classes; a class's notebook metaclass
            if name in namespace:
                pending += self._notebook_classes(namespace[name])
        seen, names = set(), set()
        while pending:
            fn = pending.pop()
            if fn in seen:
                continue
            seen.add(fn)
            for name in self.functions[fn].get("reads", []) + self.functions[fn].get("writes", []):
                names.add(name)
                if name in self.functions:
                    pending.append(name)
        return names

    def protect_pending(self, source: str):
        """Before code runs, a cell's or a silent execution's (a frontend's
        or a widget's: IPython sends it no pre_run_cell, and it is not
        audited, but it may change arrays all the same): copy the live
        arrays still to be written that it may change (_protect_pending).
        Even with the audit off, its queue is still written."""
        if self.writer is None:
            return
        try:
            self._protect_pending(source)
        except Exception as exc:  # ours: the writer's check still guards the store
            self.warn(f"could not copy the arrays still being written that this code "
                      f"may change: {type(exc).__name__}: {exc}")

    def _protect_pending(self, source: str):
        """Copy the live arrays still to be written that `source` may change
        (writer.protect).  The others it may only read, and they are written
        from the user's memory while it runs."""
        if not self.writer.live_pending():
            return
        try:
            ranges, owners, everything = self._memory_at_risk(source)
        except Exception:  # noqa: BLE001 - not analysable: anything may change
            ranges, owners, everything = [], set(), True
        merged = sharing.merged_ranges(ranges)
        self.writer.protect(lambda array: everything or
                            id(serialize.memory_owner(array)) in owners or
                            sharing.overlaps([serialize.byte_bounds(array)], merged))

    def _memory_at_risk(self, source: str) -> tuple[list, set, bool]:
        """What the cell may change, from its analysis as the checkpoint
        will see it (_may_mutate): the [low, high) of the arrays, the ids of
        the objects (an array's memory owner among them, a bytearray an array
        lies over), and whether it may change anything at all."""
        analysis = _core.analyze(source)
        namespace = self.namespace()
        self._learn_functions(analysis)  # what the checkpoint would learn; it learns it again
        mutated, held, everything = self._may_mutate(
            analysis, namespace, self._called_globals(analysis, namespace))
        values = [namespace[n] for n in mutated if n in namespace] + held
        # A name the cell binds and then changes (`v = a.reshape(-1); v[0] = 1`),
        # or an item or attribute it sets (`d["k"] = a; d["k"] += 1`), may be
        # bound to, or lie over, what that assignment reads, or, bound some
        # other way, anything the cell uses.
        bound = {n for n in mutated if n in analysis["defs"] or n not in namespace}
        read = _read_by_bindings(self.shell.transform_cell(source), bound)
        values += [namespace[n] for n in (analysis["uses"] if read is None else read)
                   if n in namespace]
        values += [v for value in values for v in sharing.class_state(value)]
        ranges: list = []
        owners: set = set()
        for value in values:
            held_ids, complete = sharing.held_state(value, ranges=ranges)
            owners |= held_ids
            everything = everything or not complete
        return ranges, owners, everything

    def _may_mutate(self, analysis: dict, namespace: dict, called: set) -> tuple[set, list, bool]:
        """(the names whose values the cell may change in place, other
        objects it may change them through, whether it may change anything)."""
        mutated = set(analysis["may_mutate"]) | called
        touched = [n for n in {*analysis["uses"], *analysis["defs"]} if n in namespace]
        # A closure, bound method or callable object the cell uses (or binds
        # and calls: `m = obj.add; m(5)`) may change what it holds when called.
        mutated |= {n for n in touched if sharing.is_stateful_callable(namespace[n])}
        # ... and so may notebook code the analysis never saw (reach.py).
        code = reach.notebook_code_reach([namespace[n] for n in touched], namespace)
        mutated |= code.names
        # Reading an iterator, a defaultdict or a notebook object may change it.
        mutated |= {n for n in analysis["uses"]
                    if n in namespace and reach.changes_when_read(namespace[n])}
        if self._assumption_broken(analysis):  # `sum` is numpy's after `from numpy import *`
            mutated |= {n for n in analysis["uses"] if n in namespace}
        if self._may_draw_through_pyplot(analysis, namespace):
            mutated |= sharing.figure_names(namespace)
        # A change through an alias the cell made or ended changes the other name.
        mutated |= self._former_aliases(mutated) | _aliased_in_cell(analysis, mutated, namespace)
        held = [*code.held, *self._hidden(mutated, namespace)]
        # exec, globals(), %run: anything may change
        everything = bool(analysis["flags"] or code.everything or self._reaches_namespace(mutated))
        return mutated, held, everything

    def _candidates(self, analysis: dict, namespace: dict, retry: set,
                    called: set) -> set[str]:
        mutated, held, everything = self._may_mutate(analysis, namespace, called)
        names = set(analysis["defs"]) | set(analysis["deletes"]) | mutated | retry
        names |= self._sharing_state(namespace, mutated, held)
        if everything:
            names |= namespace.keys()
        for name, value in namespace.items():  # rebound some other way (exec, globals())
            known = self.known.get(name)
            if known is None or known.pyid != id(value):
                names.add(name)
        names |= {n for n in self.known if n not in namespace}
        return names

    def _former_aliases(self, mutated: set) -> set:
        """The names that were one object with a name the cell may mutate
        before the cell: `b.append(1); b = [5]` changed a, b's alias, though
        b no longer is one after the cell.  (Ids of objects alive together
        before the cell: equal ids are one object.)"""
        ids = {self.known[n].pyid for n in mutated if n in self.known}
        return {n for n, known in self.known.items() if known.pyid in ids} if ids else set()

    def _may_draw_through_pyplot(self, analysis: dict, namespace: dict) -> bool:
        """pyplot draws on the current figure, wherever it is bound:
        `plt.plot(...)`, `plt.gca().set_title(...)`, `plt.close('all')`, and
        pandas' `s.hist()` / `df.plot()` change a figure a name holds from an
        earlier cell without naming it."""
        if "matplotlib.pyplot" not in sys.modules:
            return False
        pandas = sys.modules.get("pandas")
        plotted = (pandas.DataFrame, pandas.Series) if pandas else ()
        for name in {*analysis["uses"], *analysis["may_mutate"]}:
            value = namespace.get(name)
            module = value.__name__ if isinstance(value, types.ModuleType) else \
                getattr(value, "__module__", None)
            if isinstance(module, str) and module.startswith("matplotlib"):
                return True
            if plotted and name in analysis["may_mutate"] and isinstance(value, plotted):
                return True
        return False

    def _assumption_broken(self, analysis: dict) -> bool:
        """Whether a name the analysis took for a builtin or a module it
        knows (NBR_NAMES_ASSUMED: calls through it leave their arguments
        unchanged) is bound to something else in the namespace."""
        user_ns, ipython_own = self.shell.user_ns, self.shell.user_ns_hidden
        for name in analysis.get("assumed", ()):
            if name not in user_ns:
                continue  # the builtin itself
            value = user_ns[name]
            if ipython_own.get(name, _UNSET) is value:
                continue  # IPython's own (its `open`, from IPython 8.12 on)
            if isinstance(value, types.ModuleType):
                if getattr(value, "__name__", None) != _ASSUMED_MODULES.get(name, name):
                    return True
            elif value is not getattr(builtins, name, None):
                return True
        return False

    def _hidden(self, mutated: set, namespace: dict) -> list:
        """Values of names the audit does not store that the cell may have
        changed (`_.append(1)` after a cell displayed a list, `Out[3]['k'] = 1`,
        a `_` or `__name__` of the user's): a change through them is a change
        of the stored names that share their state."""
        user_ns = self.shell.user_ns
        return [user_ns[n] for n in mutated if n in user_ns and n not in namespace]

    def _reaches_namespace(self, mutated: set) -> bool:
        """`import __main__; __main__.x[0] = 1` changes x through the module
        whose dict is the namespace: the analysis sees only `__main__`."""
        user_ns = self.shell.user_ns
        return any(isinstance(v := user_ns.get(n), types.ModuleType) and
                   (v.__dict__ is user_ns or v is sys)  # sys.modules['__main__']
                   for n in mutated)

    def _sharing_state(self, namespace: dict, mutated: set, held=()) -> set[str]:
        """Names whose values share state with what the cell may have
        mutated, or with the objects in `held` (a view's array, a container's
        items: sharing.py), but not those already recorded as recompute for
        the same object: there is nothing of theirs to store again."""
        values = [namespace[n] for n in mutated if n in namespace] + list(held)
        values += [v for value in values for v in sharing.class_state(value)]
        names = sharing.names_sharing_state(namespace, values) if values else set()
        return {n for n in names
                if not ((k := self.known.get(n)) and not k.stored and k.pyid == id(namespace[n]))}

    def _capture_changes(self, job, analysis, namespace, called: set) -> dict:
        """`called`: the globals of the notebook functions the cell calls
        (_called_globals)."""
        changes: dict[str, Known] = {}
        groups = alias_groups(namespace)
        with self._outputs_lock:
            retry, self._retry = self._retry, set()
        names = self._referrers(self._candidates(analysis, namespace, retry, called), namespace)
        with_aliases(names, groups, namespace)  # a change through one name is a change of all
        twins = {}  # name -> the alias group's representative, for every group
        for group in groups.values():
            first = self._representative(group, namespace[group[0]])
            twins.update((name, first) for name in group if name != first)
        # A new `cfg = config["solver"]` lies in a value the cell read; a
        # part stored before (`d2 = cfg` takes cfg again) in its holder.
        holders = names | set(analysis["uses"])
        holders |= {ref for n in names if (k := self.known.get(n)) for ref in k.refs}
        parts = self._parts(namespace, holders, twins)
        names |= parts.keys()  # stored again, as parts of their holders
        with_aliases(names, groups, namespace)
        twins = {n: first for n, first in twins.items() if n in names}
        roots = serialize.view_roots({n: v for n, v in namespace.items()
                                      if serialize.is_plain_array(v) and n not in self.excluded})
        # Arrays first, views of other named arrays after them: a pickle may
        # reference one (array_ref), which must be captured, and put, before
        # it.  Parts after their holders, twins last.
        order = sorted(names, key=lambda n: (
            n in twins, not serialize.is_plain_array(v := namespace.get(n)), id(v) in roots,
            n in parts, n))
        hashed = serialize.hash_big_arrays(
            namespace[n] for n in order if n in namespace and n not in twins and
            n not in self.excluded and id(namespace[n]) not in roots)
        array_ref = self._array_ref(namespace, changes, groups, roots)
        for name in order:
            if name not in namespace:
                if name in self.known or name in retry:
                    job.deletes.append(name)
                    job.record.deletes.append(name)
            elif name in twins:
                self._capture_alias(job, name, twins[name], namespace[name], changes)
            elif name in parts and (part := self._part_of(parts[name], namespace, changes)):
                self._capture_value(job, name, namespace[name], changes, part=part)
            else:
                self._capture_value(job, name, namespace[name], changes, hashed, array_ref,
                                    roots.get(id(namespace[name])))
        if self.background:  # private copies: the next cell may change the originals
            job.puts = serialize.snapshot_all(job.puts, self.writer.pool, self.live_bytes)
        return changes

    def _array_ref(self, namespace: dict, changes: dict, groups: dict, roots: dict):
        """For pickling: (name, id) of an array stored under a top-level
        name of its own (as of this capture; the alias group's
        representative; a typed array, or a view of another, `roots`), else
        None; None if the namespace has no such array (no reference to look
        for).  An array this capture did not take is hashed (a view encoded)
        once to confirm that its stored id is still its content: a change
        the analysis missed must not leave a holder pointing at the old array."""
        by_object = {}
        for name in sorted(namespace):
            value = namespace[name]
            if serialize.is_plain_array(value) and name not in self.excluded:
                group = groups.get(id(value))
                by_object.setdefault(id(value),
                                     self._representative(group, value) if group else name)
        if not by_object:
            return None
        confirmed: dict = {}

        def array_ref(arr):
            name = by_object.get(id(arr))
            known = changes.get(name) or self.known.get(name) if name else None
            if known is None or not known.stored or known.pyid != id(arr):
                return None
            object_id = known.object_id()
            if object_id and name not in changes:
                if name not in confirmed:
                    view = id(arr) in roots and serialize.encode_view(arr, roots[id(arr)],
                                                                      array_ref)
                    confirmed[name] = object_id == (
                        view.id if view else serialize.typed_array_id(arr))
                object_id = object_id if confirmed[name] else None
            return (name, object_id) if object_id else None

        return array_ref

    def _referrers(self, names: set, namespace: dict) -> set:
        """`names` and the names whose stored values reference one of them
        (a view its array, a part its holder), and theirs in turn: a change
        or a rebinding of the one may have ended the relation (`a = a.copy()`
        leaves `v = a[1:]` a view of the old array), which a new capture of
        the other finds (its id names the other's content, not its object)."""
        names = set(names)
        while True:
            more = {n for n, known in self.known.items()
                    if n in namespace and n not in names and names.intersection(known.refs)}
            if not more:
                return names
            names |= more

    def _parts(self, namespace: dict, holders: set, twins: dict) -> dict:
        """sharing.find_parts within `holders` but excluded names; an alias
        twin (stored through its representative) may hold parts, not be one."""
        return sharing.find_parts(namespace, holders,
                                  lambda n: n not in twins and n not in self.excluded,
                                  lambda n: n not in self.excluded)

    def _part_of(self, part: tuple, namespace: dict, changes: dict):
        """encode_part's arguments (holder's value, path, (holder, its id),
        what the holder's pickle needs), if the holder's value is stored
        under its name as of this capture; else None."""
        holder, path = part
        known = changes.get(holder) or self.known.get(holder)
        value = namespace[holder]
        # The part keeps what the holder's pickle needs bound as well
        # (Encoded.keep), so it still loads once the holder's name is gone:
        # a holder whose needs are not known is not one.
        if known is None or known.needs is None or known.pyid != id(value) or \
                known.object_id() is None:
            return None
        return value, path, (holder, known.object_id()), known.needs

    def _needs(self, encoded, changes: dict) -> tuple | None:
        """Known.needs of a value just encoded (None for what is not a
        pickle): what it needs directly, and what the values it references
        need as far as known (a typed array needs nothing)."""
        if encoded.kind != "pickle":
            return None
        needs = list(serialize.needed_ids(encoded))
        for ref, ref_id in encoded.refs:
            known = changes.get(ref) or self.known.get(ref)
            if known is None or known.object_id() != ref_id:
                return None
            needs += known.needs or ()  # a typed array needs nothing
        return tuple(dict.fromkeys(needs))

    def _representative(self, group: list, value) -> str:
        """The name the others alias: one recorded earlier for this very
        object if there is one (so old records stay valid), else the first."""
        for name in group:
            known = self.known.get(name)
            if known is not None and known.pyid == id(value):
                return name
        return group[0]

    def _capture_value(self, job, name, value, changes, hashed=None, array_ref=None,
                       view_root=None, part=None):
        """`part`: encode_part's arguments, to store the value as a part of
        its holder."""
        if name in self.excluded:
            return self._recompute(job, name, value, changes, "excluded by %nbrewind exclude")
        known = self.known.get(name)
        same_object = known is not None and known.pyid == id(value)
        try:
            # Hashing first (cheap next to a copy into fresh memory): a value
            # that may only have been mutated may turn out unchanged, and a new
            # one may be content the store already has.
            encoded = serialize.encode_part(*part) if part else \
                serialize.encode(value, hashed, array_ref, view_root)
        except serialize.Unstorable as why:
            reason = str(why)
            if same_object and (reach.changes_when_read(value) or
                                sharing.is_stateful_callable(value)):
                reason = _record.ADVANCED_IN_PLACE + reason
            return self._recompute(job, name, value, changes, reason)
        if same_object and encoded.id is not None and encoded.id == known.object_id():
            return  # may have been mutated; it was not
        cap = self.max_object_bytes
        if cap is not None and encoded.nbytes > cap:
            return self._recompute(job, name, value, changes,
                                   f"{encoded.nbytes} bytes, over the cap of {cap} "
                                   f"(%nbrewind max-object-size)")
        job.record.writes[name] = encoded.id
        if encoded.refs:  # for repeat and rewind: restored together, they share again
            job.record.host.setdefault(_record.HOST_REFS, {})[name] = \
                [list(ref) for ref in encoded.refs]
        needs = self._needs(encoded, changes)
        changes[name] = Known(id(value), encoded.id, job,
                              refs=tuple(ref for ref, _ in encoded.refs), needs=needs)
        if encoded.id in self.stored_ids and not self._maybe_never_stored(job, encoded):
            job.id_refs.append((name, encoded.id, needs or serialize.needed_ids(encoded)))
            return
        job.puts.append((name, encoded))
        self.stored_ids.add(encoded.id)

    def _maybe_never_stored(self, job, encoded) -> bool:
        """Whether an array's id is to be stored only by a live put not yet
        written (this job's or one in flight), which may find its array
        changed and store nothing: this array is then put too, from its own
        memory (which costs nothing once the id is stored)."""
        if not (self.background and self.live_bytes is not None and encoded.kind == "array"):
            return False
        return encoded.id in self.writer.live_ids() or encoded.id in self.writer.lost_ids or any(
            e.id == encoded.id and e.kind == "array" and e.nbytes >= self.live_bytes
            for _, e in job.puts)

    def _capture_alias(self, job, name, twin, value, changes):
        source = changes.get(twin) or self.known[twin]
        known = self.known.get(name)
        if known and known.pyid == id(value) and known.stored == source.stored and \
                known.object_id() == source.object_id():
            return  # still the same alias of the same, unchanged object
        job.record.aliases[name] = twin
        if not source.stored:
            job.record.recompute[name] = f"the same object as {twin}, which is recomputed"
            if known is not None and known.stored:
                job.deletes.append(name)
            changes[name] = Known(id(value), None, job, stored=False)
            return
        job.id_refs.append((name, source.id, source.needs or ()))  # after the twin's put
        job.record.writes[name] = source.id
        changes[name] = Known(id(value), source.id, job, refs=source.refs, needs=source.needs)

    def _recompute(self, job, name, value, changes, reason):
        job.record.recompute[name] = reason
        known = self.known.get(name)
        if known is not None and known.stored:
            job.deletes.append(name)  # its older stored value must not resolve any more
        changes[name] = Known(id(value), None, job, stored=False)

    def _capture_reads(self, job, analysis, namespace):
        names = list(analysis["uses"])
        if analysis["flags"]:  # exec, %run: it may have read any of them
            names += sorted(n for n in namespace if n not in analysis["uses"])
        for name in names:
            if name in self.known:
                job.reads.append(name)  # the writer gives the id it had
            elif name in namespace and name not in job.record.writes:
                job.record.reads[name] = None  # bound before the audit began

    def _may_draw_python_random(self, analysis: dict, source: str, called: set) -> bool:
        """Libraries draw from Python's global `random` in their own threads
        (Dask does, all the time), so a change of its state counts as the
        cell's only if the cell, or a notebook function it calls, names it."""
        names = set(analysis["uses"]) | set(analysis["imports"]) | called
        return "random" in names or bool(_record.NAMES_RANDOM.search(source))

    def _capture_rng(self, job, python_random: bool):
        """The global random states are pseudo-variables: a cell that draws
        from one read and wrote it."""
        for name, state in (("@rng:random", random.getstate()),
                            ("@rng:numpy", np.random.get_state())):
            encoded = serialize.encode(state)
            before = self.rng_ids.get(name)
            if before == encoded.id:
                continue
            if before is not None and name == "@rng:random" and not python_random:
                continue  # drawn by someone else's thread; the last stored state stays
            if before is not None:
                job.record.reads[name] = before
            job.puts.append((name, encoded))
            job.record.writes[name] = encoded.id
            self.rng_ids[name] = encoded.id

    def _capture_files(self, rec):
        for path, (mode, content_id) in self._files.collect(self.notebook).items():
            name = f"@file:{path}"
            if mode == "read":
                rec.reads[name] = content_id
            else:
                rec.writes[name] = content_id

    def _capture_outputs(self, job):
        flush_streams()
        with self._outputs_lock:
            outputs, self._outputs = self._outputs, []
        for index, output in enumerate(outputs):
            payload = json.dumps(output, sort_keys=True, separators=(",", ":")).encode()
            encoded = serialize.encode_blob(OUTPUT_CODEC, payload)
            job.puts.append((f"@output:{job.cell_id}:{index}", encoded))
            job.record.outputs.append(encoded.id)


# ---- helpers --------------------------------------------------------------------

_PACKAGES = ("numpy", "pandas", "scipy", "ipykernel", "ipython", "cloudpickle", "dill",
             "dask", "distributed", "mpi4py", "h5py", "matplotlib", "scikit-learn")


def environment() -> dict:
    """What a repeat elsewhere compares before running anything."""
    import importlib.metadata as metadata
    import platform
    import socket

    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "platform": platform.platform(),
            "host": socket.gethostname(), "hashseed": os.environ.get("PYTHONHASHSEED"),
            "nbrewind": _core.version(), "packages": packages}


# Values that are often one shared object without being aliases a user made
# (small ints, interned strings, None): no alias is recorded for them.
_ATOMIC = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset,
           type(sys))


_NOT_HOLDERS = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType)


def _aliased_in_cell(analysis: dict, mutated: set, namespace: dict) -> set:
    """The names the cell made a may-mutate name an alias of, or the other
    way round (`b = a; b.append(1); b = [5]` changes a, though b is no
    alias after the cell), and the holders a may-mutate name took a part of
    (`b = d['k']; b.append(1); b = None` changes d), as the analysis found
    them.  Modules, classes and functions are no holders here: a value taken
    from one (`x = np.pi`) is found, if shared, by the search for shared
    state."""
    out: set = set()
    for name, other in analysis["aliases"]:
        if name in mutated or other in mutated:
            out |= {name, other}
    for name, holder in analysis["parts"]:
        if name in mutated and holder in namespace and \
                not isinstance(namespace[holder], _NOT_HOLDERS):
            out.add(holder)
    return out


def _read_by_bindings(code: str, names: set) -> set | None:
    """What a cell may store in `names` (names it binds and then changes) or
    in any item or attribute: the names read by the right-hand sides of its
    plain assignments to them (`v = a.reshape(-1)`, `v, w = f(a), b`,
    `v += a`, `(v := a)`) and of its assignments into items and attributes
    (`d["k"] = a`, `obj.w = a`), followed through the names those read that
    the cell binds too (`w = a[:9]; v = w.reshape(-1)`).  None when one of
    them is bound some other way (a loop, `with`, a comprehension, an
    import...) or, for `names`, not at all; when the cell runs a magic (its
    code is a string here); or when the code does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    if any(isinstance(node, ast.Name) and node.id == "get_ipython" for node in ast.walk(tree)):
        return None
    bindings, into = _plain_bindings(tree)
    read: set = set()
    pending = [*names, *into]
    while pending:
        name = pending.pop()
        if name in read:
            continue
        read.add(name)
        if name not in bindings:
            if name in names:
                return None
            continue  # a value from before the cell
        if bindings[name] is None:
            return None
        pending.extend(bindings[name])
    return read


def _plain_bindings(tree) -> tuple[dict, set]:
    """({name: the names its plain assignments' right-hand sides read, or
    None if it is also bound some other way}, the names read by assignments
    into items and attributes) for a parsed cell."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    bindings: dict = {}
    into: set = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(part, (ast.Attribute, ast.Subscript))
                   for target in targets for part in ast.walk(target)):
                into |= _names_in(node.value)
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)):
            continue
        binding = parents.get(node)
        while isinstance(binding, (ast.Tuple, ast.List, ast.Starred)):
            binding = parents.get(binding)
        plain = isinstance(binding, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) \
            and binding.value is not None and not _in_comprehension(binding, parents)
        if not plain:
            bindings[node.id] = None
        elif bindings.get(node.id, set()) is not None:
            bindings.setdefault(node.id, set()).update(_names_in(binding.value))
    return bindings, into


def _names_in(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _in_comprehension(node, parents: dict) -> bool:
    while (node := parents.get(node)) is not None:
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return True
    return False


def with_aliases(names: set, groups: dict, namespace: dict):
    """Add to `names` every name bound to the same object as one of them
    (alias_groups)."""
    for name in list(names):
        if name in namespace:
            names.update(groups.get(id(namespace[name]), ()))


def alias_groups(namespace: dict) -> dict:
    """id(object) -> the sorted names bound to it, for objects bound to more
    than one name."""
    by_identity: dict[int, list] = {}
    for name, value in namespace.items():
        if not isinstance(value, _ATOMIC):
            by_identity.setdefault(id(value), []).append(name)
    return {k: sorted(v) for k, v in by_identity.items() if len(v) > 1}


def cell_id_of(cell_id: str | None, source: str) -> str:
    """The nbformat cell id the frontend sent, or one derived from the source
    for frontends that send none (a console)."""
    if cell_id and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cell_id):
        return cell_id
    return ANONYMOUS_CELL + _core.hash_bytes(source.encode())[:16]


def status_of(result) -> str:
    return "error" if (result.error_in_exec or result.error_before_exec) else "ok"


def set_error(rec, result):
    error = result.error_in_exec or result.error_before_exec
    if error is not None:
        rec.error_name = type(error).__name__
        rec.error_value = str(error)[:4000]


def output_from_message(msg_type: str, content: dict) -> dict | None:
    """The nbformat output a kernel message becomes (what a frontend saves)."""
    if msg_type == "stream":
        return {"output_type": "stream", "name": content.get("name"), "text": content.get("text")}
    if msg_type in ("display_data", "execute_result"):
        out = {"output_type": msg_type, "data": content.get("data", {}),
               "metadata": content.get("metadata", {})}
        return out
    if msg_type == "error":
        return {"output_type": "error", "ename": content.get("ename"),
                "evalue": content.get("evalue"), "traceback": content.get("traceback", [])}
    return None


def flush_streams():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
