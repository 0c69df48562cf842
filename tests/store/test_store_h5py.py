"""Arrays in a checkpoint store read back by h5py alone -- no nbrewind code in
this process -- bit-identical to what was put (through libnbrewind, in a
separate process: store_writer.py).  The Blosc filter comes from Debian's
hdf5-filter-plugin-blosc-serial, found on HDF5's default plugin path.

Run: NBR_LIBRARY=.../libnbrewind.so /usr/bin/python3 -m pytest test_store_h5py.py"""
import glob
import json
import os
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = pathlib.Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    library = os.environ.get("NBR_LIBRARY")
    if not library:
        pytest.fail("set NBR_LIBRARY to the built libnbrewind.so")
    out = tmp_path_factory.mktemp("h5py")
    subprocess.run([sys.executable, str(HERE / "store_writer.py"), library, str(out / "store"),
                    str(out)], check=True)
    expected = np.load(out / "expected.npz")
    ids = json.loads((out / "ids.json").read_text())
    return out / "store", expected, ids


def manifest_text(path):
    """A manifest file's JSON: the file, or (format version 4) the tail of
    the segment it is a second name of: the JSON, its length as a u64
    little-endian, a 16-byte checksum, b"NBRMANIF"."""
    data = pathlib.Path(path).read_bytes()
    if data.endswith(b"NBRMANIF"):
        n = int.from_bytes(data[-32:-24], "little")
        return data[-32 - n:-32].decode()
    return data.decode()


def complete(entry, base):
    """A lean entry with its whole chunk list: the base's, with the changed
    boxes replaced (segment indices into the entry's own list)."""
    segments = list(entry["chunk_segments"])
    chunks = []
    for chunk_id, at, stored in base["chunks"]:
        name = base["chunk_segments"][at]
        if name not in segments:
            segments.append(name)
        chunks.append([chunk_id, segments.index(name), stored])
    for box, chunk_id, at, stored in entry["changed_chunks"]:
        chunks[box] = [chunk_id, at, stored]
    whole = dict(entry, chunks=chunks, chunk_segments=segments)
    del whole["changed_chunks"]
    return whole


def manifests(store_dir):
    """Every manifest, oldest first, as JSON; a lean entry (format version 4:
    "changed_chunks" instead of "chunks") completed from its base's entry,
    which is in an earlier manifest or anywhere in the same one."""
    found = [json.loads(manifest_text(p))
             for p in sorted(glob.glob(str(store_dir / "checkpoints" / "*.json")))]
    known = {}
    for m in found:
        pending = dict(m["objects"])
        while pending:
            before = len(pending)
            for object_id, entry in list(pending.items()):
                if "changed_chunks" in entry:
                    base = known.get(entry["virtual_base"])
                    base = base or m["objects"].get(entry["virtual_base"])
                    if base is None or "changed_chunks" in base:
                        continue
                    entry = m["objects"][object_id] = complete(entry, base)
                known.setdefault(object_id, entry)
                del pending[object_id]
            assert len(pending) < before, f"no base for {sorted(pending)} in {m['seq']}"
    return found


def locate(store_dir, name):
    """Where `name` lives, found as an independent reader would: the latest
    manifest binding it, then the manifest that first stored its object."""
    all_manifests = manifests(store_dir)
    object_id = next(m["bindings"][name] for m in reversed(all_manifests) if name in m["bindings"])
    entry = next(m["objects"][object_id] for m in all_manifests if object_id in m["objects"])
    return object_id, entry


def test_nbrewind_is_not_loaded_here():
    assert not any("nbrewind" in line for line in open("/proc/self/maps"))


def test_every_array_reads_back_bit_identical(store):
    store_dir, expected, ids = store
    for name, (object_id, dtype) in ids.items():
        found_id, entry = locate(store_dir, name)
        assert found_id == object_id
        assert entry["dtype"] == dtype and entry["kind"] == "array"
        with h5py.File(store_dir / entry["segment"], "r") as f:
            dataset = f["objects"][object_id]
            assert dataset.attrs["nbr_dtype"].decode() == dtype
            assert dataset.attrs["nbr_kind"].decode() == "array"
            value = dataset[()]
        want = expected[name]
        assert list(entry["shape"]) == list(want.shape), name
        # h5py's own dtype may differ where HDF5 has no twin (datetime as
        # int64, unicode as UCS-4 code points): the bytes may not.
        assert np.array(value, order="C").tobytes() == want.tobytes(), name
        if want.dtype.kind not in "MmU":
            assert value.dtype == want.dtype, name


