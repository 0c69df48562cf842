"""The background writer's queue, on a real store: big snapshots are bounded,
small checkpoints do not wait behind them, a failure frees its slot, and
every job commits in order."""
from __future__ import annotations

import threading
import weakref

import numpy as np

import nbrewind
from nbrewind import history, record, serialize
from nbrewind.writer import LIGHT_BYTES, Job, Writer


class GatedWriter(Writer):
    """A writer whose thread waits at `gate` before each job, so that a test
    can fill its queue, and fails the jobs of the cells in `fail`; the
    writing itself is the real one."""

    def __init__(self, *args, fail=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.fail = set(fail)

    def _write(self, job):
        self.gate.wait(timeout=60)
        if job.cell_id in self.fail:
            raise OSError(f"{job.cell_id}: no space left on device")
        super()._write(job)


def job(n: int, value, name: str | None = None, live: bool = False) -> Job:
    """Cell n's job putting `value` as `name` (v<n>): a snapshot, or with
    `live` written from its own memory (Encoded.live), as the audit's
    background mode does for big arrays."""
    name = name or f"v{n}"
    rec = record.Record(cell_id=f"cell{n}", language="python", source_hash="0" * 32,
                        status="ok", started="2026-11-27T00:00:00.000Z", execution_count=n)
    j = Job(f"cell{n}", n, rec)
    j.puts = serialize.snapshot_all([(name, serialize.encode(value))],
                                    live_bytes=LIGHT_BYTES if live else None)
    rec.writes[name] = j.puts[0][1].id
    return j


def big(i: int) -> np.ndarray:
    return np.full(LIGHT_BYTES // 8, float(i))  # 1 MiB: a big job


def submitted_within(writer, j, seconds: float) -> bool:
    """Whether writer.submit(j) returned within `seconds` (it goes on in a
    thread either way)."""
    done = threading.Event()
    threading.Thread(target=lambda: (writer.submit(j), done.set()), daemon=True).start()
    return done.wait(seconds)


def committed_cells(store) -> list:
    return [e.record.cell_id for e in history.executions(store)]


def test_small_checkpoints_do_not_wait_behind_big_ones(tmp_path):
    store = nbrewind.Store(str(tmp_path / "s.nbrewind"), "c")
    errors = []
    writer = GatedWriter(store, True, errors.append, max_pending=1, max_light=1)
    try:
        writer.submit(job(1, big(1)))  # being written (held at the gate)
        writer.submit(job(2, big(2)))  # the one big job that may wait
        assert submitted_within(writer, job(3, 42), 2.0)  # small: queued at once
        late_big, late_small = job(4, big(4)), job(5, 43)
        assert not submitted_within(writer, late_big, 0.5)  # a second big one waits
        assert not submitted_within(writer, late_small, 0.5)  # so does a second small one
        writer.gate.set()
        assert late_big.done.wait(60) and late_small.done.wait(60)
        writer.flush()
    finally:
        writer.gate.set()
    assert errors == []
    assert sorted(committed_cells(store)) == [f"cell{n}" for n in range(1, 6)]
    assert committed_cells(store)[:3] == ["cell1", "cell2", "cell3"]  # in the order submitted
    for n, value in ((1, big(1)), (3, 42), (4, big(4)), (5, 43)):
        assert writer.current[f"v{n}"] == serialize.encode(value).id
    store.close()


def test_a_failed_job_frees_its_slot_even_when_reporting_it_fails(tmp_path):
    store = nbrewind.Store(str(tmp_path / "s.nbrewind"), "c")
    failed = []

    def on_error(j):
        failed.append(j.cell_id)
        raise RuntimeError("the report itself fails")

    writer = GatedWriter(store, True, on_error, max_pending=0, fail={"cell1"})
    writer.gate.set()
    first, second = job(1, big(1)), job(2, big(2))
    writer.submit(first)
    assert submitted_within(writer, second, 30)  # cell1's slot came back
    assert second.done.wait(30)  # and a writer took the job
    writer.flush()
    assert failed == ["cell1"] and isinstance(first.error, OSError)
    assert second.error is None and committed_cells(store) == ["cell2"]
    assert writer._thread.is_alive()  # the writer outlived both failures
    store.close()


def bound_after(store, checkpoint: str, name: str):
    """The value `name` resolves to as of `checkpoint`, or None if unbound."""
    try:
        object_id = store.resolve(name, checkpoint)
    except nbrewind.NotFoundError:
        return None
    return None if object_id is None else serialize.decode(store, object_id)


def test_a_live_array_changed_before_it_is_written_is_recorded_as_recompute(tmp_path):
    store = nbrewind.Store(str(tmp_path / "s.nbrewind"), "c")
    lost = []
    writer = GatedWriter(store, True, lambda j: None, on_lost=lambda j, names: lost.append(names))
    writer.gate.set()
    first = job(1, big(1), "u", live=True)
    assert first.puts[0][1].live
    writer.submit(first)
    writer.flush()
    assert writer.current["u"] == serialize.encode(big(1)).id
    writer.gate.clear()
    u = big(2)
    second = job(2, u, "u", live=True)
    writer.submit(second)  # held at the gate: u is not written yet
    u[-1] = -1.0  # changed by code the analysis did not see: nothing protected it
    writer.gate.set()
    writer.flush()
    assert second.error is None and lost == [["u"]]
    assert second.lost == {serialize.encode(big(2)).id}
    assert "u" not in second.record.writes
    assert "changed after cell cell2" in second.record.recompute["u"]
    # The store does not pass cell1's value off as cell2's.
    assert bound_after(store, second.checkpoint, "u") is None
    assert (bound_after(store, first.checkpoint, "u") == big(1)).all()
    assert "u" not in writer.current
    assert store.verify() == ""
    store.close()


def test_a_protected_live_array_keeps_the_value_it_had(tmp_path):
    store = nbrewind.Store(str(tmp_path / "s.nbrewind"), "c")
    lost = []
    writer = GatedWriter(store, True, lambda j: None, on_lost=lambda j, names: lost.append(names))
    u, w = big(3), big(4)
    j = job(3, u, "u", live=True)
    j.puts += serialize.snapshot_all([("w", serialize.encode(w))], live_bytes=LIGHT_BYTES)
    writer.submit(j)
    assert [a is u or a is w for a in writer.live_pending()] == [True, True]
    assert writer.protect(lambda a: a is u) == 1  # before a cell that may change u runs
    assert [a is w for a in writer.live_pending()] == [True]
    u[:] = -1.0
    writer.gate.set()
    writer.flush()
    assert lost == [] and j.error is None
    assert (bound_after(store, j.checkpoint, "u") == big(3)).all()
    assert (bound_after(store, j.checkpoint, "w") == big(4)).all()
    assert writer.live_pending() == [] and writer.protect(lambda a: True) == 0
    # A written job lets the user's arrays go (the audit keeps its jobs).
    alive = weakref.ref(w)
    del w
    assert alive() is None and j.puts == []
    store.close()


def test_the_writer_warms_pool_memory_for_copies_of_arrays_like_those_it_wrote(tmp_path):
    store = nbrewind.Store(str(tmp_path / "s.nbrewind"), "c")
    writer = GatedWriter(store, True, lambda j: None)
    writer.gate.set()
    u, v = big(5), big(6)
    j = job(5, u, "u", live=True)
    j.puts += serialize.snapshot_all([("v", serialize.encode(v))], live_bytes=LIGHT_BYTES)
    writer.submit(j)
    writer.flush()
    # Two free buffers of their size: a copy of both before a cell needs no fresh memory.
    free = lambda: sorted(b.nbytes for buffers in writer.pool._free.values() for b in buffers)
    assert free() == [u.nbytes, v.nbytes]
    writer.pool.warm([u.nbytes, v.nbytes])  # enough already: nothing more
    assert free() == [u.nbytes, v.nbytes]
    store.close()
