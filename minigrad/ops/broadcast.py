"""Broadcasting's gradient: a value copied along an axis in forward sums its gradients in backward.

If `a` of shape (3, 1) is added to `b` of shape (3, 4), each a[i, 0] was used 4 times, so its
gradient is the sum of those 4 gradients: sum over axis 1, keeping the axis.

`broadcast_axes` is the one place that decides which axes those are: backward's `sum_to_shape`
and the drawn "Σ axis k" edge labels (`summed_axes`) both ask it.
"""
from __future__ import annotations

import numpy as np


def broadcast_axes(shape: tuple, out_shape: tuple) -> tuple:
    """The axes of `out_shape` along which an input of `shape` was repeated by broadcasting."""
    # BEGIN SOLUTION 1.5
    extra = len(out_shape) - len(shape)
    repeated = [i + extra for i, n in enumerate(shape) if n == 1 and out_shape[i + extra] != 1]
    return tuple(range(extra)) + tuple(repeated)
    # END SOLUTION


def summed_broadcast_axes(shape: tuple, out_shape: tuple) -> tuple:
    """The broadcast axes that really sum several values (an axis of size 1 in the output sums one)."""
    return tuple(ax for ax in broadcast_axes(shape, out_shape) if out_shape[ax] != 1)


def summed_axes(fn, input_shape: tuple, out_shape: tuple) -> tuple:
    """The output axes over which `fn`'s backward sums the gradient of an input of `input_shape`.

    `fn.broadcast_core` says how the op broadcasts: None, not at all; k, all but the last k axes
    of each operand (0 for elementwise ops, 2 for MatMul's batch axes around its matrices).
    """
    core = fn.broadcast_core
    if core is None or len(input_shape) < core or len(out_shape) < core:
        return ()
    if core:
        input_shape, out_shape = input_shape[:-core], out_shape[:-core]
    return summed_broadcast_axes(input_shape, out_shape)


def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` over the broadcast axes so it has the input's `shape` again."""
    if grad.shape == shape:
        return grad
    # BEGIN SOLUTION 1.5
    axes = broadcast_axes(shape, grad.shape)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)
    # END SOLUTION
