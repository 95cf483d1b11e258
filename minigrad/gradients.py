"""Gradient accumulation: summing the gradients a tensor gets from its several consumers; the
sparse gradient of an index (a SliceGradient), added in place instead of as zeros; and a gradient
kept as the two factors of a matrix product (a FactoredGradient), multiplied out once.
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


class FactoredGradient:
    """The gradient left @ right, kept as its two factors: left (…, n, r) and right (…, r, m), r small.

    c<t> = α<t,·> · a sends a the gradient α<t,·>ᵀ g<t> at every decoder step: per sequence an
    outer product (r = 1) as large as a. Made and summed one at a time, that is Ty arrays of a's
    size written and added; kept as factors (`accumulate_factored`), the Ty gradients stack into
    one left (…, n, Ty) and one right (…, Ty, m) and their sum is one batched matmul when a's turn
    comes in backward (bench/bench_factored.py: the backward of 10 contexts on a (100, 30, 64)
    took 0.60 of its time made one by one). `np.asarray` gives the array.
    """
    __slots__ = ("shape", "lefts", "rights", "rank")

    def __init__(self, left: np.ndarray, right: np.ndarray):
        self.shape = np.broadcast_shapes(left.shape[:-2], right.shape[:-2]) + (left.shape[-2], right.shape[-1])
        self.lefts, self.rights, self.rank = [left], [right], left.shape[-1]

    def dense(self, dtype=None) -> np.ndarray:
        """The sum as one array: the factors multiplied out (one matmul)."""
        if len(self.lefts) == 1 and self.rank == 1:  # one outer product
            product = self.lefts[0] * self.rights[0]  # a broadcast multiply: faster than matmul's loop over the batch
        else:
            batch = self.shape[:-2]
            left = np.concatenate([np.broadcast_to(x, batch + x.shape[-2:]) for x in self.lefts], axis=-1)
            right = np.concatenate([np.broadcast_to(y, batch + y.shape[-2:]) for y in self.rights], axis=-2)
            product = left @ right
        return product if dtype is None else product.astype(dtype, copy=False)

    def __array__(self, dtype=None, copy=None):
        return self.dense(dtype)

    def __repr__(self):
        return f"FactoredGradient(shape {self.shape}, left @ right of rank {self.rank})"


def is_basic_index(index) -> bool:
    """Whether `index` is numpy's basic indexing (ints, slices, None, ...), whose result is a view."""
    for item in (index if type(index) is tuple else (index,)):
        if not (type(item) is slice or item is None or item is Ellipsis or isinstance(item, (int, np.integer))):
            return False
    return True


def dense(grad) -> np.ndarray:
    """A gradient as a full array (a SliceGradient filled in with its zeros, a FactoredGradient multiplied out)."""
    return grad.dense() if type(grad) is SliceGradient or type(grad) is FactoredGradient else grad


def accumulate(pending: dict, owned: set, tensor, grad_input) -> None:
    """Add one consumer's gradient into `pending[tensor]`, in place when this pass owns that array.

    An array a Function returned may be shared (Add passes its gradient on to both inputs), so
    it is never written to: the first addition into it copies it into a new array, which is
    then owned. Every pending gradient is an ndarray, also for a 0-d tensor: numpy arithmetic
    on 0-d arrays returns immutable scalars, and a `+=` into a scalar would be lost.
    A FactoredGradient goes to `accumulate_factored` instead.
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


def accumulate_factored(factored: dict, pending: dict, owned: set, tensor, grad: FactoredGradient) -> None:
    """Add a FactoredGradient's factors to `factored[tensor]`, the tensor's factors of this pass, kept
    apart from its other gradients (in `pending`). Once they would hold more numbers than their
    product (rank r · (n + m) > n · m) they are multiplied out and summed with those (`accumulate`),
    so a long decoder never holds more than one array's worth."""
    total = factored.get(tensor)
    if total is None:
        total = factored[tensor] = FactoredGradient(grad.lefts[0], grad.rights[0])
        more = zip(grad.lefts[1:], grad.rights[1:])
    else:
        more = zip(grad.lefts, grad.rights)
    for left, right in more:
        total.lefts.append(left)
        total.rights.append(right)
        total.rank += left.shape[-1]
    n, m = total.shape[-2:]
    if total.rank * (n + m) > n * m:
        del factored[tensor]
        accumulate(pending, owned, tensor, total.dense(tensor._data.dtype))


def multiplied_out(total: FactoredGradient, rest, dtype) -> np.ndarray:
    """A tensor's whole gradient at its turn: its factors' product plus the rest (None if it had none)."""
    product = total.dense(dtype)
    if rest is not None:
        product += rest  # the product is this pass's own array
    return product
