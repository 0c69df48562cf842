"""Writing checkpoints, in the cell's thread or in the background.

The audit captures, at the end of each cell, everything the checkpoint needs
(a Job: what to put, bind and delete, and the record), with private copies of
any memory the next cell could change, but for big arrays: those are written
from the user's own memory ("live"), and copied only when the next cell may
change them before they are written (protect(), called before that cell
runs).  The store checks a live array against the id it was hashed to as it
writes it; one that changed anyway (code the analysis did not see: a thread,
a callback between cells) is recorded as "recompute" rather than stored
wrong, and the audit stores its name again.  The writer then puts the objects,
fills in the record with their ids and what the cell read, and commits.  In
the background the writer runs on one thread, jobs in cell order, so the
next cell runs while the previous checkpoint is compressed and written.  A
crash can lose only the jobs still queued; `flush()` (also at exit) waits
for them.  The queue bounds the memory the snapshots hold: a cell whose
snapshots are big waits while `max_pending` such jobs wait; one that copied
little (a record, a few small values) does not wait for an earlier cell's
gigabytes to be written, unless MAX_LIGHT such jobs already wait.
"""
from __future__ import annotations

import queue
import threading
import traceback
from dataclasses import dataclass, field

from . import _core, serialize
from .record import HOST_REFS

# A job whose snapshots total less than this is light: it waits only for
# one of MAX_LIGHT slots of its own, not behind the big jobs, whose memory
# the max_pending slots bound (MAX_LIGHT light jobs hold at most 128 MiB).
LIGHT_BYTES = 1 << 20
MAX_LIGHT = 64
PAGE_BYTES = 4096


@dataclass
class Job:
    """One cell's checkpoint, ready to write."""

    cell_id: str
    execution_count: int
    record: object  # record.Record, complete but for the ids of what the cell read
    puts: list = field(default_factory=list)  # (name, serialize.Encoded)
    # (name, id of an object already put, ids its pickle needs: kept bound
    # under the name's @ref: pseudo-names, as a put binds its buffers)
    id_refs: list = field(default_factory=list)
    deletes: list = field(default_factory=list)
    reads: list = field(default_factory=list)  # names whose ids the record needs
    ids: dict = field(default_factory=dict)  # name -> object id, once written
    checkpoint: str | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    slot: str | None = None  # "big" or "light": counted by Writer until written
    writing: int = -1  # the index in `puts` being written; those before it are done
    lost: set = field(default_factory=set)  # ids of live arrays that changed: not stored

    @property
    def snapshot_bytes(self) -> int:
        """The memory its snapshots hold: their pool buffers (which may be up
        to twice what they use), else their encoded size."""
        return sum(max(encoded.nbytes, sum(b.nbytes for b in encoded.pooled))
                   for _, encoded in self.puts)


