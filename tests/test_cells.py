"""attention.cells: RNNCell, GRUCell and LSTMCell.

References are independent of minigrad: PyTorch's nn.RNNCell/GRUCell/LSTMCell (parity of outputs
and every gradient, float64), numpy (one-hot products, initialiser statistics) and central
differences (mg.gradcheck).
"""
import numpy as np
import pytest

import minigrad as mg
from attention.cells import CELLS, GRUCell, LSTMCell, RNNCell, make_cell

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
KINDS = ["rnn", "gru", "lstm"]

RTOL, ATOL = 1e-10, 1e-12


def build(kind, input_size=4, hidden_size=5, seed=0, random_biases=True):
    """A float64 cell with random weights and (by default) random, non-zero biases,
    so that a bias that is dropped or misplaced cannot hide behind a zero initialisation."""
    rng = np.random.default_rng(seed)
    cell = make_cell(kind, input_size, hidden_size, rng=rng, dtype=np.float64)
    if random_biases:
        cell.bias_x.data[...] = rng.normal(0, 0.5, cell.bias_x.shape)
        if hasattr(cell, "bias_h"):
            cell.bias_h.data[...] = rng.normal(0, 0.5, cell.bias_h.shape)
    return cell


def state_count(kind):
    return 2 if kind == "lstm" else 1


def torch_cell(torch, kind, cell, seed=1):
    """The PyTorch cell holding our weights: W_ih = W_xᵀ, W_hh = W_hᵀ; for RNN and LSTM our b_x is
    split at random into b_ih + b_hh (only the sum matters), for GRU b_ih = b_x and b_hh = b_h."""
    cls = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}[kind]
    ref = cls(cell.input_size, cell.hidden_size).double()
    with torch.no_grad():
        ref.weight_ih.copy_(torch.from_numpy(cell.weight_x.data.T.copy()))
        ref.weight_hh.copy_(torch.from_numpy(cell.weight_h.data.T.copy()))
        if kind == "gru":
            ref.bias_ih.copy_(torch.from_numpy(cell.bias_x.data.copy()))
            ref.bias_hh.copy_(torch.from_numpy(cell.bias_h.data.copy()))
        else:
            part = np.random.default_rng(seed).normal(size=cell.bias_x.shape)
            ref.bias_ih.copy_(torch.from_numpy(part))
            ref.bias_hh.copy_(torch.from_numpy(cell.bias_x.data - part))
    return ref


def torch_grads(kind, ref):
    """PyTorch's parameter gradients in our names and layouts."""
    grads = {"weight_x": ref.weight_ih.grad.numpy().T, "weight_h": ref.weight_hh.grad.numpy().T}
    if kind == "gru":
        grads["bias_x"] = ref.bias_ih.grad.numpy()
        grads["bias_h"] = ref.bias_hh.grad.numpy()
    else:
        # b_x enters where b_ih + b_hh does, so its gradient is each of theirs (which are equal)
        np.testing.assert_allclose(ref.bias_ih.grad.numpy(), ref.bias_hh.grad.numpy(), rtol=1e-14)
        grads["bias_x"] = ref.bias_ih.grad.numpy()
    return grads


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert np.shape(ours) == np.shape(theirs), f"{what}: shape {np.shape(ours)} vs {np.shape(theirs)}"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


# --- PyTorch parity ---------------------------------------------------------------------------

