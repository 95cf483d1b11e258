"""Linear: the dense layer y = x W + b, with the row-vector convention of the seed."""
from __future__ import annotations

import numpy as np

from minigrad.nn.init import glorot_uniform
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor


class Linear(Module):
    """y = x @ W + b.

    x: (…, in_features)  →  y: (…, out_features)
    W ("weight"): (in_features, out_features), Glorot-uniform U(±√(6/(in+out))).
    b ("bias"): (out_features,), zeros.
    W is stored (in, out), not PyTorch's (out, in), so a row vector times W reads as the
    seed's (1×10)·(10×5): copy PyTorch weights in transposed.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(glorot_uniform(in_features, out_features, rng=rng, dtype=dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"{self.in_features} → {self.out_features}, bias={self.bias is not None}"
