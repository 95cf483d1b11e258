"""Matrix multiplication, the op behind every Dense layer and behind c<t> = α<t,·> · a."""
from __future__ import annotations

import numpy as np

from minigrad.function import Function
from minigrad.ops.broadcast import sum_to_shape, summed_broadcast_axes


def _product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y; when the contracted axis has length 1 (an outer product, as in the gradient of
    a in c = α @ a for one query row), a broadcast multiply does it several times faster."""
    return x * y if x.shape[-1] == 1 else x @ y


class MatMul(Function):
    """C = A @ B for A (…, n, k) and B (…, k, m) giving (…, n, m); batch axes broadcast.

    Cᵢⱼ = Σₖ Aᵢₖ Bₖⱼ, so ∂L/∂A = G Bᵀ and ∂L/∂B = Aᵀ G (ᵀ swaps the last two axes), each
    summed back over the batch axes that were broadcast. A 1-D operand is treated as a row
    (left) or column (right) vector, as numpy does.
    """
    __slots__ = ()

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
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        a_in, b_in = self.inputs
        # BEGIN SOLUTION 1.2
        if a.ndim > 2 and b.ndim == 2:  # one weight for a whole batch of rows: fold them into one GEMM
            k, m = b.shape
            g_rows = g.reshape(-1, m)
            ga = _product(g_rows, b.T).reshape(a.shape) if a_in.requires_grad else None
            gb = a.reshape(-1, k).T @ g_rows if b_in.requires_grad else None
            return ga, gb
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = sum_to_shape(_product(g, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape) \
            if a_in.requires_grad else None
        gb = sum_to_shape(_product(np.swapaxes(a2, -1, -2), g), b2.shape).reshape(b.shape) \
            if b_in.requires_grad else None
        return ga, gb
        # END SOLUTION

    def summed_axes(self, input_index, out_shape):
        """Batch axes broadcast: a weight shared by every sequence gets their gradients summed."""
        shape = self.inputs[input_index].shape
        if len(shape) < 2 or len(out_shape) < 2:
            return ()
        return summed_broadcast_axes(shape[:-2], out_shape[:-2])
