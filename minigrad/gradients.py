"""Gradient accumulation: summing the gradients a tensor gets from its several consumers,
and the sparse gradient of an index (a SliceGradient), added in place instead of as zeros.
"""
from __future__ import annotations

import numpy as np

# A gather's gradient (x[rows] with an integer array, as an embedding lookup) is added row by row:
# sorted by row, each run of one row summed, the sums added. For few distinct rows a Python loop
# over the runs beats np.add.reduceat's row loop; above this many, reduceat's one call wins.
# (tests/test_index_gradients.py checks both sides of the switch against np.add.at.)
REDUCEAT_ABOVE_RUNS = 64


class SliceGradient:
    """The gradient of a[index] with respect to a: `values` at `index`, zeros elsewhere, kept sparse.

    A sequence read one timestep at a time (x[:, t]) sends Tx slice gradients back to x. As
    full-size arrays of zeros that would be Tx full-size allocations and additions; kept sparse,
    backward adds each slice into one buffer in place.
    """
    __slots__ = ("shape", "index", "values")

    def __init__(self, shape: tuple, index, values: np.ndarray):
        self.shape, self.index, self.values = shape, index, values

    def add_to(self, buffer: np.ndarray) -> np.ndarray:
        """buffer[index] += values, counting an index that repeats (a gather) once per repeat."""
        if is_basic_index(self.index):  # no element is picked twice
            view = buffer[self.index]
            if type(view) is np.ndarray:  # a view: add in place, no copy back
                view += self.values
            else:  # an int for every axis gives a scalar, not a view
                buffer[self.index] += self.values
        elif isinstance(self.index, np.ndarray) and self.index.dtype.kind in "iu":
            self._add_gathered_rows(buffer)
        else:
            np.add.at(buffer, self.index, self.values)  # general, and slow
        return buffer

    def _add_gathered_rows(self, buffer: np.ndarray) -> None:
        """A gather of rows: sort the values by row, sum each row's run, add the sums (faster than
        np.add.at). Rows are written through `buffer[...]`, never through a reshape of it: a
        reshape of a transposed or strided buffer is a copy, and the sums would go into the copy.
        """
        rows = self.index.reshape(-1)
        if rows.size == 0:  # an empty gather picked nothing
            return
        rows = np.where(rows < 0, rows + buffer.shape[0], rows)  # -1 and n-1 are one row
        order = np.argsort(rows, kind="stable")
        values = self.values.reshape((rows.size,) + buffer.shape[1:]).take(order, axis=0)
        rows = rows[order]
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        if len(starts) > REDUCEAT_ABOVE_RUNS:
            buffer[rows[starts]] += np.add.reduceat(values, starts, axis=0)
            return
        for start, end in zip(starts, np.append(starts[1:], rows.size)):
            buffer[rows[start]] += values[start:end].sum(axis=0)

    def dense(self, dtype=None) -> np.ndarray:
        buffer = np.zeros(self.shape, dtype=dtype or self.values.dtype)
        if is_basic_index(self.index):
            buffer[self.index] = self.values  # one write, where adding would read the zeros too
            return buffer
        return self.add_to(buffer)


def is_basic_index(index) -> bool:
    """Whether `index` is numpy's basic indexing (ints, slices, None, ...), whose result is a view."""
    for item in (index if type(index) is tuple else (index,)):
        if not (type(item) is slice or item is None or item is Ellipsis or isinstance(item, (int, np.integer))):
            return False
    return True


def dense(grad) -> np.ndarray:
    """A gradient as a full array (a SliceGradient filled in with its zeros)."""
    return grad.dense() if type(grad) is SliceGradient else grad


def accumulate(pending: dict, owned: set, tensor, grad_input) -> None:
    """Add one consumer's gradient into `pending[tensor]`, in place when this pass owns that array.

    An array a Function returned may be shared (Add passes its gradient on to both inputs), so
    it is never written to: the first addition into it copies it into a new array, which is
    then owned. Every pending gradient is an ndarray, also for a 0-d tensor: numpy arithmetic
    on 0-d arrays returns immutable scalars, and a `+=` into a scalar would be lost.
    """
    dtype = tensor._data.dtype
    previous = pending.get(tensor)
    if type(grad_input) is SliceGradient:
        if previous is None:
            pending[tensor] = grad_input.dense(dtype)
        elif tensor in owned:
            grad_input.add_to(previous)
            return
        else:
            pending[tensor] = grad_input.add_to(np.array(previous, dtype=dtype))
        owned.add(tensor)
        return
    if type(grad_input) is not np.ndarray or grad_input.dtype != dtype:
        grad_input = np.asarray(grad_input, dtype=dtype)
    if previous is None:
        pending[tensor] = grad_input
    elif tensor in owned:
        previous += grad_input
    else:
        # the sum in a new array this pass owns; out= keeps it an array when the tensor is 0-d
        pending[tensor] = np.add(previous, grad_input, out=np.empty_like(previous))
        owned.add(tensor)
