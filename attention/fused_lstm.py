"""The LSTM as fused Functions, nodes of the fast twin (attention/fast.py, the default `train`).

The composed LSTMCell (cells.py) makes every gate a node of the graph. `BidirectionalLSTM` computes
the same maths for both directions of the encoder over a whole sequence in numpy inside one node,
with the backward written out by hand; it is gradchecked against the composed cells
(tests/test_fused_lstm.py). The fast twin's decoder node (attention/fast.py) runs the same LSTM
step after its attention: `activate`, `cell_update`, and backward `gate_factors`, `cell_gradient`.

The gates' three sigmoids and one tanh are computed from one exp of the whole (…, 4H) gate block:
σ(z) = 1 / (1 + e^-z) and tanh(z) = 2σ(2z) - 1, so [i f g o] = act(z) = β ⊙ σ(β ⊙ z) + 1 - β,
with β = 1 on the i, f, o blocks and β = 2 on the g block (numpy's float32
exp is vectorised, its tanh is not: about twice as fast on the model's gate blocks, 1.96 to 2.28
times in bench/bench_activations.py on the machine this was measured on). The callers scale their weights' columns by -β once (`gate_scale`), so `activate`
starts at the exp. e^-z overflows to inf for very negative z, which gives σ = 1/inf = 0
exactly; the callers run it inside np.errstate(over="ignore"), so numpy does not warn of it.
The derivative, written with the activation y, is y(1 - y) on the sigmoid blocks and 1 - y² on
the tanh block.

`to_onnx` writes the same maths as ONNX operators for minigrad.onnx.export, with σ(z) written
½ tanh(½ z) + ½ (one Tanh for the gate block), and not as ONNX's own LSTM node: ONNX Runtime runs
that in float32 only, and on this model it ran slower than the unrolled steps.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from minigrad.function import Function


@lru_cache(maxsize=None)
def _gate_constants(hidden: int, dtype: np.dtype) -> tuple:
    """(-β, β, 1 - β, scale, shift), each (4H,), for the gate order i, f, g, o: β of `activate`, and
    act(z) = scale ⊙ tanh(scale ⊙ z) + shift (scale = shift = ½ on the sigmoid blocks, 1 and 0 on g)."""
    beta = np.ones(4 * hidden, dtype=dtype)
    beta[2 * hidden:3 * hidden] = 2
    scale = np.full(4 * hidden, 0.5, dtype=dtype)
    scale[2 * hidden:3 * hidden] = 1
    shift = np.full(4 * hidden, 0.5, dtype=dtype)
    shift[2 * hidden:3 * hidden] = 0
    return -beta, beta, 1 - beta, scale, shift


def gate_scale(hidden: int, dtype) -> np.ndarray:
    """-β (4H,): `activate` reads -β ⊙ z, so callers scale their weights' columns once, not z at every step."""
    return _gate_constants(hidden, np.dtype(dtype))[0]


def activate(z: np.ndarray, hidden: int) -> np.ndarray:
    """[σ(z_i) σ(z_f) tanh(z_g) σ(z_o)] written in place over -β ⊙ z (…, 4H), the pre-activations
    z scaled by `gate_scale`, inside np.errstate(over="ignore") (see the module docstring).

    act(z) = β / (1 + e^-βz) + (1 - β): σ where β = 1, 2σ(2z) - 1 = tanh where β = 2. Dividing
    β by the whole block and adding 1 - β to it are two passes along whole rows, cheaper than
    doubling σ on the g block and subtracting 1 there (two passes of H elements at a time), and
    give the same values to the bit (doubling is exact)."""
    _, beta, one_minus_beta, _, _ = _gate_constants(hidden, z.dtype)
    np.exp(z, out=z)
    z += 1
    np.divide(beta, z, out=z)
    z += one_minus_beta
    return z


def slopes(gates: np.ndarray, hidden: int) -> np.ndarray:
    """∂gate/∂z for activated gates y (…, 4H), in a new C-ordered array: y(1 - y), and 1 - y² on the g block."""
    result = np.subtract(1, gates, order="C")
    result *= gates
    g, slope_g = gates[..., 2 * hidden:3 * hidden], result[..., 2 * hidden:3 * hidden]
    np.multiply(g, g, out=slope_g)
    np.subtract(1, slope_g, out=slope_g)
    return result


def onnx_step(graph, z: str, c: str | None, scale: str, shift: str, names=(None, None)) -> tuple:
    """(h', c') as ONNX values from the pre-activations z and the cell state c (None for a zero
    state), named `names` when given."""
    gates = graph.op("Add", graph.op("Mul", graph.op("Tanh", graph.op("Mul", z, scale)), scale), shift)
    i, f, g, o = graph.op("Split", gates, axis=-1, num_outputs=4, outputs=4)
    if c is None:
        c_next = onnx_named(graph, "Mul", [i, g], names[1])
    else:
        c_next = onnx_named(graph, "Add", [graph.op("Mul", f, c), graph.op("Mul", i, g)], names[1])
    return onnx_named(graph, "Mul", [o, graph.op("Tanh", c_next)], names[0]), c_next


