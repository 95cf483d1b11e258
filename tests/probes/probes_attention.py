"""Probes of assignment 3: the RNN and LSTM cells, the attention scorer, α and c."""
import numpy as np

from coursework.probe import functions_used, probe, reaches

B, N_IN, N_H, TX, N_A2, N_S = 3, 5, 4, 6, 8, 5


def cell_step(cell_class, rng, open_bias=False):
    from minigrad import Tensor
    cell = cell_class(N_IN, N_H, rng=rng, dtype=np.float64)
    if open_bias:
        cell.bias_x.data[:] = rng.standard_normal(cell.bias_x.data.shape)
    projected = cell.input_projection(Tensor(rng.standard_normal((B, N_IN)), dtype=np.float64))
    state = tuple(Tensor(rng.standard_normal((B, N_H)), requires_grad=True, dtype=np.float64)
                  for _ in range(cell.state_count))
    return cell, state, cell.step(projected, state)


# --- 3.1 -------------------------------------------------------------------------------------
@probe("3.1")
def rnn_step_values(rng):
    """The RNN cell's step"""
    from attention.cells import RNNCell
    _, _, (h_next,) = cell_step(RNNCell, rng)
    return h_next.data


@probe("3.1")
def rnn_step_graph(rng):
    """The RNN cell's step is in the graph, through Tanh and MatMul"""
    from attention.cells import RNNCell
    cell, (h,), (h_next,) = cell_step(RNNCell, rng)
    used = functions_used(h_next)
    return {"reaches": reaches(h_next, h, cell.weight_h, cell.weight_x, cell.bias_x),
            "Tanh, MatMul": "Tanh" in used and "MatMul" in used}


# --- 3.2 -------------------------------------------------------------------------------------
@probe("3.2")
def lstm_step_values(rng):
    """The LSTM cell's step: gates i, f, g, o"""
    from attention.cells import LSTMCell
    _, _, (h_next, c_next) = cell_step(LSTMCell, rng, open_bias=True)
    return {"h": h_next.data, "c": c_next.data}


@probe("3.2")
def lstm_closed_forget_gate(rng):
    """A closed forget gate forgets c"""
    from minigrad import Tensor
    from attention.cells import LSTMCell
    cell = LSTMCell(N_IN, N_H, rng=rng, dtype=np.float64)
    cell.bias_x.data[N_H:2 * N_H] = -50.0
    projected = cell.input_projection(Tensor(rng.standard_normal((B, N_IN)), dtype=np.float64))
    h, c = (Tensor(rng.standard_normal((B, N_H)), dtype=np.float64) for _ in range(2))
    _, c_one = cell.step(projected, (h, c))
    _, c_two = cell.step(projected, (h, Tensor(c.data + 10.0, dtype=np.float64)))
    return float(np.abs(c_one.data - c_two.data).max()) < 1e-9


@probe("3.2")
def lstm_step_graph(rng):
    """The LSTM cell's step is built from primitive ops"""
    from attention.cells import LSTMCell
    cell, (h, c), (h_next, c_next) = cell_step(LSTMCell, rng)
    used = functions_used(h_next)
    return {"primitives": all(f in used for f in ("Sigmoid", "Tanh", "Mul", "MatMul")),
            "not fused": not {"BidirectionalLSTM", "AttentionDecoder"} & set(used),  # the fast twin's nodes
            "reaches": reaches(h_next, h, c, cell.weight_h, cell.weight_x) + reaches(c_next, c, h)}


# --- 3.3 -------------------------------------------------------------------------------------
def states(rng):
    from minigrad import Tensor
    return (Tensor(rng.standard_normal((B, TX, N_A2)), requires_grad=True, dtype=np.float64),
            Tensor(rng.standard_normal((B, N_S)), requires_grad=True, dtype=np.float64))


@probe("3.3")
def dlai_energies(rng):
    """The DLAI scorer's energies and their graph"""
    from attention.additive import DlaiAttention
    attention = DlaiAttention(N_A2, N_S, rng=rng, dtype=np.float64)
    attention.energy_out.bias.data[:] = 0.3
    a, s_prev = states(rng)
    e = attention.energies(s_prev, a, attention.keys(a))
    return {"e": e.data, "reaches": reaches(e, a, s_prev, attention.energy_hidden.weight, attention.energy_out.weight)}


@probe("3.3")
def bahdanau_energies(rng):
    """Bahdanau's scorer's energies and their graph"""
    from attention.additive import BahdanauAttention
    attention = BahdanauAttention(N_A2, N_S, rng=rng, dtype=np.float64)
    a, s_prev = states(rng)
    e = attention.energies(s_prev, a, attention.keys(a))
    return {"e": e.data, "reaches": reaches(e, a, s_prev, attention.query.weight, attention.key.weight,
                                            attention.v.weight)}


# --- 3.4 -------------------------------------------------------------------------------------
def attend_with_given_energies(score, rng, t=3):
    """α and c of decoder step t when the scorer (task 3.3) returns known energies."""
    import minigrad as mg
    from minigrad import Tensor
    from attention.additive import make_attention
    attention = make_attention(score, N_A2, N_S, rng=rng, dtype=np.float64)
    energies = Tensor(rng.standard_normal((B, TX, 1)), requires_grad=True, dtype=np.float64)
    attention.energies = lambda s_prev, a, keys: energies
    a, s_prev = states(rng)
    with mg.scope("decoder", step=t):
        alpha, context = attention(s_prev, a, attention.keys(a))
    return {"alpha": alpha.data, "context": context.data, "names": [alpha.name, context.name],
            "reaches": reaches(alpha, energies) + reaches(context, a, energies),
            "context through MatMul": "MatMul" in functions_used(context)}


@probe("3.4")
def attention_with_the_dlai_scorer(rng):
    """α is the softmax of the energies over t′, c the α-weighted sum of a (DLAI scorer)"""
    return attend_with_given_energies("dlai", rng)


@probe("3.4")
def attention_with_bahdanaus_scorer(rng):
    """α and c with Bahdanau's scorer"""
    return attend_with_given_energies("bahdanau", rng)
