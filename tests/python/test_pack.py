"""`nbrewind pack`, `unpack` and `trust`: an audited notebook carried to
another directory (the original deleted), repeated there after an edit
through real kernels, and compared with a fresh run."""
from __future__ import annotations

import io
import json
import os
import shutil
import tarfile

import nbformat
import pytest

from nbrewind import _core
from nbrewind.pack import EXCLUDED, MANIFEST
from nbrewind.repeat import repeat_notebook
from notebooks import audit, cli, make_notebook, store_of
from test_repeat import edit, fresh_run, texts

UNTRUSTED_REASON = "untrusted store: pickled value not loaded"
MIXED = ["import numpy as np\narr = np.arange(6.0) * 2",
         "obj = {'k': [1, 2, 3]}",
         "print(arr.sum(), len(obj['k']))"]


@pytest.fixture(autouse=True)
def own_secret(tmp_path, monkeypatch):
    """A per-test secret (never the user's own)."""
    monkeypatch.setenv("NBREWIND_DATA_DIR", str(tmp_path / "data"))


def written(path) -> dict:
    """cell id -> the object ids its record says it wrote."""
    nb = nbformat.read(str(path), as_version=4)
    return {cid: cell["writes"] for cid, cell in nb.metadata["nbrewind"]["cells"].items()}


def packed(tmp_path, cells, *extra) -> tuple:
    """Audit a notebook in site-a, pack it; returns (notebook, pack)."""
    (tmp_path / "site-a").mkdir()
    path = make_notebook(tmp_path / "site-a" / "nb.ipynb", *cells)
    audit(path)
    out = tmp_path / "nb.nbrw"
    done = cli("pack", path, "-o", out, *extra)
    assert done.returncode == 0, done.stderr
    return path, out


def unpacked(tmp_path, pack, *extra) -> str:
    done = cli("unpack", pack, tmp_path / "site-b", *extra)
    assert done.returncode == 0, done.stderr
    return str(tmp_path / "site-b" / "nb.ipynb")


def test_repeat_at_the_other_site_matches_a_fresh_run(tmp_path):
    path, pack = packed(tmp_path, MIXED + ["total = arr.sum() + 1", "print(total)"])
    before = written(path)
    shutil.rmtree(tmp_path / "site-a")
    # A segment that carries its checkpoint's manifest is packed once, its
    # second name (checkpoints/<id>.json) as a hard link, and unpacked so.
    with tarfile.open(pack) as tar:
        links = [m for m in tar.getmembers() if m.islnk()]
    assert links and all(m.size == 0 for m in links)
    there = unpacked(tmp_path, pack)
    assert written(there) == before  # content-addressed: the same object ids
    checkpoints = os.path.join(store_of(there), "checkpoints")
    segments = {os.stat(os.path.join(store_of(there), "segments", n)).st_ino
                for n in os.listdir(os.path.join(store_of(there), "segments"))}
    shared = [n for n in os.listdir(checkpoints)
              if os.stat(os.path.join(checkpoints, n)).st_ino in segments]
    assert len(shared) == len(links)
    with _core.Store(store_of(there), "r") as store:
        for writes in before.values():
            for name, object_id in writes.items():
                if not name.startswith("@file:"):
                    assert store.object_info(object_id)["logical_bytes"] >= 0, name
    assert cli("trust", there).returncode == 0
    edit(there, {1: "obj = {'k': [1, 2, 3, 4]}"})
    result = repeat_notebook(there, report=io.StringIO())
    assert result["ran"] == ["cell2", "cell3"]
    assert texts(nbformat.read(there, as_version=4)) == fresh_run(there, tmp_path)


