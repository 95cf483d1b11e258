"""The fast twin of a composed model: `fast(model)` computes what `model` computes with fewer, larger nodes.

The twin holds the composed model's own modules, so it trains the same Parameter objects
under the same names: one optimizer, one state_dict, one model.npz for both. What changes is
how the graph is built:
    encoder          both LSTM directions are one BidirectionalLSTM node (attention/fused_lstm.py);
    attention keys   the part of the score that does not depend on t is computed once per
                     sequence: U a + b for Bahdanau's, a W_a + b for the dlai one (Dense(10) on
                     [a<t'>; s<t-1>] is a<t'> W_a + s<t-1> W_s + b, W_a the first n_a2 rows of its
                     weight, W_s the rest), so each step only adds s<t-1> W_s;
    decoder          every step's attention and post-attention LSTM are one AttentionDecoder
                     node (with another cell, each step's attention is one Attention node and
                     the cell is composed);
    output layer     one (B·Ty, n_s)·(n_s, V) matmul after the loop instead of Ty small ones.
The composed model is what a student reads, draws and steps through; the twin is what the
default `train`, the held-out evaluation, `translate`, `evaluate` and `export` run.
Both give the same outputs and gradients to float rounding (tests/test_fast.py).
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from attention.additive import BahdanauAttention, DlaiAttention
from attention.cells import LSTMCell
from attention.encoder import to_time_major
from attention.fused_lstm import (BidirectionalLSTM, activate, cell_gradient, cell_update, gate_factors, gate_scale,
                                  onnx_gate_constants, onnx_named, onnx_step)
from attention.seq2seq import Seq2SeqAttention
from minigrad.function import Function
from minigrad.nn import Module
from minigrad.tensor import Tensor


def _onnx_attend(graph, keys, a, s_prev, weight_query, weight_energy, bias_energy=None, alpha_name=None) -> tuple:
    """(α, c) as ONNX values, the maths of `attend` (s_prev None: the zero state), α named `alpha_name` if given."""
    axis_1, axis_last = graph.integers([1]), graph.integers([-1])
    if s_prev is not None:
        keys = graph.op("Add", keys, graph.op("Unsqueeze", graph.op("MatMul", s_prev, weight_query), axis_1))
    hidden = graph.op("Tanh", keys)
    energies = graph.op("Squeeze", graph.op("MatMul", hidden, weight_energy), axis_last)
    if bias_energy is not None:
        energies = graph.op("Relu", graph.op("Add", energies, bias_energy))
    alpha = onnx_named(graph, "Softmax", [energies], alpha_name, axis=-1)
    context = graph.op("Squeeze", graph.op("MatMul", graph.op("Unsqueeze", alpha, axis_1), a), axis_1)
    return alpha, context


class Attention(Function):
    """One decoder step's additive attention as a single node.

    Inputs: keys K (B, Tx, h) (what the score computes once per sequence), a (B, Tx, n_a2),
    s<t-1> (B, n_s), W_s (n_s, h), w_e (h, 1), and for the dlai score its bias b_e (1,).
    Output: [α<t,·>; c<t>] (B, Tx + n_a2).
        H = tanh(K + s<t-1> W_s),   e = H w_e (Bahdanau's)  or  e = relu(H w_e + b_e) (dlai)
        α = softmax over t' of e,   c = Σ_t' α<t'> a<t'>
    Backward, with ĝα, ĝc the gradients of α and c:
        dα = ĝα + a ĝc,   da = α ĝcᵀ,   de = α ⊙ (dα - Σ_t' α dα)   (⊙ [H w_e + b_e > 0] for dlai)
        dw_e = Σ Hᵀ de,   db_e = Σ de,   dK = de w_eᵀ ⊙ (1 - H²),   dq = Σ_t' dK
        ds<t-1> = dq W_sᵀ,   dW_s = s<t-1>ᵀ dq
    """
    __slots__ = ()

    def forward(self, keys, a, s_prev, weight_query, weight_energy, *bias_energy):
        hidden = keys + np.matmul(s_prev, weight_query)[:, None, :]
        np.tanh(hidden, out=hidden)
        batch, tx, width = hidden.shape
        energies = np.matmul(hidden.reshape(batch * tx, width), weight_energy).reshape(batch, tx)
        positive = None
        if bias_energy:  # the dlai score: relu(… + b)
            energies += bias_energy[0]
            positive = energies > 0
            energies *= positive
        alpha = np.exp(energies - energies.max(axis=-1, keepdims=True))
        alpha /= alpha.sum(axis=-1, keepdims=True)
        context = np.matmul(alpha[:, None, :], a)[:, 0]
        self.save_for_backward(a, s_prev, weight_query, weight_energy, hidden, positive, alpha)
        return np.concatenate([alpha, context], axis=-1)

    def backward(self, grad):
        a, s_prev, weight_query, weight_energy, hidden, positive, alpha = self.saved
        batch, tx, width = hidden.shape
        grad_alpha, grad_context = grad[:, :tx], grad[:, tx:]
        d_alpha = np.matmul(a, grad_context[:, :, None])[..., 0]
        d_alpha += grad_alpha
        d_a = alpha[:, :, None] * grad_context[:, None, :]
        d_energies = d_alpha - (alpha * d_alpha).sum(axis=-1, keepdims=True)
        d_energies *= alpha
        d_bias = None
        if positive is not None:
            d_energies *= positive
            d_bias = d_energies.sum().reshape(1)
        d_weight_energy = hidden.reshape(-1, width).T @ d_energies.reshape(-1, 1)
        d_hidden = d_energies[:, :, None] * weight_energy[:, 0]
        d_hidden *= 1 - hidden * hidden
        d_query = d_hidden.sum(axis=1)
        grads = d_hidden, d_a, d_query @ weight_query.T, s_prev.T @ d_query, d_weight_energy, d_bias
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        return graph.op("Concat", *_onnx_attend(graph, *inputs), axis=-1)


class AttentionDecoder(Function):
    """Every decoder step, attention and post-attention LSTM, as a single node (the decoder reads
    no output of its own, so its loop is fixed once a is).

    Inputs: keys K (B, Tx, h), a (B, Tx, n_a2), the LSTM's W_x (n_a2, 4n_s), b_x (4n_s,),
    W_h (n_s, 4n_s), the score's W_s (n_s, h), w_e (h, 1) and for the dlai score b_e (1,).
    Output: [s<t>; α<t,·>] for t = 1 … Ty, (B, Ty, n_s + Tx); s<0> = memory<0> = 0.
    Forward, step t:
        H = tanh(K + s<t-1> W_s),   e = H w_e (Bahdanau's)  or  e = relu(H w_e + b_e) (dlai)
        α<t,·> = softmax over t' of e,   c<t> = Σ_t' α<t'> a<t'>
        [i f g o] = act(c<t> W_x + b_x + s<t-1> W_h)
        memory<t> = f ⊙ memory<t-1> + i ⊙ g,   s<t> = o ⊙ tanh memory<t>
    H is computed as 2σ(2(K + s W_s)) - 1 (one exp, as the gates: attention/fused_lstm.py).
    Backward through time, from t = Ty down to 1, with ĝs<t>, ĝα<t> the output's gradients and
    the terms of step Ty + 1 zero:
        δs<t> = ĝs<t> + dz<t+1> W_hᵀ + dq<t+1> W_sᵀ,   δm<t> = δs<t> ⊙ o ⊙ (1 - tanh² memory<t>) + δm<t+1> ⊙ f<t+1>
        dz<t> = [δm ⊙ g, δm ⊙ memory<t-1>, δm ⊙ i, δs ⊙ tanh memory<t>] ⊙ act'
        dc<t> = dz<t> W_xᵀ,   dα = ĝα<t> + a dc<t>,   de<t> = α ⊙ (dα - Σ_t' α dα)   (⊙ [H w_e + b_e > 0] for dlai)
        dK<t> = de<t> w_eᵀ ⊙ (1 - H²),   dq<t> = Σ_t' dK<t>
    and the weights' gradients once, from the steps' arrays stacked:
        dW_x = Σ_t c<t>ᵀ dz<t>,   db_x = Σ dz,   dW_h = Σ_t s<t-1>ᵀ dz<t>,   dW_s = Σ_t s<t-1>ᵀ dq<t>,
        dw_e = Σ Hᵀ de,   db_e = Σ de,   dK = Σ_t dK<t>,   da = Σ_t α<t,·>ᵀ dc<t>
    """
    __slots__ = ("steps",)

    def forward(self, keys, a, weight_x, bias_x, weight_h, weight_query, weight_energy, *bias_energy, steps: int):
        self.steps = steps
        batch, tx, n_a2 = a.shape
        n_s, hidden = weight_query.shape
        width = 4 * n_s
        dtype = np.result_type(keys, a, weight_h)
        weight_state = np.concatenate([weight_h, weight_query], axis=1)  # s<t-1> W_h and s<t-1> W_s in one product
        scale = np.concatenate([gate_scale(n_s, dtype), np.ones(hidden, dtype=dtype)])
        scaled_x, scaled_bias, scaled_state = weight_x * scale[:width], bias_x * scale[:width], weight_state * scale
        # (`activate` reads -β ⊙ z: the LSTM's weights are scaled once, not z at every step)
        # H = 2σ(2(K + q)) - 1 with σ(y) = 1 / (1 + e^-y), laid out (Tx, h, B): q<t>ᵀ (h, B) then
        # broadcasts over the positions, and backward's de (Tx, 1, B) over the h features, along
        # whole rows of B (h is small: numpy's loops along it would be 10 elements long);
        # e^-2(K+q) = e^-2K ⊙ e^-2q when neither factor can overflow (|q| ≤ Σ|W_s| since |s| < 1),
        # so the (Tx, h, B) exp is taken once, not at every step.
        limit = np.log(np.finfo(dtype).max) / 4
        factored = np.abs(keys).max(initial=0) <= limit and np.abs(weight_query).sum(axis=0).max() <= limit
        keys_term = np.multiply(keys.transpose(1, 2, 0), -2, dtype=dtype, order="C")
        if factored:
            np.exp(keys_term, out=keys_term)
        energy_weight = weight_energy[:, 0] * 2  # e = H w_e = σ(…)·2w_e - Σ w_e
        energy_shift = -weight_energy.sum() + (bias_energy[0][0] if bias_energy else 0)
        s = np.zeros((steps + 1, batch, n_s), dtype=dtype)
        memory = np.zeros_like(s)
        tanh_memory = np.empty((steps, batch, n_s), dtype=dtype)
        gates = np.empty((steps, batch, width), dtype=dtype)
        sigmas = np.empty((steps, tx, hidden, batch), dtype=dtype)
        alphas = np.empty((steps, batch, tx), dtype=dtype)
        contexts = np.empty((steps, batch, 1, n_a2), dtype=dtype)
        positive = np.empty((steps, tx, batch), dtype=bool) if bias_energy else None
        scratch = np.empty((batch, n_s), dtype=dtype)
        with np.errstate(over="ignore"):
            for t in range(steps):
                both = np.matmul(s[t], scaled_state) if t else np.zeros((batch, width + hidden), dtype=dtype)
                # -2q<t>ᵀ (h, B) in a C-ordered array of its own: the (Tx, h, B) products below then
                # run along its whole rows, not along columns of `both`
                query = np.multiply(both[:, width:].T, -2, order="C")
                sigma = sigmas[t]
                if factored:
                    np.multiply(keys_term, np.exp(query, out=query), out=sigma)
                else:
                    np.exp(np.add(keys_term, query, out=sigma), out=sigma)
                sigma += 1
                np.reciprocal(sigma, out=sigma)
                energies = np.matmul(energy_weight, sigma)  # (Tx, B)
                energies += energy_shift
                if positive is not None:  # the dlai score: relu(… + b)
                    np.greater(energies, 0, out=positive[t])
                    energies *= positive[t]
                energies -= energies.max(axis=0)
                alpha = np.exp(energies.T, out=alphas[t])
                alpha /= alpha.sum(axis=-1, keepdims=True)
                np.matmul(alpha[:, None, :], a, out=contexts[t])
                z = np.matmul(contexts[t, :, 0], scaled_x, out=gates[t])
                z += scaled_bias
                z += both[:, :width]
                activate(z, n_s)
                cell_update(z, memory[t], n_s, memory[t + 1], tanh_memory[t], s[t + 1], scratch)
        self.save_for_backward(a, weight_x, weight_state, weight_energy, s, memory, tanh_memory, gates, sigmas,
                               alphas, contexts, positive)
        out = np.empty((batch, steps, n_s + tx), dtype=dtype)
        out[..., :n_s] = s[1:].swapaxes(0, 1)
        out[..., n_s:] = alphas.swapaxes(0, 1)
        return out

    def backward(self, grad):
        a, weight_x, weight_state, weight_energy, s, memory, tanh_memory, gates, sigmas, alphas, contexts, \
            positive = self.saved
        steps, batch, width = gates.shape
        n_s, hidden, (_, tx, n_a2) = width // 4, sigmas.shape[2], a.shape
        factors, through_tanh = gate_factors(gates, memory[:-1], tanh_memory, n_s)
        forget = gates[..., n_s:2 * n_s]
        grad_s = grad[..., :n_s].swapaxes(0, 1)
        grad_alpha = grad[..., n_s:].swapaxes(0, 1)
        # dK<t> / de<t> = w_eᵀ ⊙ (1 - H²), 1 - H² = 4σ(1 - σ): the loop sums σ(1 - σ) ⊙ de, and the
        # factor 4w_e multiplies the sums (dq<t> at each step, dK once)
        energy_slopes = np.subtract(1, sigmas)
        energy_slopes *= sigmas
        slope_weight = weight_energy[:, 0] * 4
        d_zq = np.empty((steps, batch, width + hidden), dtype=gates.dtype)  # [dz<t>, dq<t>]
        d_contexts = np.empty((steps, batch, n_a2), dtype=gates.dtype)
        d_energies = np.empty((steps, tx, batch), dtype=gates.dtype)
        weight_x_t, weight_state_t = weight_x.T, weight_state.T
        carried = np.empty((batch, 4, n_s), dtype=gates.dtype)
        d_keys_step = np.empty(sigmas.shape[1:], dtype=gates.dtype)
        d_keys = np.zeros(sigmas.shape[1:], dtype=gates.dtype)  # Σ_t dK<t> / 4w_e, (Tx, h, B) as the σ
        from_next_s = from_next_m = None  # dz<t+1> W_hᵀ + dq<t+1> W_sᵀ and δm<t+1> ⊙ f<t+1>
        for t in reversed(range(steps)):
            d_s = grad_s[t] if from_next_s is None else grad_s[t] + from_next_s
            d_z = d_zq[t, :, :width]
            d_m = cell_gradient(factors[t], through_tanh[t], d_s, from_next_m, d_z.reshape(batch, 4, n_s), carried)
            d_context = np.matmul(d_z, weight_x_t, out=d_contexts[t])
            d_alpha = np.matmul(a, d_context[:, :, None])[..., 0]
            d_alpha += grad_alpha[t]
            alpha = alphas[t]
            d_alpha -= (alpha * d_alpha).sum(axis=-1, keepdims=True)
            d_energy = np.multiply(alpha.T, d_alpha.T, out=d_energies[t])
            if positive is not None:
                d_energy *= positive[t]
            np.multiply(energy_slopes[t], d_energy[:, None, :], out=d_keys_step)
            d_query = d_zq[t, :, width:]
            np.sum(d_keys_step, axis=0, out=d_query.T)
            d_query *= slope_weight
            d_keys += d_keys_step
            if t:
                from_next_s = d_zq[t] @ weight_state_t
                from_next_m = d_m * forget[t]
        rows = steps * batch
        d_zq_rows = d_zq.reshape(rows, width + hidden)
        d_z_rows = d_zq_rows[:, :width]
        d_weight_state = s[1:-1].reshape(rows - batch, n_s).T @ d_zq_rows[batch:]  # s<0> = 0 adds nothing
        d_a = np.matmul(alphas.transpose(1, 2, 0), d_contexts.swapaxes(0, 1))
        d_energy_total = d_energies.sum()
        d_weight_energy = np.matmul(sigmas.reshape(steps * tx, hidden, batch),
                                    d_energies.reshape(steps * tx, batch, 1)).sum(axis=0) * 2 - d_energy_total
        d_keys *= slope_weight[:, None]
        grads = (d_keys.transpose(2, 0, 1), d_a, contexts.reshape(rows, n_a2).T @ d_z_rows, d_z_rows.sum(axis=0),
                 d_weight_state[:, :width], d_weight_state[:, width:], d_weight_energy,
                 d_energy_total.reshape(1) if positive is not None else None)
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        """Unrolled: Ty steps of `_onnx_attend` and the LSTM step (the first from the zero state)."""
        keys, a, weight_x, bias_x, weight_h, weight_query, *score = inputs
        n_s = self.inputs[4].shape[0]
        scale, shift = onnx_gate_constants(graph, n_s, self.inputs[4].dtype)
        axis = graph.integers([1])
        s = memory = None
        outputs = []
        for t in range(1, self.steps + 1):
            alpha, context = _onnx_attend(graph, keys, a, s, weight_query, *score, alpha_name=f"alpha<{t},·>")
            z = graph.op("Add", graph.op("MatMul", context, weight_x), bias_x)
            if s is not None:
                z = graph.op("Add", z, graph.op("MatMul", s, weight_h))
            s, memory = onnx_step(graph, z, memory, scale, shift, names=(f"s<{t}>", f"memory<{t}>"))
            outputs.append(graph.op("Unsqueeze", graph.op("Concat", s, alpha, axis=-1), axis))
        return graph.op("Concat", *outputs, axis=1)


# --- the twin ---------------------------------------------------------------------------------
def _score_parts(attention, a: Tensor) -> tuple:
    """(keys, W_s, w_e, b_e…) of the attention's score, the inputs of an Attention node."""
    if isinstance(attention, DlaiAttention):
        layer, width = attention.energy_hidden, a.shape[-1]
        keys = (a @ layer.weight[:width] + layer.bias).named("a W_a + b")
        out = attention.energy_out
        return keys, layer.weight[width:].named("W_s"), out.weight, out.bias
    if isinstance(attention, BahdanauAttention):
        return attention.keys(a), attention.query.weight, attention.v.weight
    raise TypeError(f"fast(): no fast form of {type(attention).__name__}")


class FastSeq2SeqAttention(Seq2SeqAttention):
    """The twin of a Seq2SeqAttention, sharing its modules (see the module docstring)."""

    def __init__(self, model: Seq2SeqAttention):
        Module.__init__(self)  # not Seq2SeqAttention's, which would build new modules
        self.config = model.config
        self.encoder, self.attention = model.encoder, model.attention
        self.post_attention, self.output = model.post_attention, model.output

    def encode(self, index: np.ndarray) -> Tensor:
        """a (B, Tx, 2·n_a): with LSTM cells one BidirectionalLSTM node; other cells composed."""
        encoder = self.encoder
        if not isinstance(encoder.forward_cell, LSTMCell):
            return encoder(index)
        with mg.scope("encoder"):
            cells = encoder.forward_cell, encoder.backward_cell
            steps_first = to_time_major(index)
            return BidirectionalLSTM.apply(*[cell.input_projection(steps_first) for cell in cells],
                                           *[cell.weight_h for cell in cells]).named("a")

    def decode(self, a: Tensor) -> tuple:
        """s (B, Ty, n_s) and α (B, Ty, Tx): with an LSTM cell one AttentionDecoder node; with
        another, one Attention node per step and the composed cell."""
        cell, ty = self.post_attention, self.config.Ty
        keys, *weights = _score_parts(self.attention, a)
        with mg.scope("decoder"):
            if isinstance(cell, LSTMCell):
                both = AttentionDecoder.apply(keys, a, cell.weight_x, cell.bias_x, cell.weight_h, *weights,
                                              steps=ty).named("[s; alpha]")
                n_s = self.config.n_s
                return both[..., :n_s].named("s"), both[..., n_s:].named("alpha")
        state = cell.initial_state(a.shape[0])
        states, alphas = [], []
        tx = a.shape[1]
        for t in range(1, ty + 1):
            with mg.scope("decoder", step=t):
                both = Attention.apply(keys, a, state[0], *weights).named("[alpha<t,·>; c<t>]")
                state = cell(both[:, tx:].named("c<t>"), state)
                states.append(state[0].named("s<t>"))
                alphas.append(both[:, :tx].named("alpha<t,·>"))
        return mg.stack(states, axis=1).named("s"), mg.stack(alphas, axis=1).named("alpha")

    def forward(self, x) -> tuple[Tensor, Tensor]:
        """x: (B, Tx) token indices → logits (B, Ty, output_vocab) and α (B, Ty, Tx), as the model's."""
        index = self.token_indices(x)
        batch, ty, n_s = index.shape[0], self.config.Ty, self.config.n_s
        s, alpha = self.decode(self.encode(index))
        s = s.reshape(batch * ty, n_s)  # the output layer once, after the loop
        logits = self.output(s).reshape(batch, ty, self.config.output_vocab).named("logits")
        return logits, alpha


def fast(model: Seq2SeqAttention) -> FastSeq2SeqAttention:
    """The fast twin of `model` (itself if it is one already): the same parameters, fewer nodes."""
    return model if isinstance(model, FastSeq2SeqAttention) else FastSeq2SeqAttention(model)
