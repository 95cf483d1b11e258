"""Embedding: a lookup table of vectors, one row per token index."""
from __future__ import annotations

import numpy as np

from minigrad.errors import op_error
from minigrad.nn.init import normal
from minigrad.nn.module import Module, Parameter
from minigrad.tensor import Tensor


class Embedding(Module):
    """y = W[indices]: row i of W is token i's vector.

    indices: integers of any shape (…)  →  y: (…, embedding_dim)
    W ("weight"): (num_embeddings, embedding_dim), N(0, 1) as torch.nn.Embedding.
    Backward adds each position's gradient into the row it read, so a token used twice
    gets both gradients (a gather forward, a scatter-add backward).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(normal((num_embeddings, embedding_dim), rng=rng, dtype=dtype))

    def forward(self, indices) -> Tensor:
        index = np.asarray(getattr(indices, "data", indices))
        if index.dtype.kind not in "iu":
            raise op_error("Embedding", f"indices must be integers, not {index.dtype}", (self.weight,))
        if index.size and (index.min() < 0 or index.max() >= self.num_embeddings):
            bad = index.max() if index.max() >= self.num_embeddings else index.min()
            raise op_error("Embedding", f"index {bad} is outside the table's "
                           f"{self.num_embeddings} rows (indices shape {index.shape})", (self.weight,))
        return self.weight[index]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
