"""Elementwise ops. `g` is the gradient flowing into the output c; each input's gradient is
g times the local derivative, summed back over broadcast axes (see broadcast.py).
"""
from __future__ import annotations

import numpy as np

from minigrad.function import Function
from minigrad.ops.broadcast import sum_to_shape


class BroadcastingFunction(Function):
    """A binary op whose inputs broadcast against each other: backward sums each input's
    gradient back to that input's shape (see broadcast.py)."""
    __slots__ = ()
    broadcast_core = 0


class Add(BroadcastingFunction):
    """c = a + b.    ∂c/∂a = 1, ∂c/∂b = 1:  ga = g, gb = g (each summed to its shape)."""
    __slots__ = ("shapes",)

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        a_shape, b_shape = self.shapes
        needs_a, needs_b = self.needs_input_grad
        # BEGIN SOLUTION 1.1
        return (sum_to_shape(g, a_shape) if needs_a else None,
                sum_to_shape(g, b_shape) if needs_b else None)
        # END SOLUTION


class Sub(BroadcastingFunction):
    """c = a - b.    ga = g, gb = -g."""
    __slots__ = ("shapes",)

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        a_shape, b_shape = self.shapes
        needs_a, needs_b = self.needs_input_grad
        return (sum_to_shape(g, a_shape) if needs_a else None,
                sum_to_shape(-g, b_shape) if needs_b else None)


class Mul(BroadcastingFunction):
    """c = a · b (elementwise).    ∂c/∂a = b, ∂c/∂b = a:  ga = g·b, gb = g·a."""
    __slots__ = ()

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        needs_a, needs_b = self.needs_input_grad
        # BEGIN SOLUTION 1.1
        return (sum_to_shape(g * b, a.shape) if needs_a else None,
                sum_to_shape(g * a, b.shape) if needs_b else None)
        # END SOLUTION


class Div(BroadcastingFunction):
    """c = a / b.    ∂c/∂a = 1/b, ∂c/∂b = -a/b² = -c/b:  ga = g/b, gb = -g·c/b."""
    __slots__ = ("shapes",)

    def forward(self, a, b):
        c = a / b
        self.shapes = a.shape, b.shape
        self.save_for_backward(b, c)
        return c

    def backward(self, g):
        b, c = self.saved
        a_shape, b_shape = self.shapes
        needs_a, needs_b = self.needs_input_grad
        ga = g / b
        return (sum_to_shape(ga, a_shape) if needs_a else None,
                sum_to_shape(-ga * c, b_shape) if needs_b else None)


class Neg(Function):
    """c = -a.    ga = -g."""
    __slots__ = ()

    def forward(self, a):
        return -a

    def backward(self, g):
        return (-g,)


class Pow(Function):
    """c = a^p for a number p.    ∂c/∂a = p·a^(p-1):  ga = g·p·a^(p-1).

    For p = 0, c = 1 everywhere and ga = 0, also at a = 0 where p·a^(p-1) would be 0·∞ (as PyTorch).
    """
    __slots__ = ("exponent",)

    def forward(self, a, exponent: float):
        self.exponent = exponent
        self.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf is the answer
            return a ** exponent

    def backward(self, g):
        (a,) = self.saved
        p = self.exponent
        if p == 0:
            return (np.zeros_like(g),)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * p * a ** (p - 1),)


