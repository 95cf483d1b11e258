"""Every op, and two small networks, give PyTorch's outputs and gradients to 1e-10 in float64."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.torch

RTOL, ATOL = 1e-10, 1e-12


def close(ours, theirs, what=""):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert np.shape(ours) == np.shape(theirs), f"{what}: shape {np.shape(ours)} vs {np.shape(theirs)}"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


def compare(mg_fn, torch_fn, arrays, seed=0):
    """Run both on copies of `arrays` (all differentiated), back-propagate the same random
    upstream gradient, and compare the outputs and every input's gradient."""
    ours = [mg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    out, ref = mg_fn(*ours), torch_fn(*theirs)
    assert out.dtype == np.float64
    close(out.data, ref, "output")
    upstream = np.asarray(np.random.default_rng(seed).standard_normal(tuple(ref.shape)))
    out.backward(upstream)
    ref.backward(torch.from_numpy(upstream.copy()))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        expected = np.zeros(arrays[i].shape) if t.grad is None else t.grad
        got = np.zeros(arrays[i].shape) if x.grad is None else x.grad
        close(got, expected, f"gradient of input {i}")


def normal(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def away_from_zero(*shape, seed=2):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def positive(*shape, seed=3):
    return np.random.default_rng(seed).uniform(0.2, 3.0, shape)


# --- elementwise binary ops, with broadcasting ----------------------------------------------------
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((2, 1, 4), (3, 1)),
                    ((), (2, 3)), ((5, 1), (1, 6)), ((2, 3, 1, 5), (3, 4, 1))]
BINARY = {"add": (lambda a, b: a + b), "sub": (lambda a, b: a - b),
          "mul": (lambda a, b: a * b), "div": (lambda a, b: a / b)}


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
def test_binary_op(op, shapes):
    """a op b for broadcast shapes: same values, and each gradient summed back to its input's shape."""
    left, right = shapes
    fn = BINARY[op]
    compare(fn, fn, [normal(*left), away_from_zero(*right)])


SCALAR_FORMS = {
    "x+2": lambda x: x + 2.0, "2+x": lambda x: 2.0 + x, "x-2": lambda x: x - 2.0,
    "2-x": lambda x: 2.0 - x, "3*x": lambda x: 3.0 * x, "x/4": lambda x: x / 4.0,
    "2/x": lambda x: 2.0 / x, "-x": lambda x: -x,
}


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
def test_python_number_operands(form):
    """Python numbers on either side (reflected operators) and negation match torch."""
    fn = SCALAR_FORMS[form]
    compare(fn, fn, [away_from_zero(3, 4)])


# --- unary ops ------------------------------------------------------------------------------------
UNARY = {
    "neg": (lambda x: -x, lambda x: -x, normal),
    "exp": (mg.exp, torch.exp, normal),
    "log": (mg.log, torch.log, positive),
    "tanh": (mg.tanh, torch.tanh, normal),
    "sigmoid": (mg.sigmoid, torch.sigmoid, lambda *s: 4 * normal(*s)),
    "relu": (mg.relu, torch.relu, lambda *s: np.round(normal(*s), 1)),  # exact zeros included
    "method_exp": (lambda x: x.exp(), lambda x: x.exp(), normal),
    "method_tanh": (lambda x: x.tanh(), lambda x: x.tanh(), normal),
    "method_relu": (lambda x: x.relu(), lambda x: x.relu(), normal),
}


@pytest.mark.parametrize("op", list(UNARY))
@pytest.mark.parametrize("shape", [(), (7,), (3, 4), (2, 3, 4)], ids=str)
def test_unary_op(op, shape):
    """Elementwise unary ops and their derivatives agree with torch on every shape."""
    ours, theirs, make = UNARY[op]
    compare(ours, theirs, [make(*shape)])


def test_relu_gradient_at_zero_is_zero():
    """ReLU's gradient at exactly 0 is 0, as in torch."""
    x = np.array([-1.0, 0.0, 0.0, 2.0])
    compare(mg.relu, torch.relu, [x])


@pytest.mark.parametrize("exponent, make", [(2, normal), (3, normal), (1, normal), (0.5, positive),
                                            (-1.5, positive), (-2, away_from_zero), (2.7, positive)])
def test_pow(exponent, make):
    """x ** p for integer, fractional and negative p (positive bases where p is fractional)."""
    compare(lambda x: x ** exponent, lambda x: x ** exponent, [make(3, 4)])


# --- reductions -----------------------------------------------------------------------------------
AXES = [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2)]