T, B, IN, H = 5, 3, 4, 5


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("path", ["forward", "projection"])
def test_unrolled_sequence_matches_torch(kind, path):
    """5 steps, batch 3, from a random (not zero) initial state. Outputs at every step, the final
    state, and the gradients of every parameter, of the inputs and of the initial state agree with
    PyTorch. `path`: cell(x_t, state) per step, or input_projection of the whole sequence + step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    cell = build(kind, IN, H)
    ref = torch_cell(torch, kind, cell)
    x_np = rng.normal(size=(B, T, IN))
    state_np = [rng.normal(scale=0.5, size=(B, H)) for _ in range(state_count(kind))]
    projections = rng.normal(size=(T, B, H))

    x = mg.Tensor(x_np.copy(), requires_grad=True)
    state = tuple(mg.Tensor(s.copy(), requires_grad=True) for s in state_np)
    initial = state
    loss = None
    outputs = []
    projected = cell.input_projection(x) if path == "projection" else None
    for t in range(T):
        state = cell(x[:, t], state) if path == "forward" else cell.step(projected[:, t], state)
        assert isinstance(state, tuple) and len(state) == state_count(kind)
        h = state[0]
        outputs.append(h)
        term = (h * h).sum() + (h * mg.Tensor(projections[t])).sum()
        loss = term if loss is None else loss + term
    loss.backward()

    tx = torch.tensor(x_np.copy(), requires_grad=True)
    t_initial = [torch.tensor(s.copy(), requires_grad=True) for s in state_np]
    t_state = t_initial[0] if kind != "lstm" else tuple(t_initial)
    t_loss = 0
    t_outputs = []
    for t in range(T):
        t_state = ref(tx[:, t], t_state)
        th = t_state[0] if kind == "lstm" else t_state
        t_outputs.append(th)
        t_loss = t_loss + (th * th).sum() + (th * torch.from_numpy(projections[t])).sum()
    t_loss.backward()

    for t in range(T):
        close(outputs[t].data, t_outputs[t], f"{kind} h at step {t}")
    if kind == "lstm":
        close(state[1].data, t_state[1], "lstm final cell state")
    close(loss.data, t_loss, "loss")
    for name, expected in torch_grads(kind, ref).items():
        close(getattr(cell, name).grad, expected, f"{kind} gradient of {name}")
    close(x.grad, tx.grad, f"{kind} gradient of the inputs")
    for i, (ours, theirs) in enumerate(zip(initial, t_initial)):
        close(ours.grad, theirs.grad, f"{kind} gradient of initial state {i}")


@pytest.mark.torch
@pytest.mark.parametrize("kind", KINDS)
def test_token_indices_match_torch_on_one_hot(kind):
    """Our cell fed token indices (the gather path) equals PyTorch's cell fed the one-hot rows,
    outputs and parameter gradients, over an unrolled sequence."""
    torch = pytest.importorskip("torch")
    vocab, steps, batch = 6, 4, 3
    rng = np.random.default_rng(11)
    cell = build(kind, vocab, H, seed=3)
    ref = torch_cell(torch, kind, cell)
    tokens = rng.integers(0, vocab, size=(batch, steps))
    one_hot = np.eye(vocab)[tokens]

    state = cell.initial_state(batch)
    t_state = None
    loss, t_loss = 0, 0
    for t in range(steps):
        state = cell(tokens[:, t], state)
        t_state = ref(torch.from_numpy(one_hot[:, t]), t_state)
        th = t_state[0] if kind == "lstm" else t_state
        close(state[0].data, th, f"{kind} h at step {t}")
        weights = rng.normal(size=(batch, H))
        loss = loss + (state[0] * mg.Tensor(weights)).sum()
        t_loss = t_loss + (th * torch.from_numpy(weights)).sum()
    loss.backward()
    t_loss.backward()
    for name, expected in torch_grads(kind, ref).items():
        close(getattr(cell, name).grad, expected, f"{kind} gradient of {name}")


# --- the input projection with token indices -----------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_input_projection_of_indices_equals_one_hot_product(kind):
    """input_projection(indices) = onehot(indices) @ W_x + b_x (numpy), and its gradient w.r.t.
    W_x is onehotᵀ @ upstream, w.r.t. b_x the sum of upstream (numpy): repeated tokens accumulate."""
    vocab, batch, steps = 5, 3, 7
    cell = build(kind, vocab, 4, seed=5)
    rng = np.random.default_rng(2)
    tokens = rng.integers(0, vocab, size=(batch, steps))
    tokens[0, :3] = 2  # repeated tokens must add up in the gradient
    one_hot = np.eye(vocab)[tokens]
    expected = one_hot @ cell.weight_x.data + cell.bias_x.data

    for index in (tokens, tokens.astype(np.int32), mg.Tensor(tokens)):
        projected = cell.input_projection(index)
        assert projected.shape == (batch, steps, GATES[kind] * 4)
        assert projected.dtype == np.float64
        np.testing.assert_allclose(projected.data, expected, rtol=1e-13, atol=1e-14)

    float_path = cell.input_projection(mg.Tensor(one_hot))
    np.testing.assert_allclose(float_path.data, expected, rtol=1e-13, atol=1e-14)

    upstream = rng.normal(size=expected.shape)
    cell.input_projection(tokens).backward(upstream)
    flat_hot, flat_up = one_hot.reshape(-1, vocab), upstream.reshape(-1, upstream.shape[-1])
    np.testing.assert_allclose(cell.weight_x.grad, flat_hot.T @ flat_up, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cell.bias_x.grad, flat_up.sum(axis=0), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_with_token_indices_equals_forward_with_one_hot(kind):
    vocab, batch = 6, 4
    cell = build(kind, vocab, 3, seed=9)
    tokens = np.array([0, 5, 2, 2])
    state = tuple(mg.Tensor(np.random.default_rng(i).normal(size=(batch, 3)))
                  for i in range(state_count(kind)))
    by_index = cell(tokens, state)
    by_one_hot = cell(mg.Tensor(np.eye(vocab)[tokens]), state)
    for a, b in zip(by_index, by_one_hot):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-13, atol=1e-14)


# --- initialisation ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_input_weights_are_glorot_uniform_over_the_whole_matrix(kind):
    """W_x: U(±√(6/(in + G·H))) over the whole (in, G·H) matrix (Keras' kernel default):
    inside the bound, filling it (max |w| near it) and with the uniform's std l/√3."""
    n_in, hidden = 37, 32
    cell = make_cell(kind, n_in, hidden, rng=np.random.default_rng(0), dtype=np.float64)
    width = GATES[kind] * hidden
    assert cell.weight_x.shape == (n_in, width)
    limit = np.sqrt(6.0 / (n_in + width))
    w = cell.weight_x.data
    assert np.all(np.abs(w) <= limit)
    assert np.abs(w).max() > 0.97 * limit
    assert abs(w.std() - limit / np.sqrt(3)) < 0.06 * limit / np.sqrt(3)
    assert abs(w.mean()) < 0.05 * limit


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("hidden", [3, 16])
def test_recurrent_weights_have_orthonormal_rows(kind, hidden):
    """W_h (H, G·H) is orthogonal: W_h W_hᵀ = I_H (rows orthonormal since H ≤ G·H)."""
    cell = make_cell(kind, 5, hidden, rng=np.random.default_rng(1), dtype=np.float64)
    w = cell.weight_h.data
    assert w.shape == (hidden, GATES[kind] * hidden)
    np.testing.assert_allclose(w @ w.T, np.eye(hidden), atol=1e-12)
    if kind == "rnn":  # square: columns orthonormal too
        np.testing.assert_allclose(w.T @ w, np.eye(hidden), atol=1e-12)


def test_orthogonal_recurrent_weights_are_random_not_a_fixed_matrix():
    a = LSTMCell(4, 6, rng=np.random.default_rng(0), dtype=np.float64).weight_h.data
    b = LSTMCell(4, 6, rng=np.random.default_rng(1), dtype=np.float64).weight_h.data
    assert not np.allclose(a, b)
    assert not np.allclose(np.abs(a), np.eye(6, 24))


@pytest.mark.parametrize("hidden", [1, 4, 7])
def test_lstm_forget_gate_bias_is_one_and_the_rest_zero(hidden):
    cell = LSTMCell(3, hidden, rng=np.random.default_rng(0), dtype=np.float64)
    expected = np.zeros(4 * hidden)
    expected[hidden:2 * hidden] = 1.0  # gate order i, f, g, o
    np.testing.assert_array_equal(cell.bias_x.data, expected)


def test_gru_and_rnn_biases_are_zero():
    gru = GRUCell(3, 4, rng=np.random.default_rng(0), dtype=np.float64)
    assert gru.bias_x.shape == gru.bias_h.shape == (12,)
    np.testing.assert_array_equal(gru.bias_x.data, 0)
    np.testing.assert_array_equal(gru.bias_h.data, 0)
    rnn = RNNCell(3, 4, rng=np.random.default_rng(0), dtype=np.float64)
    assert rnn.bias_x.shape == (4,)
    np.testing.assert_array_equal(rnn.bias_x.data, 0)
    assert not hasattr(rnn, "bias_h")


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_shapes_dtypes_and_count(kind):
    n_in, hidden, g = 6, 5, GATES[kind]
    cell = make_cell(kind, n_in, hidden, rng=np.random.default_rng(0), dtype=np.float64)
    names = dict(cell.named_parameters())
    expected = {"weight_x": (n_in, g * hidden), "weight_h": (hidden, g * hidden), "bias_x": (g * hidden,)}
    if kind == "gru":
        expected["bias_h"] = (g * hidden,)
    assert {k: v.shape for k, v in names.items()} == expected
    assert all(p.dtype == np.float64 for p in names.values())
    assert cell.num_parameters() == sum(int(np.prod(s)) for s in expected.values())
    default = make_cell(kind, n_in, hidden, rng=np.random.default_rng(0))
    assert all(p.dtype == np.float32 for p in default.parameters())
    assert all(s.dtype == np.float64 and s.shape == (2, hidden) for s in cell.initial_state(2))
    assert len(cell.initial_state(2)) == state_count(kind)


def test_same_rng_seed_gives_same_weights():
    a = make_cell("gru", 4, 3, rng=np.random.default_rng(42), dtype=np.float64)
    b = make_cell("gru", 4, 3, rng=np.random.default_rng(42), dtype=np.float64)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)


