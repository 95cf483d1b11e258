"""The LSTM as fused Functions, nodes of the fast twin (attention/fast.py, the default `train`).

The composed LSTMCell (cells.py) makes every gate a node of the graph. These Functions compute
the same maths in numpy inside one node each, with the backward written out by hand:
    LSTMStep      one timestep (`step_forward` and `step_backward` are its maths, which the
                  fast twin's fused decoder step also runs);
    LSTMSequence  every timestep of one direction of the encoder.
Both are gradchecked against the composed cell (tests/test_fused_lstm.py).

The gates' three sigmoids and one tanh are a single tanh of the whole (B, 4H) gate block:
σ(z) = ½ tanh(½ z) + ½, so [i f g o] = scale ⊙ tanh(scale ⊙ z) + shift with scale = ½, shift = ½
on the i, f, o blocks and scale = 1, shift = 0 on the g block (the Sigmoid op computes σ the same
way). The derivative, written with the activation y, is scale² - (y - shift)²: y(1 - y) on the
sigmoid blocks, 1 - y² on the tanh block.

Each Function's `to_onnx` writes the same maths as ONNX operators for minigrad.onnx.export
(not as ONNX's own LSTM node: ONNX Runtime runs that in float32 only, and on this model it ran
slower than the unrolled steps).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from minigrad.function import Function


@lru_cache(maxsize=None)
def _gate_constants(hidden: int, dtype: np.dtype) -> tuple:
    """(scale, shift, scale²), each (4H,), for the gate order i, f, g, o."""
    scale = np.full(4 * hidden, 0.5, dtype=dtype)
    scale[2 * hidden:3 * hidden] = 1
    shift = np.full(4 * hidden, 0.5, dtype=dtype)
    shift[2 * hidden:3 * hidden] = 0
    return scale, shift, scale * scale


def _activate(z: np.ndarray, hidden: int) -> np.ndarray:
    """[σ(z_i) σ(z_f) tanh(z_g) σ(z_o)] written over the pre-activations z (…, 4H) in place."""
    scale, shift, _ = _gate_constants(hidden, z.dtype)
    z *= scale
    np.tanh(z, out=z)
    z *= scale
    z += shift
    return z


def onnx_step(graph, projected: str, h: str, c: str, weight_h: str, scale: str, shift: str) -> tuple:
    """(h', c') as ONNX values: act(p + h W_h) with act = scale ⊙ tanh(scale ⊙ z) + shift, as `_activate`."""
    z = graph.op("Add", graph.op("MatMul", h, weight_h), projected)
    gates = graph.op("Add", graph.op("Mul", graph.op("Tanh", graph.op("Mul", z, scale)), scale), shift)
    i, f, g, o = graph.op("Split", gates, axis=-1, num_outputs=4, outputs=4)
    c_next = graph.op("Add", graph.op("Mul", f, c), graph.op("Mul", i, g))
    return graph.op("Mul", o, graph.op("Tanh", c_next)), c_next


def onnx_gate_constants(graph, hidden: int, dtype) -> tuple:
    scale, shift, _ = _gate_constants(hidden, np.dtype(dtype))
    return graph.constant(scale, "lstm gate scale"), graph.constant(shift, "lstm gate shift")


def _slopes(gates: np.ndarray, hidden: int) -> np.ndarray:
    """∂gate/∂z for activated gates (…, 4H): scale² - (gate - shift)², in a new array."""
    _, shift, scale_squared = _gate_constants(hidden, gates.dtype)
    slopes = gates - shift
    slopes *= slopes
    return np.subtract(scale_squared, slopes, out=slopes)


def step_forward(projected, h, c, weight_h, h_next, c_next) -> tuple:
    """One LSTM step (LSTMStep's docstring) written into the arrays h_next and c_next (B, H);
    returns (gates, tanh c'), what `step_backward` needs besides the inputs."""
    hidden = h.shape[1]
    gates = np.matmul(h, weight_h)
    gates += projected
    _activate(gates, hidden)
    i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
    np.multiply(f, c, out=c_next)
    c_next += i * g
    tanh_c = np.tanh(c_next)
    np.multiply(o, tanh_c, out=h_next)
    return gates, tanh_c


def step_backward(grad_h, grad_c, h, c, weight_h, gates, tanh_c) -> tuple:
    """(dp, dh, dc, dW_h) of one LSTM step from the gradients of h' and c' (LSTMStep's docstring)."""
    batch, hidden = h.shape
    i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
    d_c = grad_h * o * (1 - tanh_c * tanh_c)
    d_c += grad_c
    d_z = _slopes(gates, hidden).reshape(batch, 4, hidden)
    d_z[:, 0] *= d_c * g
    d_z[:, 1] *= d_c * c
    d_z[:, 2] *= d_c * i
    d_z[:, 3] *= grad_h * tanh_c
    d_z = d_z.reshape(batch, 4 * hidden)
    return d_z, d_z @ weight_h.T, d_c * f, h.T @ d_z


class LSTMStep(Function):
    """One LSTM step as a single node.

    Inputs: p = x W_x + b_x (B, 4H), h (B, H), c (B, H), W_h (H, 4H). Output: [h'; c'] (B, 2H).
        [i f g o] = act(p + h W_h),   c' = f ⊙ c + i ⊙ g,   h' = o ⊙ tanh c'
    Backward, with ĝh, ĝc the gradients of h' and c':
        dc' = ĝc + ĝh ⊙ o ⊙ (1 - tanh² c')
        dz  = [dc' ⊙ g, dc' ⊙ c, dc' ⊙ i, ĝh ⊙ tanh c'] ⊙ act'      (the pre-activation gates)
        dp = dz,   dh = dz W_hᵀ,   dc = dc' ⊙ f,   dW_h = hᵀ dz
    """
    __slots__ = ()

    def forward(self, projected, h, c, weight_h):
        batch, hidden = h.shape
        out = np.empty((batch, 2 * hidden), dtype=np.result_type(projected, h, weight_h))
        gates, tanh_c = step_forward(projected, h, c, weight_h, out[:, :hidden], out[:, hidden:])
        self.save_for_backward(h, c, weight_h, gates, tanh_c)
        return out

    def backward(self, grad):
        h, c, weight_h, gates, tanh_c = self.saved
        hidden = h.shape[1]
        grads = step_backward(grad[:, :hidden], grad[:, hidden:], h, c, weight_h, gates, tanh_c)
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        h = self.inputs[1]
        scale, shift = onnx_gate_constants(graph, h.shape[1], h.dtype)
        return graph.op("Concat", *onnx_step(graph, *inputs, scale, shift), axis=-1)


class LSTMSequence(Function):
    """One direction of an LSTM layer over a whole sequence, as a single node.

    Inputs: P = x W_x + b_x for every step (B, T, 4H), h₀ and c₀ (B, H), W_h (H, 4H); with
    `reverse` the positions are read from t = T down to 1 (the encoder's backward direction).
    Output: h<t> for every position, (B, T, H).

    Forward, for each position t in reading order, with p the position read just before it
    (h<p>, c<p> = h₀, c₀ for the first):
        [i f g o]<t> = act(P<t> + h<p> W_h),   c<t> = f<t> ⊙ c<p> + i<t> ⊙ g<t>,   h<t> = o<t> ⊙ tanh c<t>
    Backward through time, in the opposite order, with ĝh<t> the gradient of the output h<t>
    and n the position read just after t (its terms are zero for the last position read):
        δh<t> = ĝh<t> + dz<n> W_hᵀ
        δc<t> = δh<t> ⊙ o<t> ⊙ (1 - tanh² c<t>) + δc<n> ⊙ f<n>
        dz<t> = [δc<t> ⊙ g<t>, δc<t> ⊙ c<p>, δc<t> ⊙ i<t>, δh<t> ⊙ tanh c<t>] ⊙ act'<t>
        dP<t> = dz<t>,   dh₀ = dz<first> W_hᵀ,   dc₀ = δc<first> ⊙ f<first>,   dW_h = Σ_t h<p>ᵀ dz<t>
    What does not depend on the carried δh, δc (act', the gate factors, dW_h) is computed for
    all positions at once, outside the loop.
    """
    __slots__ = ("reverse",)

    def forward(self, projected, h0, c0, weight_h, reverse: bool = False):
        self.reverse = reverse
        batch, steps, width = projected.shape
        hidden = width // 4
        dtype = projected.dtype
        # Time-major (each step's rows contiguous), indexed by position; hs and cs have an extra
        # slot for the initial state, just before the first position read.
        gates = np.empty((steps, batch, width), dtype=dtype)
        hs = np.empty((steps + 1, batch, hidden), dtype=dtype)
        cs = np.empty_like(hs)
        tanh_cs = np.empty((steps, batch, hidden), dtype=dtype)
        own, previous = self._slots(steps)
        hs[previous[self._reading_order(steps)[0]]] = h0
        cs[previous[self._reading_order(steps)[0]]] = c0
        i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
        for t in self._reading_order(steps):
            z = gates[t]
            np.matmul(hs[previous[t]], weight_h, out=z)
            z += projected[:, t]
            _activate(z, hidden)
            c = cs[own[t]]
            np.multiply(f[t], cs[previous[t]], out=c)
            c += i[t] * g[t]
            np.tanh(c, out=tanh_cs[t])
            np.multiply(o[t], tanh_cs[t], out=hs[own[t]])
        self.save_for_backward(hs, cs, tanh_cs, gates, weight_h)
        return np.ascontiguousarray(hs[own[0]:own[0] + steps].swapaxes(0, 1))

    def backward(self, grad):
        hs, cs, tanh_cs, gates, weight_h = self.saved
        steps, batch, width = gates.shape
        hidden = width // 4
        own, previous = self._slots(steps)
        i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
        factors = _slopes(gates, hidden).reshape(steps, batch, 4, hidden)  # act' ⊙ [g, c<p>, i, tanh c]
        factors[:, :, 0] *= g
        factors[:, :, 1] *= cs[previous[0]:previous[0] + steps]
        factors[:, :, 2] *= i
        factors[:, :, 3] *= tanh_cs
        through_tanh = 1 - tanh_cs * tanh_cs
        through_tanh *= o
        d_z = np.empty((batch, steps, 4, hidden), dtype=gates.dtype)  # dP, batch-major as P
        d_z_rows = d_z.reshape(batch, steps, width)
        from_next_h = from_next_c = None  # dz<n> W_hᵀ and δc<n> ⊙ f<n>
        for t in reversed(self._reading_order(steps)):
            d_h = grad[:, t] if from_next_h is None else grad[:, t] + from_next_h
            d_c = d_h * through_tanh[t]
            if from_next_c is not None:
                d_c += from_next_c
            np.multiply(factors[t, :, :3], d_c[:, None], out=d_z[:, t, :3])
            np.multiply(factors[t, :, 3], d_h, out=d_z[:, t, 3])
            from_next_h = d_z_rows[:, t] @ weight_h.T
            from_next_c = d_c * f[t]
        h_previous = np.ascontiguousarray(hs[previous[0]:previous[0] + steps].swapaxes(0, 1))
        d_weight_h = h_previous.reshape(-1, hidden).T @ d_z_rows.reshape(-1, width)
        grads = d_z_rows, from_next_h, from_next_c, d_weight_h
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        """Unrolled: one step per position (T is fixed by the traced shape, the batch is not)."""
        projected, h, c, weight_h = inputs
        steps, hidden = self.inputs[0].shape[1], self.inputs[1].shape[1]
        scale, shift = onnx_gate_constants(graph, hidden, self.inputs[0].dtype)
        axis = graph.integers([1])
        outputs = {}
        for t in self._reading_order(steps):
            p = graph.op("Gather", projected, graph.integers(t), axis=1)
            h, c = onnx_step(graph, p, h, c, weight_h, scale, shift)
            outputs[t] = graph.op("Unsqueeze", h, axis)
        return graph.op("Concat", *[outputs[t] for t in range(steps)], axis=1)

    def _reading_order(self, steps: int) -> range:
        return range(steps - 1, -1, -1) if self.reverse else range(steps)

    def _slots(self, steps: int) -> tuple:
        """For each position t, the slot of hs/cs holding its own state and the slot holding the
        state it reads: left to right, t + 1 and t (slot 0 is h₀); right to left, t and t + 1."""
        positions = range(steps + 1)
        return (positions[:-1], positions[1:]) if self.reverse else (positions[1:], positions[:-1])
