"""save/load: round trips, and refusal (SerializationError) of every file it cannot trust, never unpickling."""
import json
import os
import pickle

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

HEADER = "__minigrad__"

UNPICKLED = []


def _mark_unpickled():
    """Called only if some loader unpickles a Payload."""
    UNPICKLED.append(True)
    return "pwned"


class Payload:
    """An object whose unpickling runs code (it calls _mark_unpickled)."""

    def __reduce__(self):
        return (_mark_unpickled, ())


@pytest.fixture(autouse=True)
def _clear_marker():
    UNPICKLED.clear()
    yield
    UNPICKLED.clear()


def _state():
    rng = np.random.default_rng(7)
    return {
        "w32": rng.standard_normal((3, 4)).astype(np.float32),
        "w64": rng.standard_normal((2, 5)),
        "ints": np.arange(6, dtype=np.int64).reshape(2, 3) - 2,
        "small_ints": np.array([1, 2, 255], dtype=np.uint8),
        "flags": np.array([True, False]),
        "scalar": np.float64(2.5) * np.ones(()),
        "layer.block.bias": np.zeros(0, dtype=np.float32),
    }


def _write_npz(path, **arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def _header(arrays, fmt="minigrad.state_dict", version=1):
    return np.array(json.dumps({
        "format": fmt, "version": version,
        "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()}}))


# --- round trips --------------------------------------------------------------------------------
def test_round_trip_keeps_names_values_shapes_and_dtypes(tmp_path):
    """load(save(state)) gives back exactly the same names, shapes, dtypes and values."""
    state = _state()
    path = tmp_path / "state.npz"
    mg.save(state, path)
    loaded = mg.load(path)
    assert set(loaded) == set(state)
    for name, array in state.items():
        assert loaded[name].dtype == array.dtype, name
        assert loaded[name].shape == array.shape, name
        np.testing.assert_array_equal(loaded[name], array)


def test_save_writes_to_the_exact_path_given(tmp_path):
    """save does not append '.npz' to a name without that suffix."""
    path = tmp_path / "weights.bin"
    mg.save({"a": np.ones(2)}, path)
    assert path.exists()
    assert not (tmp_path / "weights.bin.npz").exists()
    np.testing.assert_array_equal(mg.load(path)["a"], np.ones(2))


def test_tensor_values_are_saved_as_arrays(tmp_path):
    """Tensors (and Parameters) are saved by their data."""
    state = {"t": mg.Tensor(np.array([[1.0, 2.0]], dtype=np.float64)),
             "p": nn.Parameter(np.array([3.0, 4.0], dtype=np.float32))}
    mg.save(state, tmp_path / "t.npz")
    loaded = mg.load(tmp_path / "t.npz")
    assert isinstance(loaded["t"], np.ndarray) and loaded["t"].dtype == np.float64
    np.testing.assert_array_equal(loaded["t"], [[1.0, 2.0]])
    assert loaded["p"].dtype == np.float32
    np.testing.assert_array_equal(loaded["p"], [3.0, 4.0])


def test_module_state_round_trip_through_a_file(tmp_path):
    """A model saved to disk and loaded into a differently initialised model computes the same outputs."""
    mg.manual_seed(10)
    source = nn.Linear(4, 3)
    mg.manual_seed(11)
    target = nn.Linear(4, 3)
    x = mg.Tensor(np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32))
    assert not np.allclose(source(x).data, target(x).data)
    mg.save(source.state_dict(), tmp_path / "linear.npz")
    target.load_state_dict(mg.load(tmp_path / "linear.npz"))
    np.testing.assert_array_equal(target.weight.data, source.weight.data)
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_loaded_file_with_wrong_shapes_is_refused_by_load_state_dict(tmp_path):
    """A valid file for another architecture loads, but load_state_dict refuses it."""
    mg.save(nn.Linear(4, 3).state_dict(), tmp_path / "other.npz")
    with pytest.raises(nn.StateDictError):
        nn.Linear(3, 4).load_state_dict(mg.load(tmp_path / "other.npz"))


@pytest.mark.parametrize("state", [{HEADER: np.ones(1)}, {1: np.ones(1)},
                                   {"o": np.array([Payload()], dtype=object)},
                                   {"s": np.array(["text"])}])
def test_save_refuses_unusable_names_and_non_numeric_arrays(tmp_path, state):
    """save refuses the header's own name, non-string keys, and object or string arrays."""
    with pytest.raises(mg.SerializationError):
        mg.save(state, tmp_path / "bad.npz")


# --- refusals -------------------------------------------------------------------------------------
def test_missing_path_is_refused(tmp_path):
    """A path that does not exist raises SerializationError (naming the path)."""
    path = tmp_path / "nope.npz"
    with pytest.raises(mg.SerializationError, match="nope.npz"):
        mg.load(path)


def test_directory_is_refused(tmp_path):
    """A directory is not a file: SerializationError."""
    with pytest.raises(mg.SerializationError):
        mg.load(tmp_path)


@pytest.mark.parametrize("keep", [0, 3, 10, 0.5, -1, -22])
def test_truncated_file_is_refused(tmp_path, keep):
    """A valid file cut short (at several places, down to empty) raises SerializationError."""
    path = tmp_path / "state.npz"
    mg.save(_state(), path)
    mg.load(path)  # the intact file loads
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    with pytest.raises(mg.SerializationError):
        mg.load(path)


def test_foreign_npz_without_header_is_refused(tmp_path):
    """An ordinary np.savez archive (no minigrad header) is refused, naming the header."""
    path = tmp_path / "foreign.npz"
    _write_npz(path, weight=np.ones((2, 2)), bias=np.zeros(2))
    with pytest.raises(mg.SerializationError, match=HEADER):
        mg.load(path)


@pytest.mark.parametrize("content", [
    b"", b"hello, this is plain text\n", b"PK\x03\x04 not really a zip",
    b"\x93NUMPY garbage", bytes(range(256)) * 4])
def test_non_zip_bytes_are_refused(tmp_path, content):
    """Files that are not zip archives at all raise SerializationError."""
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(mg.SerializationError):
        mg.load(path)


def test_plain_npy_file_is_refused(tmp_path):
    """A .npy file (np.save of one array, not an archive) raises SerializationError."""
    path = tmp_path / "array.npy"
    with open(path, "wb") as file:
        np.save(file, np.ones(3))
    with pytest.raises(mg.SerializationError):
        mg.load(path)


@pytest.mark.parametrize("tamper", ["shape", "dtype", "extra_name", "missing_name", "format", "version"])
def test_header_disagreeing_with_arrays_is_refused(tmp_path, tamper):
    """A hand-built .npz whose JSON header disagrees with its arrays raises SerializationError."""
    arrays = {"w": np.ones((2, 3)), "b": np.zeros(3, dtype=np.float32)}
    described = dict(arrays)
    fmt, version = "minigrad.state_dict", 1
    if tamper == "shape":
        described["w"] = np.ones((3, 2))
    elif tamper == "dtype":
        described["b"] = np.zeros(3, dtype=np.float64)
    elif tamper == "extra_name":
        described["ghost"] = np.ones(1)
    elif tamper == "missing_name":
        del described["b"]
    elif tamper == "format":
        fmt = "someone.else"
    else:
        version = 2
    path = tmp_path / "tampered.npz"
    _write_npz(path, **arrays, **{HEADER: _header(described, fmt, version)})
    with pytest.raises(mg.SerializationError):
        mg.load(path)


def test_hand_built_file_with_matching_header_loads(tmp_path):
    """The same hand-built file with a truthful header loads: the refusals above are about the header."""
    arrays = {"w": np.ones((2, 3)), "b": np.zeros(3, dtype=np.float32)}
    path = tmp_path / "honest.npz"
    _write_npz(path, **arrays, **{HEADER: _header(arrays)})
    loaded = mg.load(path)
    assert set(loaded) == {"w", "b"}
    np.testing.assert_array_equal(loaded["w"], arrays["w"])


@pytest.mark.parametrize("header", ["not json {", "[1, 2]", "42", '"a string"',
                                    '{"format": "minigrad.state_dict", "version": 1, "arrays": {"w": {}}}'])
def test_malformed_header_is_refused(tmp_path, header):
    """A header that is not a JSON object of the expected form raises SerializationError, not a crash."""
    path = tmp_path / "malformed.npz"
    _write_npz(path, w=np.ones(2), **{HEADER: np.array(header)})
    with pytest.raises(mg.SerializationError):
        mg.load(path)


# --- never pickle --------------------------------------------------------------------------------
def test_object_array_is_refused_not_unpickled(tmp_path):
    """An .npz holding a pickled object array (with a truthful-looking header) is refused unopened."""
    path = tmp_path / "evil.npz"
    evil = np.array([Payload()], dtype=object)
    header = np.array(json.dumps({"format": "minigrad.state_dict", "version": 1,
                                  "arrays": {"evil": {"shape": [1], "dtype": "|O"}}}))
    with open(path, "wb") as file:
        np.savez(file, evil=evil, **{HEADER: header})  # np.savez pickles object arrays
    with np.load(path, allow_pickle=True) as archive:  # the payload is live: unpickling runs it
        archive["evil"]
    assert UNPICKLED == [True]
    UNPICKLED.clear()
    with pytest.raises(mg.SerializationError):
        mg.load(path)
    assert UNPICKLED == []


def test_raw_pickle_file_is_refused_not_unpickled(tmp_path):
    """A plain pickle file is refused with SerializationError and its payload never runs."""
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"w": Payload()}))
    pickle.loads(path.read_bytes())  # the payload is live
    assert UNPICKLED == [True]
    UNPICKLED.clear()
    with pytest.raises(mg.SerializationError):
        mg.load(path)
    assert UNPICKLED == []


