"""save and load: a state dict as one .npz file with a JSON header, never pickle.

The file holds each array under its name plus `__minigrad__`, a JSON string naming the
format, its version, every array's shape and dtype and optional `metadata`, so a foreign or
damaged file is recognised before anything is handed back.

`load` reads the archive itself rather than through `np.load`, so that it accepts exactly
what `save` writes (an uncompressed archive of C- or Fortran-ordered numeric arrays) and
checks every declared size against its limits and against the file before allocating: a
hostile file gets a SerializationError, never a MemoryError, a RecursionError or a zip bomb.
`save` writes to a fresh temporary file next to `path`, flushes it to disk and renames it
over `path`, so a crash leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zipfile

import numpy as np

from minigrad.errors import SerializationError

FORMAT = "minigrad.state_dict"
VERSION = 1
HEADER = "__minigrad__"
TEMPORARY_SUFFIX = ".tmp"     # save's temporaries: ".<name>.<random>.tmp" beside the target

MAX_HEADER_CHARS = 1 << 22    # the JSON header (names, shapes, dtypes, metadata): 4 Mi characters
MAX_NESTING = 32              # of lists and objects in the JSON header
MAX_ARRAYS = 10_000
MAX_NDIM = 32
MAX_NPY_HEADER = 10_000       # numpy's own default limit for one array's header
DEFAULT_MAX_BYTES = 1 << 31   # of array data, unless load(max_bytes=...) allows more
NUMERIC_KINDS = "biuf"        # bool, signed and unsigned integers, floats: all save accepts


def save(state: dict, path, metadata=None) -> None:
    """Write a mapping of names to arrays or Tensors (a `state_dict()`) to `path` (.npz).

    `metadata` (optional) is any plain-JSON value stored in the header; `load(path,
    with_metadata=True)` returns it together with the arrays, read from the same file.
    """
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str) or name == HEADER or not name:
            raise SerializationError(f"save: key {name!r} is not a usable name")
        array = np.asarray(value if isinstance(value, np.ndarray) else getattr(value, "data", value))
        if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
            raise SerializationError(f"save: {name!r} has dtype {array.dtype}; only numbers are saved")
        arrays[name] = np.asarray(array, order="C")
    if len(arrays) > MAX_ARRAYS:
        raise SerializationError(f"save: {len(arrays)} arrays; load accepts at most {MAX_ARRAYS}")
    header = {"format": FORMAT, "version": VERSION,
              "arrays": {n: {"shape": list(a.shape), "dtype": a.dtype.str} for n, a in arrays.items()},
              "metadata": metadata}
    try:
        text = json.dumps(header, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise SerializationError(f"save: metadata must be plain JSON (no NaN or infinity): {error}") from None
    _check_header_text("save", path, text)
    _write_atomically(os.fspath(path), lambda file: np.savez(file, **arrays, **{HEADER: np.array(text)}))


def _write_atomically(path: str, write) -> None:
    """Write through `write(file)` into a unique temporary beside `path`, fsync, rename over `path`."""
    directory, name = os.path.split(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(descriptor, "wb") as file:  # a file object, so numpy does not append '.npz'
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make a rename in `directory` survive a power cut (POSIX; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def stale_temporaries(path) -> list[str]:
    """Temporaries that a `save` to `path` left behind when its process died mid-write."""
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    prefix = f".{name}."
    return sorted(os.path.join(directory, entry) for entry in os.listdir(directory)
                  if entry.startswith(prefix) and entry.endswith(TEMPORARY_SUFFIX))


def load(path, *, max_bytes: int = DEFAULT_MAX_BYTES, with_metadata: bool = False):
    """Read a file written by `save`: a dict of arrays, or (arrays, metadata) with `with_metadata`.

    Refuses with SerializationError anything `save` would not have written, and any file whose
    arrays would need more than `max_bytes` bytes (raise it for a large file you trust).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise SerializationError(f"load: no file at {path}")
    if not os.path.isfile(path):
        raise SerializationError(f"load: {path} is not a file")
    try:
        with open(path, "rb") as file:
            if file.read(4) != b"PK\x03\x04":
                raise SerializationError(f"load: {path} is not an .npz archive (a zip file)")
            file.seek(0)
            size = os.fstat(file.fileno()).st_size
            with zipfile.ZipFile(file) as archive:
                members = _members(path, archive, size)
                if HEADER not in members:
                    raise SerializationError(f"load: {path} was not written by minigrad.save "
                                             f"(no {HEADER} header; it holds {sorted(members)[:5]})")
                header = _read_header(path, archive, members.pop(HEADER))
                declared = _check_header(path, header, members, size, max_bytes)
                arrays = {name: _read_array(path, archive, members[name], *declared[name])
                          for name in declared}
    except SerializationError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            TypeError) as error:
        raise SerializationError(f"load: {path} is truncated or not an .npz file "
                                 f"({type(error).__name__}: {error})") from error
    return (arrays, header.get("metadata")) if with_metadata else arrays


