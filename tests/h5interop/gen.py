"""The seeded data of h5interop.c, regenerated with numpy (no nbrewind code).

A splitmix64 byte stream per dataset (seed 1000 + its index in the C table);
element e is the (e // 8)-th random element; every byte is shaped by the
element's layout: 'a' any, 'b' bool (v & 1), 's' printable ASCII, 'z' zero
(padding, top bytes of a UCS-4 code point), 'h' second byte of a code point.
4-byte unsigned integers (and so <U<n> text) hold UCS-4 code points.
"""
import math

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
C1 = np.uint64(0xBF58476D1CE4E5B9)
C2 = np.uint64(0x94D049BB133111EB)


def splitmix_bytes(seed, nbytes):
    n = (nbytes + 7) // 8
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + k * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * C1
        z = (z ^ (z >> np.uint64(27))) * C2
        z = z ^ (z >> np.uint64(31))
    return z.astype("<u8").view(np.uint8)[:nbytes]


def layout(dt):
    """One letter per byte of an element of dt, as HDF5 lays it out."""
    dt = np.dtype(dt)
    if dt.names is not None:
        out = ["z"] * dt.itemsize
        for name in dt.names:
            fdt, off = dt.fields[name][:2]
            out[off:off + fdt.itemsize] = layout(fdt)
        return out
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return layout(base) * math.prod(shape)
    big = dt.byteorder == ">"
    if dt.kind == "b":
        return ["b"]
    if dt.kind == "S":
        return ["s"] * dt.itemsize
    if dt.kind == "U" or (dt.kind == "u" and dt.itemsize == 4):
        return list("zzha" if big else "ahzz") * (dt.itemsize // 4)
    return ["a"] * dt.itemsize


def generate(dt, count, seed):
    """The bytes h5interop.c writes for `count` elements of dt."""
    mask = np.array(layout(dt))
    size = len(mask)
    nrand = (count + 7) // 8
    raw = splitmix_bytes(seed, nrand * size).reshape(nrand, size).copy()
    cols = {k: np.nonzero(mask == k)[0] for k in "bszh"}
    raw[:, cols["b"]] &= 1
    raw[:, cols["s"]] = 0x20 + raw[:, cols["s"]] % 95
    raw[:, cols["z"]] = 0
    raw[:, cols["h"]] = raw[:, cols["h"]] % 0xD0
    return np.repeat(raw, 8, axis=0)[:count].tobytes()
