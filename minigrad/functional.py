"""Functions over tensors: activations, softmax (one op, or composed of primitives), cross-entropy,
and joining and splitting tensors. Each is a thin call of the ops in `minigrad.ops`.
"""
from __future__ import annotations

import itertools

from typing import Sequence

import numpy as np

from minigrad import ops
from minigrad.errors import op_error
from minigrad.tensor import Tensor


def exp(x: Tensor) -> Tensor: return ops.Exp.apply(x)
def log(x: Tensor) -> Tensor: return ops.Log.apply(x)
def tanh(x: Tensor) -> Tensor: return ops.Tanh.apply(x)
def sigmoid(x: Tensor) -> Tensor: return ops.Sigmoid.apply(x)
def relu(x: Tensor) -> Tensor: return ops.ReLU.apply(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ) along `axis`: one `Softmax` node with its analytic backward.

    `composed_softmax` builds the same function from Sub, Exp, Sum and Div nodes.
    """
    return ops.Softmax.apply(x, axis=axis)


def composed_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax composed of Sub, Exp, Sum and Div, so the graph shows the formula
    α<t,t'> = exp(e<t,t'>) / Σ_t' exp(e<t,t'>) node by node; max-subtracted for stability.
    Its gradients are the one-op `softmax`'s.
    """
    # BEGIN SOLUTION 2.1
    shifted = x - x.max(axis=axis, keepdims=True).detach()  # a constant shift: softmax ignores it
    exps = shifted.exp()
    return exps / exps.sum(axis=axis, keepdims=True)
    # END SOLUTION


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log softmax(x) along `axis`, computed without forming softmax (no log of 0)."""
    return ops.LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits: Tensor, target, axis: int = -1, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target] per position, then averaged ("mean"), summed ("sum") or not ("none").

    logits: (…, C, …) with the C classes along `axis`; target: integer class indices with
    logits' shape minus that axis. Gradient w.r.t. logits: softmax(logits) - onehot(target)
    per position (divided by the number of positions for "mean").
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    target_tensor = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    index = target_tensor.data
    if not -logits.ndim <= axis < logits.ndim:
        raise op_error("cross_entropy", f"axis {axis} is out of range for logits of shape "
                       f"{logits.shape}", (logits, target_tensor))
    expected = logits.shape[:axis % logits.ndim] + logits.shape[axis % logits.ndim + 1:]
    if index.dtype.kind not in "iu":
        raise op_error("cross_entropy", f"target must hold integer class indices, not {index.dtype}",
                       (logits, target_tensor))
    if index.shape != expected:
        raise op_error("cross_entropy", f"target shape {index.shape} does not fit logits shape "
                       f"{logits.shape}: expected {expected} (logits without axis {axis})",
                       (logits, target_tensor))
    classes = logits.shape[axis]
    if index.size and (index.min() < 0 or index.max() >= classes):
        raise op_error("cross_entropy", f"target holds class {index.max() if index.max() >= classes else index.min()} "
                       f"but logits have {classes} classes along axis {axis}", (logits, target_tensor))
    # BEGIN SOLUTION 2.2
    log_probs = log_softmax(logits, axis=axis)
    picked = ops.Gather.apply(log_probs, index=np.expand_dims(index, axis), axis=axis)
    losses = -picked.reshape(expected)
    if reduction == "none":
        return losses
    return losses.mean() if reduction == "mean" else losses.sum()
    # END SOLUTION


def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (torch.cat)."""
    if not tensors:
        raise op_error("Concat", "needs at least one tensor")
    return ops.Concat.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    if not tensors:
        raise op_error("Stack", "needs at least one tensor")
    return ops.Stack.apply(*tensors, axis=axis)


def split(x: Tensor, sizes, axis: int = 0) -> list[Tensor]:
    """Cut `x` along `axis` into pieces of the given sizes (a list), or of equal size `sizes` (an int).

    Each piece is a GetItem of `x`, so the graph shows where each piece came from.
    """
    _check_axis("split", x, axis)
    length = x.shape[axis]
    if _is_whole_number(sizes):
        if sizes < 0 or (sizes == 0 and length):
            raise op_error("split", f"piece size must be positive, not {sizes}", (x,))
        starts = range(0, length, sizes) if length else range(1)  # an empty axis is one empty piece, as torch
        bounds = zip(starts, [*starts[1:], length])
    else:
        try:  # a bool, float or 0-d array is no list either
            sizes = list(sizes)
        except TypeError:
            raise op_error("split", f"sizes must be an integer or a list of integers, not {sizes!r}", (x,)) from None
        for size in sizes:
            if not _is_whole_number(size) or size < 0:
                raise op_error("split", f"sizes must be non-negative integers, not {sizes}", (x,))
        sizes = [int(size) for size in sizes]  # Python ints: numpy's would wrap (uint8) or mix to floats
        if sum(sizes) != length:
            raise op_error("split", f"sizes {sizes} add up to {sum(sizes)}, but axis {axis} "
                           f"has length {length}", (x,))
        ends = list(itertools.accumulate(sizes))
        bounds = zip([0, *ends[:-1]], ends)
    prefix = (slice(None),) * (axis % x.ndim)
    # GetItem.apply, not x[...]: the same node, one call less on a path every LSTM step takes
    return [ops.GetItem.apply(x, index=prefix + (slice(start, end),)) for start, end in bounds]


def chunk(x: Tensor, chunks: int, axis: int = 0) -> list[Tensor]:
    """Cut `x` into `chunks` equal pieces along `axis` (the last may be smaller, as torch.chunk)."""
    if not _is_whole_number(chunks) or chunks <= 0:
        raise op_error("chunk", f"the number of chunks must be a positive integer, not {chunks!r}", (x,))
    _check_axis("chunk", x, axis)
    if x.shape[axis] == 0:  # `chunks` empty pieces, as torch.chunk
        return split(x, [0] * int(chunks), axis=axis)
    return split(x, -(-x.shape[axis] // chunks), axis=axis)


def _is_whole_number(value) -> bool:
    """An int or numpy integer, and not a bool (True would cut pieces of size 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_axis(op: str, x: Tensor, axis: int) -> None:
    if not _is_whole_number(axis):
        raise op_error(op, f"axis must be an integer, not {axis!r}", (x,))
    if x.ndim == 0:
        raise op_error(op, "a 0-d tensor has no axis to cut along", (x,))
    if not -x.ndim <= axis < x.ndim:
        raise op_error(op, f"axis {axis} is out of range for a tensor of shape {x.shape}", (x,))