def _members(path, archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by array name, if they look like np.savez's: stored, each once, .npy."""
    infos = archive.infolist()
    if len(infos) > MAX_ARRAYS + 1:
        raise SerializationError(f"load: {path} holds {len(infos)} entries; at most {MAX_ARRAYS} arrays "
                                 "are accepted")
    members, stored = {}, 0
    for info in infos:
        if not info.filename.endswith(".npy") or info.filename[:-4] in members:
            raise SerializationError(f"load: {path} has entry {info.filename!r}; minigrad.save writes "
                                     "each name once, as NAME.npy")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1 \
                or info.file_size != info.compress_size:
            raise SerializationError(f"load: {path}: entry {info.filename!r} is compressed or encrypted; "
                                     "minigrad.save writes plain stored entries")
        stored += info.file_size
        members[info.filename[:-4]] = info
    if stored > size:  # entries that overlap to claim more data than the file holds: a zip bomb
        raise SerializationError(f"load: {path} declares {stored} bytes of entries in a file of {size}")
    return members


def _read_header(path, archive, info) -> dict:
    """The JSON header: a 0-d unicode array, size- and nesting-checked before it is parsed."""
    if info.file_size > 4 * MAX_HEADER_CHARS + MAX_NPY_HEADER:
        raise SerializationError(f"load: {path}: the {HEADER} header is {info.file_size} bytes; "
                                 f"at most {MAX_HEADER_CHARS} characters are accepted")
    with archive.open(info) as member:
        shape, dtype, fortran = _npy_header(path, HEADER, member)
        if shape != () or dtype.kind != "U":
            raise SerializationError(f"load: {path}: the {HEADER} header is {dtype} {shape}, not a string")
        data = member.read(info.file_size - member.tell() + 1)
    if len(data) != dtype.itemsize:
        raise SerializationError(f"load: {path}: the {HEADER} header is cut short or padded")
    text = str(np.frombuffer(data, dtype=dtype, count=1)[0])
    _check_header_text("load", path, text)

    def refuse_constant(name):
        raise SerializationError(f"load: {path}: the {HEADER} header holds {name}, which save never writes")
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        raise SerializationError(f"load: {path}: the {HEADER} header is not JSON ({error})") from None


def _check_header_text(who: str, path, text: str) -> None:
    """A header `load` can parse safely: bounded in length and in how deeply it nests."""
    if len(text) > MAX_HEADER_CHARS:
        raise SerializationError(f"{who}: {path}: the {HEADER} header has {len(text)} characters; "
                                 f"at most {MAX_HEADER_CHARS} are accepted")
    brackets = np.frombuffer(re.sub(r'"(?:[^"\\]|\\.)*"', "", text).encode("utf-8", "replace"), np.uint8)
    depth = np.cumsum(np.isin(brackets, (ord("["), ord("{"))).astype(np.int64)
                      - np.isin(brackets, (ord("]"), ord("}"))))
    if depth.size and depth.max() > MAX_NESTING:
        raise SerializationError(f"{who}: {path}: the {HEADER} header nests {depth.max()} levels of "
                                 f"lists and objects; at most {MAX_NESTING} are accepted")


def _check_header(path, header, members: dict, size: int, max_bytes: int) -> dict:
    """The header must name this format and describe exactly the arrays the file holds, within
    the limits: returns each array's declared (shape, dtype)."""
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != VERSION:
        found = (header.get("format"), header.get("version")) if isinstance(header, dict) else header
        raise SerializationError(f"load: {path} has header {_short(found)}; expected {FORMAT!r} "
                                 f"version {VERSION}")
    described = header.get("arrays")
    if not isinstance(described, dict) or set(described) != set(members):
        raise SerializationError(f"load: {path} header lists {_short(described)} but the file holds "
                                 f"{_short(sorted(members))}")
    declared, total = {}, 0
    for name, entry in described.items():
        shape = entry.get("shape") if isinstance(entry, dict) else None
        dtype = _numeric_dtype(entry.get("dtype")) if isinstance(entry, dict) else None
        if not isinstance(shape, list) or len(shape) > MAX_NDIM or dtype is None \
                or not all(type(n) is int and n >= 0 for n in shape):
            raise SerializationError(f"load: {path}: {name!r} is described as {_short(entry)}; expected "
                                     f"a shape of at most {MAX_NDIM} sizes ≥ 0 and a numeric dtype")
        total += math.prod(shape) * dtype.itemsize
        declared[name] = (tuple(shape), dtype)
    if total > max_bytes:
        raise SerializationError(f"load: {path} declares {total} bytes of arrays, more than max_bytes = "
                                 f"{max_bytes}; pass a larger max_bytes to load a file you trust")
    if total > size:
        raise SerializationError(f"load: {path} declares {total} bytes of arrays in a file of {size}")
    return declared


def _numeric_dtype(text):
    """The dtype `text` names if it is one save writes (bool, integer, float), else None."""
    if not isinstance(text, str):
        return None
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError):
        return None
    plain = dtype.kind in NUMERIC_KINDS and dtype.fields is None and dtype.shape == ()
    return dtype if plain and dtype.str == text else None