# --- hostile files: every declared size is checked before anything is allocated -----------------
def _npz_bytes(members: dict, compression=None) -> bytes:
    """A zip of raw .npy members, built by hand so that they can lie."""
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression or zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name + ".npy", data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npy_header_only(shape, dtype="<f4") -> bytes:
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _header_npy(text: str) -> bytes:
    return _npy(np.array(text))


def test_deeply_nested_header_is_refused_not_a_recursion_error(tmp_path):
    """A header of 100,000 '[' is refused by its nesting depth before JSON parses it."""
    path = tmp_path / "nested.npz"
    path.write_bytes(_npz_bytes({HEADER: _header_npy("[" * 100_000)}))
    with pytest.raises(mg.SerializationError, match="nests 100000 levels"):
        mg.load(path)


def test_huge_declared_shape_is_refused_before_allocating(tmp_path):
    """A few hundred bytes declaring shape (2**40,) are refused by size, never a MemoryError."""
    path = tmp_path / "huge.npz"
    header = json.dumps({"format": "minigrad.state_dict", "version": 1,
                         "arrays": {"w": {"shape": [2 ** 40], "dtype": "<f4"}}})
    path.write_bytes(_npz_bytes({HEADER: _header_npy(header), "w": _npy_header_only((2 ** 40,))}))
    assert path.stat().st_size < 1000
    with pytest.raises(mg.SerializationError, match="max_bytes"):
        mg.load(path)
    with pytest.raises(mg.SerializationError, match="in a file of"):  # within max_bytes, but not in the file
        mg.load(path, max_bytes=2 ** 44)


