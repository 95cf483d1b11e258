"""Initialisers and the random generator they draw from. `manual_seed(s)` makes runs repeatable."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reset the generator every initialiser uses by default."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    return _generator


def glorot_uniform(fan_in: int, fan_out: int, shape=None, rng=None, dtype=np.float32) -> np.ndarray:
    """U(-l, l) with l = √(6 / (fan_in + fan_out)) (Glorot & Bengio 2010; Keras' default kernel).

    Keeps the variance of activations and of gradients about equal across a layer.
    """
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    shape = (fan_in, fan_out) if shape is None else shape
    return (rng or _generator).uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(rows: int, cols: int, rng=None, dtype=np.float32) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal rows or columns: Q of the QR of a Gaussian matrix,
    sign-corrected so the distribution is uniform (Saxe et al. 2013; Keras' recurrent default).
    """
    gaussian = (rng or _generator).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(gaussian)
    q *= np.sign(np.diag(r))
    return (q if rows >= cols else q.T).astype(dtype)


def normal(shape, std: float = 1.0, rng=None, dtype=np.float32) -> np.ndarray:
    """N(0, std²) (torch.nn.Embedding's default with std = 1)."""
    return ((rng or _generator).standard_normal(shape) * std).astype(dtype)
