"""nbrewind._core against the real libnbrewind it ships with: arrays through
numpy, blobs, queries, refs and GC, errors, h5py interop, threads."""
import json
import os
import pathlib
import pickle
import stat
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import nbrewind
from conftest import array_args, commit, put, read

RNG = np.random.default_rng(7)

DTYPES = {
    "bool": np.array([True, False, True]),
    "int8": np.arange(-5, 5, dtype=np.int8),
    "uint16": np.arange(10, dtype=np.uint16),
    "int32_big_endian": np.arange(10, dtype=">i4"),
    "int64": np.arange(-3, 3, dtype=np.int64) * 2**40,
    "uint64": np.array([0, 2**64 - 1], dtype=np.uint64),
    "float16": np.linspace(0, 1, 9, dtype=np.float16),
    "float32": np.linspace(0, 1, 9, dtype=np.float32),
    "float64": RNG.standard_normal((4, 5)),
    "complex64": (np.arange(6) + 1j).astype(np.complex64),
    "complex128": np.arange(6) * (1 - 2j),
    "bytes": np.array([b"a", b"bcd", b""], dtype="S3"),
    "unicode": np.array(["ä", "λx", "日本語"], dtype="U3"),
    "datetime64": np.array(["2026-11-25T19:00", "1970-01-01"], dtype="M8[ns]"),
    "timedelta64": np.array([1, -2, 3], dtype="m8[s]"),
    "structured": np.array([(1, 2.5, b"x"), (3, -1.0, b"yz")],
                           dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S2")]),
}

BASE = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
LAYOUTS = {
    "c_order": BASE,
    "fortran_order": np.asfortranarray(BASE),
    "negative_strides": BASE[::-1, :, ::-2],
    "sliced_view": BASE[:, 1:3, ::2],
    "zero_d": np.array(3.25),
    "empty": np.empty((0, 4)),
}


def test_version_is_the_package_version():
    assert nbrewind.version() == nbrewind.__version__ == "0.1.0"


def store_and_read_back(store, arr):
    checkpoint = store.begin("cell", 1)
    object_id = put(checkpoint, "value", arr)
    checkpoint.commit()
    return read(store, object_id, arr.dtype, arr.shape)


@pytest.mark.parametrize("name", DTYPES)
def test_array_round_trip_keeps_dtype_and_bytes(writer, name):
    back = store_and_read_back(writer, DTYPES[name])
    assert back.dtype == DTYPES[name].dtype
    assert back.tobytes() == DTYPES[name].tobytes()


@pytest.mark.parametrize("name", LAYOUTS)
def test_array_round_trip_keeps_values_of_any_layout(writer, name):
    np.testing.assert_array_equal(store_and_read_back(writer, LAYOUTS[name]), LAYOUTS[name])


@pytest.mark.parametrize("name", ["fortran_order", "negative_strides", "sliced_view"])
def test_strided_array_has_the_id_of_its_c_order_copy(writer, name):
    arr = LAYOUTS[name]
    checkpoint = writer.begin("cell", 1)
    assert put(checkpoint, "view", arr) == put(checkpoint, "copy", np.ascontiguousarray(arr))
    checkpoint.abort()


def test_object_info_describes_an_array(writer):
    arr = np.zeros((2, 3), dtype="<i4")
    checkpoint = writer.begin("cell", 1)
    object_id = put(checkpoint, "a", arr)
    checkpoint.commit()
    assert writer.object_info(object_id) == {
        "kind": "array", "type": "<i4", "shape": (2, 3), "logical_bytes": 24}


@pytest.mark.parametrize("view", [np.asfortranarray(np.arange(12.0).reshape(3, 4)),
                                  np.arange(12.0).reshape(3, 4)[::-1, ::-2]])
def test_hash_array_of_a_strided_view_equals_its_c_order_copy(view):
    assert nbrewind.hash_array(*array_args(view)) == \
        nbrewind.hash_array(*array_args(np.ascontiguousarray(view)))


def test_hash_array_depends_on_the_dtype():
    arr = np.arange(4, dtype="<i4")
    assert nbrewind.hash_array(*array_args(arr)) != \
        nbrewind.hash_array(*array_args(arr.view("<f4")))


def test_hash_blob_depends_on_the_codec():
    assert nbrewind.hash_blob("raw", b"x") != nbrewind.hash_blob("pickle5", b"x")


def test_hash_array_equals_the_stored_id(writer):
    arr = LAYOUTS["negative_strides"]
    checkpoint = writer.begin("cell", 1)
    assert nbrewind.hash_array(*array_args(arr)) == put(checkpoint, "a", arr)
    checkpoint.abort()


def test_hash_bytes_is_the_xxh3_128_digest():
    assert nbrewind.hash_bytes(b"") == "99aa06d3014798d86001c324468d497f"
    assert nbrewind.hash_bytes(memoryview(b"abc")) == nbrewind.hash_bytes(bytearray(b"abc"))


def test_blob_round_trip(writer):
    data = pickle.dumps({"a": [1, 2, 3]}, protocol=5)
    checkpoint = writer.begin("cell", 1)
    object_id = checkpoint.put_blob("obj", "pickle5", data)
    checkpoint.commit()
    assert writer.read_blob(object_id) == data
    assert writer.object_info(object_id)["kind"] == "blob"


def test_hash_blob_equals_the_stored_id(writer):
    checkpoint = writer.begin("cell", 1)
    assert checkpoint.put_blob("b", "raw", b"payload") == nbrewind.hash_blob("raw", b"payload")
    checkpoint.abort()


def test_blob_writer_in_pieces_equals_one_put(writer):
    data = RNG.bytes(300_000)
    checkpoint = writer.begin("cell", 1)
    blob = checkpoint.blob_writer("pieces", "raw")
    for start in range(0, len(data), 65_536):
        assert blob.write(data[start:start + 65_536]) == len(data[start:start + 65_536])
    assert blob.finish() == checkpoint.put_blob("whole", "raw", data)
    checkpoint.commit()
    assert writer.resolve("pieces") == writer.resolve("whole")


def test_blob_writer_takes_a_pickle_stream(writer):
    value = {"x": np.arange(5), "y": "text"}
    checkpoint = writer.begin("cell", 1)
    blob = checkpoint.blob_writer("value", "pickle5")
    pickle.dump(value, blob, protocol=5)
    object_id = blob.finish()
    checkpoint.commit()
    back = pickle.loads(writer.read_blob(object_id))
    np.testing.assert_array_equal(back["x"], value["x"])


def test_blob_writer_context_manager_drops_an_unfinished_blob(writer):
    checkpoint = writer.begin("cell", 1)
    with checkpoint.blob_writer("half", "raw") as blob:
        blob.write(b"abc")
    checkpoint.put_blob("other", "raw", b"x")
    checkpoint.commit()
    with pytest.raises(nbrewind.NotFoundError):
        writer.resolve("half")


def test_resolve_gives_the_binding_as_of_a_checkpoint(writer):
    first = commit(writer, "c1", x=np.arange(3))
    commit(writer, "c2", x=np.arange(4))
    assert writer.resolve("x", first) == nbrewind.hash_array(*array_args(np.arange(3)))
    assert writer.resolve("x") == nbrewind.hash_array(*array_args(np.arange(4)))


def test_resolve_of_a_deleted_name_is_none(writer):
    commit(writer, "c1", x=np.arange(3))
    checkpoint = writer.begin("c2", 2)
    checkpoint.delete("x")
    checkpoint.commit()
    assert writer.resolve("x") is None


def test_resolve_of_a_never_bound_name_raises_not_found(writer):
    commit(writer, "c1", x=np.arange(3))
    with pytest.raises(nbrewind.NotFoundError) as info:
        writer.resolve("nope")
    assert isinstance(info.value, KeyError) and info.value.status == "NBR_ENOTFOUND"


def test_put_ref_binds_a_name_to_a_stored_object(writer):
    commit(writer, "c1", x=np.arange(3))
    checkpoint = writer.begin("c2", 2)
    checkpoint.put_ref("alias", writer.resolve("x"))
    checkpoint.commit()
    assert writer.resolve("alias") == writer.resolve("x")


def test_diff_names_added_changed_and_deleted(writer):
    first = commit(writer, "c1", a=np.arange(2), b=np.arange(3))
    checkpoint = writer.begin("c2", 2)
    put(checkpoint, "b", np.arange(4))
    put(checkpoint, "c", np.arange(5))
    checkpoint.delete("a")
    second = checkpoint.commit()
    assert writer.diff(first, second) == [("a", "deleted"), ("b", "changed"), ("c", "added")]
    assert writer.diff(None, first) == [("a", "added"), ("b", "added")]


def test_stats_count_logical_and_stored_bytes(writer):
    checkpoint_id = commit(writer, "c1", z=np.zeros(100_000))
    logical, stored = writer.stats(checkpoint_id)
    assert logical == 800_000 and 0 < stored < logical
    assert writer.stats() == (logical, stored)


def test_checkpoints_and_their_info(writer):
    checkpoint = writer.begin("cell-a", 7, json.dumps({"user": "me"}))
    put(checkpoint, "x", np.arange(3))
    checkpoint_id = checkpoint.commit()
    assert writer.checkpoints() == [checkpoint_id]
    info = writer.checkpoint_info(checkpoint_id)
    assert (info["cell_id"], info["execution_count"]) == ("cell-a", 7)
    assert json.loads(info["host"]) == {"user": "me"}
    assert info["started"] <= info["committed"]


def test_reader_sees_new_commits_after_refresh(writer, store_path):
    commit(writer, "c1", x=np.arange(3))
    with nbrewind.Store(store_path) as reader:
        second = commit(writer, "c2", y=np.arange(3))
        assert second not in reader.checkpoints()
        reader.refresh()
        assert reader.checkpoints()[-1] == second


def test_codec_option_accepts_a_name(writer):
    writer.set_option("codec", "zstd")
    writer.set_option("level", 3)
    assert (writer.get_option("codec"), writer.get_option("level")) == (5, 3)


def test_unknown_option_raises_invalid_error(writer):
    with pytest.raises(nbrewind.InvalidError, match="colour"):
        writer.set_option("colour", 1)


def segment_of(store_path, object_id):
    for manifest in sorted(pathlib.Path(store_path, "checkpoints").glob("*.json")):
        objects = json.loads(nbrewind._core.read_manifest(str(manifest))).get("objects", {})
        if object_id in objects:
            return pathlib.Path(store_path, objects[object_id]["segment"])
    raise AssertionError(f"no manifest stores {object_id}")


def flip_a_data_byte(segment, object_id):
    import h5py
    with h5py.File(segment, "r") as f:
        dataset = f["objects"][object_id]
        info = dataset.id.get_chunk_info(0)
        offset = info.byte_offset + info.size // 2
    segment.chmod(segment.stat().st_mode | stat.S_IWUSR)
    with open(segment, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0xFF]))


