"""Faster routes to MatMul's product and gradients for shapes the models use on every step.

They give the textbook rule's numbers (ops/linalg.py; tests/test_ops.py compares the two) and
are kept here so the student's MatMul.backward is only that rule.
"""
from __future__ import annotations

import numpy as np

from minigrad.gradients import FactoredGradient
from minigrad.modes import MODES
from minigrad.ops.broadcast import sum_to_shape


def matmul_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b. Rows of a batch times one weight (a (…, n, k), b (k, m), a Dense layer over a
    sequence) are one GEMM over all the rows, where numpy runs one per batch item (2× faster
    for the attention scorer's (100, 30, 128) · (128, 10))."""
    if a.ndim > 2 and b.ndim == 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[1:])
    return np.matmul(a, b)


def matmul_backward_shortcut(g, a, b, needs_a: bool, needs_b: bool) -> tuple | None:
    """(ga, gb) of C = a @ b by a faster route when one applies, else None.

    - Rows times one weight (a (…, n, k), b (k, m), a Dense layer over a sequence): the batch
      axes fold into one GEMM, and b's gradient needs no sum over them afterwards.
    - A contracted axis of length 1 in a gradient (a (…, 1, k), one query row, as α<t,·> in
      c<t> = α<t,·> · a; or b (…, k, 1)): an outer product, kept as its two factors (see
      `_gradient`), or made as a broadcast multiply, several times faster than a matmul.
    - Two matrices (h W in every cell step): the two GEMMs alone, without the rule's
      promotion of vectors, sums over batch axes and reshapes.
    """
    if a.ndim > 2 and b.ndim == 2:
        k, m = b.shape
        g_rows = g.reshape(-1, m)
        ga = _product(g_rows, b.T).reshape(a.shape) if needs_a else None
        gb = a.reshape(-1, k).T @ g_rows if needs_b else None
        return ga, gb
    if a.ndim >= 2 and b.ndim >= 2 and (a.shape[-2] == 1 or b.shape[-1] == 1):
        ga = _gradient(g, np.swapaxes(b, -1, -2), a.shape) if needs_a else None
        gb = _gradient(np.swapaxes(a, -1, -2), g, b.shape) if needs_b else None
        return ga, gb
    if a.ndim == 2 and b.ndim == 2:
        return (g @ b.T if needs_a else None), (a.T @ g if needs_b else None)
    return None


def _gradient(x: np.ndarray, y: np.ndarray, shape: tuple):
    """x @ y summed to an input's `shape`. An outer product of that very shape (the contracted axis
    has length 1 and no batch axis was broadcast) is kept as its factors (a FactoredGradient): c<t> =
    α<t,·> · a sends one to a from each decoder step, and backward multiplies them out in one matmul."""
    if x.shape[-1] == 1 and MODES.factored_gradients and \
            np.broadcast_shapes(x.shape[:-2], y.shape[:-2]) + (x.shape[-2], y.shape[-1]) == shape:
        # copies: the values of now, whatever a hook or a paused student writes before the product is made
        return FactoredGradient(np.array(x), np.array(y))
    return sum_to_shape(_product(x, y), shape)


def _product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y, as a broadcast multiply when the contracted axis has length 1."""
    return x * y if x.shape[-1] == 1 else x @ y