def test_exclude_leaves_the_value_out_and_its_producer_reruns(tmp_path):
    cells = ["import os\nsecret = b'MARK' + b'ER-7f3' + os.urandom(3000)\nsize = 3",
             "print(len(secret))", "print(size)"]
    path, whole = packed(tmp_path, cells)
    assert b"MARKER-7f3" in whole.read_bytes()  # the control: stored uncompressed
    out = tmp_path / "nb-excluded.nbrw"
    done = cli("pack", path, "-o", out, "--exclude", "secret")
    assert done.returncode == 0, done.stderr
    assert "excluded: secret" in done.stdout
    assert b"MARKER-7f3" not in out.read_bytes()
    there = unpacked(tmp_path, out)
    nb = nbformat.read(there, as_version=4)
    record = nb.metadata["nbrewind"]["cells"]["cell1"]
    assert record["recompute"]["secret"] == EXCLUDED and "secret" not in record["writes"]
    assert cli("trust", there).returncode == 0
    edit(there, {1: "print(len(secret) + 1)"})
    result = repeat_notebook(there, report=io.StringIO())
    assert result["ran"] == ["cell1", "cell2"]
    assert texts(nbformat.read(there, as_version=4))[1] == "stdout:3011\n"


def test_untrusted_store_restores_arrays_not_pickles_until_trusted(tmp_path):
    _, pack = packed(tmp_path, MIXED)
    there = unpacked(tmp_path, pack)
    edit(there, {2: "print(arr.sum() + 1, len(obj['k']))"})
    report = io.StringIO()
    repeat_notebook(there, dry_run=True, report=report)
    assert UNTRUSTED_REASON in report.getvalue()
    done = cli("repeat", there)
    assert done.returncode == 0, done.stderr
    ran = [line.split()[2].rstrip(":") for line in done.stdout.splitlines()
           if line.startswith("re-ran")]
    assert ran == ["cell2", "cell3"]  # arr restored, obj's producer re-ran
    assert UNTRUSTED_REASON in done.stdout
    assert texts(nbformat.read(there, as_version=4)) == fresh_run(there, tmp_path)

    done = cli("trust", there)
    assert done.returncode == 0, done.stderr
    assert os.path.exists(os.path.join(store_of(there), "TRUSTED"))
    edit(there, {2: "print(arr.sum() + 2, len(obj['k']))"})
    assert repeat_notebook(there, report=io.StringIO())["ran"] == ["cell3"]
    assert texts(nbformat.read(there, as_version=4))[2] == "stdout:32.0 3\n"