def _npy_header(path, name, member):
    """(shape, dtype, fortran_order) from an .npy header, parsed without evaluating code."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member, max_header_size=MAX_NPY_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member, max_header_size=MAX_NPY_HEADER)
    else:
        raise SerializationError(f"load: {path}: {name!r} is .npy version {version}, which save never writes")
    return shape, dtype, fortran


def _read_array(path, archive, info, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """One array, checked against its declared shape and dtype and its entry's size before
    the memory for it is allocated."""
    name = info.filename[:-4]
    with archive.open(info) as member:
        found_shape, found_dtype, fortran = _npy_header(path, name, member)
        if found_shape != shape or found_dtype.str != dtype.str:
            raise SerializationError(f"load: {path}: {name!r} is {found_shape} {found_dtype.str} "
                                     f"but the header says {list(shape)} {dtype.str}")
        count = math.prod(shape)
        if info.file_size - member.tell() != count * dtype.itemsize:
            raise SerializationError(f"load: {path}: {name!r} holds {info.file_size - member.tell()} "
                                     f"bytes of data; {shape} {dtype.str} needs {count * dtype.itemsize}")
        flat = np.empty(count, dtype=dtype)
        buffer, filled = memoryview(flat.view(np.uint8)), 0
        while filled < len(buffer):
            read = member.readinto(buffer[filled:])
            if not read:
                raise SerializationError(f"load: {path}: {name!r} is cut short")
            filled += read
        member.read(1)  # reaching the end makes zipfile check the entry's CRC
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _short(value, limit: int = 200) -> str:
    """repr of a value from an untrusted header, cut so one message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
