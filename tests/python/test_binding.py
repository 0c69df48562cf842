"""nbrewind._core against the real libnbrewind it ships with: hashing,
analysis, errors."""
import numpy as np
import pytest

import nbrewind
from conftest import array_args


def test_version_is_the_package_version():
    assert nbrewind.version() == nbrewind.__version__ == "0.1.0"


def test_hash_bytes_is_the_xxh3_128_digest():
    assert nbrewind.hash_bytes(b"") == "99aa06d3014798d86001c324468d497f"
    assert nbrewind.hash_bytes(memoryview(b"abc")) == nbrewind.hash_bytes(bytearray(b"abc"))


def test_analyze_reports_what_a_cell_defines_and_uses():
    result = nbrewind.analyze("import numpy as np\ny = np.sum(x)\nz.append(y)\n")
    assert result["defs"] == ["np", "y"]
    assert set(result["uses"]) == {"x", "z"}
    assert "z" in result["may_mutate"]


def test_analyze_reports_syntax_errors_in_the_result():
    result = nbrewind.analyze("a = 1\nb = (\n")
    assert result["errors"] and result["errors"][0]["line"] >= 1
    assert "a" in result["defs"]


def test_analyze_reads_r():
    assert nbrewind.analyze("y <- f(x)", "r")["defs"] == ["y"]


def test_analyze_unknown_language_raises_unsupported_error():
    with pytest.raises(nbrewind.UnsupportedError):
        nbrewind.analyze("x", "cobol")

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


def test_bad_dtype_raises_invalid_error_with_the_message():
    arr = np.arange(3)
    with pytest.raises(nbrewind.InvalidError, match="<q9") as info:
        nbrewind.hash_array("<q9", arr.shape, None, arr.ctypes.data, arr)
    assert isinstance(info.value, ValueError) and info.value.status == "NBR_EINVAL"
