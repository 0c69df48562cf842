"""The background writer's queue, on a real store: big snapshots are bounded,
small checkpoints do not wait behind them, a failure frees its slot, and
every job commits in order."""
from __future__ import annotations

import threading

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


def job(n: int, value) -> Job:
    rec = record.Record(cell_id=f"cell{n}", language="python", source_hash="0" * 32,
                        status="ok", started="2026-11-27T00:00:00.000Z", execution_count=n)
    j = Job(f"cell{n}", n, rec)
    encoded = serialize.snapshot(serialize.encode(value))
    rec.writes[f"v{n}"] = encoded.id
    j.puts.append((f"v{n}", encoded))
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
