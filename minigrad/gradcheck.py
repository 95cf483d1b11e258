"""gradcheck: compare backward's gradients with central differences, in float64."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from minigrad.errors import MinigradError
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

    def projected(out: Tensor) -> float:
        return float(np.sum(out.data.astype(np.float64) * projection))

    output.backward(projection)
    for i in checked:
        x = copies[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        numeric = np.zeros_like(x.data)
        flat = x.data.reshape(-1)  # a view: writing to it perturbs x in place
        for j in range(flat.size):
            kept = flat[j]
            flat[j] = kept + eps
            plus = projected(fn(*copies))
            flat[j] = kept - eps
            minus = projected(fn(*copies))
            flat[j] = kept
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if np.any(excess > 0):
            worst = np.unravel_index(np.argmax(excess), x.shape)
            label = f"'{x.name}'" if x.name else f"#{i}"
            raise GradcheckError(
                f"gradcheck: input {label} (shape {x.shape}) gradient mismatch; worst element "
                f"{tuple(int(k) for k in worst)}: analytic {analytic[worst]:.10g} vs numeric "
                f"{numeric[worst]:.10g} (|diff| {abs(analytic[worst] - numeric[worst]):.3g}, "
                f"allowed {atol + rtol * abs(numeric[worst]):.3g}); "
                f"{int(np.sum(excess > 0))} of {x.data.size} elements fail")
    return True