def onnx_named(graph, op_type: str, inputs: list, name: str | None, **attributes) -> str:
    """One ONNX node whose output is called `name` (graph.op's own numbered name when None)."""
    if name is None:
        return graph.op(op_type, *inputs, **attributes)
    name = graph.fresh(name)
    graph.add_node(op_type, inputs, [name], **attributes)
    return name


def onnx_gate_constants(graph, hidden: int, dtype) -> tuple:
    *_, scale, shift = _gate_constants(hidden, np.dtype(dtype))
    return graph.constant(scale, "lstm gate scale"), graph.constant(shift, "lstm gate shift")


def gate_factors(gates: np.ndarray, c_previous: np.ndarray, tanh_c: np.ndarray, hidden: int) -> tuple:
    """For every step at once, what backward through time multiplies the carried gradients by:
    act' ⊙ [g, c<p>, i, tanh c], shaped (…, 4, H), and o ⊙ (1 - tanh² c)."""
    i, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in (0, 2, 3))
    factors = slopes(gates, hidden).reshape(gates.shape[:-1] + (4, hidden))
    factors[..., 0, :] *= g
    factors[..., 1, :] *= c_previous
    factors[..., 2, :] *= i
    factors[..., 3, :] *= tanh_c
    through_tanh = tanh_c * tanh_c
    np.subtract(1, through_tanh, out=through_tanh)
    through_tanh *= o
    return factors, through_tanh


def cell_update(gates: np.ndarray, c_previous: np.ndarray, hidden: int, c: np.ndarray, tanh_c: np.ndarray,
                h: np.ndarray, scratch: np.ndarray) -> None:
    """One step's c = f ⊙ c<p> + i ⊙ g, tanh c and h = o ⊙ tanh c from its activated gates (…, 4H),
    written into the arrays `c`, `tanh_c` and `h` (`scratch` is one more array of their shape)."""
    i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    np.multiply(f, c_previous, out=c)
    c += np.multiply(i, g, out=scratch)
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def cell_gradient(factors: np.ndarray, through_tanh: np.ndarray, d_h: np.ndarray, from_next_c, out: np.ndarray,
                  carried: np.ndarray) -> np.ndarray:
    """One step of backward through time: δc = δh ⊙ o ⊙ (1 - tanh² c) + δc<n> ⊙ f<n> (the second term
    `from_next_c`, None for the last step read), returned, and dz = act' ⊙ [δc ⊙ g, δc ⊙ c<p>,
    δc ⊙ i, δh ⊙ tanh c] written into `out` (…, 4, H). [δc, δc, δc, δh] is first copied into the
    array `carried` (…, 4, H): one multiply of whole rows then costs less than multiplies that
    broadcast along the gate axis (H elements at a time)."""
    d_c = d_h * through_tanh
    if from_next_c is not None:
        d_c += from_next_c
    carried[..., :3, :] = d_c[..., None, :]
    carried[..., 3, :] = d_h
    np.multiply(factors, carried, out=out)
    return d_c


