"""attention.encoder, attention.additive and attention.seq2seq: the seed's model (and its fast twin
against PyTorch; the twin against the composed model is tests/test_fast.py).

References are independent of minigrad: numpy (energies, softmax, the α-weighted sum), central
differences (mg.gradcheck) and a PyTorch re-implementation of the whole model (float64).
"""
import re

import numpy as np
import pytest

import minigrad as mg
from attention.additive import SCORES, DlaiAttention, make_attention
from attention.encoder import BidirectionalEncoder
from attention.fast import fast
from attention.seq2seq import ModelConfig, Seq2SeqAttention

CELLS = ["lstm", "gru", "rnn"]
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def small_config(cell="lstm", score="dlai", **changes):
    fields = dict(input_vocab=7, output_vocab=5, Tx=6, Ty=3, n_a=4, n_s=5, attention_hidden=3,
                  cell=cell, score=score)
    fields.update(changes)
    return ModelConfig(**fields)


def small_model(cell="lstm", score="dlai", seed=0, **changes):
    return Seq2SeqAttention(small_config(cell, score, **changes), rng=np.random.default_rng(seed),
                            dtype=np.float64)


def tokens(config, batch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, config.input_vocab, size=(batch, config.Tx))


def randomize(model, seed, scale=0.3):
    """Give every bias a random value, so a bias that is dropped or misplaced cannot hide
    behind zero initialisation."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        if "bias" in name.rsplit(".", 1)[-1]:
            p.data[...] = rng.normal(0, scale, p.shape)


def softmax_np(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def numpy_energies(att, s_prev, a):
    """e<t,·> (B, Tx) from the attention's weights, in plain numpy."""
    if isinstance(att, DlaiAttention):
        s_rep = np.broadcast_to(s_prev[:, None, :], a.shape[:2] + (s_prev.shape[-1],))
        inp = np.concatenate([a, s_rep], axis=-1)
        hidden = np.tanh(inp @ att.energy_hidden.weight.data + att.energy_hidden.bias.data)
        pre = hidden @ att.energy_out.weight.data + att.energy_out.bias.data
        return np.maximum(pre, 0)[..., 0], pre[..., 0]
    keys = a @ att.key.weight.data + att.key.bias.data
    query = s_prev @ att.query.weight.data
    e = np.tanh(keys + query[:, None, :]) @ att.v.weight.data
    return e[..., 0], e[..., 0]


# --- size and shapes -----------------------------------------------------------------------------

def test_parameter_count_of_the_assignment_configuration():
    """52,960: the deeplearning.ai model's count (Keras' model.summary())."""
    model = Seq2SeqAttention(ModelConfig(score="dlai"), rng=np.random.default_rng(0))
    assert model.num_parameters() == 52_960
    assert sum(p.size for p in model.parameters()) == 52_960
    # by part: Bi-LSTM(32) on 37-dim one-hots, Dense(10)+Dense(1) on [a; s] (64 + 64),
    # post-attention LSTM(64) on 64-dim contexts, Dense(11) on s
    per_part = {}
    for name, p in model.named_parameters():
        per_part[name.split(".")[0]] = per_part.get(name.split(".")[0], 0) + p.size
    assert per_part == {"encoder": 2 * (37 * 128 + 32 * 128 + 128),
                        "attention": (128 * 10 + 10) + (10 * 1 + 1),
                        "post_attention": 64 * 256 + 64 * 256 + 256,
                        "output": 64 * 11 + 11}


@pytest.mark.parametrize("cell", CELLS)
def test_encoder_output_shape_and_name(cell):
    enc = BidirectionalEncoder(cell, 7, 4, rng=np.random.default_rng(0), dtype=np.float64)
    x = np.random.default_rng(1).integers(0, 7, size=(3, 6))
    a = enc(x)
    assert a.shape == (3, 6, 8)
    assert a.name == "a"
    assert a.dtype == np.float64


