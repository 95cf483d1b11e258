"""Gradient checks: compare analytic gradients with central differences, in float64.

`gradcheck` checks a whole function through `backward`; `gradcheck_function` checks one
Function's `backward` on its own, without the engine, so a student can test the op they
just wrote before anything else of the graph works.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from minigrad.errors import MinigradError
from minigrad.gradients import dense
from minigrad.tensor import Tensor


class GradcheckError(MinigradError, AssertionError):
    """The analytic and numeric gradients disagree."""


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Tensor], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """True if backward's gradient of `fn(*inputs)` matches central differences, else raise.

    Every input that requires grad is copied to float64. The output y (any shape) is
    projected on a fixed random r, L = Σ y·r, so one backward gives the whole analytic
    gradient ∂L/∂x; each element's numeric gradient is (L(x + eps) - L(x - eps)) / 2eps.
    They must satisfy |analytic - numeric| ≤ atol + rtol·|numeric| everywhere.
    """
    originals = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    copies = [Tensor(x.data.astype(np.float64), requires_grad=True, name=x.name)
              if x.requires_grad else x for x in originals]
    checked = [i for i, x in enumerate(copies) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    output = fn(*copies)
    projection = np.random.default_rng(seed).standard_normal(output.shape)
    output.backward(projection)
    for i in checked:
        x = copies[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        numeric = _numeric_gradient(lambda: np.sum(fn(*copies).data * projection), x.data, eps)
        _compare(analytic, numeric, f"'{x.name}'" if x.name else f"#{i}", atol, rtol, "gradcheck")
    return True


def gradcheck_function(function: type, *arrays, eps: float = 1e-6, atol: float = 1e-5,
                       rtol: float = 1e-3, seed: int = 0, **params) -> bool:
    """True if `function.backward` matches central differences of `function.forward`, else raise.

    `function` is a Function class (`ops.Mul`), `arrays` its inputs (copied to float64) and
    `params` its keyword parameters (`axis=...`). Only this one Function runs: its forward
    for the numeric gradient, its backward, called directly with a random upstream
    gradient r, for the analytic one. Nothing else of the engine is involved.
    """
    inputs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    output = function.apply(*inputs, **params)
    projection = np.random.default_rng(seed).standard_normal(output.shape)
    grads = output.grad_fn.backward(projection)
    name = function.__name__
    if len(grads) != len(inputs):
        raise GradcheckError(f"{name}.backward returned {len(grads)} gradients for "
                             f"{len(inputs)} inputs")
    arrays64 = [x.data for x in inputs]
    for i, (x, grad) in enumerate(zip(inputs, grads)):
        analytic = np.asarray(dense(grad))
        if analytic.shape != x.shape:
            raise GradcheckError(f"{name}.backward: the gradient of input #{i} has shape "
                                 f"{analytic.shape}, but the input has shape {x.shape}")
        numeric = _numeric_gradient(
            lambda: np.sum(function().forward(*arrays64, **params) * projection), x.data, eps)
        _compare(analytic, numeric, f"#{i}", atol, rtol, f"gradcheck_function({name})")
    return True


def _numeric_gradient(loss: Callable[[], float], x: np.ndarray, eps: float) -> np.ndarray:
    """∂loss/∂x by central differences, perturbing `x` in place one element at a time."""
    numeric = np.zeros_like(x)
    flat = x.reshape(-1)  # a view: writing to it perturbs x in place
    for j in range(flat.size):
        kept = flat[j]
        flat[j] = kept + eps
        plus = float(loss())
        flat[j] = kept - eps
        minus = float(loss())
        flat[j] = kept
        numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
    return numeric


def _compare(analytic, numeric, label: str, atol: float, rtol: float, caller: str) -> None:
    """Raise GradcheckError naming the worst element unless |analytic - numeric| ≤ atol + rtol·|numeric|."""
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if np.any(excess > 0):
        worst = np.unravel_index(np.argmax(excess), numeric.shape)
        raise GradcheckError(
            f"{caller}: input {label} (shape {numeric.shape}) gradient mismatch; worst element "
            f"{tuple(int(k) for k in worst)}: analytic {analytic[worst]:.10g} vs numeric "
            f"{numeric[worst]:.10g} (|diff| {abs(analytic[worst] - numeric[worst]):.3g}, "
            f"allowed {atol + rtol * abs(numeric[worst]):.3g}); "
            f"{int(np.sum(excess > 0))} of {numeric.size} elements fail")
