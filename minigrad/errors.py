"""The engine's errors, and the helpers every minigrad message is written with.

Every message names the op, the shapes involved and the user's source line (`describe`,
`op_error`, `format_location`), so a student reading a traceback learns *which* tensor of
*their* code was wrong, not just that numpy was unhappy somewhere inside the library.

The errors of the other parts live beside the code that raises them, all MinigradErrors:
StateDictError (nn/module.py), GradcheckError (gradcheck.py), ExportError (onnx.py),
GraphTooLargeError (viz/draw.py), GraphvizNotInstalledError and UnsupportedFormatError
(viz/render.py).
"""
from __future__ import annotations

import os
import sys

import numpy as np

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class MinigradError(Exception):
    """Base class of every error minigrad raises on purpose."""


class OpError(MinigradError, ValueError, IndexError):
    """An op refused its inputs (shapes that do not fit, an axis or index out of range).

    It is both a ValueError and an IndexError, as numpy's AxisError is, so code that
    catches the numpy error it replaces keeps working.
    """


class GradError(MinigradError, RuntimeError):
    """backward() was asked for something that has no gradient."""


class DTypeError(MinigradError, TypeError):
    """Data that is not numeric, or an integer tensor asked to require grad."""


class SerializationError(MinigradError, ValueError):
    """A file that minigrad.load cannot trust: truncated, foreign or mismatched."""


class AnomalyError(MinigradError, FloatingPointError):
    """detect_anomaly() found a NaN or an infinity."""


def user_location() -> tuple[str, int]:
    """(file, line) of the innermost frame outside minigrad: the user's line that made a node.

    Walking up a few frames is the whole cost, cheap enough to pay on every op. The walk starts
    at the caller's caller: the caller is minigrad's own, and every frame looked at is one more
    frame object Python makes on the hottest path.
    """
    try:
        frame = sys._getframe(2)
    except ValueError:  # called with nothing below the caller (not from Python code)
        return ("<minigrad>", 0)
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return ("<minigrad>", 0)
    location = (frame.f_code.co_filename, frame.f_lineno)
    return _LOCATIONS.setdefault(location, location)


# Each (file, line) once: the nodes made on one line share one tuple, which leaves one object
# fewer per op for the garbage collector to count (a program has only so many lines).
_LOCATIONS: dict = {}


def format_location(location: tuple[str, int]) -> str:
    """'path/to/file.py:12', relative to the working directory when it lies below it."""
    filename, line = location
    if os.path.isabs(filename):
        relative = os.path.relpath(filename)
        if not relative.startswith(".."):
            filename = relative
    return f"{filename}:{line}"


def describe(tensor) -> str:
    """One line a student can match to their code: name, shape, dtype and where it was made."""
    name = f"'{tensor.name}' " if tensor.name else ""
    made_by = f" = {type(tensor.grad_fn).__name__}(...)" if tensor.grad_fn is not None else ""
    return (f"{name}shape {tensor.shape} {tensor.dtype}{made_by}, "
            f"created at {format_location(tensor.created_at)}")


def op_error(op: str, problem: str, tensors=(), error_type=OpError) -> MinigradError:
    """Build the error for `op` failing on `tensors`, called from the user's current line."""
    lines = [f"{op}: {problem}", f"  called at {format_location(user_location())}"]
    lines += [f"  input {i}: {describe(t)}" for i, t in enumerate(tensors)]
    return error_type("\n".join(lines))


def non_finite_origin(result, sources) -> str:
    """'NaN' or 'inf' found in `result`, and whether one of `sources` ([(what, array)], the values
    the op read) already held it or the op made it from finite values."""
    bad = "NaN" if np.isnan(result).any() else "inf"
    carried = [what for what, array in sources
               if np.asarray(array).dtype.kind == "f" and not np.all(np.isfinite(array))]
    if carried:
        return f"{bad}, which was already in {' and '.join(carried)}"
    return f"{bad}, made by the op itself: every value it read was finite"
