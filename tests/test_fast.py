"""attention.fast: the fast twin gives the composed model's outputs and gradients, and its
Functions' analytic backwards agree with central differences (float64 throughout)."""
import numpy as np
import pytest

import minigrad as mg
from attention.fast import Attention, AttentionDecoder, FastSeq2SeqAttention, _score_parts, fast
from attention.seq2seq import ModelConfig, Seq2SeqAttention

CELLS = ["lstm", "gru", "rnn"]
SCORES = ["dlai", "bahdanau"]
B, TX, N_A2, N_S, HIDDEN = 3, 5, 4, 3, 3


def small_model(cell, score, seed=0):
    config = ModelConfig(input_vocab=7, output_vocab=5, Tx=6, Ty=3, n_a=4, n_s=5, attention_hidden=3,
                         cell=cell, score=score)
    model = Seq2SeqAttention(config, rng=np.random.default_rng(seed), dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    for name, p in model.named_parameters():
        if "bias" in name.rsplit(".", 1)[-1]:  # no bias may hide behind its zero initialisation
            p.data[...] = rng.normal(0, 0.3, p.shape)
    if score == "dlai":
        model.attention.energy_out.bias.data[...] = 0.4  # keep the relu mostly alive: α not uniform
    return model


def run(model, x, y):
    for p in model.parameters():
        p.grad = None
    logits, alpha = model(x)
    loss = mg.cross_entropy(logits, y)
    loss.backward()
    return logits, alpha, loss, {name: p.grad.copy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("cell", CELLS)
def test_the_twin_gives_the_composed_models_outputs_and_gradients(cell, score):
    composed = small_model(cell, score)
    twin = fast(composed)
    assert isinstance(twin, FastSeq2SeqAttention) and fast(twin) is twin
    assert [id(p) for p in twin.parameters()] == [id(p) for p in composed.parameters()]
    assert list(twin.state_dict()) == list(composed.state_dict())
    rng = np.random.default_rng(2)
    x = rng.integers(0, 7, size=(4, 6))
    y = rng.integers(0, 5, size=(4, 3))
    logits, alpha, loss, grads = run(composed, x, y)
    fast_logits, fast_alpha, fast_loss, fast_grads = run(twin, x, y)
    assert alpha.data.std(axis=-1).min() > 1e-3  # the attention path is exercised
    np.testing.assert_allclose(fast_logits.data, logits.data, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast_alpha.data, alpha.data, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast_loss.item(), loss.item(), rtol=1e-13)
    for name, grad in grads.items():
        assert np.abs(grad).max() > 0, f"{name}: a zero gradient makes the comparison vacuous"
        np.testing.assert_allclose(fast_grads[name], grad, rtol=0, atol=1e-12, err_msg=name)
    with mg.no_grad():
        predicted, alphas = twin.predict(x)
    np.testing.assert_array_equal(predicted, composed.predict(x)[0])
    np.testing.assert_allclose(alphas, alpha.data, atol=1e-12)


@pytest.mark.parametrize("score", SCORES)
def test_the_twin_has_few_named_nodes(score):
    """One BidirectionalLSTM node for the encoder, one AttentionDecoder node for every decoder
    step, one output-layer matmul after the loop; its slices carry the seed's names."""
    model = small_model("lstm", score)
    x = np.zeros((2, 6), dtype=np.int64)
    logits, alpha = fast(model)(x)
    tensors = mg.topological_order(logits, all_inputs=True)
    kinds = [type(t.grad_fn).__name__ for t in tensors if t.grad_fn is not None]
    assert kinds.count("AttentionDecoder") == 1 and kinds.count("BidirectionalLSTM") == 1
    users_of_output_weight = [t for t in tensors if t.grad_fn is not None
                              and any(i is model.output.weight for i in t.grad_fn.inputs)]
    assert len(users_of_output_weight) == 1 and users_of_output_weight[0].shape == (2 * 3, 5)
    names = {t.name for t in tensors + mg.topological_order(alpha, all_inputs=True)}
    assert {"a", "s", "alpha", "[s; alpha]", "logits"} <= names
    composed_logits, _ = model(x)
    assert len(tensors) < len(mg.topological_order(composed_logits, all_inputs=True)) / 10


def attention_inputs(score, rng, lstm: bool):
    """Float64 inputs of an Attention node (s<t-1> among them) or of an AttentionDecoder node
    (the LSTM's weights instead), the dlai pre-relu energies of the first step kept away from
    the kink at 0 and of both signs, so the relu's mask is exercised."""
    def tensor(*shape, scale=0.7):
        return mg.Tensor(rng.normal(0, scale, shape), requires_grad=True, dtype=np.float64)
    for _ in range(200):
        keys, a, s_prev = tensor(B, TX, HIDDEN), tensor(B, TX, N_A2), tensor(B, N_S)
        query, energy = tensor(N_S, HIDDEN), tensor(HIDDEN, 1)
        score_inputs = [query, energy] + ([tensor(1)] if score == "dlai" else [])
        if score == "bahdanau":
            break
        pre = np.tanh(keys.data + (s_prev.data @ query.data)[:, None] * (not lstm)) @ energy.data \
            + score_inputs[2].data
        if np.abs(pre).min() > 0.05 and 0.3 < (pre > 0).mean() < 0.9:
            break
    else:
        pytest.fail("no draw gave dlai energies away from the relu's kink")
    if lstm:
        return [keys, a, tensor(N_A2, 4 * N_S), tensor(4 * N_S), tensor(N_S, 4 * N_S)] + score_inputs
    return [keys, a, s_prev] + score_inputs


@pytest.mark.parametrize("score", SCORES)
def test_attention_gradcheck(score):
    inputs = attention_inputs(score, np.random.default_rng(3), lstm=False)
    assert mg.gradcheck(lambda *xs: Attention.apply(*xs), inputs, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("score", SCORES)
def test_attention_decoder_gradcheck(score):
    inputs = attention_inputs(score, np.random.default_rng(4), lstm=True)
    assert mg.gradcheck(lambda *xs: AttentionDecoder.apply(*xs, steps=3), inputs, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("score", SCORES)
def test_keys_too_large_for_the_factored_exp_take_the_per_step_exp(score):
    """AttentionDecoder takes e^-2(K+q) as e^-2K ⊙ e^-2q only while neither factor can overflow;
    keys beyond that (here one hidden unit's) are computed with one exp per step, and the twin
    still gives the composed model's outputs and gradients."""
    composed = small_model("lstm", score)
    layer = composed.attention.energy_hidden if score == "dlai" else composed.attention.key
    limit = np.log(np.finfo(np.float64).max) / 4
    layer.bias.data[0] = 2 * limit  # saturates tanh for that unit: H = 1 at every position
    rng = np.random.default_rng(5)
    x, y = rng.integers(0, 7, size=(4, 6)), rng.integers(0, 5, size=(4, 3))
    with mg.no_grad():
        twin = fast(composed)
        keys = _score_parts(twin.attention, twin.encode(x))[0]
    assert np.abs(keys.data).max() > limit  # the per-step exp is what this test runs
    logits, alpha, loss, grads = run(composed, x, y)
    fast_logits, fast_alpha, fast_loss, fast_grads = run(twin, x, y)
    np.testing.assert_allclose(fast_logits.data, logits.data, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast_alpha.data, alpha.data, rtol=0, atol=1e-12)
    for name, grad in grads.items():
        np.testing.assert_allclose(fast_grads[name], grad, rtol=0, atol=1e-12, err_msg=name)


def empty_batch_runs(model) -> None:
    """A batch of 0 examples, as torch's modules take one: logits (0, Ty, V) and α (0, Ty, Tx),
    a backward through them leaves every parameter a zero gradient, and decoding gives 0 rows."""
    from attention.decode import predict_with_confidence
    x = np.zeros((0, 6), dtype=np.int64)
    for p in model.parameters():
        p.grad = None
    logits, alpha = model(x)
    assert logits.shape == (0, 3, 5) and alpha.shape == (0, 3, 6), type(model).__name__
    (logits.sum() + alpha.sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and not p.grad.any(), (type(model).__name__, name)
    indices, confidence, alphas = predict_with_confidence(model, x)
    assert indices.shape == (0, 3) and confidence.shape == (0,) and alphas.shape == (0, 3, 6)


@pytest.mark.parametrize("score", SCORES)
def test_the_default_path_takes_an_empty_batch(score):
    """What train, translate and evaluate run: the fast twin with LSTM cells. Accuracies of no
    examples are undefined, so evaluate refuses them by name."""
    from attention.train import evaluate
    twin = fast(small_model("lstm", score))
    empty_batch_runs(twin)
    with pytest.raises(ValueError, match="evaluate: no examples"):
        evaluate(twin, np.zeros((0, 6), dtype=np.int64), np.zeros((0, 3), dtype=np.int64))


@pytest.mark.reference  # a student's correct energies may reshape with -1, which 0 rows make ambiguous
@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("cell", CELLS)
def test_both_paths_take_an_empty_batch_with_every_cell(cell, score):
    composed = small_model(cell, score)
    for model in (composed, fast(composed)):
        empty_batch_runs(model)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 6)), r"token indices must be integers, got float64 values of shape \(2, 6\)"),
    (np.zeros((2, 6), dtype=bool), r"token indices must be integers, got bool values"),
    (np.full((2, 6), 7), r"token index 7 is outside the input vocabulary of 7 tokens \(0 to 6\)"),
    (np.full((2, 6), -1), r"token index -1 is outside the input vocabulary of 7 tokens"),
    (np.zeros((2, 5), dtype=int), r"expected token indices of shape \(batch, 6\), got \(2, 5\)"),
], ids=["float", "bool", "past the end", "negative", "shape"])
def test_both_paths_refuse_bad_token_indices_naming_them(bad, message):
    """As torch's nn.Embedding: floats and indices out of the vocabulary are refused (numpy would
    read -1 as the last token and the fast path would fail in a MatMul of the wrong shape)."""
    composed = small_model("lstm", "bahdanau")
    for model in (composed, fast(composed)):
        with pytest.raises(ValueError, match=f"{type(model).__name__}: {message}"):
            model(bad)