def _torch_reduce(name, axis, keepdims):
    def fn(x):
        dims = tuple(range(x.ndim)) if axis is None else axis
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims)
    return fn


@pytest.mark.parametrize("name, torch_name", [("sum", "sum"), ("mean", "mean"), ("max", "amax")])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction(name, torch_name, axis, keepdims):
    """sum, mean and max (as torch.amax) over any axes, with and without keepdims."""
    compare(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims),
            _torch_reduce(torch_name, axis, keepdims), [normal(3, 4, 5)])


@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_with_ties_shares_the_gradient_like_amax(axis, keepdims):
    """With tied maxima the gradient is split evenly among them, as torch.amax does."""
    ties = np.random.default_rng(4).integers(0, 3, (3, 4, 5)).astype(np.float64)
    compare(lambda x: x.max(axis=axis, keepdims=keepdims),
            _torch_reduce("amax", axis, keepdims), [ties])


# --- shape ops ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(12, 5), (60,), (-1,), (5, -1, 2), (3, 1, 20), (2, 2, 3, 5)], ids=str)
def test_reshape(shape):
    """reshape to any compatible shape, -1 included."""
    compare(lambda x: x.reshape(shape), lambda x: x.reshape(shape), [normal(3, 4, 5)])


def test_reshape_varargs():
    """reshape(a, b) is the same as reshape((a, b))."""
    compare(lambda x: x.reshape(4, 15), lambda x: x.reshape(4, 15), [normal(3, 4, 5)])


@pytest.mark.parametrize("axes", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (2, 1, 0), (-1, 0, -2)], ids=str)
def test_permute(axes):
    """permute by any permutation (negative axes too)."""
    compare(lambda x: x.permute(axes), lambda x: x.permute(axes), [normal(3, 4, 5)])


def test_transpose_and_T():
    """transpose() swaps the last two axes; .T reverses all axes (torch: permute reversed)."""
    compare(lambda x: x.transpose(), lambda x: x.transpose(-2, -1), [normal(3, 4, 5)])
    compare(lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), [normal(3, 4, 5)])
    compare(lambda x: x.T, lambda x: x.permute(2, 1, 0), [normal(3, 4, 5)])


def _to_torch_index(index):
    convert = lambda i: torch.from_numpy(i) if isinstance(i, np.ndarray) else i  # noqa: E731
    return tuple(convert(i) for i in index) if isinstance(index, tuple) else convert(index)


INDEXES = {
    "int": 1, "negative_int": -1, "slice": slice(1, 3), "step": (slice(None), slice(None, None, 2)),
    "int_and_slice": (2, slice(1, None)), "ellipsis": (Ellipsis, 1), "newaxis": (None, 0),
    "int_array_repeats": np.array([0, 3, 3, 1, 3]),
    "int_array_2d": np.array([[0, 1], [3, 0]]),
    "array_second_axis": (slice(None), np.array([4, 0, 4])),
    "array_then_slice": (np.array([2, 2, 0]), slice(1, 4)),
    "two_arrays": (np.array([0, 1, 1, 3]), np.array([4, 4, 2, 4])),
    "array_int_array": (np.array([1, 1]), 2, np.array([0, 0])),
    "list": [2, 0, 2],
    "bool_mask": np.array([True, False, True, True]),
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem(name):
    """x[index] for ints, slices, Ellipsis, None, integer arrays (repeats scatter-add) and masks."""
    index = INDEXES[name]
    compare(lambda x: x[index], lambda x: x[_to_torch_index(index)], [normal(4, 5, 3)])


def test_getitem_with_tensor_index():
    """An integer Tensor used as an index picks the same rows (and scatter-adds their grads)."""
    idx = np.array([1, 1, 0])
    compare(lambda x: x[mg.Tensor(idx)], lambda x: x[torch.from_numpy(idx)], [normal(3, 2)])


@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 5)], 1), ([(2, 3, 4), (2, 3, 1)], -1),
    ([(1, 3, 2), (2, 3, 2), (1, 3, 2)], 0), ([(3,)], 0)], ids=str)