def test_npy_header_that_lies_about_its_size_is_refused(tmp_path):
    """A JSON header and .npy header that agree on (1000, 1000) over 16 bytes of data: refused."""
    path = tmp_path / "short.npz"
    header = json.dumps({"format": "minigrad.state_dict", "version": 1,
                         "arrays": {"w": {"shape": [4], "dtype": "<f4"}}})
    lying = _npy_header_only((1000, 1000)) + b"\0" * 16
    path.write_bytes(_npz_bytes({HEADER: _header_npy(header), "w": lying}))
    with pytest.raises(mg.SerializationError, match="the header says"):
        mg.load(path)


def test_zip_bomb_is_refused_without_inflating(tmp_path):
    """A compressed entry (1.5 MiB of file, gigabytes inflated) is refused from the zip directory:
    save writes stored entries only."""
    import zipfile
    arrays = {"w": np.zeros(200_000, dtype=np.float32)}
    path = tmp_path / "bomb.npz"
    path.write_bytes(_npz_bytes({HEADER: _npy(_header(arrays)), "w": _npy(arrays["w"])},
                                compression=zipfile.ZIP_DEFLATED))
    assert path.stat().st_size < 10_000
    with pytest.raises(mg.SerializationError, match="compressed"):
        mg.load(path)


@pytest.mark.parametrize("array", [np.array([1 + 2j]), np.array(["1.5", "2.5"]), np.array([b"ab"]),
                                   np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]),
                                   np.array(["2020-01-01"], dtype="datetime64[D]"),
                                   np.array([1], dtype="timedelta64[s]")],
                         ids=["complex", "unicode", "bytes", "structured", "datetime", "timedelta"])
def test_arrays_save_refuses_are_refused_by_load_even_with_a_truthful_header(tmp_path, array):
    """load accepts exactly what save writes: complex, string, structured and time arrays are refused."""
    with pytest.raises(mg.SerializationError):
        mg.save({"w": array}, tmp_path / "refused.npz")
    path = tmp_path / "w.npz"
    _write_npz(path, w=array, **{HEADER: _header({"w": array})})
    with pytest.raises(mg.SerializationError, match="numeric dtype"):
        mg.load(path)