def test_verify_of_a_sound_store_is_empty(writer):
    commit(writer, "c1", x=RNG.standard_normal(1000))
    assert writer.verify() == ""


def test_verify_reports_a_flipped_byte_naming_the_object(writer, store_path):
    commit(writer, "c1", x=RNG.standard_normal(100_000))
    object_id = writer.resolve("x")
    flip_a_data_byte(segment_of(store_path, object_id), object_id)
    report = writer.verify()
    assert object_id in report
    with pytest.raises(nbrewind.CorruptError):
        read(writer, object_id, np.float64, (100_000,))


def test_refs_point_at_checkpoints(writer):
    checkpoint_id = commit(writer, "c1", x=np.arange(3))
    writer.set_ref("notebook", checkpoint_id)
    assert writer.get_ref("notebook") == checkpoint_id
    writer.delete_ref("notebook")
    with pytest.raises(nbrewind.NotFoundError):
        writer.get_ref("notebook")


def test_gc_keeps_pinned_checkpoints_and_drops_the_rest(writer):
    pinned = commit(writer, "c1", x=np.arange(3))
    dropped = commit(writer, "c2", x=np.arange(4))
    newest = commit(writer, "c3", x=np.arange(5))
    writer.pin(pinned)
    report = writer.gc()
    assert report
    assert writer.checkpoints() == [pinned, newest]
    assert dropped not in writer.checkpoints()
    writer.unpin(pinned)
    with pytest.raises(nbrewind.NotFoundError):
        writer.unpin(pinned)