def test_concat(shapes, axis):
    """concat is torch.cat: values joined, each input's gradient its slice of the upstream gradient."""
    arrays = [normal(*s, seed=i) for i, s in enumerate(shapes)]
    compare(lambda *xs: mg.concat(list(xs), axis=axis), lambda *xs: torch.cat(xs, dim=axis), arrays)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_stack(axis):
    """stack along a new axis (negative too): values and each input's gradient."""
    arrays = [normal(2, 3, seed=i) for i in range(3)]
    compare(lambda *xs: mg.stack(list(xs), axis=axis), lambda *xs: torch.stack(xs, dim=axis), arrays)


# --- matmul ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("left, right", [
    ((3, 4), (4, 5)), ((1, 4), (4, 1)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 6)),
    ((3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)), ((4,), (4,))], ids=str)
def test_matmul(left, right):
    """A @ B: 2-D, batched, broadcast batch axes, and 1-D operands, as torch.matmul."""
    compare(lambda a, b: a @ b, torch.matmul, [normal(*left, seed=5), normal(*right, seed=6)])


# --- softmax family ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1), ((2, 3, 4), 0),
                                         ((6,), 0)], ids=str)
@pytest.mark.parametrize("softmax", [mg.softmax, mg.composed_softmax], ids=["one_op", "composed"])
def test_softmax(shape, axis, softmax):
    """softmax along any axis, the one op or composed from Exp/Sum/Div, as torch.softmax."""
    compare(lambda x: softmax(x, axis=axis), lambda x: torch.softmax(x, dim=axis),
            [3 * normal(*shape)])


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1), ((6,), 0)], ids=str)
def test_log_softmax(shape, axis):
    """log_softmax along any axis, as torch.log_softmax."""
    compare(lambda x: mg.log_softmax(x, axis=axis), lambda x: torch.log_softmax(x, dim=axis),
            [3 * normal(*shape)])


