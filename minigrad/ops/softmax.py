"""Softmax and log-softmax as one op each, with their analytic vector-Jacobian products.

(`functional.composed_softmax` builds softmax from Sub, Exp, Sum and Div, so a graph can show
the formula; `mg.softmax` is this one op, everywhere.)
"""
from __future__ import annotations

import numpy as np

from minigrad.function import Function


class Softmax(Function):
    """y = exp(x - max x) / Σ exp(x - max x) along `axis` (subtracting the max changes nothing but overflow).

    Jacobian ∂yᵢ/∂xⱼ = yᵢ(δᵢⱼ - yⱼ), so the gradient is gx = y ⊙ (g - Σⱼ gⱼ yⱼ).
    """
    __slots__ = ("axis",)

    def forward(self, x, axis: int):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        y = e / e.sum(axis=axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        # BEGIN SOLUTION 2.1
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)
        # END SOLUTION


class LogSoftmax(Function):
    """y = x - max x - log Σ exp(x - max x) along `axis`.

    ∂yᵢ/∂xⱼ = δᵢⱼ - softmax(x)ⱼ, so gx = g - softmax(x) ⊙ Σⱼ gⱼ, with softmax(x) = exp(y).

    Written as gx = g·(1 - p) - p·(Σⱼ gⱼ - g) with p = exp(y) and 1 - p = -expm1(y): where one
    class has p ≈ 1 and a huge g (the log of a tiny loss), g - p·Σg would cancel to noise.
    """
    __slots__ = ("axis",)

    def forward(self, x, axis: int):
        self.axis = axis
        # BEGIN SOLUTION 2.2
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.save_for_backward(y)
        return y
        # END SOLUTION

    def backward(self, g):
        (y,) = self.saved
        # BEGIN SOLUTION 2.2
        p = np.exp(y)
        return (-np.expm1(y) * g - p * (g.sum(axis=self.axis, keepdims=True) - g),)
        # END SOLUTION