def test_second_writer_gets_locked_error_naming_the_holder(writer, store_path):
    with pytest.raises(nbrewind.LockedError) as info:
        nbrewind.Store(store_path, "w")
    assert str(os.getpid()) in str(info.value)
    assert info.value.status == "NBR_ELOCKED"


def test_put_array_with_a_bad_dtype_raises_invalid_error(writer):
    checkpoint = writer.begin("cell", 1)
    arr = np.arange(3)
    with pytest.raises(nbrewind.InvalidError, match="<q9") as info:
        checkpoint.put_array("x", "<q9", arr.shape, None, arr.ctypes.data, arr)
    assert isinstance(info.value, ValueError) and info.value.status == "NBR_EINVAL"
    checkpoint.abort()


def test_bad_dtype_raises_invalid_error_with_the_message():
    arr = np.arange(3)
    with pytest.raises(nbrewind.InvalidError, match="<q9") as info:
        nbrewind.hash_array("<q9", arr.shape, None, arr.ctypes.data, arr)
    assert isinstance(info.value, ValueError) and info.value.status == "NBR_EINVAL"


def test_error_message_is_the_plain_library_message(store_path):
    with pytest.raises(nbrewind.NotFoundError) as info:
        nbrewind.Store(store_path)
    assert str(info.value).startswith(store_path)


