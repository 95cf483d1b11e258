"""Reductions over axes. In backward the gradient of the reduced output is spread back over
the axes that were reduced: copied (Sum), divided by the count (Mean), or routed to the
maxima (Max).
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.function import Function


def _axes(axis, ndim: int) -> tuple:
    """`axis` (None, an int or a tuple, maybe negative) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    normalised = []
    for ax in axes:
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis {ax} is out of range for a tensor of {ndim} dimensions")
        normalised.append(ax % ndim)
    return tuple(sorted(normalised))


def _expand(g: np.ndarray, axes: tuple, keepdims: bool) -> np.ndarray:
    """Put back the reduced axes as size-1 axes, so g broadcasts against the input."""
    return g if keepdims else np.expand_dims(g, axes)


class Sum(Function):
    """c = Σ_axes a.    ∂c/∂a[i] = 1:  ga = g broadcast back to a's shape."""
    __slots__ = ("axes", "keepdims", "input_shape")

    def forward(self, a, axis=None, keepdims=False):
        self.axes = _axes(axis, a.ndim)
        self.keepdims = keepdims
        self.input_shape = a.shape
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        shape = self.input_shape
        # BEGIN SOLUTION 1.4
        return (np.broadcast_to(_expand(g, self.axes, self.keepdims), shape),)
        # END SOLUTION


class Mean(Function):
    """c = (1/n) Σ_axes a, n the number of elements reduced.    ga = g/n broadcast back."""
    __slots__ = ("axes", "keepdims", "input_shape")

    def forward(self, a, axis=None, keepdims=False):
        self.axes = _axes(axis, a.ndim)
        self.keepdims = keepdims
        self.input_shape = a.shape
        if self.count() == 0:  # the mean of nothing is nan, as torch's, without numpy's warnings
            return a.sum(axis=self.axes, keepdims=keepdims) * np.nan
        return a.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        shape, count = self.input_shape, self.count()
        if count == 0:  # no element to send a gradient to
            return (np.zeros(shape, dtype=g.dtype),)
        return (np.broadcast_to(_expand(g, self.axes, self.keepdims) / count, shape),)

    def count(self) -> int:
        """n, the number of elements each output averages."""
        return math.prod(self.input_shape[ax] for ax in self.axes)


class Max(Function):
    """c = max_axes a.    ∂c/∂a[i] = 1 where a[i] is the maximum, else 0.

    When several elements tie for the maximum the gradient is shared equally among them
    (as torch.amax does), so the gradient still sums to g.
    """
    __slots__ = ("axes", "keepdims")

    def forward(self, a, axis=None, keepdims=False):
        self.axes = _axes(axis, a.ndim)
        self.keepdims = keepdims
        empty = [ax for ax in self.axes if a.shape[ax] == 0]
        if empty:  # elsewhere an empty input gives an empty result, as in numpy
            raise ValueError(f"cannot take the max over axis {empty[0]} of shape {a.shape}: it has "
                             "no elements, so there is no maximum")
        c = a.max(axis=self.axes, keepdims=True)
        self.save_for_backward(a == c)
        return c if keepdims else np.squeeze(c, axis=self.axes)

    def backward(self, g):
        (is_max,) = self.saved
        # BEGIN SOLUTION 1.4
        share = is_max / is_max.sum(axis=self.axes, keepdims=True)
        return (_expand(g, self.axes, self.keepdims) * share,)
        # END SOLUTION
