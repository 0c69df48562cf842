"""`nbrewind pack` and `nbrewind unpack`: one file that carries an audited
notebook and what its latest record references to another site.

A pack is an uncompressed tar (the store's segments are compressed already)
of three things (docs/notebook-format.md, "Packs"):

* ``nbrewind-pack.json``: the manifest (format, notebook, when, the packed
  environment, what is included with sizes, what was excluded);
* ``NAME.ipynb``: the notebook, synced against the packed store;
* ``NAME.nbrewind/``: a new store holding one checkpoint per checkpoint the
  notebook's record references, written through the store API.  Objects are
  content-addressed, so every object id in the record stays valid; the
  checkpoint ids are new.

The unpacked store is untrusted (nbrewind.trust): its pickles are not
loaded until the user runs `nbrewind trust`.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile

from . import _core, notebook as nbfile
from .cli import _bytes
from .locate import store_for_notebook
from .record import Record, references
from .trust import UNTRUSTED, UNTRUSTED_TEXT, mark_untrusted

PACK_FORMAT = "nbrewind-pack"
PACK_VERSION = 1
MANIFEST = "nbrewind-pack.json"
EXCLUDED = "excluded by nbrewind pack --exclude"
OPTIONS = ("codec", "level", "shuffle", "chunk_bytes", "chunk_dedup")
# What a packed store may hold (docs/store-format.md names these files).
STORE_MEMBERS = re.compile(r"(FORMAT|INDEX|UNTRUSTED|checkpoints/[0-9]{16}\.json|"
                           r"segments/[0-9]{16}-[0-9a-f]{8}\.h5)")


class PackError(Exception):
    """A pack that cannot be made or used; the message names the file and why."""


def _excluded(name: str, exclude: set) -> bool:
    if name in exclude:
        return True
    from . import serialize

    return serialize.is_part_name(name) and serialize.part_owner(name) in exclude


def _with_referrers(record: Record, exclude: set) -> set:
    """`exclude` and the names the record stores as references into an
    excluded value (a view of it, a part of it, a value holding it):
    copying them would ship the excluded value with them."""
    refs = references(record)
    out = set(exclude)
    while more := {n for n, referenced in refs.items() if n not in out and out & referenced.keys()}:
        out |= more
    return out


def _record_without(record: Record, exclude: set) -> Record:
    """The record with excluded names moved from writes to recompute."""
    for name in [n for n in record.writes if _excluded(n, exclude)]:
        del record.writes[name]
        record.recompute[name] = EXCLUDED
    return record


def _copy_object(src, cp, name: str, object_id: str) -> dict:
    from . import serialize

    info = src.object_info(object_id)
    if info["kind"] == "array":
        arr = serialize.read_array(src, object_id, info)
        dtype, shape, strides, address = serialize.array_args(arr)
        new_id = cp.put_array(name, dtype, shape, strides, address, arr)
    else:
        new_id = cp.put_blob(name, info["type"], src.read_blob(object_id))
    if new_id != object_id:
        raise PackError(f"{name}: object {object_id} was copied as {new_id}")
    return {"id": object_id, "kind": info["kind"], "type": info["type"],
            "logical_bytes": info["logical_bytes"]}


def _copy_checkpoint(src, dst, previous, cid: str, exclude: set) -> dict:
    """One referenced checkpoint of `src` as a new checkpoint of `dst`: the
    bindings it made, without the excluded names."""
    info = src.checkpoint_info(cid)
    record = Record.from_json(info["host"])
    exclude = _with_referrers(record, exclude)
    record = _record_without(record, exclude)
    names = {n: change for n, change in src.diff(previous, cid)}
    for name in record.writes:  # a name rebound to the same object is a binding too
        if not name.startswith("@file:"):
            names.setdefault(name, "changed")
    objects = []
    with dst.begin(info["cell_id"], info["execution_count"]) as cp:
        for name in sorted(names):
            if _excluded(name, exclude):
                continue
            object_id = src.resolve(name, cid)
            if object_id is None:
                try:
                    dst.resolve(name)
                except _core.NotFoundError:
                    continue  # never bound in the pack: nothing to delete
                cp.delete(name)
            else:
                objects.append({"name": name, **_copy_object(src, cp, name, object_id)})
        cp.set_host(record.to_json())
        new_cid = cp.commit()
    return {"checkpoint": new_cid, "source_checkpoint": cid, "cell_id": info["cell_id"],
            "objects": objects}


def _write_store(src_path: str, dst_path: str, referenced: list, exclude: set) -> list:
    with _core.Store(src_path, "r") as src, _core.Store(dst_path, "c") as dst:
        for option in OPTIONS:
            dst.set_option(option, src.get_option(option))
        order = src.checkpoints()
        copied = []
        for cid in referenced:
            at = order.index(cid)
            copied.append(_copy_checkpoint(src, dst, order[at - 1] if at else None, cid,
                                           exclude))
    return copied


def pack(notebook_path: str, out: str, store: str | None = None, exclude=(),
         report=sys.stdout) -> dict:
    """Write the pack of a notebook to `out`; returns its manifest."""
    exclude = set(exclude)
    if out.endswith(".ipynb") or os.path.abspath(out) == os.path.abspath(notebook_path):
        raise PackError(f"{out}: a pack is not a notebook; name it NAME.nbrw")
    nb = nbfile.read(notebook_path)
    abspath = os.path.abspath(notebook_path)
    src_path = store_for_notebook(abspath, store)
    nbfile.sync(nb, abspath, src_path)
    meta = nb.metadata[nbfile.METADATA_KEY]
    referenced = sorted({c["checkpoint"] for c in meta["cells"].values()})
    if not referenced:
        raise PackError(f"{notebook_path}: no cell has an audited record to pack (run "
                        f"`nbrewind audit {notebook_path}` first)")
    name = os.path.basename(abspath)
    stem = os.path.splitext(name)[0]
    with tempfile.TemporaryDirectory(prefix="nbrewind-pack-") as tmp:
        packed_store = os.path.join(tmp, stem + ".nbrewind")
        copied = _write_store(src_path, packed_store, referenced, exclude)
        packed_nb = os.path.join(tmp, name)
        nbfile.sync(nb, packed_nb, packed_store)
        nb.metadata[nbfile.METADATA_KEY]["environment"] = meta["environment"]
        nbfile.write(nb, packed_nb)
        manifest = {
            "format": PACK_FORMAT, "version": PACK_VERSION, "notebook": name,
            "store": stem + ".nbrewind",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "environment": meta["environment"], "checkpoints": copied,
            "excluded": sorted(exclude),
            "logical_bytes": sum(o["logical_bytes"] for o in _distinct(copied).values()),
        }
        _write_tar(out, manifest, tmp, name, stem + ".nbrewind")
    _print_contents(manifest, report)
    recorded = {n for c in meta["cells"].values() for n in c["writes"]}
    for unknown in sorted(exclude - recorded):
        print(f"  note: --exclude {unknown}: no packed record stores it", file=report)
    print(f"{out}: {len(copied)} checkpoints, {len(_distinct(copied))} objects, "
          f"{_bytes(manifest['logical_bytes'])} of values; {_bytes(os.path.getsize(out))} "
          f"in the file", file=report)
    return manifest


def _distinct(copied: list) -> dict:
    return {o["id"]: o for c in copied for o in c["objects"]}


def _print_contents(manifest: dict, report):
    seen = set()
    for cp in manifest["checkpoints"]:
        for obj in cp["objects"]:
            if obj["name"].startswith("@output:"):
                continue
            again = obj["id"] in seen
            seen.add(obj["id"])
            kind = obj["type"] if obj["kind"] == "blob" else f"array {obj['type']}"
            print(f"  {cp['cell_id'][:14]:<14} {obj['name']:<24} {kind:<14} "
                  f"{_bytes(obj['logical_bytes']):>10}" + (" (same object as above)"
                                                           if again else ""), file=report)
    outputs = {o["id"]: o["logical_bytes"] for cp in manifest["checkpoints"]
               for o in cp["objects"] if o["name"].startswith("@output:")}
    if outputs:
        print(f"  {'':<14} {'(displayed outputs)':<24} {len(outputs):<14} "
              f"{_bytes(sum(outputs.values())):>10}", file=report)
    for name in manifest["excluded"]:
        print(f"  excluded: {name} (recorded as recompute)", file=report)


def _write_tar(out: str, manifest: dict, tmp: str, notebook: str, store_dir: str):
    """The tar, written next to `out` and renamed into place."""
    partial = f"{out}.nbrewind-tmp"
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            _add_bytes(tar, MANIFEST, data)
            tar.add(os.path.join(tmp, notebook), notebook, recursive=False)
            root = os.path.join(tmp, store_dir)
            for member in _store_files(root):
                tar.add(os.path.join(root, member), f"{store_dir}/{member}", recursive=False)
            _add_bytes(tar, f"{store_dir}/{UNTRUSTED}", UNTRUSTED_TEXT.encode())
        os.replace(partial, out)
    except OSError as exc:
        raise PackError(f"{out}: cannot write the pack ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _add_bytes(tar, name: str, data: bytes):
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.datetime.now().timestamp())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _store_files(root: str) -> list:
    out = []
    for directory, _, files in os.walk(root):
        for name in files:
            rel = os.path.relpath(os.path.join(directory, name), root)
            if STORE_MEMBERS.fullmatch(rel) and rel != UNTRUSTED:
                out.append(rel)
    return sorted(out)


# ---- unpack -------------------------------------------------------------------

def read_manifest(tar, path: str) -> dict:
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read())
    except (KeyError, AttributeError, ValueError, tarfile.TarError) as exc:
        raise PackError(f"{path}: not an nbrewind pack (no readable {MANIFEST}: {exc})") \
            from None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        raise PackError(f"{path}: not an nbrewind pack ({MANIFEST} is not a pack manifest)")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise PackError(f"{path}: not an nbrewind pack (bad version {version!r})")
    if version > PACK_VERSION:
        raise PackError(f"{path}: pack format {version} is newer than this nbrewind reads "
                        f"({PACK_VERSION}); upgrade nbrewind")
    notebook, store = manifest.get("notebook"), manifest.get("store")
    if not (isinstance(notebook, str) and isinstance(store, str)
            and notebook.endswith(".ipynb") and os.path.basename(notebook) == notebook
            and store == notebook[:-len(".ipynb")] + ".nbrewind"
            and not notebook.startswith(".")):
        raise PackError(f"{path}: not an nbrewind pack (bad notebook or store name in "
                        f"{MANIFEST})")
    return manifest


def _store_member(name: str, store: str) -> bool:
    return name.startswith(store + "/") and bool(STORE_MEMBERS.fullmatch(name[len(store) + 1:]))


def _check_members(tar, path: str, manifest: dict) -> list:
    """The members to extract: the notebook and the store's files, nothing
    else (nothing outside those names, no symbolic links; a hard link only
    from one store file to another extracted before it: a segment carrying
    its checkpoint's manifest is also checkpoints/<id>.json)."""
    notebook, store = manifest["notebook"], manifest["store"]
    members, files = [], set()
    for member in tar.getmembers():
        name = member.name
        if name == MANIFEST:
            continue
        if member.isdir() and name in (store, f"{store}/checkpoints", f"{store}/segments"):
            continue
        inside = _store_member(name, store)
        linked = member.islnk() and inside and member.linkname in files
        if not (member.isfile() or linked) or not (name == notebook or inside):
            raise PackError(f"{path}: not an nbrewind pack (unexpected member {name!r})")
        if member.isfile() and inside:
            files.add(name)
        members.append(member)
    if notebook not in {m.name for m in members}:
        raise PackError(f"{path}: not an nbrewind pack (no {notebook} inside)")
    return members


def _extract(tar, member, tmp: str):
    """One checked member into `tmp`; a hard link made again as one (or, where
    the file system has none, as a copy)."""
    target = os.path.join(tmp, *member.name.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if member.islnk():
        source = os.path.join(tmp, *member.linkname.split("/"))
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        return
    with tar.extractfile(member) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)


def unpack(path: str, directory: str = ".", force: bool = False, report=sys.stdout) -> dict:
    """Extract a pack into `directory`; returns its manifest."""
    if not os.path.isfile(path):
        raise PackError(f"{path}: no such file")
    try:
        tar = tarfile.open(path, "r:")
    except tarfile.TarError as exc:
        raise PackError(f"{path}: not an nbrewind pack (not a tar file: {exc})") from None
    with tar:
        manifest = read_manifest(tar, path)
        members = _check_members(tar, path, manifest)
        notebook = os.path.join(directory, manifest["notebook"])
        store = os.path.join(directory, manifest["store"])
        existing = [p for p in (notebook, store) if os.path.lexists(p)]
        if existing and not force:
            raise PackError(f"{path}: would overwrite {' and '.join(existing)} (use --force)")
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".nbrewind-unpack-", dir=directory) as tmp:
            for member in members:
                _extract(tar, member, tmp)
            unpacked_store = os.path.join(tmp, manifest["store"])
            os.makedirs(unpacked_store, exist_ok=True)
            mark_untrusted(unpacked_store)
            if os.path.isdir(store) and not os.path.islink(store):
                shutil.rmtree(store)
            elif os.path.lexists(store):
                os.unlink(store)
            os.replace(unpacked_store, store)
            os.replace(os.path.join(tmp, manifest["notebook"]), notebook)
    print(f"unpacked {notebook} and its store {store} (packed {manifest.get('created')})",
          file=report)
    for line in environment_differences(manifest.get("environment") or {}):
        print(line, file=report)
    print(f"the store is untrusted: its pickled values will not be loaded until you run "
          f"`nbrewind trust {notebook}`", file=report)
    return manifest


def environment_differences(packed: dict, where: str = "the pack") -> list:
    """Lines naming how the packed environment differs from this interpreter."""
    from .audit import environment

    here = environment()
    lines = []
    if packed.get("python") and packed.get("python") != here["python"]:
        lines.append(f"  python: {packed['python']} in {where}, {here['python']} here")
    if packed.get("implementation") and packed["implementation"] != here["implementation"]:
        lines.append(f"  implementation: {packed['implementation']} in {where}, "
                     f"{here['implementation']} here")
    theirs, ours = packed.get("packages") or {}, here["packages"]
    for name in sorted(set(theirs) | set(ours)):
        if theirs.get(name) != ours.get(name):
            lines.append(f"  {name}: {theirs.get(name) or 'not installed'} in {where}, "
                         f"{ours.get(name) or 'not installed'} here")
    if not packed:
        return [f"environment: {where} records none"]
    if not lines:
        return [f"environment: same Python and packages as {where}"]
    return [f"environment differences from {where} (results may differ where these "
            "matter):", *lines]