def test_read_array_into_rejects_a_buffer_of_the_wrong_size(writer):
    commit(writer, "cell", x=np.arange(4.0))
    object_id = writer.resolve("x")
    with pytest.raises(nbrewind.InvalidError, match="32 bytes"):
        writer.read_array_into(object_id, "<f8", (4,), bytearray(31))


def test_checkpoint_after_commit_raises_error(writer):
    checkpoint = writer.begin("cell", 1)
    checkpoint.commit()
    with pytest.raises(nbrewind.Error, match="no longer in progress"):
        checkpoint.put_blob("x", "raw", b"")
    checkpoint.abort()


def test_store_after_close_raises_error(writer):
    writer.close()
    with pytest.raises(nbrewind.Error, match="closed"):
        writer.checkpoints()
    writer.close()


def test_closing_the_store_ends_its_checkpoint(store_path):
    store = nbrewind.Store(store_path, "c")
    checkpoint = store.begin("cell", 1)
    store.close()
    with pytest.raises(nbrewind.Error, match="no longer in progress"):
        checkpoint.commit()


def test_checkpoint_context_manager_aborts_on_exception(writer):
    with pytest.raises(RuntimeError):
        with writer.begin("cell", 1) as checkpoint:
            put(checkpoint, "x", np.arange(3))
            raise RuntimeError("cell failed")
    assert writer.checkpoints() == []
    commit(writer, "next", y=np.arange(2))


def test_checkpoint_keeps_its_store_alive(store_path):
    checkpoint = nbrewind.Store(store_path, "c").begin("cell", 1)
    put(checkpoint, "x", np.arange(3))
    assert len(checkpoint.commit()) == 16


def test_checkpoint_cannot_be_made_directly():
    with pytest.raises(TypeError):
        nbrewind.Checkpoint()


H5PY_READER = textwrap.dedent("""
    import json, pathlib, sys
    import h5py, numpy as np
    store, out = pathlib.Path(sys.argv[1]), sys.argv[2]
    assert "nbrewind" not in sys.modules
    def manifest_text(path):  # the file, or the tail of the segment it is (format 4)
        data = path.read_bytes()
        if data.endswith(b"NBRMANIF"):
            return data[-32 - int.from_bytes(data[-32:-24], "little"):-32]
        return data
    manifests = [json.loads(manifest_text(p))
                 for p in sorted((store / "checkpoints").glob("*.json"))]
    found = {}
    for name in manifests[-1]["bindings"]:
        oid = manifests[-1]["bindings"][name]
        entry = next(m["objects"][oid] for m in manifests if oid in m.get("objects", {}))
        with h5py.File(store / entry["segment"], "r") as f:
            found[name] = f["objects"][oid][()]
    np.savez(out, **found)
""")


