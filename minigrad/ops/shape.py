"""Ops that move elements without changing them. Their backward moves the gradient back:
the inverse reshape or permutation, the scatter of a gather, the split of a concat.
"""
from __future__ import annotations

import numpy as np

from minigrad.function import Function
from minigrad.gradients import SliceGradient
from minigrad.ops.broadcast import sum_to_shape


class Reshape(Function):
    """c = a viewed with another shape (same elements, same order).    ga = g reshaped to a's shape."""
    __slots__ = ("input_shape",)

    def forward(self, a, shape: tuple):
        self.input_shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.input_shape),)


class BroadcastTo(Function):
    """c = a repeated along new or size-1 axes to `shape` (numpy broadcasting, Keras' RepeatVector).

    Each element of a is used once per repeat, so ga = g summed over the repeated axes.
    """
    __slots__ = ("input_shape",)
    broadcast_core = 0

    def forward(self, a, shape: tuple):
        self.input_shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return (sum_to_shape(g, self.input_shape),)


class Transpose(Function):
    """c = a with its axes permuted: c.shape[i] = a.shape[axes[i]].    ga = g permuted back by the inverse."""
    __slots__ = ("axes",)

    def forward(self, a, axes: tuple):
        in_range = all(-a.ndim <= ax < a.ndim for ax in axes)
        if not in_range or sorted(ax % a.ndim for ax in axes) != list(range(a.ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {a.ndim} axes of shape {a.shape}")
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        return (g.transpose(np.argsort([ax % g.ndim for ax in self.axes])),)


class GetItem(Function):
    """c = a[index]: slices, ints, or integer arrays (a gather, as an embedding lookup).

    ga = zeros like a, with g added at the indexed places. An integer array may pick the
    same row twice, so the scatter *adds* rather than assigns. The gradient is returned sparse
    (a SliceGradient): backward adds it into the input's gradient without a full array of zeros.
    """
    __slots__ = ("index", "input_shape")

    def forward(self, a, index):
        self.index, self.input_shape = index, a.shape
        return a[index]

    def backward(self, g):
        return (SliceGradient(self.input_shape, self.index, g),)


class Gather(Function):
    """c = take_along_axis(a, index, axis): one element of a per position (cross-entropy's pick).

    ga = zeros like a, with g put back at the picked places (each place is picked once).
    """
    __slots__ = ("index", "axis", "input_shape")

    def forward(self, a, index, axis: int):
        self.index, self.axis, self.input_shape = index, axis, a.shape
        return np.take_along_axis(a, index, axis=axis)

    def backward(self, g):
        ga = np.zeros(self.input_shape, dtype=g.dtype)
        np.put_along_axis(ga, self.index, g, axis=self.axis)
        return (ga,)


class Concat(Function):
    """c = [a₁; a₂; …] joined along `axis`.    gaᵢ = the slice of g where aᵢ sits."""
    __slots__ = ("axis", "sizes")

    def forward(self, *arrays, axis: int):
        joined = np.concatenate(arrays, axis=axis)
        self.axis, self.sizes = axis, [array.shape[axis] for array in arrays]
        return joined

    def backward(self, g):
        prefix = (slice(None),) * (self.axis % g.ndim)
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad):
            grads.append(g[prefix + (slice(start, start + size),)] if needed else None)
            start += size
        return tuple(grads)


class Stack(Function):
    """c = the inputs stacked along a new `axis`.    gaᵢ = g indexed at i along that axis."""
    __slots__ = ("axis",)

    def forward(self, *arrays, axis: int):
        self.axis = axis
        return np.stack(arrays, axis=axis)

    def backward(self, g):
        pieces = np.moveaxis(g, self.axis, 0)
        return tuple(piece if needed else None for piece, needed in zip(pieces, self.needs_input_grad))