class TensorPow(BroadcastingFunction):
    """c = a^b for tensors a and b (either may be a constant, as in 2.0 ** x).

    ∂c/∂a = b·a^(b-1):  ga = g·b·a^(b-1), 0 where b = 0 (as Pow).
    ∂c/∂b = aᵇ·ln a = c·ln a:  gb = g·c·ln a, 0 where a = 0 and b ≥ 0 (c is 0 or 1 there and
    does not move with b; PyTorch's choice too).
    """
    __slots__ = ()

    def forward(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            c = a ** b
        self.save_for_backward(a, b, c)
        return c

    def backward(self, g):
        a, b, c = self.saved
        needs_a, needs_b = self.needs_input_grad
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if needs_a:
                ga = sum_to_shape(np.where(b == 0, 0.0, g * b * a ** (b - 1)), a.shape)
            if needs_b:
                gb = sum_to_shape(np.where((a == 0) & (b >= 0), 0.0, g * c * np.log(a)), b.shape)
        return (None if ga is None else ga.astype(g.dtype, copy=False),
                None if gb is None else gb.astype(g.dtype, copy=False))


class Exp(Function):
    """c = eᵃ.    ∂c/∂a = eᵃ = c:  ga = g·c."""
    __slots__ = ()

    def forward(self, a):
        c = np.exp(a)
        self.save_for_backward(c)
        return c

    def backward(self, g):
        (c,) = self.saved
        # BEGIN SOLUTION 1.3
        return (g * c,)
        # END SOLUTION


class Log(Function):
    """c = ln a.    ∂c/∂a = 1/a:  ga = g/a."""
    __slots__ = ()

    def forward(self, a):
        self.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf is the answer
            return np.log(a)

    def backward(self, g):
        (a,) = self.saved
        # BEGIN SOLUTION 1.3
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / a,)
        # END SOLUTION


class Tanh(Function):
    """c = tanh a.    ∂c/∂a = 1 - tanh²a = 1 - c²:  ga = g·(1 - c²)."""
    __slots__ = ()

    def forward(self, a):
        c = np.tanh(a)
        self.save_for_backward(c)
        return c

    def backward(self, g):
        (c,) = self.saved
        # BEGIN SOLUTION 1.3
        return (g * (1 - c * c),)
        # END SOLUTION


class Sigmoid(Function):
    """c = σ(a) = 1 / (1 + e⁻ᵃ) = eᵃ / (1 + eᵃ).    ∂c/∂a = σ(a)(1 - σ(a)) = c(1 - c):  ga = g·c·(1 - c).

    Computed as eᵃ / (1 + eᵃ) with a clipped from above at 88 in float32 (709 in float64): eᵃ
    stays finite, and σ is already 1 there (1 - σ(88) = 6e-39 is below half float32's epsilon),
    so the clip changes no value. Nothing subtracts, so σ keeps its relative precision for very
    negative a (σ(-40) = 4.2e-18, not 0) down to where eᵃ underflows, about -745 in float64.
    Other float dtypes use e = e^-|a|, which never overflows: 1 / (1 + e) for a ≥ 0, e / (1 + e)
    for a < 0; integers and bools are computed in float32.
    """
    __slots__ = ()

    def forward(self, a):
        top = _SIGMOID_IS_ONE_ABOVE.get(a.dtype)
        if top is None and a.dtype.kind != "f":  # integers and bools give float32, as torch.sigmoid
            a = a.astype(np.float32)
            top = _SIGMOID_IS_ONE_ABOVE[a.dtype]
        if top is None:
            e = np.exp(-np.abs(a))
            c = np.where(a >= 0, 1, e) / (1 + e)
        else:  # four passes over one array (out=: an array also when a is 0-d)
            c = np.minimum(a, top, out=np.empty(a.shape, a.dtype))
            np.exp(c, out=c)
            c = np.divide(c, c + 1, out=c)
        self.save_for_backward(c)
        return c

    def backward(self, g):
        (c,) = self.saved
        # BEGIN SOLUTION 1.3
        return (g * c * (1 - c),)
        # END SOLUTION


# eᵃ is finite below these (log of the largest float: 88.72 and 709.78), and σ(a) rounds to 1 above
_SIGMOID_IS_ONE_ABOVE = {np.dtype(np.float32): 88.0, np.dtype(np.float64): 709.0}


class ReLU(Function):
    """c = max(a, 0).    ∂c/∂a = 1 where a > 0, else 0 (0 at a = 0, as PyTorch):  ga = g·[a > 0]."""
    __slots__ = ()

    def forward(self, a):
        self.save_for_backward(a > 0)
        return np.maximum(a, 0)

    def backward(self, g):
        (positive,) = self.saved
        # BEGIN SOLUTION 1.3
        return (g * positive,)
        # END SOLUTION