class Writer:
    """Applies jobs to a store, in order; `background` selects a thread."""

    def __init__(self, store, background: bool, on_error, max_pending: int = 3,
                 max_light: int = MAX_LIGHT, on_lost=None):
        self.store = store
        self.background = background
        self.on_error = on_error  # called with (job) in the writing thread
        # called with (job, names) in the writing thread when live arrays
        # changed before they were written (recorded as recompute instead)
        self.on_lost = on_lost
        self.current: dict[str, str] = {}  # name -> id as of the last committed job
        self._parts: dict[str, set] | None = None  # name -> its part bindings in the store
        self.last_checkpoint: str | None = None
        self._queue: queue.Queue = queue.Queue()
        # Jobs queued or being written, by kind of slot, and how many each
        # kind may have: max_pending big ones may wait besides the one written.
        self._slots = threading.Condition()
        self._held = {"big": 0, "light": 0}
        self._limit = {"big": max_pending + 1, "light": max_light}
        self._thread = None
        self._workers = None  # the store's compression threads, as last set
        self._inflight: list[Job] = []  # submitted, not yet done: for protect()
        self._inflight_lock = threading.Lock()
        # Ids of live arrays found changed and so not stored (until stored
        # from another array): what refers to one is lost with it.
        self.lost_ids: set = set()
        self.pool = BufferPool()

    def submit(self, job: Job):
        if not self.background:
            self._run(job)
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="nbrewind-writer",
                                            daemon=True)
            self._thread.start()
        self._take_slot(job)  # blocks while its kind's slots are full: bounded memory
        try:
            with self._inflight_lock:
                self._inflight.append(job)
            self._queue.put(job)
        except BaseException:  # interrupted: the slot must not leak
            self._forget(job)
            self._give_slot(job)
            raise

    def live_pending(self) -> list:
        """The live arrays (Encoded.live, not copied) whose writing has not
        finished, oldest first."""
        with self._inflight_lock:
            return [e.array for _, e in self._unwritten_live()]

    def live_ids(self) -> set:
        """The ids of the live arrays whose writing has not finished: not
        stored yet, and maybe never (writer.py's docstring)."""
        with self._inflight_lock:
            return {e.id for _, e in self._unwritten_live(copied_too=True)}

    def protect(self, at_risk) -> int:
        """Copy now, in the caller's thread, the live arrays not yet written
        for which at_risk(array) is true: called before code that may change
        them runs.  The writer stores the copy instead, or, if it was
        writing the array from the user's memory already, retries from the
        copy when that write finds the array changed.  Returns how many."""
        copied = 0
        with self._inflight_lock:  # a job done meanwhile is not copied for nothing
            for (job, index), encoded in self._unwritten_live():
                if at_risk(encoded.array):
                    job.puts[index] = (job.puts[index][0], serialize.protected(encoded, self.pool))
                    copied += 1
        return copied

    def _unwritten_live(self, copied_too: bool = False) -> list:
        """((job, index), encoded) of the live puts of the jobs in flight
        from the one being written on (`writing` only grows: read late, it
        lists one put too many, never too few).  Hold _inflight_lock."""
        return [((job, i), e) for job in self._inflight
                for i, (_, e) in enumerate(job.puts) if i >= job.writing and e.live and
                (copied_too or not e.pooled)]

    def _forget(self, job: Job):
        with self._inflight_lock:
            if job in self._inflight:
                self._inflight.remove(job)

    def _take_slot(self, job: Job):
        kind = "big" if job.snapshot_bytes >= LIGHT_BYTES else "light"
        with self._slots:
            self._slots.wait_for(lambda: self._held[kind] < self._limit[kind])
            self._held[kind] += 1
            job.slot = kind

    def _give_slot(self, job: Job):
        with self._slots:
            if job.slot is not None:
                self._held[job.slot] -= 1
                job.slot = None
                self._slots.notify_all()

    def flush(self):
        """Wait until every submitted job is durable (or failed)."""
        if self._thread is not None:
            self._queue.join()

    def _loop(self):
        while True:
            job = self._queue.get()
            try:
                self._run(job)
            except BaseException:  # noqa: BLE001 - the writer must outlive any job
                traceback.print_exc()
            finally:
                self._queue.task_done()

    def _run(self, job: Job):
        try:
            self._write(job)
        except BaseException as exc:  # noqa: BLE001 - reported, never raised into a cell
            job.error = exc
            self.on_error(job)  # in the writer's thread, _loop outlives its failure
        else:
            self._warm_pool(job)
        finally:
            self._forget(job)  # before its puts are read: protect() copies no more
            for _, encoded in job.puts:  # the snapshots' memory serves the next ones
                for buffer in encoded.pooled:
                    self.pool.give(buffer)
            job.puts = []  # nor keep the user's arrays alive (Known.job holds the job)
            self._give_slot(job)
            job.done.set()

    def _warm_pool(self, job: Job):
        """Arrays like the live ones just written from the user's memory
        may have to be copied before a cell: their memory is touched here,
        not then (those protect() copied give their buffers back).  Only an
        optimisation: the job is committed whatever happens here."""
        if not self.background:
            return
        try:
            self.pool.warm([e.nbytes for _, e in job.puts if e.live and not e.pooled])
        except MemoryError:
            pass

    def _set_workers(self):
        # In the background the user's next cell is running: compressing in
        # this thread alone keeps the checkpoint to one core.  In the cell's
        # thread the user waits for it: every core helps.
        workers = 0 if self.background else -1
        if workers != self._workers:
            self.store.set_option("workers", workers)
            self._workers = workers

    def _write(self, job: Job):
        rec = job.record
        self._set_workers()
        parts = {}  # name -> the part bindings its new value has
        lost: list[str] = []
        with self.store.begin(job.cell_id, job.execution_count) as cp:
            for index in range(len(job.puts)):
                job.writing = index
                name, encoded = job.puts[index]
                if self.lost_ids.intersection(serialize.needed_ids(encoded)):
                    self._lose(cp, job, name, encoded.id, lost, parts, "refers to a value that")
                    continue
                object_id = self._put(cp, job, index)
                if object_id is None:
                    self._lose(cp, job, name, encoded.id, lost, parts)
                    continue
                job.ids[name] = object_id
                self.lost_ids.discard(object_id)  # stored after all, from another array
                parts[name] = set(serialize.part_names(name, encoded))
            job.writing = len(job.puts)
            for name, object_id, needs in job.id_refs:
                if self.lost_ids.intersection((object_id, *needs)):
                    self._lose(cp, job, name, object_id, lost, parts, "is or refers to a value that")
                    continue
                cp.put_ref(name, object_id)
                job.ids[name] = object_id
                parts[name] = serialize.put_refs(cp, name, needs)
            for name in job.deletes:
                cp.delete(name)
                parts[name] = set()
            for stale in self._stale_parts(parts):
                cp.delete(stale)
            for name in job.reads:
                rec.reads[name] = self.current.get(name)
            cp.set_host(rec.to_json())
            job.checkpoint = cp.commit()
        for name in (*job.deletes, *lost):
            self.current.pop(name, None)
        self.current.update(job.ids)
        for name, names in parts.items():
            self._parts[name] = names
        self.last_checkpoint = job.checkpoint
        if lost and self.on_lost is not None:
            self.on_lost(job, lost)

    def _put(self, cp, job: Job, index: int) -> str | None:
        """Put job.puts[index]; its id, or None when it is a live array that
        changed before it was written and protect() took no copy of it in
        time."""
        name, encoded = job.puts[index]
        try:
            return serialize.put(cp, name, encoded)
        except _core.ChangedError:
            _, copy = job.puts[index]  # protect() replaces it before the next cell runs
            if copy is encoded:
                return None
        try:
            return serialize.put(cp, name, copy)
        except _core.ChangedError:  # changed before the copy, between the cells
            return None

    def _lose(self, cp, job: Job, name: str, object_id: str, lost: list, parts: dict,
              what: str = ""):
        """Record `name` as recompute: the value its cell left is gone, and
        whatever the store bound it to before is not that value."""
        rec = job.record
        job.lost.add(object_id)
        self.lost_ids.add(object_id)
        rec.writes.pop(name, None)
        (rec.host or {}).get(HOST_REFS, {}).pop(name, None)
        rec.recompute[name] = (f"{what + ' ' if what else ''}changed after cell {job.cell_id} "
                               f"(execution {job.execution_count}) ended, before its "
                               f"checkpoint was written, by code the audit did not foresee "
                               f"changing it")
        cp.delete(name)  # an older binding, maybe an earlier session's, is not this value
        parts[name] = set()
        lost.append(name)

    def _stale_parts(self, parts: dict) -> list:
        """The part bindings (a pickle's buffers, its array references) that
        names rebound or deleted by this job no longer use: left bound, they
        would keep their old objects from gc and put them in every pack."""
        bound = self._bound_parts()
        return sorted(stale for name, names in parts.items()
                      for stale in bound.get(name, set()) - names)

    def _bound_parts(self) -> dict:
        """name -> its part bindings in the store; read from the store's last
        checkpoint the first time (an earlier session's), then kept up to
        date by _write."""
        if self._parts is None:
            self._parts = {}
            checkpoints = self.store.checkpoints()
            for name, _ in self.store.diff(None, checkpoints[-1]) if checkpoints else []:
                if serialize.is_part_name(name):
                    self._parts.setdefault(serialize.part_owner(name), set()).add(name)
        return self._parts


