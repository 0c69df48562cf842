"""h5py, with Debian's Blosc plugin and no nbrewind code, reads the file
h5interop.c wrote (NBR_INTEROP_FILE): every dataset bit for bit, with the
dtypes docs/store-format.md says h5py sees."""
import json
import math
import os

import h5py
import numpy as np
import pytest
from numpy.lib.format import descr_to_dtype

import gen

PATH = os.environ.get("NBR_INTEROP_FILE", "ours.h5")
PLUGIN_DIR = b"/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
BLOSC = 32001


def names():
    if not os.path.exists(PATH):
        return []
    with h5py.File(PATH, "r") as f:
        return sorted(f["nbr"].keys())


def _tuples(descr):
    """JSON lists back into the tuples numpy's descr uses."""
    out = []
    for field in descr:
        name = tuple(field[0]) if isinstance(field[0], list) else field[0]
        typ = _tuples(field[1]) if isinstance(field[1], list) else field[1]
        out.append((name, typ) if len(field) == 2 else (name, typ, tuple(field[2])))
    return out


def numpy_dtype(text):
    if text.startswith("["):
        return descr_to_dtype(_tuples(json.loads(text)))
    return np.dtype(text)


def h5py_view(dt):
    """The dtype h5py gives a dataset of dtype dt written by nbrewind:
    <U<n> becomes n uint32 code points, datetime64/timedelta64 int64."""
    if dt.names is not None:
        return np.dtype({"names": list(dt.names),
                         "formats": [h5py_view(dt.fields[n][0]) for n in dt.names],
                         "offsets": [dt.fields[n][1] for n in dt.names],
                         "itemsize": dt.itemsize})
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        if base.kind == "U":
            order = base.byteorder.replace("=", "<")
            return np.dtype((order + "u4", shape + (base.itemsize // 4,)))
        return np.dtype((h5py_view(base), shape))
    if dt.kind == "U":
        return np.dtype((dt.byteorder.replace("=", "<") + "u4", (dt.itemsize // 4,)))
    if dt.kind in "Mm":
        return np.dtype(dt.byteorder.replace("=", "<") + "i8")
    return dt


def test_file_exists():
    assert os.path.exists(PATH), f"{PATH}: run h5interop write first"
    assert len(names()) >= 30


def test_no_nbrewind_code_in_this_process():
    with open("/proc/self/maps") as maps:
        assert "nbrewind" not in maps.read()
    assert "HDF5_PLUGIN_PATH" not in os.environ


def test_plugin_comes_from_hdf5s_default_directory():
    assert h5py.h5pl.get(0) == PLUGIN_DIR
    with h5py.File(PATH, "r") as f:
        f["nbr/float64"][()]
    with open("/proc/self/maps") as maps:
        loaded = [line.split()[-1] for line in maps if "plugins" in line and ".so" in line]
    assert any(p.startswith(PLUGIN_DIR.decode()) and "blosc" in p.lower() for p in loaded), loaded


@pytest.mark.parametrize("name", names())
def test_dataset(name):
    with h5py.File(PATH, "r") as f:
        d = f["nbr"][name]
        text = d.attrs["nbr_dtype"]
        assert isinstance(text, str)
        want = numpy_dtype(text)
        # the attribute is NumPy's own spelling
        if text.startswith("["):
            assert json.dumps(want.descr) == text
        else:
            assert want.str == text
        view = h5py_view(want)
        assert d.dtype == view, (d.dtype, view)
        seed, codec, shuffle, level = (int(x) for x in d.attrs["test_params"])

        # the Blosc filter with the standard parameters set_local filled in
        flags, cd, _ = d.id.get_create_plist().get_filter_by_id(BLOSC)
        if d.dtype.subdtype is not None:
            typesize = d.dtype.subdtype[0].itemsize
        else:
            typesize = d.dtype.itemsize if d.dtype.itemsize <= 255 else 1
        chunk_bytes = math.prod(d.chunks) * d.dtype.itemsize
        assert tuple(cd) == (2, 2, typesize, chunk_bytes, level, shuffle, codec)
        assert flags & h5py.h5z.FLAG_OPTIONAL
        for i in range(d.id.get_num_chunks()):
            assert d.id.get_chunk_info(i).filter_mask == 0  # every chunk a Blosc frame
        assert d.chunks[1:] == d.shape[1:]  # chunked along the first axis

        got = d[()]
        count = math.prod(d.shape)
        expected = gen.generate(view, count, seed)
        assert got.dtype.itemsize * got.size // max(count, 1) == want.itemsize
        assert got.tobytes() == expected
        # as the dtype it really is
        as_numpy = np.frombuffer(got.tobytes(), dtype=want).reshape(d.shape)
        if want.kind == "U":
            assert got.shape == d.shape + (want.itemsize // 4,)
            assert as_numpy.dtype.kind == "U" and as_numpy.size == count
            assert all(len(s) <= want.itemsize // 4 for s in as_numpy.ravel()[:50])
        assert as_numpy.tobytes() == expected


def test_every_codec_and_shuffle_seen():
    seen = set()
    with h5py.File(PATH, "r") as f:
        for name in names():
            _, cd, _ = f["nbr"][name].id.get_create_plist().get_filter_by_id(BLOSC)
            seen.add((cd[6], cd[5]))
    assert {c for c, _ in seen} == {0, 1, 2, 4, 5}
    assert {s for _, s in seen} == {0, 1, 2}
