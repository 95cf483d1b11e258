"""Optimisers: they read each parameter's `.grad` and change its `.data` in place.

`p.data -= update` assigns the result back to `p.data`, which counts as an in-place write in
`p.version`: a graph built before the step refuses to backpropagate through the old values.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from minigrad.tensor import Tensor


class Optimizer:
    """Holds the parameters to update; `zero_grad()` clears their grads, `step()` updates them."""

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = list(dict.fromkeys(params))  # keeps order, drops repeats
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not lr > 0:  # also refuses NaN
            raise ValueError(f"{type(self).__name__}: learning rate must be positive, not {lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        """Set every grad to None (PyTorch's default set_to_none=True): the next backward starts afresh."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formula:
        v ← μ·v + g        (v = g on the first step; no velocity when μ = 0)
        p ← p - lr·v
    """

    def __init__(self, params, lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        self.velocity = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            update = p.grad
            if self.momentum:
                v = self.velocity[i]
                self.velocity[i] = v = update.copy() if v is None else self.momentum * v + update
                update = v
            p.data -= self.lr * update


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015), PyTorch's formula; weight decay is L2 added to the gradient:
        g ← g + λ·p
        m ← β₁·m + (1 - β₁)·g          v ← β₂·v + (1 - β₂)·g²
        p ← p - lr · (m / (1 - β₁ᵗ)) / (√(v / (1 - β₂ᵗ)) + ε)
    with t the number of steps in which this parameter had a gradient.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"Adam: betas must lie in [0, 1), not {betas}")
        self.eps, self.weight_decay = eps, weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.steps = [0] * len(self.params)  # per parameter, as PyTorch: one without grad does not count

    def step(self) -> None:
        # BEGIN SOLUTION 2.3
        for i, (p, m, v) in enumerate(zip(self.params, self.m, self.v)):
            if p.grad is None:
                continue
            self.steps[i] += 1
            correction1 = 1 - self.beta1 ** self.steps[i]
            correction2 = 1 - self.beta2 ** self.steps[i]
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p.data -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)
        # END SOLUTION