class BidirectionalLSTM(Function):
    """Both directions of an LSTM layer over a whole sequence, from a zero state, as a single node.

    Inputs: P→ and P← = x W_x + b_x of each direction's cell at every position, time-major
    (T, B, 4H) as the composed encoder makes them (attention/encoder.py), and the two cells'
    W_h→, W_h← (H, 4H). Output: a<t> = [h→<t>; h←<t>] for every position, (B, T, 2H).
    The left-to-right direction reads positions 1 … T, the right-to-left one T … 1; reading step
    k of both runs as one batched step, (2, B, H)·(2, H, 4H).

    Forward, for each direction and each position t in its reading order, with p the position
    read just before it (h<p> = c<p> = 0 for the first):
        [i f g o]<t> = act(P<t> + h<p> W_h),   c<t> = f<t> ⊙ c<p> + i<t> ⊙ g<t>,   h<t> = o<t> ⊙ tanh c<t>
    Backward through time, in the opposite order, with ĝh<t> the gradient of the output h<t>
    and n the position read just after t (its terms are zero for the last position read):
        δh<t> = ĝh<t> + dz<n> W_hᵀ
        δc<t> = δh<t> ⊙ o<t> ⊙ (1 - tanh² c<t>) + δc<n> ⊙ f<n>
        dz<t> = [δc<t> ⊙ g<t>, δc<t> ⊙ c<p>, δc<t> ⊙ i<t>, δh<t> ⊙ tanh c<t>] ⊙ act'<t>
        dP<t> = dz<t>,   dW_h = Σ_t h<p>ᵀ dz<t>
    What does not depend on the carried δh, δc (act', the gate factors, dW_h) is computed for
    all positions at once, outside the loop.
    """
    __slots__ = ()

    def forward(self, projected_forward, projected_backward, weight_forward, weight_backward):
        steps, batch, width = projected_forward.shape
        hidden = width // 4
        weight_h = np.stack([weight_forward, weight_backward])
        dtype = weight_h.dtype
        scale = gate_scale(hidden, dtype)
        # Reading step k, then direction: [k, 0] holds position k, [k, 1] position T-1-k, so
        # that each step's (2, B, ·) block is contiguous; hs and cs have an extra slot 0 for the
        # zero state read first.
        gates = np.empty((steps, 2, batch, width), dtype=dtype)
        np.multiply(projected_forward, scale, out=gates[:, 0])
        np.multiply(projected_backward[::-1], scale, out=gates[:, 1])
        weight_scaled = weight_h * scale
        hs = np.zeros((steps + 1, 2, batch, hidden), dtype=dtype)
        cs = np.zeros_like(hs)
        tanh_cs = np.empty((steps, 2, batch, hidden), dtype=dtype)
        scratch = np.empty((2, batch, hidden), dtype=dtype)
        with np.errstate(over="ignore"):
            for k in range(steps):
                z = gates[k]
                if k:
                    z += np.matmul(hs[k], weight_scaled)
                activate(z, hidden)
                cell_update(z, cs[k], hidden, cs[k + 1], tanh_cs[k], hs[k + 1], scratch)
        self.save_for_backward(hs, cs, tanh_cs, gates, weight_h)
        out = np.empty((batch, steps, 2 * hidden), dtype=dtype)
        out[..., :hidden] = hs[1:, 0].swapaxes(0, 1)
        out[..., hidden:] = hs[:0:-1, 1].swapaxes(0, 1)
        return out

    def backward(self, grad):
        hs, cs, tanh_cs, gates, weight_h = self.saved
        steps, _, batch, width = gates.shape
        hidden = width // 4
        factors, through_tanh = gate_factors(gates, cs[:-1], tanh_cs, hidden)  # (T, 2, B, 4, H), (T, 2, B, H)
        forget = gates[..., hidden:2 * hidden]
        d_h = np.empty((steps, 2, batch, hidden), dtype=gates.dtype)  # ĝh, then δh, in reading order
        d_h[:, 0] = grad[..., :hidden].swapaxes(0, 1)
        d_h[:, 1] = grad[:, ::-1, hidden:].swapaxes(0, 1)
        d_z = factors  # each step's dz is written over its factors, which nothing reads after
        weight_h_t = weight_h.swapaxes(1, 2)
        carried = np.empty((2, batch, 4, hidden), dtype=gates.dtype)
        from_next_c = None  # δc<n> ⊙ f<n>
        for k in reversed(range(steps)):
            d_c = cell_gradient(factors[k], through_tanh[k], d_h[k], from_next_c, d_z[k], carried)
            if k:
                d_h[k - 1] += np.matmul(d_z[k].reshape(2, batch, width), weight_h_t)
                from_next_c = d_c * forget[k]
        d_z = d_z.reshape(steps, 2, batch, width)
        # dW_h = Σ_k h<k-1>ᵀ dz<k>, one (H, B)·(B, 4H) product per step and direction (h<0> = 0:
        # step 0 adds nothing), summed: cheaper than copying dz into one matrix per direction
        d_weight_h = np.matmul(hs[1:-1].swapaxes(-1, -2), d_z[1:]).sum(axis=0)
        grads = d_z[:, 0], d_z[::-1, 1], d_weight_h[0], d_weight_h[1]
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        """Unrolled: one step per position and direction (T is fixed by the traced shape, the batch is not)."""
        projected = inputs[:2]
        weights = inputs[2:]
        steps, hidden = self.inputs[0].shape[0], self.inputs[2].shape[0]
        scale, shift = onnx_gate_constants(graph, hidden, self.inputs[0].dtype)
        axis = graph.integers([1])
        directions = []
        for p, weight_h, order in zip(projected, weights, (range(steps), range(steps - 1, -1, -1))):
            h = c = None
            outputs = {}
            for t in order:
                z = graph.op("Gather", p, graph.integers(t), axis=0)
                if h is not None:
                    z = graph.op("Add", graph.op("MatMul", h, weight_h), z)
                h, c = onnx_step(graph, z, c, scale, shift)
                outputs[t] = graph.op("Unsqueeze", h, axis)
            directions.append(graph.op("Concat", *[outputs[t] for t in range(steps)], axis=1))
        return graph.op("Concat", *directions, axis=-1)
