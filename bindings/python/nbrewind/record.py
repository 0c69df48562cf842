"""Execution records, as the core defines them (nbr_record).

The format, its rules and its canonical JSON belong to libnbrewind, so that
the Python and R bindings write identical records: this module only carries
a record between Python values and the core (docs/notebook-format.md).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from . import _core

# How a recompute reason starts when the cell changed in place a value that
# cannot be stored and whose state later cells see (a generator advanced by
# next(), an lru_cache filled): a re-run that needs the value must replay
# this cell too (repeat.py).  Not for resources such as a Dask client, whose
# method calls leave what later cells compute as it was.
ADVANCED_IN_PLACE = "advanced in place by this cell, and "

# The global random states are pseudo-variables of the records; a source that
# names `random` (Python's module or numpy's) may draw from them.
RNG_NAMES = ("@rng:random", "@rng:numpy")
NAMES_RANDOM = re.compile(r"\brandom\b")

# The host document's key for the values a stored value references by name
# ({name: [[their name, their object id], ...]}: a view `v = a[1:]` its
# array, a dict holding a named array, a part `cfg = config["s"]` its
# holder); the values a restore must bring back together.
HOST_REFS = "refs"


def references(rec) -> dict:
    """{name: {referenced name: object id}} of the record's stored values
    that reference values stored under other names (HOST_REFS)."""
    refs = (rec.host or {}).get(HOST_REFS) or {}
    return {name: {ref: object_id for ref, object_id in pairs} for name, pairs in refs.items()}


@dataclass
class Record:
    """What one execution of one cell read, wrote and showed."""

    cell_id: str
    language: str
    source_hash: str
    status: str
    started: str
    execution_count: int | None = None
    duration: float | None = None
    error_name: str | None = None
    error_value: str | None = None
    host: dict | None = None
    reads: dict = field(default_factory=dict)  # name -> object id or None
    writes: dict = field(default_factory=dict)  # name -> object id
    deletes: list = field(default_factory=list)
    recompute: dict = field(default_factory=dict)  # name -> reason
    aliases: dict = field(default_factory=dict)  # name -> the name it is the same object as
    outputs: list = field(default_factory=list)  # object ids of displayed outputs

    def to_json(self) -> str:
        """The canonical JSON the core renders (ValueError naming the rule
        a bad record breaks)."""
        fields = asdict(self)
        if fields["host"] is not None:
            fields["host"] = json.dumps(fields["host"])
        return _core.record_render(fields)

    @classmethod
    def from_json(cls, text: str) -> "Record":
        """Parse and check a record (nbrewind.CorruptError naming the rule)."""
        fields = _core.record_parse(text)
        if fields.get("host") is not None:
            fields["host"] = json.loads(fields["host"])
        return cls(**fields)

    def as_dict(self) -> dict:
        return json.loads(self.to_json())


def connected(links: dict, name: str) -> set:
    """`name` and every name `links` ({name: names}) reach from it."""
    group, frontier = {name}, [name]
    while frontier:
        near = links.get(frontier.pop(), set())
        frontier += near - group
        group |= near
    return group
