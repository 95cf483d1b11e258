"""Recurrent cells built from minigrad's primitive ops: every gate is a node of the graph.

All three share one shape of computation, in the seed's row-vector convention:
    x (B, input_size), h (B, hidden_size) → gates = x W_x + b_x + h W_h (+ b_h)   (B, G·hidden_size)
with G = 1 (RNN), 3 (GRU) or 4 (LSTM). The input half, x W_x + b_x, does not depend on the
previous state, so `input_projection` computes it for every timestep of a sequence at once
(one matmul) and `step` adds the recurrent half one timestep at a time.

Initialisation (Keras' defaults, as the deeplearning.ai assignment used):
    W_x: Glorot-uniform over the whole (input_size, G·H) matrix;
    W_h: orthogonal (H, G·H);   biases: zeros, except the LSTM forget gate's, which is 1.
Integer inputs are token indices: x W_x + b_x for a one-hot x is row x of W_x + b_x, so
`input_projection` adds the bias to the (vocabulary, G·H) table and gathers rows, instead of
multiplying by a one-hot matrix and adding the bias at every position (the same result).

Gates are named with the symbolic step t ("f<t>"); the caller's `mg.scope(..., step=t)` turns
that into the step's number in `trace` and `draw` ("f<3>").
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.nn import Module, Parameter, init
from minigrad.tensor import Tensor


class RecurrentCell(Module):
    """What RNNCell, GRUCell and LSTMCell share: the weights' shapes and the input projection."""
    gate_count = 1
    state_count = 1

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        width = self.gate_count * hidden_size
        self.weight_x = Parameter(init.glorot_uniform(input_size, width, rng=rng, dtype=dtype))
        self.weight_h = Parameter(init.orthogonal(hidden_size, width, rng=rng, dtype=dtype))
        self.bias_x = Parameter(np.zeros(width, dtype=dtype))

    def input_projection(self, x) -> Tensor:
        """x W_x + b_x for a whole sequence: x (B, T, input_size) floats or (B, T) token indices → (B, T, G·H)."""
        index = x.data if isinstance(x, Tensor) else np.asarray(x)
        if index.dtype.kind in "iu":
            return (self.weight_x + self.bias_x)[index]
        return x @ self.weight_x + self.bias_x

    def initial_state(self, batch: int) -> tuple:
        zeros = np.zeros((batch, self.hidden_size), dtype=self.weight_h.dtype)
        return tuple(Tensor(zeros) for _ in range(self.state_count))

    def forward(self, x, state: tuple) -> tuple:
        """One timestep from raw input x (B, input_size) or token indices (B,)."""
        return self.step(self.input_projection(x), state)

    def step(self, projected: Tensor, state: tuple) -> tuple:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.input_size} → {self.hidden_size}"


class RNNCell(RecurrentCell):
    """h' = tanh(x W_x + b_x + h W_h).        state: (h,)

    PyTorch's nn.RNNCell has two biases; its b_ih + b_hh is our b_x.
    """

    def step(self, projected, state):
        (h,) = state
        # BEGIN SOLUTION 3.1
        return ((projected + h @ self.weight_h).tanh(),)
        # END SOLUTION


class GRUCell(RecurrentCell):
    """Gates in the order r, z, n (PyTorch's nn.GRUCell and Keras' GRU with reset_after=True):
        r = σ(x W_xr + b_xr + h W_hr + b_hr)            reset gate
        z = σ(x W_xz + b_xz + h W_hz + b_hz)            update gate
        n = tanh(x W_xn + b_xn + r ⊙ (h W_hn + b_hn))   candidate
        h' = (1 - z) ⊙ n + z ⊙ h                         state: (h,)
    """
    gate_count = 3

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype=np.float32):
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)
        self.bias_h = Parameter(np.zeros(3 * hidden_size, dtype=dtype))

    def step(self, projected, state):
        (h,) = state
        x_r, x_z, x_n = mg.chunk(projected, 3, axis=-1)
        h_r, h_z, h_n = mg.chunk(h @ self.weight_h + self.bias_h, 3, axis=-1)
        r = (x_r + h_r).sigmoid().named("r<t>")
        z = (x_z + h_z).sigmoid().named("z<t>")
        n = (x_n + r * h_n).tanh().named("n<t>")
        return ((1 - z) * n + z * h,)


class LSTMCell(RecurrentCell):
    """Gates in the order i, f, g, o (PyTorch's nn.LSTMCell; Keras calls g "c"):
        i = σ(x W_xi + h W_hi + b_i)      input gate
        f = σ(x W_xf + h W_hf + b_f)      forget gate (bias initialised to 1)
        g = tanh(x W_xg + h W_hg + b_g)   candidate cell
        o = σ(x W_xo + h W_ho + b_o)      output gate
        c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh(c')          state: (h, c)
    The cell state c' is named "memory<t>" in the graph (c<t> is the attention's context).
    PyTorch's two biases b_ih + b_hh are our b_x.
    """
    gate_count = 4
    state_count = 2

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype=np.float32):
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)
        self.bias_x.data[hidden_size:2 * hidden_size] = 1.0  # remember by default at the start

    def step(self, projected, state):
        h, c = state
        # BEGIN SOLUTION 3.2
        z_i, z_f, z_g, z_o = mg.chunk(projected + h @ self.weight_h, 4, axis=-1)
        i, f, g = z_i.sigmoid().named("i<t>"), z_f.sigmoid().named("f<t>"), z_g.tanh().named("g<t>")
        o = z_o.sigmoid().named("o<t>")
        memory = (f * c + i * g).named("memory<t>")
        return o * memory.tanh(), memory
        # END SOLUTION


CELLS = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}


def make_cell(kind: str, input_size: int, hidden_size: int, rng=None, dtype=np.float32) -> RecurrentCell:
    """A cell by name, one of CELLS."""
    if kind not in CELLS:
        raise ValueError(f"unknown cell {kind!r}; choose one of {sorted(CELLS)}")
    return CELLS[kind](input_size, hidden_size, rng=rng, dtype=dtype)
