"""The fast twin of a composed model: `fast(model)` computes what `model` computes with fewer, larger nodes.

The twin holds the composed model's own modules, so it trains the same Parameter objects
under the same names: one optimizer, one state_dict, one model.npz for both. What changes is
how the graph is built:
    encoder          an LSTM direction is one LSTMSequence node (attention/fused_lstm.py);
    attention keys   the part of the score that does not depend on t is computed once per
                     sequence: U a + b for Bahdanau's, a W_a + b for the dlai one (Dense(10) on
                     [a<t'>; s<t-1>] is a<t'> W_a + s<t-1> W_s + b, W_a the first n_a2 rows of its
                     weight, W_s the rest), so each step only adds s<t-1> W_s;
    decoder step t   attention and post-attention LSTM are one AttentionLSTMStep node (with
                     another cell, attention is one Attention node and the cell is composed);
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
from attention.fused_lstm import LSTMSequence, onnx_gate_constants, onnx_step, step_backward, step_forward
from attention.seq2seq import Seq2SeqAttention
from minigrad.function import Function
from minigrad.nn import Module
from minigrad.tensor import Tensor


# --- the attention of one decoder step, in numpy ---------------------------------------------
def attend(keys, a, s_prev, weight_query, weight_energy, bias_energy=None) -> tuple:
    """(α (B, Tx), c (B, n_a2), saved): the Attention Function's forward (see its docstring)."""
    hidden = keys + np.matmul(s_prev, weight_query)[:, None, :]
    np.tanh(hidden, out=hidden)
    batch, tx, width = hidden.shape
    energies = np.matmul(hidden.reshape(batch * tx, width), weight_energy).reshape(batch, tx)
    if bias_energy is not None:  # the dlai score: relu(… + b)
        energies += bias_energy
        positive = energies > 0
        energies *= positive
    else:
        positive = None
    alpha = np.exp(energies - energies.max(axis=-1, keepdims=True))
    alpha /= alpha.sum(axis=-1, keepdims=True)
    context = np.matmul(alpha[:, None, :], a)[:, 0]
    return alpha, context, (hidden, positive, alpha)


def attend_backward(grad_alpha, grad_context, a, s_prev, weight_query, weight_energy, saved) -> tuple:
    """(d keys, d a, d s<t-1>, d W_s, d w_e, d b_e or None) from the gradients of α and c."""
    hidden, positive, alpha = saved
    batch, tx, width = hidden.shape
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
    return (d_hidden, d_a, d_query @ weight_query.T, s_prev.T @ d_query, d_weight_energy, d_bias)


def _onnx_attend(graph, keys, a, s_prev, weight_query, weight_energy, bias_energy=None) -> tuple:
    """(α, c) as ONNX values, the maths of `attend`."""
    axis_1, axis_last = graph.integers([1]), graph.integers([-1])
    hidden = graph.op("Tanh", graph.op("Add", keys, graph.op("Unsqueeze", graph.op("MatMul", s_prev, weight_query),
                                                             axis_1)))
    energies = graph.op("Squeeze", graph.op("MatMul", hidden, weight_energy), axis_last)
    if bias_energy is not None:
        energies = graph.op("Relu", graph.op("Add", energies, bias_energy))
    alpha = graph.op("Softmax", energies, axis=-1)
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
        alpha, context, saved = attend(keys, a, s_prev, weight_query, weight_energy, *bias_energy)
        self.save_for_backward(a, s_prev, weight_query, weight_energy, *saved)
        return np.concatenate([alpha, context], axis=-1)

    def backward(self, grad):
        a, s_prev, weight_query, weight_energy, *saved = self.saved
        tx = a.shape[1]
        grads = attend_backward(grad[:, :tx], grad[:, tx:], a, s_prev, weight_query, weight_energy, saved)
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        return graph.op("Concat", *_onnx_attend(graph, *inputs), axis=-1)


