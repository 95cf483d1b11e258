"""attention.fused_lstm: LSTMStep and LSTMSequence, the fast twin's one-node LSTM.

Each is checked three ways, in float64: its analytic backward against central differences
(mg.gradcheck), its values and every gradient against the composed LSTMCell it replaces, and
LSTMSequence against PyTorch's nn.LSTM.
"""
import numpy as np
import pytest

import minigrad as mg
from attention.cells import LSTMCell
from attention.fused_lstm import LSTMSequence, LSTMStep

B, T, H, IN = 3, 4, 5, 6


def tensor(rng, *shape, scale=1.0):
    return mg.Tensor(rng.standard_normal(shape) * scale, requires_grad=True, dtype=np.float64)


def sequence(cell, projected, reverse=False):
    """h<t> for every step from a zero state as one LSTMSequence node, as the fast twin's encoder runs it."""
    h, c = cell.initial_state(projected.shape[0])
    return LSTMSequence.apply(projected, h, c, cell.weight_h, reverse=reverse)


def composed_sequence(cell, projected, h, c, reverse):
    """The composed cell stepped over `projected` (B, T, 4H): h<t> for every t, in input order."""
    steps = range(projected.shape[1])
    outputs = {}
    for t in (reversed(steps) if reverse else steps):
        h, c = cell.step(projected[:, t], (h, c))
        outputs[t] = h
    return mg.stack([outputs[t] for t in steps], axis=1)


def test_lstm_step_gradcheck():
    rng = np.random.default_rng(11)
    inputs = [tensor(rng, B, 4 * H), tensor(rng, B, H), tensor(rng, B, H), tensor(rng, H, 4 * H)]
    assert mg.gradcheck(lambda *xs: LSTMStep.apply(*xs), inputs)


def test_lstm_step_equals_the_composed_cell():
    """Values and parameter gradients of one LSTMStep node equal the composed cell's step."""
    rng = np.random.default_rng(12)
    cell = LSTMCell(IN, H, dtype=np.float64)
    x, h, c = mg.Tensor(rng.standard_normal((B, IN))), tensor(rng, B, H), tensor(rng, B, H)

    def fused_step(x, state):
        both = LSTMStep.apply(cell.input_projection(x), *state, cell.weight_h)
        return both[:, :H], both[:, H:]

    results = []
    for step in (cell, fused_step):
        h.grad = c.grad = None
        cell.zero_grad()
        h_next, c_next = step(x, (h, c))
        ((h_next * h_next).sum() + (c_next * 3).sum()).backward()
        grads = {name: p.grad for name, p in cell.named_parameters()}
        results.append((h_next.data, c_next.data, h.grad, c.grad, grads))
    (h0, c0, gh0, gc0, grads0), (h1, c1, gh1, gc1, grads1) = results
    for ours, reference in ((h1, h0), (c1, c0), (gh1, gh0), (gc1, gc0)):
        np.testing.assert_allclose(ours, reference, atol=1e-12)
    for name in grads0:
        np.testing.assert_allclose(grads1[name], grads0[name], atol=1e-12, err_msg=name)


@pytest.mark.parametrize("reverse", [False, True], ids=["left-to-right", "right-to-left"])
def test_lstm_sequence_gradcheck(reverse):
    rng = np.random.default_rng(13)
    inputs = [tensor(rng, 2, 3, 4 * 2), tensor(rng, 2, 2), tensor(rng, 2, 2), tensor(rng, 2, 4 * 2)]
    assert mg.gradcheck(lambda *xs: LSTMSequence.apply(*xs, reverse=reverse), inputs)


@pytest.mark.parametrize("reverse", [False, True], ids=["left-to-right", "right-to-left"])
def test_lstm_sequence_equals_the_composed_cell_stepped(reverse):
    """Outputs and the gradients of P, h₀, c₀ and W_h equal those of the composed cell stepped T times."""
    rng = np.random.default_rng(14)
    cell = LSTMCell(IN, H, dtype=np.float64)
    projected, h, c = tensor(rng, B, T, 4 * H), tensor(rng, B, H, scale=0.5), tensor(rng, B, H, scale=0.5)
    weights = rng.standard_normal((B, T, H))
    results = []
    for run in (lambda: composed_sequence(cell, projected, h, c, reverse),
                lambda: LSTMSequence.apply(projected, h, c, cell.weight_h, reverse=reverse)):
        for leaf in (projected, h, c, cell.weight_h):
            leaf.grad = None
        out = run()
        (out * out * mg.Tensor(weights)).sum().backward()
        results.append([out.data] + [leaf.grad for leaf in (projected, h, c, cell.weight_h)])
    for what, composed, fused in zip(["h", "dP", "dh0", "dc0", "dW_h"], *results):
        np.testing.assert_allclose(fused, composed, atol=1e-12, err_msg=what)


def test_lstm_sequence_is_one_named_node_of_the_graph():
    """The fused path still draws: LSTMSequence is a Function node with the sequence's inputs."""
    cell = LSTMCell(IN, H)
    out = sequence(cell, cell.input_projection(np.zeros((B, T), dtype=np.int64)), reverse=True)
    assert type(out.grad_fn).__name__ == "LSTMSequence" and out.shape == (B, T, H)
    assert cell.weight_h in out.grad_fn.inputs
    assert "LSTMSequence" in mg.draw(out.sum()).source


@pytest.mark.torch
def test_lstm_sequence_matches_torch_bidirectional_lstm():
    """Two LSTMSequence nodes (left-to-right and right-to-left) equal a bidirectional nn.LSTM:
    outputs and the gradients of every weight and bias."""
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

    out = mg.concat([sequence(cells[0], cells[0].input_projection(mg.Tensor(x))),
                     sequence(cells[1], cells[1].input_projection(mg.Tensor(x)), reverse=True)], axis=-1)
    (out * out * mg.Tensor(weights)).sum().backward()
    theirs, _ = reference(torch.from_numpy(x))
    (theirs * theirs * torch.from_numpy(weights)).sum().backward()

    np.testing.assert_allclose(out.data, theirs.detach().numpy(), atol=1e-12)
    for suffix, cell in zip(["", "_reverse"], cells):
        for ours, name in ((cell.weight_x.grad.T, "weight_ih_l0"), (cell.weight_h.grad.T, "weight_hh_l0"),
                           (cell.bias_x.grad, "bias_ih_l0")):
            np.testing.assert_allclose(ours, getattr(reference, name + suffix).grad.numpy(), atol=1e-10,
                                       err_msg=name + suffix)
