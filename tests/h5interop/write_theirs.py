"""h5py with Debian's Blosc plugin (hdf5plugin.Blosc gives the arguments; this
Debian build of hdf5plugin bundles no filters, so the plugin HDF5 loads from
its default directory does the work) writes /h5py/<name>, Blosc-compressed,
and /raw/<name>, the same data unfiltered.  Attribute numpy_dtype: the dtype
h5py gives the dataset, spelled as nbrewind spells dtypes.  h5interop read
checks the file.  No nbrewind code in this process."""
import json
import os
import sys

import h5py
import hdf5plugin
import numpy as np

assert "HDF5_PLUGIN_PATH" not in os.environ
assert not hdf5plugin.get_config().build_config.embedded_filters, \
    "this hdf5plugin bundles its own filters: the test means Debian's plugin"

rng = np.random.default_rng(20261125)


def runs(values, n):
    """n elements, in runs of 8 equal ones (so every chunk compresses)."""
    return np.repeat(values[: (n + 7) // 8], 8)[:n]


def ints(dt, n):
    info = np.iinfo(dt)
    native = dt.newbyteorder("=")
    return runs(rng.integers(info.min, info.max, size=n, endpoint=True, dtype=native), n).astype(dt)


def _strip_metadata(x):
    """h5py tags string fields with metadata (["|S4", {"h5py_encoding": ...}])."""
    if isinstance(x, list):
        if len(x) == 2 and isinstance(x[0], str) and isinstance(x[1], dict):
            return x[0]
        return [_strip_metadata(y) for y in x]
    return x


def spelling(dt):
    if dt.names is None:
        return dt.str
    return json.dumps(_strip_metadata(json.loads(json.dumps(dt.descr))))


def structured(dt, n):
    out = np.zeros(n, dtype=dt)
    raw = rng.integers(0, 256, size=((n + 7) // 8) * dt.itemsize, dtype=np.uint8)
    base = np.frombuffer(raw.tobytes(), dtype=dt)
    out[...] = np.repeat(base, 8)[:n]
    for name in dt.names:
        fdt = dt.fields[name][0]
        if (fdt.subdtype[0] if fdt.subdtype else fdt).kind in "fc":
            out[name] = np.nan_to_num(out[name])  # random bytes: no NaN
    return out


datasets = {}
n = 3000
for s in ["|i1", "|u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", "<u8", ">i8"]:
    dt = np.dtype(s)
    datasets["int_" + s[1:] + ("_be" if s[0] == ">" else "")] = ints(dt, n)
datasets["bool"] = runs(rng.integers(0, 2, size=n).astype(bool), n)
for s in ["<f2", ">f2", "<f4", "<f8", ">f8"]:
    name = "float_" + s[1:] + ("_be" if s[0] == ">" else "")
    datasets[name] = runs(rng.standard_normal(n), n).astype(s)
normal = rng.standard_normal((2, n))
datasets["complex64"] = runs(normal[0] + 1j * normal[1], n).astype("<c8")
datasets["complex128_be"] = runs(normal[1] - 2j * normal[0], n).astype(">c16")
letters = rng.integers(97, 123, size=(n, 9), dtype=np.uint8)
datasets["bytes9"] = runs(letters.view("S9").ravel(), n)
datasets["matrix_f8"] = runs(rng.standard_normal(600), 600).reshape(60, 10)
datasets["cube_i2"] = ints(np.dtype("<i2"), 4 * 25 * 9).reshape(4 * 25, 9)
padded = np.dtype({"names": ["a", "b", "c"], "formats": ["i1", "<f8", ">i2"],
                   "offsets": [0, 8, 16], "itemsize": 24})
datasets["struct_padded"] = structured(padded, 800)
nested = np.dtype([("id", "<u4"), ("pos", [("x", "<f4"), ("y", "<f4")]),
                   ("m", "<f8", (2, 3)), ("tag", "S4"), ("z", "<c16")])
datasets["struct_nested"] = structured(nested, 500)
aligned = np.dtype([("flag", "i1"), ("v", "<f8"), ("w", "<i4")], align=True)
datasets["struct_aligned"] = structured(aligned, 500)

# compression arguments: all codecs, all shuffles, plus the plugin's defaults
cnames = ["blosclz", "lz4", "lz4hc", "zlib", "zstd"]
shuffles = [hdf5plugin.Blosc.NOSHUFFLE, hdf5plugin.Blosc.SHUFFLE, hdf5plugin.Blosc.BITSHUFFLE]

with h5py.File(sys.argv[1], "w") as f:
    g, raw = f.create_group("h5py"), f.create_group("raw")
    for i, (name, data) in enumerate(sorted(datasets.items())):
        chunks = (max(1, data.shape[0] // 5),) + data.shape[1:]
        if i % 7 == 6:
            kwargs = {"compression": 32001}  # no options: the plugin's defaults
        else:
            kwargs = dict(hdf5plugin.Blosc(cname=cnames[i % 5], clevel=1 + i % 9,
                                           shuffle=shuffles[i % 3]))
        d = g.create_dataset(name, data=data, chunks=chunks, **kwargs)
        d.attrs["numpy_dtype"] = spelling(d.dtype)
        raw.create_dataset(name, data=data)
    # an enum other than bool reads as its base integer
    colours = h5py.enum_dtype({"red": 0, "green": 1, "blue": 2}, basetype="<i2")
    e = g.create_dataset("enum_i2", data=runs(rng.integers(0, 3, size=n), n).astype("<i2"),
                         chunks=(500,), dtype=colours, **hdf5plugin.Blosc())
    e.attrs["numpy_dtype"] = "<i2"
    raw.create_dataset("enum_i2", data=e[()], dtype=e.dtype)
    # datetime64 as h5py's opaque type (tag "NUMPY:<M8[us]")
    t = runs(rng.integers(0, 2**50, size=n), n).astype("<M8[us]")
    d = g.create_dataset("datetime_opaque", data=t.view(h5py.opaque_dtype(t.dtype)), chunks=(500,),
                         **hdf5plugin.Blosc(cname="zstd"))
    d.attrs["numpy_dtype"] = "<M8[us]"
    raw.create_dataset("datetime_opaque", data=t.view(h5py.opaque_dtype(t.dtype)))
with open("/proc/self/maps") as maps:
    text = maps.read()
    plugins = sorted({line.split()[-1] for line in text.splitlines() if "/plugins/" in line})
assert "nbrewind" not in text
assert any(p.startswith("/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins/") for p in plugins), plugins
print(f"wrote {len(datasets) + 2} datasets to {sys.argv[1]} with {', '.join(plugins)}")