def test_duplicate_entries_and_foreign_entry_names_are_refused(tmp_path):
    import warnings
    arrays = {"w": np.ones(2)}
    path = tmp_path / "twice.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name it is asked to write
        import io
        import zipfile
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(HEADER + ".npy", _npy(_header(arrays)))
            archive.writestr("w.npy", _npy(arrays["w"]))
            archive.writestr("w.npy", _npy(np.zeros(2)))
        path.write_bytes(buffer.getvalue())
    with pytest.raises(mg.SerializationError, match="each name once"):
        mg.load(path)
    path.write_bytes(_npz_bytes({HEADER: _npy(_header(arrays)), "w": _npy(arrays["w"])}).replace(b"w.npy", b"w.txt"))
    with pytest.raises(mg.SerializationError):
        mg.load(path)


def test_corrupted_array_data_is_refused_by_its_checksum(tmp_path):
    path = tmp_path / "state.npz"
    mg.save({"w": np.arange(1000, dtype=np.float32)}, path)
    data = bytearray(path.read_bytes())
    offset = data.index(np.float32(500).tobytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(mg.SerializationError, match="CRC"):
        mg.load(path)


def test_max_bytes_limits_what_load_allocates(tmp_path):
    path = tmp_path / "state.npz"
    mg.save({"w": np.zeros(1000, dtype=np.float64)}, path)
    with pytest.raises(mg.SerializationError, match="8000 bytes of arrays, more than max_bytes = 7999"):
        mg.load(path, max_bytes=7999)
    assert mg.load(path, max_bytes=8000)["w"].shape == (1000,)


def test_fortran_ordered_and_big_endian_arrays_round_trip(tmp_path):
    """What older saves could write (a Fortran-ordered array) still loads; byte order is kept."""
    fortran = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
    big = np.arange(3, dtype=">i4")
    path = tmp_path / "orders.npz"
    _write_npz(path, f=fortran, b=big, **{HEADER: _header({"f": fortran, "b": big})})
    loaded = mg.load(path)
    np.testing.assert_array_equal(loaded["f"], fortran)
    assert loaded["b"].dtype.str == ">i4" and loaded["b"].tolist() == [0, 1, 2]
    mg.save({"f": fortran}, tmp_path / "saved.npz")
    np.testing.assert_array_equal(mg.load(tmp_path / "saved.npz")["f"], fortran)


# --- metadata and atomic writes --------------------------------------------------------------------
def test_metadata_travels_in_the_same_file(tmp_path):
    path = tmp_path / "with_metadata.npz"
    metadata = {"model": {"Tx": 30, "cell": "lstm"}, "tokens": ["a", "<pad>"], "ok": True, "n": None}
    mg.save({"w": np.ones(2)}, path, metadata=metadata)
    arrays, loaded = mg.load(path, with_metadata=True)
    assert loaded == metadata and set(arrays) == {"w"}
    mg.save({"w": np.ones(2)}, path)
    assert mg.load(path, with_metadata=True)[1] is None


def _nested(depth: int):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("metadata", [{"loss": float("nan")}, {"x": object()}, {"deep": _nested(40)}],
                         ids=["nan", "object", "nested"])
def test_save_refuses_metadata_load_would_refuse(tmp_path, metadata):
    """NaN, non-JSON values and nesting beyond the limit are refused on save, and nothing is written."""
    with pytest.raises(mg.SerializationError):
        mg.save({"w": np.ones(1)}, tmp_path / "m.npz", metadata=metadata)
    assert list(tmp_path.iterdir()) == []


def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    """Writing goes to a unique temporary that is renamed over the file only once complete."""
    import minigrad.serialization as serialization
    path = tmp_path / "state.npz"
    mg.save({"w": np.ones(3)}, path)
    before = path.read_bytes()

    def savez_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization.np, "savez", savez_then_fail)
    with pytest.raises(OSError, match="No space"):
        mg.save({"w": np.zeros(3)}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.npz"]


def test_stale_temporaries_are_found_beside_their_target(tmp_path):
    from minigrad.serialization import stale_temporaries
    (tmp_path / ".state.npz.k3j2.tmp").write_bytes(b"half")
    (tmp_path / ".other.npz.aa.tmp").write_bytes(b"half")
    (tmp_path / "state.npz").write_bytes(b"")
    assert [os.path.basename(p) for p in stale_temporaries(tmp_path / "state.npz")] == [".state.npz.k3j2.tmp"]
