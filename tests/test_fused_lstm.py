"""attention.fused_lstm: BidirectionalLSTM, the fast twin's one-node encoder.

It is checked three ways, in float64: its analytic backward against central differences
(mg.gradcheck), its values and every gradient against the two composed LSTMCells it replaces,
and against PyTorch's bidirectional nn.LSTM. The gate activation from one exp is checked against
numpy's tanh and the Sigmoid op, overflow included.
"""
import numpy as np
import pytest

import minigrad as mg
from attention.cells import LSTMCell
from attention.encoder import to_time_major
from attention.fused_lstm import BidirectionalLSTM, activate, gate_scale

B, T, H, IN = 3, 4, 5, 6


def tensor(rng, *shape, scale=1.0):
    return mg.Tensor(rng.standard_normal(shape) * scale, requires_grad=True, dtype=np.float64)


def encoder(cells, x):
    """a = [h→; h←] (B, T, 2H) as one BidirectionalLSTM node, as the fast twin's encoder runs it
    (from time-major projections)."""
    time_major = to_time_major(x)
    return BidirectionalLSTM.apply(*[cell.input_projection(time_major) for cell in cells],
                                   *[cell.weight_h for cell in cells])


def composed_encoder(cells, x):
    """The composed cells stepped from a zero state, left to right and right to left: [h→<t>; h←<t>]."""
    directions = []
    for cell, order in zip(cells, (range(T), range(T - 1, -1, -1))):
        projected, state, outputs = cell.input_projection(x), cell.initial_state(x.shape[0]), {}
        for t in order:
            state = cell.step(projected[:, t], state)
            outputs[t] = state[0]
        directions.append(mg.stack([outputs[t] for t in range(T)], axis=1))
    return mg.concat(directions, axis=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_gate_activation_is_sigmoid_and_tanh_overflow_included(dtype):
    z = np.concatenate([np.linspace(-120, 120, 241), [-1e4, 1e4, 0.0, 1e-8]]).astype(dtype)
    z = np.tile(z[:, None], (1, 4 * 2))  # every gate block sees every value
    with np.errstate(over="raise"):
        sigmoid = mg.Tensor(z[:, :2]).sigmoid().data
    with np.errstate(over="ignore"):
        gates = activate(z * gate_scale(2, dtype), 2)
    tolerance = 2 * np.finfo(dtype).eps
    for k in (0, 1, 3):
        np.testing.assert_allclose(gates[:, 2 * k:2 * k + 2], sigmoid, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(gates[:, 4:6], np.tanh(z[:, :2]), rtol=0, atol=tolerance)
    assert np.all(np.isfinite(gates))


def test_bidirectional_lstm_gradcheck():
    rng = np.random.default_rng(13)
    inputs = [tensor(rng, 2, 3, 4 * 2), tensor(rng, 2, 3, 4 * 2), tensor(rng, 2, 4 * 2), tensor(rng, 2, 4 * 2)]
    assert mg.gradcheck(lambda *xs: BidirectionalLSTM.apply(*xs), inputs)


def test_bidirectional_lstm_equals_the_composed_cells_stepped():
    """Outputs and the gradients of every weight and bias equal those of the two composed cells."""
    rng = np.random.default_rng(14)
    cells = [LSTMCell(IN, H, dtype=np.float64) for _ in range(2)]
    for cell in cells:
        cell.bias_x.data[...] = rng.standard_normal(4 * H)
    x = mg.Tensor(rng.standard_normal((B, T, IN)), requires_grad=True, dtype=np.float64)
    weights = mg.Tensor(rng.standard_normal((B, T, 2 * H)))
    results = []
    for run in (composed_encoder, encoder):
        x.grad = None
        for cell in cells:
            cell.zero_grad()
        out = run(cells, x)
        (out * out * weights).sum().backward()
        results.append([out.data, x.grad] + [p.grad for cell in cells for p in cell.parameters()])
    names = ["a", "dx"] + [f"{d}.{name}" for d in ("forward", "backward") for name, _ in cells[0].named_parameters()]
    for what, composed, fused in zip(names, *results):
        assert np.abs(composed).max() > 0, what
        np.testing.assert_allclose(fused, composed, rtol=0, atol=1e-12, err_msg=what)


def test_bidirectional_lstm_is_one_named_node_of_the_graph():
    """The fused path still draws: BidirectionalLSTM is a Function node with both cells' weights."""
    cells = [LSTMCell(IN, H) for _ in range(2)]
    out = encoder(cells, np.zeros((B, T), dtype=np.int64))
    assert type(out.grad_fn).__name__ == "BidirectionalLSTM" and out.shape == (B, T, 2 * H)
    assert all(cell.weight_h in out.grad_fn.inputs for cell in cells)
    assert "BidirectionalLSTM" in mg.draw(out.sum()).source


@pytest.mark.torch
def test_bidirectional_lstm_matches_torch():
    """One BidirectionalLSTM node equals a bidirectional nn.LSTM: outputs and the gradients of
    every weight and bias."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x = rng.standard_normal((B, T, IN))
    cells = [LSTMCell(IN, H, dtype=np.float64) for _ in range(2)]
    for cell in cells:
        cell.bias_x.data[...] = rng.standard_normal(4 * H)
    reference = torch.nn.LSTM(IN, H, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for suffix, cell in zip(["", "_reverse"], cells):
            getattr(reference, "weight_ih_l0" + suffix).copy_(torch.from_numpy(cell.weight_x.data.T.copy()))
            getattr(reference, "weight_hh_l0" + suffix).copy_(torch.from_numpy(cell.weight_h.data.T.copy()))
            getattr(reference, "bias_ih_l0" + suffix).copy_(torch.from_numpy(cell.bias_x.data.copy()))
            getattr(reference, "bias_hh_l0" + suffix).zero_()
    weights = rng.standard_normal((B, T, 2 * H))

    out = encoder(cells, mg.Tensor(x))
    (out * out * mg.Tensor(weights)).sum().backward()
    theirs, _ = reference(torch.from_numpy(x))
    (theirs * theirs * torch.from_numpy(weights)).sum().backward()

    np.testing.assert_allclose(out.data, theirs.detach().numpy(), atol=1e-12)
    for suffix, cell in zip(["", "_reverse"], cells):
        for ours, name in ((cell.weight_x.grad.T, "weight_ih_l0"), (cell.weight_h.grad.T, "weight_hh_l0"),
                           (cell.bias_x.grad, "bias_ih_l0")):
            np.testing.assert_allclose(ours, getattr(reference, name + suffix).grad.numpy(), atol=1e-10,
                                       err_msg=name + suffix)
