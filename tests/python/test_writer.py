"""The background writer's queue, on a real store: big snapshots are bounded,
small checkpoints never wait behind them, and every job commits in order."""
from __future__ import annotations

import threading

import numpy as np

import nbrewind
from nbrewind import history, record, serialize
from nbrewind.writer import LIGHT_BYTES, Job, Writer


class GatedWriter(Writer):
    """A writer whose thread waits at `gate` before each job, so that a test
    can fill its queue; the writing itself is the real one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()

    def _write(self, job):
        self.gate.wait(timeout=60)
        super()._write(job)


def job(n: int, value) -> Job:
    rec = record.Record(cell_id=f"cell{n}", language="python", source_hash="0" * 32,
                        status="ok", started="2026-11-27T00:00:00.000Z", execution_count=n)
    j = Job(f"cell{n}", n, rec)
    encoded = serialize.snapshot(serialize.encode(value))
    rec.writes[f"v{n}"] = encoded.id
    j.puts.append((f"v{n}", encoded))
    return j


def submitted_within(writer, j, seconds: float) -> bool:
    """Whether writer.submit(j) returned within `seconds` (it goes on in a
    thread either way)."""
    done = threading.Event()
    threading.Thread(target=lambda: (writer.submit(j), done.set()), daemon=True).start()
    return done.wait(seconds)


def test_small_checkpoints_never_wait_behind_big_ones(tmp_path):
    store = nbrewind.Store(str(tmp_path / "s.nbrewind"), "c")
    errors = []
    writer = GatedWriter(store, True, errors.append, max_pending=1)
    big = [np.full(LIGHT_BYTES // 8, float(i)) for i in range(3)]  # 1 MiB each: big
    try:
        writer.submit(job(1, big[0]))  # being written (held at the gate)
        writer.submit(job(2, big[1]))  # the one big job that may wait
        assert submitted_within(writer, job(3, 42), 2.0)  # small: queued at once
        late = job(4, big[2])
        assert not submitted_within(writer, late, 0.5)  # a second big one waits
        writer.gate.set()
        assert late.done.wait(60)
        writer.flush()
    finally:
        writer.gate.set()
    assert errors == []
    assert [e.record.cell_id for e in history.executions(store)] == \
        ["cell1", "cell2", "cell3", "cell4"]
    for n, value in ((1, big[0]), (3, 42), (4, big[2])):
        assert writer.current[f"v{n}"] == serialize.encode(value).id
    store.close()