@pytest.mark.parametrize("cell", CELLS)
def test_encoder_halves_are_forward_and_backward_reads(cell):
    """a<t'> = [forward h after x<1..t'>; backward h after x<Tx..t'>]: the forward half at t'
    does not depend on later inputs, the backward half not on earlier ones."""
    enc = BidirectionalEncoder(cell, 7, 4, rng=np.random.default_rng(0), dtype=np.float64)
    x = np.random.default_rng(1).integers(0, 7, size=(2, 6))
    y = x.copy()
    y[:, 3] = (y[:, 3] + 1) % 7  # change input position 3 only
    a, b = enc(x).data, enc(y).data
    np.testing.assert_array_equal(a[:, :3, :4], b[:, :3, :4])   # forward half before 3
    np.testing.assert_array_equal(a[:, 4:, 4:], b[:, 4:, 4:])   # backward half after 3
    assert not np.allclose(a[:, 3:, :4], b[:, 3:, :4])
    assert not np.allclose(a[:, :4, 4:], b[:, :4, 4:])


@pytest.mark.parametrize("cell", CELLS)
def test_encoder_of_float_inputs_is_its_cells_stepped_by_hand(cell):
    """A (B, Tx, input) float input (read time-major inside the encoder) gives the cells' own
    steps over x[:, t], left to right and right to left, and its gradient checks out."""
    enc = BidirectionalEncoder(cell, 5, 3, rng=np.random.default_rng(0), dtype=np.float64)
    x = mg.Tensor(np.random.default_rng(2).standard_normal((2, 4, 5)), requires_grad=True, name="x")
    by_hand = []
    for module, order in ((enc.forward_cell, range(4)), (enc.backward_cell, range(3, -1, -1))):
        state, outputs = module.initial_state(2), {}
        for t in order:
            state = module(x[:, t], state)
            outputs[t] = state[0].data
        by_hand.append(np.stack([outputs[t] for t in range(4)], axis=1))
    np.testing.assert_allclose(enc(x).data, np.concatenate(by_hand, axis=-1), rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(lambda x: enc(x), [x])


@pytest.mark.parametrize("shape", [(6,), (), (3, 5), (2, 4, 3), (2, 4, 5, 1)], ids=str)
def test_encoder_input_of_a_wrong_shape_is_refused_naming_the_shape_given(shape):
    enc = BidirectionalEncoder("lstm", 5, 3, rng=np.random.default_rng(0), dtype=np.float64)
    with pytest.raises(ValueError, match=rf"BidirectionalEncoder: x must be \(B, Tx\) token indices or "
                                         rf"\(B, Tx, 5\) inputs, not shape {re.escape(str(shape))} of float64"):
        enc(np.zeros(shape))


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("cell", CELLS)
def test_model_shapes_and_alpha_rows_sum_to_one(cell, score):
    model = small_model(cell, score)
    randomize(model, 1)
    config = model.config
    x = tokens(config, 4)
    logits, alpha = model(x)
    assert logits.shape == (4, config.Ty, config.output_vocab)
    assert alpha.shape == (4, config.Ty, config.Tx)
    assert logits.dtype == alpha.dtype == np.float64
    assert np.all(alpha.data >= 0)
    np.testing.assert_allclose(alpha.data.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    predicted, alphas = model.predict(x)
    assert predicted.shape == (4, config.Ty)
    assert predicted.dtype.kind in "iu"
    np.testing.assert_array_equal(predicted, logits.data.argmax(axis=-1))
    np.testing.assert_allclose(alphas, alpha.data, rtol=1e-13, atol=1e-15)


# --- one attention step against numpy ------------------------------------------------------------

@pytest.mark.parametrize("score", SCORES)
def test_attention_step_matches_numpy(score):
    """α<t,·> = softmax(e<t,·>) with e from the weights in numpy, and
    c<t> = Σ_t' α<t,t'> a<t'> computed in numpy from our α and a."""
    rng = np.random.default_rng(3)
    batch, tx, n_a2, n_s = 3, 6, 8, 5
    att = make_attention(score, n_a2, n_s, hidden=4, rng=np.random.default_rng(0), dtype=np.float64)
    for p in att.parameters():
        p.data[...] = rng.normal(0, 0.8, p.shape)
    if score == "dlai":
        att.energy_out.bias.data[...] = 0.5  # most energies positive: α is not uniform
    a_np, s_np = rng.normal(size=(batch, tx, n_a2)), rng.normal(size=(batch, n_s))
    a, s = mg.Tensor(a_np), mg.Tensor(s_np)
    with mg.scope("decoder", step=2):
        alpha, context = att(s, a, att.keys(a))
    assert alpha.shape == (batch, 1, tx)
    assert context.shape == (batch, 1, n_a2)
    assert alpha.name == "alpha<2,·>" and context.name == "c<2>"

    energies, _ = numpy_energies(att, s_np, a_np)
    expected_alpha = softmax_np(energies)
    assert expected_alpha.std(axis=-1).min() > 1e-3  # a non-trivial α
    np.testing.assert_allclose(alpha.data[:, 0], expected_alpha, rtol=1e-12, atol=1e-14)

    weighted = np.zeros((batch, n_a2))
    for b in range(batch):
        for t in range(tx):
            weighted[b] += alpha.data[b, 0, t] * a_np[b, t]
    np.testing.assert_allclose(context.data[:, 0], weighted, rtol=1e-12, atol=1e-14)


def test_unknown_score_is_rejected():
    with pytest.raises(ValueError, match="unknown attention score 'dot'"):
        make_attention("dot", 4, 5)


# --- gradcheck of one attention step -------------------------------------------------------------

def scorer_slots(att):
    """(module, attribute) of every scorer weight."""
    if isinstance(att, DlaiAttention):
        return [(att.energy_hidden, "weight"), (att.energy_hidden, "bias"),
                (att.energy_out, "weight"), (att.energy_out, "bias")]
    return [(att.query, "weight"), (att.key, "weight"), (att.key, "bias"), (att.v, "weight")]


def well_conditioned_attention(score, batch, tx, n_a2, n_s, hidden):
    """Scorer, a and s<t-1> whose dlai pre-relu energies keep away from the kink at 0 (and take
    both signs, so the relu's mask is exercised), reseeding until they do."""
    for seed in range(200):
        rng = np.random.default_rng(seed)
        att = make_attention(score, n_a2, n_s, hidden=hidden, rng=rng, dtype=np.float64)
        for _, p in att.named_parameters():
            p.data[...] = rng.normal(0, 0.7, p.shape)
        a_np, s_np = rng.normal(size=(batch, tx, n_a2)), rng.normal(size=(batch, n_s))
        energies, pre = numpy_energies(att, s_np, a_np)
        if score == "bahdanau":
            return att, a_np, s_np
        positive = pre > 0
        if np.abs(pre).min() > 0.05 and positive.mean() > 0.5 and np.all(positive.sum(-1) >= 2):
            return att, a_np, s_np
    pytest.fail("no seed gave dlai energies away from the relu's kink")


@pytest.mark.parametrize("score", SCORES)
def test_attention_step_gradcheck(score):
    """∂ of (α<t,·>, c<t>) under a fixed random projection w.r.t. a, s<t-1> and every scorer
    weight, against central differences."""
    batch, tx, n_a2, n_s, hidden = 2, 5, 4, 3, 3
    att, a_np, s_np = well_conditioned_attention(score, batch, tx, n_a2, n_s, hidden)
    slots = scorer_slots(att)
    assert {id(getattr(m, n)) for m, n in slots} == {id(p) for p in att.parameters()}

    def fn(a, s, *weights):
        kept = [getattr(m, n) for m, n in slots]
        for (module, name), w in zip(slots, weights):
            object.__setattr__(module, name, w)  # bypass registration: a temporary stand-in
        try:
            alpha, context = att(s, a, att.keys(a))
        finally:
            for (module, name), w in zip(slots, kept):
                object.__setattr__(module, name, w)
        return mg.concat([alpha.reshape(batch, -1), context.reshape(batch, -1)], axis=-1)

    inputs = [mg.Tensor(a_np, requires_grad=True, name="a"), mg.Tensor(s_np, requires_grad=True, name="s")]
    inputs += [mg.Tensor(getattr(m, n).data.copy(), requires_grad=True, name=f"{type(m).__name__}.{n}")
               for m, n in slots]
    assert mg.gradcheck(fn, inputs, atol=1e-7, rtol=1e-5)


# --- the named tensors of the graph --------------------------------------------------------------

@pytest.mark.parametrize("score", SCORES)
def test_named_tensors_hold_gradients_after_backward(score):
    model = small_model("lstm", score, seed=2)
    randomize(model, 3)
    config = model.config
    x = tokens(config, 2, seed=4)
    y = np.random.default_rng(5).integers(0, config.output_vocab, size=(2, config.Ty))
    logits, _ = model(x)
    loss = mg.cross_entropy(logits, y)
    loss.backward()
    named = {}
    for tensor in mg.topological_order(loss):
        if tensor.name:
            named.setdefault(tensor.name, []).append(tensor)
    wanted = ["a"] + [f"a<{t}>" for t in range(1, config.Tx + 1)]
    for t in range(1, config.Ty + 1):
        wanted += [f"alpha<{t},·>", f"e<{t},·>", f"c<{t}>", f"s<{t}>"]
    missing = [w for w in wanted if w not in named]
    assert not missing, f"not in the graph: {missing}"
    for w in wanted:
        assert len(named[w]) == 1, f"{len(named[w])} tensors named {w!r}"
        tensor = named[w][0]
        assert tensor.grad is not None, f"{w} has no gradient"
        assert tensor.grad.shape == tensor.shape, f"{w}: grad {tensor.grad.shape} vs {tensor.shape}"
    assert named["a"][0].shape == (2, config.Tx, 2 * config.n_a)
    assert named["a<1>"][0].shape == (2, 2 * config.n_a)
    assert named["alpha<1,·>"][0].shape == (2, 1, config.Tx)
    assert named["e<1,·>"][0].shape == (2, 1, config.Tx)
    assert named["c<1>"][0].shape == (2, 1, 2 * config.n_a)
    assert named["s<1>"][0].shape == (2, config.n_s)
    # the gradient reaching a is the sum of what reaches each a<t'>
    a_grad = named["a"][0].grad
    assert np.abs(a_grad).max() > 0
    assert np.abs(named["c<1>"][0].grad).max() > 0


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 7), (2, 5), (6,), (2, 6, 1)])
def test_wrong_input_shape_raises_with_the_expected_shape(shape):
    model = small_model()
    x = np.zeros(shape, dtype=np.int64)
    with pytest.raises(ValueError, match=r"\(batch, 6\)"):
        model(x)