class BufferPool:
    """Memory for snapshots, kept between checkpoints.  Fresh memory is slow
    to touch the first time (a few hundred MB/s on some VMs, against
    several GB/s for a copy into memory already touched), and a notebook's
    big arrays tend to come in a few sizes: the snapshot of the next array of
    that size (or up to half as big) reuses the last one's buffer."""

    def __init__(self, capacity: int = 2 << 30):
        import numpy as np

        self._np = np
        self.capacity = capacity
        self._free: dict[int, list] = {}
        self._held = 0
        self._lock = threading.Lock()

    def take(self, nbytes: int):
        """A uint8 buffer of at least `nbytes` (callers use its first
        `nbytes`): the smallest free one up to twice as big, else fresh
        memory (touching it the first time costs more than the idle half)."""
        with self._lock:
            fits = [size for size, buffers in self._free.items()
                    if buffers and nbytes <= size <= 2 * nbytes]
            if fits:
                size = min(fits)
                self._held -= size
                return self._free[size].pop()
        return self._np.empty(nbytes, dtype=self._np.uint8)

    def warm(self, sizes: list):
        """Make sure a free buffer fits each of `sizes` (several of one size
        need as many), allocating and touching the missing ones here (the
        writer's thread) rather than in the cell's thread when a copy needs
        them: fresh memory is what is slow.  Sizes over a quarter of the
        capacity are left to take()."""
        wanted: dict[int, int] = {}
        for nbytes in sizes:
            if 0 < nbytes <= self.capacity // 4:
                wanted[nbytes] = wanted.get(nbytes, 0) + 1
        for nbytes, count in wanted.items():
            with self._lock:
                free = sum(len(buffers) for size, buffers in self._free.items()
                           if nbytes <= size <= 2 * nbytes)
                room = (self.capacity - self._held) // nbytes  # give() would drop the rest
            for _ in range(min(count - free, room)):
                buffer = self._np.empty(nbytes, dtype=self._np.uint8)
                buffer[::PAGE_BYTES] = 0  # one write per page faults it in
                self.give(buffer)

    def give(self, buffer):
        with self._lock:
            if self._held + buffer.nbytes > self.capacity:
                return  # let it go
            self._free.setdefault(buffer.nbytes, []).append(buffer)
            self._held += buffer.nbytes