def test_compressible_data_uses_blosc_and_noise_does_not(store):
    store_dir, _, ids = store
    def filters(name):
        """The filters of the dataset holding the data: the array's own, or
        (chunk dedup) its first chunk's."""
        object_id, entry = locate(store_dir, name)
        if "chunks" in entry:
            chunk_id, segment, _ = entry["chunks"][0]
            with h5py.File(store_dir / entry["chunk_segments"][segment], "r") as f:
                return f["chunks"][chunk_id]._filters, entry
        with h5py.File(store_dir / entry["segment"], "r") as f:
            return f["objects"][object_id]._filters, entry
    smooth, entry = filters("float64_smooth")
    assert "32001" in smooth or 32001 in smooth
    assert entry["stored_bytes"] < entry["logical_bytes"] * 0.9
    noise, entry = filters("big_noise")
    assert not noise


def test_chunk_frames_are_the_reference_plugins(store, tmp_path):
    """Chunks are compressed ahead and written raw into HDF5 (H5Dwrite_chunk):
    each stored chunk must be byte for byte what Debian's hdf5-blosc plugin
    makes of the same data and filter parameters, with the same filter mask
    (bit 0 set where Blosc could not shrink the chunk and it is stored raw)."""
    store_dir, _, _ = store
    _, entry = locate(store_dir, "float64_mixed")
    masks = []
    with h5py.File(tmp_path / "ref.h5", "w") as ref:
        for chunk_id, segment, _ in entry["chunks"]:
            with h5py.File(store_dir / entry["chunk_segments"][segment], "r") as f:
                ds = f["chunks"][chunk_id]
                mask, frame = ds.id.read_direct_chunk((0,) * ds.ndim)
                _, _, values, _ = ds.id.get_create_plist().get_filter(0)
                data = ds[()]
            origin = (0,) * data.ndim
            name = chunk_id + str(len(masks))
            r = ref.create_dataset(name, data=data, chunks=data.shape, compression=32001,
                                   compression_opts=tuple(values))
            assert r.id.read_direct_chunk(origin) == (mask, frame), chunk_id
            masks.append(mask)
    assert masks.count(1) == 2 and masks.count(0) == len(masks) - 2, masks
    assert len(masks) == 19 and len({c[0] for c in entry["chunks"]}) == 19 - 4  # repeats


