"""save and load: a state dict as one .npz file with a JSON header, never pickle.

The file holds each array under its name plus `__minigrad__`, a JSON string naming the
format, its version and every array's shape and dtype, so a foreign or damaged file is
recognised before anything is handed back.
"""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from minigrad.errors import SerializationError

FORMAT = "minigrad.state_dict"
VERSION = 1
HEADER = "__minigrad__"


def save(state: dict, path) -> None:
    """Write a mapping of names to arrays or Tensors (a `state_dict()`) to `path` (.npz)."""
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str) or name == HEADER:
            raise SerializationError(f"save: key {name!r} is not a usable name")
        array = np.asarray(getattr(value, "data", value))
        if array.dtype.kind not in "biuf":
            raise SerializationError(f"save: {name!r} has dtype {array.dtype}; only numbers are saved")
        arrays[name] = array
    header = {"format": FORMAT, "version": VERSION,
              "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()}}
    with open(path, "wb") as file:  # a file object, so numpy does not append '.npz' to the name
        np.savez(file, **arrays, **{HEADER: np.array(json.dumps(header))})


def load(path) -> dict[str, np.ndarray]:
    """Read a file written by `save`; every array is checked against the header."""
    if not os.path.exists(path):
        raise SerializationError(f"load: no file at {path}")
    try:
        with open(path, "rb") as file:
            if file.read(4) != b"PK\x03\x04":
                raise SerializationError(f"load: {path} is not an .npz archive (a zip file)")
        with np.load(path, allow_pickle=False) as archive:
            if HEADER not in archive.files:
                raise SerializationError(f"load: {path} was not written by minigrad.save "
                                         f"(no {HEADER} header; it holds {archive.files[:5]})")
            header = json.loads(str(archive[HEADER]))
            arrays = {name: archive[name] for name in archive.files if name != HEADER}
    except SerializationError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise SerializationError(f"load: {path} is truncated or not an .npz file "
                                 f"({type(error).__name__}: {error})") from error
    _check_header(path, header, arrays)
    return arrays


def _check_header(path, header, arrays) -> None:
    """The header must name this format and describe exactly the arrays the file holds."""
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        found = (header.get("format"), header.get("version")) if isinstance(header, dict) else header
        raise SerializationError(f"load: {path} has header {found!r}; expected {FORMAT!r} "
                                 f"version {VERSION}")
    described = header.get("arrays")
    if not isinstance(described, dict) or set(described) != set(arrays):
        raise SerializationError(f"load: {path} header lists {described!r} but the file holds "
                                 f"{sorted(arrays)}")
    for name, array in arrays.items():
        entry = described[name]
        if not isinstance(entry, dict) or list(array.shape) != entry.get("shape") \
                or array.dtype.str != entry.get("dtype"):
            raise SerializationError(f"load: {path}: {name!r} is {array.shape} {array.dtype.str} "
                                     f"but the header says {entry!r}")