# --- the whole model against PyTorch -------------------------------------------------------------

class TorchModel:
    """The seed's model in PyTorch: nn.*Cell for the recurrences and the attention maths written
    out, holding copies of our weights (Linear weights in our (in, out) layout, so no transpose)."""

    def __init__(self, torch, model, seed=0):
        self.torch, self.model, self.config = torch, model, model.config
        c = model.config
        rng = np.random.default_rng(seed)
        cls = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell, "lstm": torch.nn.LSTMCell}[c.cell]
        self.cells = {}
        for name, ours in [("encoder.forward_cell", model.encoder.forward_cell),
                           ("encoder.backward_cell", model.encoder.backward_cell),
                           ("post_attention", model.post_attention)]:
            ref = cls(ours.input_size, ours.hidden_size).double()
            with torch.no_grad():
                ref.weight_ih.copy_(torch.from_numpy(ours.weight_x.data.T.copy()))
                ref.weight_hh.copy_(torch.from_numpy(ours.weight_h.data.T.copy()))
                if c.cell == "gru":
                    ref.bias_ih.copy_(torch.from_numpy(ours.bias_x.data.copy()))
                    ref.bias_hh.copy_(torch.from_numpy(ours.bias_h.data.copy()))
                else:
                    part = rng.normal(size=ours.bias_x.shape)
                    ref.bias_ih.copy_(torch.from_numpy(part))
                    ref.bias_hh.copy_(torch.from_numpy(ours.bias_x.data - part))
            self.cells[name] = ref
        self.dense = {}
        for name, p in model.named_parameters():
            if not name.startswith(("encoder.", "post_attention.")):
                self.dense[name] = torch.tensor(p.data.copy(), requires_grad=True)

    def run_cell(self, name, x, state):
        out = self.cells[name](x, state)
        return (out[0], out) if self.config.cell == "lstm" else (out, out)

    def forward(self, x_tokens):
        torch, c, d = self.torch, self.config, self.dense
        batch = x_tokens.shape[0]
        one_hot = torch.from_numpy(np.eye(c.input_vocab)[x_tokens])
        forward_h, backward_h = [None] * c.Tx, [None] * c.Tx
        state = None
        for t in range(c.Tx):
            forward_h[t], state = self.run_cell("encoder.forward_cell", one_hot[:, t], state)
        state = None
        for t in reversed(range(c.Tx)):
            backward_h[t], state = self.run_cell("encoder.backward_cell", one_hot[:, t], state)
        a = torch.stack([torch.cat([f, b], dim=-1) for f, b in zip(forward_h, backward_h)], dim=1)
        s = torch.zeros(batch, c.n_s, dtype=torch.float64)
        state = None
        logits, alphas = [], []
        for _ in range(c.Ty):
            if c.score == "dlai":
                s_rep = s.unsqueeze(1).expand(batch, c.Tx, c.n_s)
                hidden = torch.tanh(torch.cat([a, s_rep], dim=-1) @ d["attention.energy_hidden.weight"]
                                    + d["attention.energy_hidden.bias"])
                e = torch.relu(hidden @ d["attention.energy_out.weight"] + d["attention.energy_out.bias"])
            else:
                e = torch.tanh(a @ d["attention.key.weight"] + d["attention.key.bias"]
                               + (s @ d["attention.query.weight"]).unsqueeze(1)) @ d["attention.v.weight"]
            alpha = torch.softmax(e.squeeze(-1), dim=-1)                    # (B, Tx)
            context = (alpha.unsqueeze(1) @ a).squeeze(1)                    # (B, 2 n_a)
            s, state = self.run_cell("post_attention", context, state)
            logits.append(s @ d["output.weight"] + d["output.bias"])
            alphas.append(alpha)
        return torch.stack(logits, dim=1), torch.stack(alphas, dim=1)

    def grads(self):
        """PyTorch's gradients in our parameter names and layouts."""
        out = {name: t.grad.numpy() for name, t in self.dense.items()}
        for name, ref in self.cells.items():
            out[f"{name}.weight_x"] = ref.weight_ih.grad.numpy().T
            out[f"{name}.weight_h"] = ref.weight_hh.grad.numpy().T
            if self.config.cell == "gru":
                out[f"{name}.bias_x"] = ref.bias_ih.grad.numpy()
                out[f"{name}.bias_h"] = ref.bias_hh.grad.numpy()
            else:
                np.testing.assert_allclose(ref.bias_ih.grad.numpy(), ref.bias_hh.grad.numpy(), rtol=1e-14)
                out[f"{name}.bias_x"] = ref.bias_ih.grad.numpy()
        return out


