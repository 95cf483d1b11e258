"""Coursework assignment 3, recurrent cells and attention: each test grades one task.

attention.cells and attention.additive are imported inside the tests, so a submission whose
additive.py does not load still scores its cells.

Each piece is checked against the same maths written in plain numpy, and by the graph it
builds (walked without minigrad's topological order, task 1.6): a forward computed outside
the graph would give the right numbers but no gradients.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor
from graph_walk import functions_used, reaches

B, N_IN, N_H = 3, 5, 4


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def projected_input(cell, rng):
    """x W_x + b_x for one timestep, as the encoder hands it to `step`."""
    x = Tensor(rng.standard_normal((B, N_IN)))
    return x, cell.input_projection(x)


def random_state(cell, rng):
    return tuple(Tensor(rng.standard_normal((B, cell.hidden_size)), requires_grad=True)
                 for _ in range(cell.state_count))


# --- 3.1 The RNN cell -----------------------------------------------------------------------------
@pytest.mark.task("3.1")
def test_rnn_step_values(rng):
    from attention.cells import RNNCell
    cell = RNNCell(N_IN, N_H, rng=rng, dtype=np.float64)
    x, projected = projected_input(cell, rng)
    (h,) = random_state(cell, rng)
    (h_next,) = cell.step(projected, (h,))
    expected = np.tanh(x.data @ cell.weight_x.data + cell.bias_x.data + h.data @ cell.weight_h.data)
    np.testing.assert_allclose(h_next.data, expected, rtol=1e-12)


@pytest.mark.task("3.1")
def test_rnn_step_is_in_the_graph(rng):
    from attention.cells import RNNCell
    cell = RNNCell(N_IN, N_H, rng=rng)
    x, projected = projected_input(cell, rng)
    (h,) = random_state(cell, rng)
    (h_next,) = cell.step(projected, (h,))
    assert h_next.shape == (B, N_H)
    assert reaches(h_next, h, cell.weight_h, cell.weight_x, cell.bias_x)
    assert {"Tanh", "MatMul"} <= functions_used(h_next)


# --- 3.2 The LSTM cell --------------------------------------------------------------------------
def numpy_lstm(x, h, c, cell):
    gates = x @ cell.weight_x.data + cell.bias_x.data + h @ cell.weight_h.data
    i, f, g, o = np.split(gates, 4, axis=-1)
    c_next = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_next), c_next


@pytest.mark.task("3.2")
def test_lstm_step_values(rng):
    """Gates i, f, g, o in that order; c' = f⊙c + i⊙g and h' = o⊙tanh(c')."""
    from attention.cells import LSTMCell
    cell = LSTMCell(N_IN, N_H, rng=rng, dtype=np.float64)
    cell.bias_x.data[:] = rng.standard_normal(4 * N_H)
    x, projected = projected_input(cell, rng)
    h, c = random_state(cell, rng)
    h_next, c_next = cell.step(projected, (h, c))
    expected_h, expected_c = numpy_lstm(x.data, h.data, c.data, cell)
    np.testing.assert_allclose(c_next.data, expected_c, rtol=1e-12)
    np.testing.assert_allclose(h_next.data, expected_h, rtol=1e-12)


@pytest.mark.task("3.2")
def test_lstm_with_a_closed_forget_gate_forgets(rng):
    """A forget-gate bias of −50 closes f: c' no longer depends on c."""
    from attention.cells import LSTMCell
    cell = LSTMCell(N_IN, N_H, rng=rng, dtype=np.float64)
    cell.bias_x.data[N_H:2 * N_H] = -50.0
    x, projected = projected_input(cell, rng)
    h, c = random_state(cell, rng)
    _, c_one = cell.step(projected, (h, c))
    _, c_two = cell.step(projected, (h, Tensor(c.data + 10.0)))
    np.testing.assert_allclose(c_one.data, c_two.data, atol=1e-12)


@pytest.mark.task("3.2")
def test_lstm_step_is_built_from_primitive_ops(rng):
    """Every gate is a node of the graph (Sigmoid, Tanh, Mul), not a node of the fast twin's fused LSTM."""
    from attention.cells import LSTMCell
    from attention.fast import AttentionDecoder
    from attention.fused_lstm import BidirectionalLSTM
    fused = {BidirectionalLSTM.__name__, AttentionDecoder.__name__}
    cell = LSTMCell(N_IN, N_H, rng=rng)
    x, projected = projected_input(cell, rng)
    h, c = random_state(cell, rng)
    h_next, c_next = cell.step(projected, (h, c))
    assert h_next.shape == c_next.shape == (B, N_H)
    used = functions_used(h_next)
    assert {"Sigmoid", "Tanh", "Mul", "MatMul"} <= used and used.isdisjoint(fused)
    assert reaches(h_next, h, c, cell.weight_h, cell.weight_x) and reaches(c_next, c, h)


# --- 3.3 The attention scorer -------------------------------------------------------------------
TX, N_A2, N_S = 6, 8, 5


def encoder_states_and_s(rng):
    a = Tensor(rng.standard_normal((B, TX, N_A2)), requires_grad=True, name="a")
    s_prev = Tensor(rng.standard_normal((B, N_S)), requires_grad=True, name="s<1>")
    return a, s_prev


@pytest.mark.task("3.3")
def test_dlai_energies(rng):
    """e<t,t'> = relu(Dense(1)(tanh(Dense(10)([a<t'>; s<t-1>])))), s<t-1> repeated for every t'."""
    from attention.additive import DlaiAttention
    attention = DlaiAttention(N_A2, N_S, rng=rng, dtype=np.float64)
    attention.energy_out.bias.data[:] = 0.3  # keep some energies above 0, where relu passes them
    a, s_prev = encoder_states_and_s(rng)
    e = attention.energies(s_prev, a, attention.keys(a))
    concatenated = np.concatenate([a.data, np.repeat(s_prev.data[:, None, :], TX, axis=1)], axis=-1)
    hidden = np.tanh(concatenated @ attention.energy_hidden.weight.data + attention.energy_hidden.bias.data)
    expected = np.maximum(hidden @ attention.energy_out.weight.data + attention.energy_out.bias.data, 0)
    assert e.shape == (B, TX, 1)
    np.testing.assert_allclose(e.data, expected, rtol=1e-12)
    assert (e.data > 0).any()
    assert reaches(e, a, s_prev, attention.energy_hidden.weight, attention.energy_out.weight)


@pytest.mark.task("3.3")
def test_bahdanau_energies(rng):
    """e<t,t'> = vᵀ tanh(W s<t-1> + U a<t'> + b), with U a + b the keys computed once per sequence."""
    from attention.additive import BahdanauAttention
    attention = BahdanauAttention(N_A2, N_S, rng=rng, dtype=np.float64)
    a, s_prev = encoder_states_and_s(rng)
    e = attention.energies(s_prev, a, attention.keys(a))
    keys = a.data @ attention.key.weight.data + attention.key.bias.data
    query = (s_prev.data @ attention.query.weight.data)[:, None, :]
    expected = np.tanh(keys + query) @ attention.v.weight.data
    assert e.shape == (B, TX, 1)
    np.testing.assert_allclose(e.data, expected, rtol=1e-12)
    assert reaches(e, a, s_prev, attention.query.weight, attention.key.weight, attention.v.weight)


# --- 3.4 α and c ----------------------------------------------------------------------------------
def attend_with_given_energies(score, rng, t=3):
    """Decoder step t of an attention whose scorer returns known energies, so only α and c are
    under test. Returns (α<t,·>, c<t>, the energies, a)."""
    from attention.additive import make_attention
    attention = make_attention(score, N_A2, N_S, rng=rng, dtype=np.float64)
    energies = Tensor(rng.standard_normal((B, TX, 1)), requires_grad=True, name="e")
    attention.energies = lambda s_prev, a, keys: energies
    a, s_prev = encoder_states_and_s(rng)
    with mg.scope("decoder", step=t):
        alpha, context = attention(s_prev, a, attention.keys(a))
    return alpha, context, energies, a


@pytest.mark.task("3.4")
@pytest.mark.parametrize("score", ["dlai", "bahdanau"])
def test_alpha_is_the_softmax_of_the_energies_over_t_prime(score, rng):
    alpha, _, energies, _ = attend_with_given_energies(score, rng)
    assert alpha.shape == (B, 1, TX)
    e = energies.data[:, :, 0]
    expected = np.exp(e) / np.exp(e).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(alpha.data[:, 0, :], expected, rtol=1e-12)
    np.testing.assert_allclose(alpha.data.sum(axis=-1), 1.0, rtol=1e-12)
    assert alpha.name == "alpha<3,·>" and reaches(alpha, energies)


@pytest.mark.task("3.4")
@pytest.mark.parametrize("score", ["dlai", "bahdanau"])
def test_context_is_the_alpha_weighted_sum_of_a(score, rng):
    """c<t> = Σ_t' α<t,t'> a<t'>: per sequence the (1×Tx)·(Tx×n) matmul of the seed."""
    alpha, context, energies, a = attend_with_given_energies(score, rng)
    assert context.shape == (B, 1, N_A2)
    expected = np.einsum("bt,btn->bn", alpha.data[:, 0, :], a.data)
    np.testing.assert_allclose(context.data[:, 0, :], expected, rtol=1e-12)
    assert context.name == "c<3>" and reaches(context, a, energies)
    assert "MatMul" in functions_used(context)
