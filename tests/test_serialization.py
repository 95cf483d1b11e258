"""save/load: round trips, and refusal (SerializationError) of every file it cannot trust, never unpickling."""
import json
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