class AttentionLSTMStep(Function):
    """One decoder step, attention and post-attention LSTM, as a single node.

    Inputs: the Attention node's (K, a, s<t-1>, W_s, w_e[, b_e]) with the LSTM's state and
    weights between them: K, a, s<t-1>, memory<t-1> (B, n_s), W_x (n_a2, 4n_s), b_x (4n_s,),
    W_h (n_s, 4n_s), W_s, w_e[, b_e]. Output: [s<t>; memory<t>; α<t,·>] (B, 2n_s + Tx).
        α<t,·>, c<t> = Attention(K, a, s<t-1>, …),   p = c<t> W_x + b_x
        s<t>, memory<t> = LSTMStep(p, s<t-1>, memory<t-1>, W_h)
    Backward: LSTMStep's gives dp, ds<t-1> and dmemory<t-1>; then dW_x = c<t>ᵀ dp, db_x = Σ dp,
    ĝc = dp W_xᵀ, and Attention's backward adds its ds<t-1>.
    """
    __slots__ = ()

    def forward(self, keys, a, s_prev, memory, weight_x, bias_x, weight_h, weight_query, weight_energy,
                *bias_energy):
        alpha, context, attended = attend(keys, a, s_prev, weight_query, weight_energy, *bias_energy)
        batch, n_s = s_prev.shape
        out = np.empty((batch, 2 * n_s + alpha.shape[1]), dtype=alpha.dtype)
        projected = context @ weight_x
        projected += bias_x
        gates, tanh_memory = step_forward(projected, s_prev, memory, weight_h, out[:, :n_s], out[:, n_s:2 * n_s])
        out[:, 2 * n_s:] = alpha
        self.save_for_backward(a, s_prev, memory, weight_x, weight_h, weight_query, weight_energy, context,
                               gates, tanh_memory, *attended)
        return out

    def backward(self, grad):
        a, s_prev, memory, weight_x, weight_h, weight_query, weight_energy, context, gates, tanh_memory, \
            *attended = self.saved
        n_s = s_prev.shape[1]
        d_projected, d_s_prev, d_memory, d_weight_h = step_backward(
            grad[:, :n_s], grad[:, n_s:2 * n_s], s_prev, memory, weight_h, gates, tanh_memory)
        d_keys, d_a, d_s_attention, d_weight_query, d_weight_energy, d_bias_energy = attend_backward(
            grad[:, 2 * n_s:], d_projected @ weight_x.T, a, s_prev, weight_query, weight_energy, attended)
        d_s_prev += d_s_attention
        grads = (d_keys, d_a, d_s_prev, d_memory, context.T @ d_projected, d_projected.sum(axis=0), d_weight_h,
                 d_weight_query, d_weight_energy, d_bias_energy)
        return tuple(g if needed else None for g, needed in zip(grads, self.needs_input_grad))

    def to_onnx(self, graph, inputs) -> str:
        keys, a, s_prev, memory, weight_x, bias_x, weight_h, *score = inputs
        alpha, context = _onnx_attend(graph, keys, a, s_prev, *score)
        scale, shift = onnx_gate_constants(graph, self.inputs[2].shape[1], self.inputs[2].dtype)
        projected = graph.op("Add", graph.op("MatMul", context, weight_x), bias_x)
        s, memory = onnx_step(graph, projected, s_prev, memory, weight_h, scale, shift)
        return graph.op("Concat", s, memory, alpha, axis=-1)


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
        """a (B, Tx, 2·n_a): an LSTM direction as one LSTMSequence node; other cells composed."""
        encoder = self.encoder
        if not isinstance(encoder.forward_cell, LSTMCell):
            return encoder(index)
        with mg.scope("encoder"):
            directions = []
            for cell, reverse in ((encoder.forward_cell, False), (encoder.backward_cell, True)):
                h, c = cell.initial_state(index.shape[0])
                directions.append(LSTMSequence.apply(cell.input_projection(index), h, c, cell.weight_h,
                                                     reverse=reverse))
            return mg.concat(directions, axis=-1).named("a")

    def step(self, state: tuple, a: Tensor, score: tuple) -> tuple:
        """(α<t,·>, state) of the decoder step the caller's scope names: with an LSTM cell one
        AttentionLSTMStep node; with another, one Attention node and the composed cell."""
        cell, n_s, tx = self.post_attention, self.config.n_s, a.shape[1]
        keys, *weights = score
        if isinstance(cell, LSTMCell):
            both = AttentionLSTMStep.apply(keys, a, *state, cell.weight_x, cell.bias_x, cell.weight_h,
                                           *weights).named("[s<t>; memory<t>; alpha<t,·>]")
            return both[:, 2 * n_s:].named("alpha<t,·>"), (both[:, :n_s].named("s<t>"),
                                                            both[:, n_s:2 * n_s].named("memory<t>"))
        both = Attention.apply(keys, a, state[0], *weights).named("[alpha<t,·>; c<t>]")
        h, *rest = cell(both[:, tx:].named("c<t>"), state)
        return both[:, :tx].named("alpha<t,·>"), (h.named("s<t>"), *rest)

    def forward(self, x) -> tuple[Tensor, Tensor]:
        """x: (B, Tx) token indices → logits (B, Ty, output_vocab) and α (B, Ty, Tx), as the model's."""
        index = self.token_indices(x)
        batch, ty, n_s = index.shape[0], self.config.Ty, self.config.n_s
        a = self.encode(index)
        score = _score_parts(self.attention, a)
        state = self.post_attention.initial_state(batch)
        states, alphas = [], []
        for t in range(1, ty + 1):
            with mg.scope("decoder", step=t):
                alpha, state = self.step(state, a, score)
            states.append(state[0])
            alphas.append(alpha)
        s = mg.stack(states, axis=1).reshape(batch * ty, n_s).named("s")  # the output layer once, after the loop
        logits = self.output(s).reshape(batch, ty, self.config.output_vocab).named("logits")
        return logits, mg.stack(alphas, axis=1).named("alpha")


def fast(model: Seq2SeqAttention) -> FastSeq2SeqAttention:
    """The fast twin of `model` (itself if it is one already): the same parameters, fewer nodes."""
    return model if isinstance(model, FastSeq2SeqAttention) else FastSeq2SeqAttention(model)
