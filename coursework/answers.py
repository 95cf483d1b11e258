"""The child's answers, read as data: JSON lines checked in structure, type and size (never pickle)."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import numpy as np

from coursework.child import DTYPES  # what the child may answer, and all the grader reads
LARGEST_ARRAY = 1 << 22   # elements in one answered array
DEEPEST = 8               # lists and dicts within each other
LONGEST_TEXT = 100_000    # characters in one answered string


class Malformed(ValueError):
    """An answer that is not of the format: it counts as no answer."""


@dataclass(frozen=True)
class Answer:
    """What a probe gave: a value, the exception it raised (`error`: type and message), or, when it
    never answered (a timeout, a crash), `failure`: why not."""
    value: object = None
    error: tuple | None = None
    failure: str | None = None


def decode(encoded, depth: int = 0):
    """The value an encoded answer stands for; Malformed if it breaks the format."""
    if depth > DEEPEST:
        raise Malformed(f"nested more than {DEEPEST} deep")
    if encoded is None or isinstance(encoded, (bool, int, float)):
        return encoded
    if isinstance(encoded, str):
        if len(encoded) > LONGEST_TEXT:
            raise Malformed(f"a string of {len(encoded)} characters")
        return encoded
    if not isinstance(encoded, dict) or len(encoded) != 1:
        raise Malformed(f"a {type(encoded).__name__} where a value was expected")
    (kind, content), = encoded.items()
    if kind == "list" and isinstance(content, list):
        return [decode(item, depth + 1) for item in content]
    if kind == "dict" and isinstance(content, dict):
        return {str(key): decode(item, depth + 1) for key, item in content.items()}
    if kind == "ndarray" and isinstance(content, dict):
        return _array(content)
    raise Malformed(f"an unknown kind of value {kind!r}")


def _array(content: dict) -> np.ndarray:
    dtype, shape, data = content.get("dtype"), content.get("shape"), content.get("data")
    if dtype not in DTYPES:
        raise Malformed(f"an array of dtype {dtype!r}")
    if not (isinstance(shape, list) and len(shape) <= 32
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n for n in shape)):
        raise Malformed(f"an array of shape {shape!r}")
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size > LARGEST_ARRAY:
        raise Malformed(f"an array of {size} elements (at most {LARGEST_ARRAY})")
    if not isinstance(data, str):
        raise Malformed("an array without its data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Malformed(f"an array whose data is not base64: {error}") from None
    if len(raw) != size * np.dtype(dtype).itemsize:
        raise Malformed(f"an array of shape {tuple(shape)} and dtype {dtype} with {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def parse_line(line: bytes) -> dict:
    """One record of the child: {"start": id} or {"answer": id, "value" | "error": …}."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise Malformed(f"a line that is not JSON: {error}") from None
    if not isinstance(record, dict):
        raise Malformed("a record that is not an object")
    if set(record) == {"start"} and isinstance(record["start"], str):
        return record
    if "answer" not in record or not isinstance(record["answer"], str):
        raise Malformed(f"a record with keys {sorted(record)[:5]}")
    if set(record) == {"answer", "value"}:
        return {"answer": record["answer"], "result": Answer(value=decode(record["value"]))}
    error = record.get("error")
    if set(record) == {"answer", "error"} and isinstance(error, dict) and set(error) == {"type", "message"} \
            and all(isinstance(error[k], str) for k in error):
        return {"answer": record["answer"], "result": Answer(error=(error["type"][:200], error["message"][:2000]))}
    raise Malformed("an answer that is neither a value nor an error")