@pytest.mark.torch
@pytest.mark.parametrize("score,cell,twin", [("dlai", "lstm", False), ("bahdanau", "lstm", False),
                                             ("dlai", "gru", False), ("bahdanau", "rnn", False),
                                             ("dlai", "lstm", True), ("bahdanau", "lstm", True),
                                             ("dlai", "gru", True), ("bahdanau", "rnn", True)])
def test_whole_model_matches_torch(score, cell, twin):
    """Loss (cross-entropy, mean over batch and Ty), logits, α and every parameter's gradient
    agree with the PyTorch re-implementation to 1e-8, on the composed model and its fast twin."""
    torch = pytest.importorskip("torch")
    composed = small_model(cell, score, seed=1)
    model = fast(composed) if twin else composed
    randomize(model, 2)
    if score == "dlai":
        model.attention.energy_out.bias.data[...] = 0.4  # keep the relu mostly alive: α not uniform
    config = model.config
    batch = 3
    x = tokens(config, batch, seed=6)
    y = np.random.default_rng(7).integers(0, config.output_vocab, size=(batch, config.Ty))

    logits, alpha = model(x)
    loss = mg.cross_entropy(logits, y)
    loss.backward()

    ref = TorchModel(torch, model)
    t_logits, t_alpha = ref.forward(x)
    t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, config.output_vocab),
                                               torch.from_numpy(y.reshape(-1)))
    t_loss.backward()

    assert t_alpha.detach().numpy().std(axis=-1).min() > 1e-4  # the attention path is exercised
    np.testing.assert_allclose(logits.data, t_logits.detach().numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(alpha.data, t_alpha.detach().numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-8, atol=0)

    expected = ref.grads()
    ours = dict(model.named_parameters())
    assert set(expected) == set(ours)
    for name, p in ours.items():
        assert p.grad is not None, f"{name} has no gradient"
        assert np.abs(expected[name]).max() > 0, f"{name}: PyTorch's gradient is zero; a vacuous check"
        np.testing.assert_allclose(p.grad, expected[name], rtol=1e-8, atol=1e-12,
                                   err_msg=f"gradient of {name}")
