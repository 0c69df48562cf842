"""Notebooks: reading them safely, cell ids, and `sync` (the store's records
copied into the notebook's metadata).

The kernel never writes the .ipynb (the frontend owns it and overwrites it
on save); it writes records into the store, and `nbrewind sync` puts the
latest record of each cell into ``metadata.nbrewind`` (docs/notebook-format.md),
matching cells by id and source hash.
"""
from __future__ import annotations

import json
import os
import uuid

from . import _core
from .history import environment_of, executions, manifest_hash, record_dict

METADATA_KEY = "nbrewind"
METADATA_FORMAT = 1
# The prefix of the cell id the audit derives from the source when the
# frontend sends none (audit.cell_id_of).
ANONYMOUS_CELL = "src-"


class NotebookError(Exception):
    """A notebook nbrewind cannot use; the message names the file and why."""


def read(path: str):
    import nbformat

    if not os.path.exists(path):
        raise NotebookError(f"{path}: no such file")
    if os.path.isdir(path):
        raise NotebookError(f"{path}: is a directory, not a notebook")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        parsed = json.loads(text)
        major = parsed.get("nbformat")
    except (ValueError, AttributeError) as exc:
        raise NotebookError(f"{path}: not a notebook (not a JSON object: {exc})") from None
    if not isinstance(major, int):
        raise NotebookError(f"{path}: not a notebook (no nbformat version)")
    if major > 4:
        raise NotebookError(f"{path}: nbformat {major} is newer than this nbrewind reads (4); "
                            f"upgrade nbrewind")
    if major == 4 and isinstance(parsed.get("cells"), list):
        # The current version needs no conversion; nbformat's schema check
        # (tens of ms) is left to write(), which validates what nbrewind writes.
        from nbformat.v4.nbjson import JSONReader

        nb = JSONReader().to_notebook(parsed)  # joins multi-line sources, as reads() does
        ensure_cell_ids(nb)
        return nb
    try:
        raw = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    except Exception as exc:
        raise NotebookError(f"{path}: not a notebook ({exc})") from None
    try:
        nb = nbformat.convert(raw, 4) if major < 4 else raw
    except Exception as exc:
        raise NotebookError(f"{path}: cannot read nbformat {major} ({exc})") from None
    ensure_cell_ids(nb)
    return nb


def ensure_cell_ids(nb) -> bool:
    """Give every cell an id (nbformat 4.5), as nbformat's upgrade does."""
    changed = False
    if nb.get("nbformat_minor", 0) < 5:
        nb["nbformat_minor"] = 5
        changed = True
    for cell in nb.cells:
        if not cell.get("id"):
            cell["id"] = uuid.uuid4().hex[:8]
            changed = True
    return changed


def write(nb, path: str):
    import nbformat

    nbformat.validate(nb)
    tmp = f"{path}.nbrewind-tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    os.replace(tmp, path)


def source_hash_text(source: str) -> str:
    """The hash records keep of a cell's source (nbr_hash_bytes of its UTF-8)."""
    return _core.hash_bytes(source.encode())


def source_hash(cell) -> str:
    return source_hash_text(cell.source)


def sync(nb, notebook_path: str, store_path: str) -> dict:
    """Put the store's records of this notebook into nb.metadata; returns a
    summary {cells matched, cells without a record}."""
    if not os.path.isdir(store_path):
        raise NotebookError(f"{notebook_path}: no store at {store_path} (run `nbrewind audit` "
                            f"first, or set --store / $NBREWIND_STORE)")
    with _core.Store(store_path, "r") as store:
        runs = executions(store, notebook_path)
    latest, by_source = {}, {}
    for run in runs:  # later executions of a cell replace earlier ones
        latest[(run.record.cell_id, run.record.source_hash)] = run
        if run.record.cell_id.startswith(ANONYMOUS_CELL):
            by_source[run.record.source_hash] = run
    cells, missing = {}, []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        # Frontends that send no cell id (nbclient, a console) leave records
        # that match by source alone.
        run = latest.get((cell.id, source_hash(cell))) or by_source.get(source_hash(cell))
        if run is None:
            missing.append(cell.id)
            continue
        cells[cell.id] = {"checkpoint": run.checkpoint, **record_dict(run.record)}
    last = runs[-1].checkpoint if runs else None
    nb.metadata[METADATA_KEY] = {
        "format": METADATA_FORMAT,
        "store": {"path": os.path.relpath(store_path, os.path.dirname(
            os.path.abspath(notebook_path))), "checkpoint": last,
                  "hash": manifest_hash(store_path, last) if last else None},
        "environment": environment_of(runs),
        "cells": cells,
        # The code cells' order as synced (JSON objects lose theirs): how
        # `repeat` tells a moved cell.
        "order": [c.id for c in nb.cells if c.cell_type == "code"],
    }
    return {"matched": len(cells), "missing": missing, "checkpoint": last}
