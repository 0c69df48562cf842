"""A notebook's audit history, read from its store: every checkpoint whose
record belongs to the notebook, in execution order."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from . import _core
from .record import Record


@dataclass
class Execution:
    checkpoint: str
    committed: str
    record: Record
    logical_bytes: int
    stored_bytes: int

    @property
    def session(self) -> str | None:
        return (self.record.host or {}).get("session")


def belongs_to(record: Record, notebook: str | None) -> bool:
    """Records name the notebook their kernel ran; one moved since (or a
    store shared by copies) still matches by file name."""
    recorded = (record.host or {}).get("notebook")
    if notebook is None or recorded is None:
        return True
    return os.path.abspath(recorded) == os.path.abspath(notebook) or \
        os.path.basename(recorded) == os.path.basename(notebook)


def executions(store, notebook: str | None = None, with_stats: bool = False) -> list[Execution]:
    out = []
    for cid in store.checkpoints():
        info = store.checkpoint_info(cid)
        host = info.get("host") or "null"
        if not host.startswith('{"record":'):
            continue  # a checkpoint some other host wrote
        record = Record.from_json(host)
        if not belongs_to(record, notebook):
            continue
        logical, stored = store.stats(cid) if with_stats else (0, 0)
        out.append(Execution(cid, info["committed"], record, logical, stored))
    return out


def latest_session(runs: list[Execution]) -> list[Execution]:
    """The executions of the most recent kernel session."""
    if not runs:
        return []
    session = runs[-1].session
    return [e for e in runs if e.session == session]


def environment_of(runs: list[Execution]) -> dict:
    for run in latest_session(runs):
        env = (run.record.host or {}).get("environment")
        if env:
            return env
    return {}


def manifest_bytes(path: str) -> bytes:
    """A manifest file's text (a segment carrying one: that text only, not
    its data); a damaged one's whole file, so that damage still changes what
    is hashed.  FileNotFoundError if it is gone, as for any file."""
    try:
        return _core.read_manifest(path)
    except _core.NotFoundError as exc:
        raise FileNotFoundError(str(exc)) from None
    except _core.CorruptError:
        with open(path, "rb") as f:
            return f.read()


def manifest_hash(store_path: str, checkpoint: str) -> str:
    """The hash of a checkpoint's manifest text: the store reference a
    notebook carries (docs/store-format.md names the file)."""
    return _core.hash_bytes(manifest_bytes(
        os.path.join(store_path, "checkpoints", f"{checkpoint}.json")))


def record_dict(record: Record) -> dict:
    return json.loads(record.to_json())
