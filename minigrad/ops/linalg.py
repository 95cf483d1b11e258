"""Matrix multiplication, the op behind every Dense layer and behind c<t> = α<t,·> · a."""
from __future__ import annotations

import numpy as np

from minigrad.function import Function
from minigrad.ops.broadcast import sum_to_shape
from minigrad.ops.matmul_shortcuts import matmul_backward_shortcut, matmul_product


class MatMul(Function):
    """C = A @ B for A (…, n, k) and B (…, k, m) giving (…, n, m); batch axes broadcast.

    Cᵢⱼ = Σₖ Aᵢₖ Bₖⱼ, so ∂L/∂A = G Bᵀ and ∂L/∂B = Aᵀ G (ᵀ swaps the last two axes), each
    summed back over the batch axes that were broadcast. A 1-D operand is treated as a row
    (left) or column (right) vector, as numpy does.
    """
    __slots__ = ()
    broadcast_core = 2  # the batch axes broadcast; the last two are the matrices

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"cannot multiply shapes {a.shape} and {b.shape}: "
                             "matmul needs at least one axis on each side (use * for scalars)")
        k_left, k_right = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_left != k_right:
            raise ValueError(f"cannot multiply shapes {a.shape} and {b.shape}: the inner "
                             f"dimensions {k_left} (last of the left) and {k_right} "
                             "(second-to-last of the right) differ")
        self.save_for_backward(a, b)
        return matmul_product(a, b)  # np.matmul(a, b), faster for a batch of rows times one weight

    def backward(self, g):
        a, b = self.saved
        needs_a, needs_b = self.needs_input_grad
        shortcut = matmul_backward_shortcut(g, a, b, needs_a, needs_b)  # the same numbers, faster
        if shortcut is not None:
            return shortcut
        # BEGIN SOLUTION 1.2
        a2 = a[None, :] if a.ndim == 1 else a  # a row vector
        b2 = b[:, None] if b.ndim == 1 else b  # a column vector
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = sum_to_shape(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if needs_a else None
        gb = sum_to_shape(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape) if needs_b else None
        return ga, gb
        # END SOLUTION
