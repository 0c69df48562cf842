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


def manifests(store_dir):
    """Every manifest, oldest first, as JSON."""
    return [json.loads(pathlib.Path(p).read_text())
            for p in sorted(glob.glob(str(store_dir / "checkpoints" / "*.json")))]


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
        object_id, entry = locate(store_dir, name)
        with h5py.File(store_dir / entry["segment"], "r") as f:
            return f["objects"][object_id]._filters, entry
    smooth, entry = filters("float64_smooth")
    assert "32001" in smooth or 32001 in smooth
    assert entry["stored_bytes"] < entry["logical_bytes"] * 0.9
    noise, entry = filters("big_noise")
    assert not noise