def test_h5py_reads_the_store_in_another_process(writer, store_path, tmp_path):
    arrays = {"ints": np.arange(12, dtype="<i8").reshape(3, 4),
              "floats": np.asfortranarray(RNG.standard_normal((5, 6)))}
    commit(writer, "c1", **arrays)
    out = tmp_path / "read.npz"
    subprocess.run(["/usr/bin/python3", "-c", H5PY_READER, store_path, str(out)], check=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    found = np.load(out)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(found[name], arr)
        assert found[name].dtype == arr.dtype


def longest_pause_during(call, *args):
    """Run call(*args) in another thread while this one counts, stamping each
    count; returns (the longest time this thread could not count while the call
    ran, the call's duration, the counts made meanwhile).  A call that holds the
    GIL pauses this thread for (nearly) all of its duration."""
    span = {}

    def work():
        span["start"] = time.perf_counter()
        call(*args)
        span["end"] = time.perf_counter()

    stamps = []
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    thread = threading.Thread(target=work)
    try:
        thread.start()
        while "end" not in span:
            stamps.append(time.perf_counter())
        thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    inside = [s for s in stamps if span["start"] < s < span["end"]]
    edges = [span["start"], *inside, span["end"]]
    return max(b - a for a, b in zip(edges, edges[1:])), span["end"] - span["start"], len(inside)


def test_hashing_a_200_mb_array_releases_the_gil():
    big = np.full(25_000_000, 1.5)
    args = array_args(big)
    nbrewind.hash_array(*args)  # touch the pages once
    # Best of three: the machine may deschedule this thread for a moment.
    runs = [longest_pause_during(nbrewind.hash_array, *args) for _ in range(3)]
    pause, duration, counts = min(runs, key=lambda run: run[0] / run[1])
    assert pause < duration / 2, f"counted {counts} times; paused {pause:.4f} s of {duration:.4f} s"


def test_threads_sharing_a_checkpoint_do_not_collide(writer):
    checkpoint = writer.begin("cell", 1)
    arrays = [RNG.standard_normal(200_000) for _ in range(8)]
    ids = [None] * len(arrays)

    def worker(i):
        ids[i] = put(checkpoint, f"x{i}", arrays[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(arrays))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checkpoint.commit()
    for i, arr in enumerate(arrays):
        assert writer.resolve(f"x{i}") == ids[i]
        np.testing.assert_array_equal(read(writer, ids[i], arr.dtype, arr.shape), arr)


def test_analyze_reports_what_a_cell_defines_and_uses():
    result = nbrewind.analyze("import numpy as np\ny = np.sum(x)\nz.append(y)\n")
    assert result["defs"] == ["np", "y"]
    assert set(result["uses"]) == {"x", "z"}
    assert "z" in result["may_mutate"]


def test_analyze_reports_aliases_and_parts_beside_the_json():
    result = nbrewind.analyze("b = a\nc, e = a, d\nf = cfg['s'].opts\ng = x if k else y\n")
    assert result["aliases"] == [("b", "a"), ("c", "a"), ("e", "d")]
    assert result["parts"] == [("f", "cfg"), ("g", "x"), ("g", "y")]
    assert nbrewind.analyze("e2 <- e1", "r")["aliases"] == [("e2", "e1")]
    assert nbrewind.analyze("x = 1")["parts"] == []


def test_analyze_reports_syntax_errors_in_the_result():
    result = nbrewind.analyze("a = 1\nb = (\n")
    assert result["errors"] and result["errors"][0]["line"] >= 1
    assert "a" in result["defs"]


def test_analyze_reads_r():
    assert nbrewind.analyze("y <- f(x)", "r")["defs"] == ["y"]


def test_analyze_unknown_language_raises_unsupported_error():
    with pytest.raises(nbrewind.UnsupportedError):
        nbrewind.analyze("x", "cobol")


def test_exception_classes_carry_their_status():
    assert nbrewind.LockedError.status == "NBR_ELOCKED"
    assert nbrewind.Error("raised by hand").status == "NBR_ERROR"


def test_blob_writer_after_its_store_closed_raises_error(store_path):
    store = nbrewind.Store(store_path, "c")
    blob = store.begin("cell", 1).blob_writer("b", "raw")
    store.close()
    with pytest.raises(nbrewind.Error) as info:
        blob.write(b"late")
    assert info.value.status == "NBR_ESTATE"
    blob.abort()


def test_puts_given_the_hashed_id_store_the_same_objects(writer):
    """id= hands the store the id the audit computed at capture: the same
    object as a plain put, for arrays and blobs; a false id is kept as
    given, and verify names it."""
    arr = RNG.standard_normal((300, 200))
    array_id = nbrewind.hash_array(*array_args(arr))
    blob_id = nbrewind.hash_blob("raw", b"payload")
    checkpoint = writer.begin("cell", 1)
    assert checkpoint.put_array("a", *array_args(arr), id=array_id) == array_id
    assert checkpoint.put_blob("b", "raw", b"payload", id=blob_id) == blob_id
    assert put(checkpoint, "a2", arr) == array_id
    with pytest.raises(nbrewind.InvalidError):
        checkpoint.put_blob("c", "raw", b"x", id="not hex")
    checkpoint.commit()
    assert np.array_equal(read(writer, array_id, arr.dtype, arr.shape), arr)
    assert writer.read_blob(blob_id) == b"payload"
    assert writer.verify() == ""
    false_id = "5a" * 16
    checkpoint = writer.begin("cell", 2)
    checkpoint.put_blob("d", "raw", b"other", id=false_id)
    checkpoint.commit()
    assert false_id in writer.verify()