def rewrite(pack, out, manifest=None, extra=None):
    """A copy of a pack with its manifest changed and members added."""
    with tarfile.open(pack) as src, tarfile.open(out, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None
            if member.name == MANIFEST and manifest is not None:
                data = json.dumps(manifest(json.loads(data))).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            if isinstance(data, tarfile.TarInfo):  # a link, as given
                info = data
                data = b""
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def hard_link(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info


def test_bad_packs_are_clear_errors(tmp_path):
    path, pack = packed(tmp_path, ["x = 1"])
    done = cli("pack", path, "-o", path)
    assert done.returncode == 2 and "not a notebook" in done.stderr
    assert nbformat.read(path, as_version=4).cells[0].source == "x = 1"
    done = cli("pack", path, "-o", tmp_path / "missing" / "nb.nbrw")
    assert done.returncode == 2 and "cannot write the pack" in done.stderr
    foreign = tmp_path / "foreign.nbrw"
    foreign.write_bytes(os.urandom(4096))
    done = cli("unpack", foreign, tmp_path / "out")
    assert done.returncode == 2 and "foreign.nbrw: not an nbrewind pack" in done.stderr

    other_tar = tmp_path / "other.nbrw"
    with tarfile.open(other_tar, "w") as tar:
        tar.add(str(tmp_path / "site-a" / "nb.ipynb"), "nb.ipynb")
    done = cli("unpack", other_tar, tmp_path / "out")
    assert done.returncode == 2 and "other.nbrw: not an nbrewind pack" in done.stderr

    newer = tmp_path / "newer.nbrw"
    rewrite(pack, newer, manifest=lambda m: {**m, "version": 2})
    done = cli("unpack", newer, tmp_path / "out")
    assert done.returncode == 2 and "pack format 2 is newer" in done.stderr

    evil = tmp_path / "evil.nbrw"
    rewrite(pack, evil, extra={"nb.nbrewind/../../escaped": b"x"})
    done = cli("unpack", evil, tmp_path / "out")
    assert done.returncode == 2 and "unexpected member" in done.stderr
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "out").exists()
    for target in ("/etc/passwd", "nb.nbrewind/segments/0000000000000009-00000000.h5"):
        linked = tmp_path / "linked.nbrw"  # out of the pack, or to no file before it
        name = "nb.nbrewind/checkpoints/0000000000000009.json"
        rewrite(pack, linked, extra={name: hard_link(name, target)})
        done = cli("unpack", linked, tmp_path / "out")
        assert done.returncode == 2 and "unexpected member" in done.stderr
        assert not (tmp_path / "out").exists()

    assert cli("unpack", pack, tmp_path / "out").returncode == 0
    done = cli("unpack", pack, tmp_path / "out")
    assert done.returncode == 2 and "--force" in done.stderr
    assert cli("unpack", pack, tmp_path / "out", "--force").returncode == 0


def test_environment_differences_are_reported_before_anything_runs(tmp_path):
    _, pack = packed(tmp_path, ["x = 1"])
    assert "same Python and packages" in cli("unpack", pack, tmp_path / "same").stdout

    def older_numpy(manifest):
        manifest["environment"]["packages"]["numpy"] = "0.0.1"
        manifest["environment"]["python"] = "3.0.0"
        return manifest

    changed = tmp_path / "changed.nbrw"
    rewrite(pack, changed, manifest=older_numpy)
    done = cli("unpack", changed, tmp_path / "changed")
    assert done.returncode == 0, done.stderr
    assert "numpy: 0.0.1 in the pack" in done.stdout
    assert "python: 3.0.0 in the pack" in done.stdout


def test_trust_is_a_signature_with_the_users_secret(tmp_path, monkeypatch):
    from nbrewind import trust

    store_path = str(tmp_path / "s.nbrewind")
    with _core.Store(store_path, "c") as store:
        with store.begin("c1", 1) as cp:
            cp.put_blob("x", "raw", b"abc")
            cp.commit()
    assert trust.is_trusted(store_path)  # a store of one's own
    trust.mark_untrusted(store_path)
    assert not trust.is_trusted(store_path)
    trust.trust(store_path)
    assert trust.is_trusted(store_path)
    assert oct(os.stat(trust.secret_path()).st_mode & 0o777) == "0o600"
    trust.mark_untrusted(store_path)  # marked again: the signature decides
    assert trust.is_trusted(store_path)
    monkeypatch.setenv("NBREWIND_DATA_DIR", str(tmp_path / "someone-else"))
    assert not trust.is_trusted(store_path)
    monkeypatch.setenv("NBREWIND_DATA_DIR", str(tmp_path / "data"))
    manifest = os.path.join(store_path, "checkpoints", "0000000000000001.json")
    with open(manifest, "ab") as f:
        f.write(b" ")
    assert not trust.is_trusted(store_path)  # changed since it was signed
    os.chmod(trust.secret_path(), 0o644)
    with pytest.raises(trust.TrustError, match="readable by others"):
        trust.secret()


def test_exclude_leaves_out_the_views_and_parts_of_the_value(tmp_path):
    cells = ["import numpy as np\nsecret = {'api_key': 'MARK' + 'ER-7f3', 'solver': {'t': 1}}\n"
             "big = np.full(100_000, 7.0)",
             "cfg = secret['solver']\nhead = big[:10]", "print(cfg, head.sum())"]
    path, whole = packed(tmp_path, cells)
    assert b"MARKER-7f3" in whole.read_bytes()
    out = tmp_path / "nb-excluded.nbrw"
    done = cli("pack", path, "-o", out, "--exclude", "secret", "--exclude", "big")
    assert done.returncode == 0, done.stderr
    assert b"MARKER-7f3" not in out.read_bytes()
    assert out.stat().st_size < 100_000  # not big's 800 kB either
    there = unpacked(tmp_path, out)
    record = nbformat.read(there, as_version=4).metadata["nbrewind"]["cells"]["cell2"]
    assert record["recompute"].keys() >= {"cfg", "head"}