def test_make_cell_rejects_unknown_kind():
    assert set(CELLS) == {"rnn", "gru", "lstm"}
    with pytest.raises(ValueError, match="unknown cell"):
        make_cell("transformer", 3, 4)


# --- gradcheck -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_step_gradcheck_wrt_projected_input_and_state(kind):
    cell = build(kind, 3, 4, seed=2)
    rng = np.random.default_rng(4)
    projected = mg.Tensor(rng.normal(size=(2, GATES[kind] * 4)), requires_grad=True)
    state = [mg.Tensor(rng.normal(scale=0.7, size=(2, 4)), requires_grad=True)
             for _ in range(state_count(kind))]

    def fn(p, *s):
        return mg.concat(list(cell.step(p, tuple(s))), axis=-1)

    assert mg.gradcheck(fn, [projected, *state], atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_gradcheck_wrt_raw_input_and_state(kind):
    """Two steps through cell(x, state): the gradient reaches x through W_x and the state twice."""
    cell = build(kind, 3, 4, seed=6)
    rng = np.random.default_rng(8)
    x1 = mg.Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    x2 = mg.Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    state = [mg.Tensor(rng.normal(scale=0.7, size=(2, 4)), requires_grad=True)
             for _ in range(state_count(kind))]

    def fn(a, b, *s):
        out = cell(b, cell(a, tuple(s)))
        return mg.concat(list(out), axis=-1)

    assert mg.gradcheck(fn, [x1, x2, *state], atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("kind, gates", [("lstm", ["i", "f", "g", "o", "memory"]), ("gru", ["r", "z", "n"])])
def test_gates_are_named_by_the_callers_step(kind, gates):
    """Inside scope(step=3) the gates are i<3>, f<3>, … in `trace` and `draw`, as the docstrings
    write them; outside any step their names stay symbolic (i<t>), as a one-step graph teaches."""
    cell = build(kind)
    rng = np.random.default_rng(1)
    x = mg.Tensor(rng.standard_normal((2, 4)))
    state = tuple(mg.Tensor(rng.standard_normal((2, 5))) for _ in range(cell.state_count))
    with mg.scope("decoder", step=3):
        stepped = cell(x, state)
    loose = cell(x, state)
    named = {t.name for t in mg.topological_order(stepped[0], all_inputs=True)}
    assert {f"{gate}<3>" for gate in gates} <= named
    assert {f"{gate}<t>" for gate in gates} <= {t.name for t in mg.topological_order(loose[0], all_inputs=True)}
    trace, drawing = str(mg.trace(stepped[0])), mg.draw(stepped[0]).source
    for gate in gates:
        assert f"{gate}<3> = " in trace and f"{gate}<3>" in drawing