def test_multi_chunk_arrays_are_virtual_datasets_over_chunk_datasets(store):
    """Chunk dedup as an independent reader sees it: each mapping of the
    virtual dataset takes the whole of /chunks/<id> from the segment the
    manifest names (relative file name, "." for its own file), box by box in
    C order of the chunk grid."""
    store_dir, expected, _ = store
    object_id, entry = locate(store_dir, "float64_smooth_step")
    chunk_rows = entry["chunk_shape"][0]
    assert len(entry["chunks"]) == -(-entry["shape"][0] // chunk_rows)
    own = [i for i, s in enumerate(entry["chunk_segments"]) if s == entry["segment"]]
    assert len(entry["chunk_segments"]) == 2 and len(own) == 1
    with h5py.File(store_dir / entry["segment"], "r") as f:
        dataset = f["objects"][object_id]
        assert dataset.is_virtual
        sources = dataset.virtual_sources()
        assert len(sources) == len(entry["chunks"])
        for k, (source, (chunk_id, segment, _)) in enumerate(zip(sources, entry["chunks"])):
            name = entry["chunk_segments"][segment]
            assert source.file_name == ("." if segment in own else name.split("/")[1])
            assert source.dset_name == "/chunks/" + chunk_id
            start = source.vspace.get_select_bounds()[0]
            assert start[0] == k * chunk_rows and start[1] == 0
    # One new chunk in this segment: the row block 400:500 touches few chunks.
    new = {c[0] for c in entry["chunks"] if c[1] in own}
    assert 1 <= len(new) <= 3


READER = """
import sys, h5py, numpy as np
store, segment, object_id, out = sys.argv[1:5]
with h5py.File(store + "/" + segment, "r") as f:
    np.save(out, f["objects"][object_id][()])
"""


def test_virtual_datasets_read_from_another_directory(store, tmp_path):
    """HDF5 finds a chunk's segment beside the file holding the virtual
    dataset, whatever the reader's working directory."""
    store_dir, expected, _ = store
    for name in ("float64_smooth", "float64_smooth_step", "big_noise"):
        object_id, entry = locate(store_dir, name)
        out = tmp_path / (name + ".npy")
        subprocess.run([sys.executable, "-c", READER, str(store_dir), entry["segment"], object_id,
                        str(out)], check=True, cwd="/")
        assert np.load(out).tobytes() == expected[name].tobytes(), name


def chain_entry(store_dir, object_id):
    return next(m["objects"][object_id] for m in manifests(store_dir) if object_id in m["objects"])


@pytest.fixture(scope="module")
def chain(store):
    out = store[0].parent
    versions = np.load(out / "chain.npz")
    return out, [versions[f"arr_{k}"] for k in range(len(versions.files))], \
        json.loads((out / "chain.json").read_text())["chain"]


def test_chained_versions_read_back_bit_identical(chain):
    """Each version of an array with a few boxes changed maps the runs of
    unchanged boxes to the previous version's virtual dataset (in its
    segment); h5py follows the chain, from any working directory."""
    out, versions, ids = chain
    store_dir = out / "chain"
    chained = []
    for k, (object_id, want) in enumerate(zip(ids, versions)):
        entry = chain_entry(store_dir, object_id)
        with h5py.File(store_dir / entry["segment"], "r") as f:
            dataset = f["objects"][object_id]
            assert dataset[()].tobytes() == want.tobytes(), k
            sources = dataset.virtual_sources()
        if "virtual_base" not in entry:
            assert len(sources) == len(entry["chunks"]), k
            continue
        chained.append(k)
        assert entry["virtual_base"] == ids[k - 1]
        base = chain_entry(store_dir, ids[k - 1])
        # One mapping to the base (HDF5 1.10 opens a source once per mapping
        # naming it: two per level would cost time exponential in the depth),
        # holding every box the two share, however many runs they make; one
        # mapping per box that changed.
        [to_base] = [s for s in sources if s.dset_name == "/objects/" + ids[k - 1]]
        assert to_base.file_name == base["segment"].split("/")[1]
        shared = sum(a[0] == b[0] for a, b in zip(entry["chunks"], base["chunks"]))
        assert len(sources) == len(entry["chunks"]) - shared + 1, k
        rows = entry["chunk_shape"][0]
        shared_rows = sum(min(len(want), (i + 1) * rows) - i * rows
                          for i, (a, b) in enumerate(zip(entry["chunks"], base["chunks"]))
                          if a[0] == b[0])
        assert to_base.vspace.get_select_npoints() == shared_rows * want.shape[1], k
    # The first version and the one that changed every box are flat.
    assert chained == [1, 2, 3, 5, 6, 7]
    result = tmp = out / "chain-last.npy"
    subprocess.run([sys.executable, "-c", READER, str(store_dir),
                    chain_entry(store_dir, ids[-1])["segment"], ids[-1], str(tmp)],
                   check=True, cwd="/")
    assert np.load(result).tobytes() == versions[-1].tobytes()


def test_gc_keeps_what_a_chained_version_maps(chain):
    """A GC that keeps only the last checkpoint keeps the segments its
    virtual dataset reaches through the chain (its manifest lists the
    versions it is chained to), so h5py still reads it whole."""
    out, versions, ids = chain
    store_dir = out / "chain-gc"
    [last] = manifests(store_dir)
    assert last["bindings"] == {"field": ids[-1]}
    assert set(last["objects"]) == {ids[-1], ids[-2], ids[-3], ids[-4]}  # back to the flat one
    segments = {pathlib.Path(p).name for p in glob.glob(str(store_dir / "segments" / "*.h5"))}
    assert {last["objects"][i]["segment"].split("/")[1] for i in last["objects"]} <= segments
    with h5py.File(store_dir / last["objects"][ids[-1]]["segment"], "r") as f:
        assert f["objects"][ids[-1]][()].tobytes() == versions[-1].tobytes()


def test_a_deep_chain_reads_in_linear_time(store, tmp_path):
    """40 versions, one box changed each through the middle of the array: the
    last is chained dozens deep, and h5py reads it bit-identically in about
    the time of a few plain reads (two mappings to the base per level took
    HDF5 1.10.8 seconds at depth 18 and minutes at 22, doubling each level)."""
    out = store[0].parent
    store_dir, ids = out / "deep", json.loads((out / "chain.json").read_text())["deep"]
    entries = {}
    for m in manifests(store_dir):
        entries.update(m["objects"])
    depth, entry = 0, entries[ids[-1]]
    while "virtual_base" in entry:
        depth, entry = depth + 1, entries[entry["virtual_base"]]
    assert depth >= 30
    result = tmp_path / "deep.npy"
    subprocess.run([sys.executable, "-c", READER, str(store_dir), entries[ids[-1]]["segment"],
                    ids[-1], str(result)], check=True, cwd="/", timeout=60)
    assert np.load(result).tobytes() == np.load(out / "deep-last.npy").tobytes()


def test_chained_1d_and_3d_arrays_read_back(store):
    """Chains over arrays of one and three dimensions (boxes of whole rows of
    the trailing axes, the last box short): each version reads back
    bit-identically through h5py, the changed ones chained to the one
    before."""
    out = store[0].parent
    store_dir = out / "shapes"
    ids = json.loads((out / "chain.json").read_text())["shapes"]
    expected = np.load(out / "shapes.npz")
    entries = {}
    for m in manifests(store_dir):
        entries.update(m["objects"])
    for name, versions in ids.items():
        for k, object_id in enumerate(versions):
            entry = entries[object_id]
            assert ("virtual_base" in entry) == (k > 0), (name, k)
            if k:
                assert entry["virtual_base"] == versions[k - 1]
            with h5py.File(store_dir / entry["segment"], "r") as f:
                value = f["objects"][object_id][()]
            assert value.tobytes() == expected[f"{name}{k}"].tobytes(), (name, k)