def test_softmax_of_large_logits_is_stable():
    """Logits of size 1000 do not overflow: same values and gradients as torch."""
    x = normal(4, 6) * 1000
    compare(lambda t: mg.softmax(t), lambda t: torch.softmax(t, dim=-1), [x])
    compare(lambda t: mg.log_softmax(t), lambda t: torch.log_softmax(t, dim=-1), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_2d(reduction):
    """cross_entropy of (N, C) logits and (N,) targets, every reduction, as F.cross_entropy."""
    target = np.array([0, 4, 2, 2, 1, 3])
    compare(lambda x: mg.cross_entropy(x, target, reduction=reduction),
            lambda x: F.cross_entropy(x, torch.from_numpy(target), reduction=reduction),
            [2 * normal(6, 5)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_class_axis_1(reduction):
    """(N, C, T) logits with classes on axis 1: torch's own layout."""
    target = np.random.default_rng(8).integers(0, 5, (2, 3))
    compare(lambda x: mg.cross_entropy(x, target, axis=1, reduction=reduction),
            lambda x: F.cross_entropy(x, torch.from_numpy(target), reduction=reduction),
            [normal(2, 5, 3)])


def test_cross_entropy_classes_last_on_sequences():
    """(N, T, C) logits with classes last equal torch on the permuted (N, C, T) layout."""
    target = np.random.default_rng(9).integers(0, 5, (2, 3))
    compare(lambda x: mg.cross_entropy(x, target),
            lambda x: F.cross_entropy(x.permute(0, 2, 1), torch.from_numpy(target)),
            [normal(2, 3, 5)])


def test_cross_entropy_unbatched():
    """A single (C,) logit vector with a 0-d target, as torch's unbatched form."""
    compare(lambda x: mg.cross_entropy(x, np.array(3)),
            lambda x: F.cross_entropy(x, torch.tensor(3)), [normal(5)])


# --- composite networks ---------------------------------------------------------------------------
def test_embedding_mlp_classifier_matches_torch():
    """Embedding -> Linear -> tanh -> Linear -> cross_entropy: same loss and parameter gradients."""
    vocab, dim, hidden, classes = 11, 4, 6, 5
    rng = np.random.default_rng(10)
    tokens = rng.integers(0, vocab, (3, 7))
    tokens[0, :3] = 2  # a repeated token: its embedding row gathers several gradients
    target = rng.integers(0, classes, (3, 7))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim, dtype=np.float64)
            self.hidden = nn.Linear(dim, hidden, dtype=np.float64)
            self.out = nn.Linear(hidden, classes, dtype=np.float64)

        def forward(self, tokens):
            return self.out(self.hidden(self.embed(tokens)).tanh())

    model = Model()
    model.hidden.bias.data[:] = rng.standard_normal(hidden)
    model.out.bias.data[:] = rng.standard_normal(classes)

    embed = torch.nn.Embedding(vocab, dim).double()
    hidden_layer = torch.nn.Linear(dim, hidden).double()
    out_layer = torch.nn.Linear(hidden, classes).double()
    with torch.no_grad():
        embed.weight.copy_(torch.from_numpy(model.embed.weight.data))
        hidden_layer.weight.copy_(torch.from_numpy(model.hidden.weight.data.T))  # (in,out) -> (out,in)
        hidden_layer.bias.copy_(torch.from_numpy(model.hidden.bias.data))
        out_layer.weight.copy_(torch.from_numpy(model.out.weight.data.T))
        out_layer.bias.copy_(torch.from_numpy(model.out.bias.data))

    logits = model(tokens)
    log_probs = mg.log_softmax(logits)
    loss = mg.cross_entropy(logits, target)
    loss.backward()

    ref_logits = out_layer(torch.tanh(hidden_layer(embed(torch.from_numpy(tokens)))))
    close(log_probs.data, torch.log_softmax(ref_logits, dim=-1), "log_softmax")
    ref_loss = F.cross_entropy(ref_logits.reshape(-1, classes), torch.from_numpy(target).reshape(-1))
    ref_loss.backward()

    close(loss.data, ref_loss, "loss")
    close(model.embed.weight.grad, embed.weight.grad, "embed.weight")
    close(model.hidden.weight.grad, hidden_layer.weight.grad.T, "hidden.weight")
    close(model.hidden.bias.grad, hidden_layer.bias.grad, "hidden.bias")
    close(model.out.weight.grad, out_layer.weight.grad.T, "out.weight")
    close(model.out.bias.grad, out_layer.bias.grad, "out.bias")
    assert np.abs(model.embed.weight.grad[2]).sum() > 0


def test_attention_block_matches_torch():
    """scores = tanh(s W + a U) v, alpha = softmax over time, c = alpha^T a (batched): same loss and grads."""
    batch, time, hs, ha, k = 2, 5, 3, 4, 6
    rng = np.random.default_rng(11)
    arrays = {"s": rng.standard_normal((batch, 1, hs)), "a": rng.standard_normal((batch, time, ha)),
              "W": rng.standard_normal((hs, k)), "U": rng.standard_normal((ha, k)),
              "v": rng.standard_normal((k, 1)), "R": rng.standard_normal((batch, 1, ha))}

    def block(lib_softmax, t):
        scores = (t["s"] @ t["W"] + t["a"] @ t["U"]).tanh() @ t["v"]  # (B, T, 1)
        alpha = lib_softmax(scores)                                      # over the time axis
        context = alpha.transpose(-2, -1) @ t["a"]                       # (B, 1, Ha)
        return alpha, context, (context * t["R"]).sum()

    ours = {n: mg.Tensor(a.copy(), requires_grad=(n != "R")) for n, a in arrays.items()}
    theirs = {n: torch.tensor(a.copy(), requires_grad=(n != "R")) for n, a in arrays.items()}
    alpha, context, loss = block(lambda x: mg.softmax(x, axis=1), ours)
    ref_alpha, ref_context, ref_loss = block(lambda x: torch.softmax(x, dim=1), theirs)
    loss.backward()
    ref_loss.backward()

    close(alpha.data, ref_alpha, "alpha")
    np.testing.assert_allclose(alpha.data.sum(axis=1), 1.0, rtol=1e-12)
    close(context.data, ref_context, "context")
    close(loss.data, ref_loss, "loss")
    for name in ["s", "a", "W", "U", "v"]:
        close(ours[name].grad, theirs[name].grad, f"d loss / d {name}")


def torch_attention(keys, a, s_prev, weight_query, weight_energy, bias_energy=None):
    """α (B, Tx) and c (B, n_a2) of one additive-attention step, the fast twin's maths in PyTorch."""
    energies = (torch.tanh(keys + (s_prev @ weight_query).unsqueeze(1)) @ weight_energy).squeeze(-1)
    if bias_energy is not None:
        energies = torch.relu(energies + bias_energy)
    alpha = torch.softmax(energies, dim=-1)
    return alpha, (alpha.unsqueeze(1) @ a).squeeze(1)


def attention_arrays(score, lstm, batch=3, tx=5, n_a2=4, n_s=3, hidden=3, seed=21):
    """Inputs of the twin's Attention node ([K, a, s<t-1>, W_s, w_e(, b_e)]) or AttentionDecoder node
    ([K, a, W_x, b_x, W_h, W_s, w_e(, b_e)]); dlai's pre-relu energies (of the first decoder step,
    from s<0> = 0) of both signs and away from 0, so the relu's mask is exercised and its kink is not hit."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        keys, a, s_prev = rng.normal(0, 0.7, (batch, tx, hidden)), rng.normal(size=(batch, tx, n_a2)), \
            rng.normal(size=(batch, n_s))
        score_arrays = [rng.normal(0, 0.7, (n_s, hidden)), rng.normal(0, 0.7, (hidden, 1))]
        first = [keys, a] + ([rng.normal(0, 0.5, (n_a2, 4 * n_s)), rng.normal(0, 0.5, 4 * n_s),
                              rng.normal(0, 0.5, (n_s, 4 * n_s))] if lstm else [s_prev])
        if score == "bahdanau":
            return first + score_arrays
        bias = rng.normal(0, 0.3, 1)
        pre = np.tanh(keys + (not lstm) * (s_prev @ score_arrays[0])[:, None]) @ score_arrays[1] + bias
        if np.abs(pre).min() > 0.05 and 0.3 < (pre > 0).mean() < 0.9:
            return first + score_arrays + [bias]
    pytest.fail("no draw gave dlai energies away from the relu's kink")


@pytest.mark.parametrize("score", ["dlai", "bahdanau"])
def test_fast_attention_node_matches_torch(score):
    """attention.fast.Attention, [α; c] of one decoder step in one node, as PyTorch composes it."""
    from attention.fast import Attention
    compare(lambda *xs: Attention.apply(*xs), lambda *xs: torch.cat(torch_attention(*xs), dim=-1),
            attention_arrays(score, lstm=False))


@pytest.mark.parametrize("score", ["dlai", "bahdanau"])
def test_fast_decoder_matches_torch_attention_and_lstm_cell(score):
    """attention.fast.AttentionDecoder, [s<t>; α<t,·>] of every decoder step in one node, against
    the attention in PyTorch and nn.LSTMCell holding the same weights (its b_hh zero), looped."""
    from attention.fast import AttentionDecoder
    n_s, steps = 3, 4
    cell = torch.nn.LSTMCell(4, n_s).double()

    def reference(keys, a, weight_x, bias_x, weight_h, *score_weights):
        weights = {"weight_ih": weight_x.T, "weight_hh": weight_h.T, "bias_ih": bias_x,
                   "bias_hh": torch.zeros_like(bias_x)}
        s = memory = torch.zeros(a.shape[0], n_s, dtype=a.dtype)
        outputs = []
        for _ in range(steps):
            alpha, context = torch_attention(keys, a, s, *score_weights)
            s, memory = torch.func.functional_call(cell, weights, (context, (s, memory)))
            outputs.append(torch.cat([s, alpha], dim=-1))
        return torch.stack(outputs, dim=1)

    compare(lambda *xs: AttentionDecoder.apply(*xs, steps=steps), reference,
            attention_arrays(score, lstm=True, n_s=n_s))
