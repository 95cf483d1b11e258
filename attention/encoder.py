"""The bidirectional encoder: a<t'> = [forward state at t'; backward state at t'] for t' = 1..Tx."""
from __future__ import annotations

import numpy as np

import minigrad as mg
from attention.cells import make_cell
from minigrad.nn import Module
from minigrad.tensor import Tensor


class BidirectionalEncoder(Module):
    """Two cells read the input, one left to right and one right to left.

    x: (B, Tx) token indices or (B, Tx, input_size) → a: (B, Tx, 2·hidden_size), named "a",
    built from the per-step tensors a<1> … a<Tx>, each (B, 2·hidden_size).
    The input projections of all Tx steps are one matmul (or gather) per direction, made
    time-major, (Tx, B, G·H), so that each step reads one contiguous block (a strided column of
    a (B, Tx, G·H) array is slower to read, and its gradient slower to add back).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, rng=None, dtype=np.float32):
        super().__init__()
        self.forward_cell = make_cell(cell, input_size, hidden_size, rng=rng, dtype=dtype)
        self.backward_cell = make_cell(cell, input_size, hidden_size, rng=rng, dtype=dtype)

    def forward(self, x) -> Tensor:
        array, width = np.asarray(getattr(x, "data", x)), self.forward_cell.input_size
        shape = array.shape
        if not ((len(shape) == 2 and array.dtype.kind in "iu") or (len(shape) == 3 and shape[-1] == width)):
            raise ValueError(f"BidirectionalEncoder: x must be (B, Tx) token indices or (B, Tx, {width}) "
                             f"inputs, not shape {shape} of {array.dtype}")
        with mg.scope("encoder"):
            time_major = to_time_major(x)
            states = [mg.concat([f, b], axis=-1).named(f"a<{t + 1}>")
                      for t, (f, b) in enumerate(zip(self.direction(time_major, reverse=False),
                                                     self.direction(time_major, reverse=True)))]
            return mg.stack(states, axis=1).named("a")

    def direction(self, time_major, reverse: bool) -> list:
        """One direction's state h at every step, in input order, from the input made time-major
        (`to_time_major`): the forward cell's, read left to right, or if `reverse` the backward cell's,
        read right to left."""
        cell = self.backward_cell if reverse else self.forward_cell
        projected = cell.input_projection(time_major)  # (Tx, B, G·H)
        steps = range(projected.shape[0])
        state = cell.initial_state(projected.shape[1])
        outputs = {}
        for t in (reversed(steps) if reverse else steps):
            with mg.scope("backward" if reverse else "forward", step=t + 1):
                state = cell.step(projected[t], state)
            outputs[t] = state[0]
        return [outputs[t] for t in steps]


def to_time_major(x):
    """x with its batch and time axes swapped, (Tx, B, …): token indices as a numpy view, a
    Tensor through Transpose."""
    if isinstance(x, Tensor):
        return x.transpose(0, 1)
    return np.swapaxes(np.asarray(x), 0, 1)
