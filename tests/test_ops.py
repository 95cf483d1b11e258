"""Every primitive op: forward values against plain numpy, gradients against central differences.

`minigrad.gradcheck` copies each input that requires grad to float64, runs backward once and
compares the analytic gradient with (f(x + eps) - f(x - eps)) / 2eps element by element.
The last tests make sure gradcheck itself fails loudly on a deliberately wrong op.
"""
import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import Function, GradcheckError, Tensor, autograd, gradcheck, gradcheck_function, ops


def leaf(array, name=None):
    """A float64 leaf that requires grad."""
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=True, name=name)


def away_from_zero(rng, shape, low=0.5, high=2.0):
    """Random values with |v| in [low, high]: safe divisors, and no ReLU kink nearby."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def distinct(rng, shape):
    """Values at least 0.1 apart (no ties), so Max's argmax is stable under eps."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.1 + rng.uniform(0, 0.01, size)).reshape(shape)


def np_log_softmax(x, axis):
    """x - logsumexp(x), the log-sum-exp taken around the maximum m so exp cannot overflow."""
    m = x.max(axis=axis, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True)))


# --- binary elementwise ops, with broadcasting --------------------------------------------

BINARY = {
    "Add": (lambda a, b: a + b, np.add),
    "Sub": (lambda a, b: a - b, np.subtract),
    "Mul": (lambda a, b: a * b, np.multiply),
    "Div": (lambda a, b: a / b, np.divide),
}

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 1), (4,)),
    ((2, 3, 4), (3, 1)),
    ((1, 4), (3, 1)),
    ((2, 1, 4), (1, 3, 1)),
    ((), (2, 3)),
    ((5,), ()),
]


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_PAIRS)
def test_binary_op_forward_and_gradcheck(op, shape_a, shape_b, rng):
    """a op b matches numpy and both gradients (summed over broadcast axes) pass gradcheck."""
    ours, theirs = BINARY[op]
    a_data = away_from_zero(rng, shape_a)
    b_data = away_from_zero(rng, shape_b)
    a, b = leaf(a_data, "a"), leaf(b_data, "b")
    out = ours(a, b)
    assert out.shape == np.broadcast_shapes(shape_a, shape_b)
    np.testing.assert_allclose(out.data, theirs(a_data, b_data), rtol=1e-12)
    assert gradcheck(ours, [a, b])


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("side", ["left", "right"])
def test_binary_op_with_python_number(op, side, rng):
    """A Python number on either side is a constant: correct values, gradient only for the tensor."""
    ours, theirs = BINARY[op]
    data = away_from_zero(rng, (3, 4))
    if side == "left":
        fn, expected = (lambda x: ours(2.5, x)), theirs(2.5, data)
    else:
        fn, expected = (lambda x: ours(x, 2.5)), theirs(data, 2.5)
    x = leaf(data, "x")
    out = fn(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(fn, [x])


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_op_with_constant_tensor(op, rng):
    """Only the input that requires grad is checked and receives a gradient."""
    ours, _ = BINARY[op]
    a = leaf(away_from_zero(rng, (2, 3)), "a")
    b = Tensor(away_from_zero(rng, (3,)))  # a constant
    assert gradcheck(lambda x: ours(x, b), [a])
    assert gradcheck(lambda x: ours(b, x), [a])
    ours(a, b).sum().backward()
    assert b.grad is None


# --- unary elementwise ops -----------------------------------------------------------------

def positive(rng, shape):
    return rng.uniform(0.3, 2.0, size=shape)


UNARY = [
    ("Neg", lambda x: -x, np.negative, away_from_zero),
    ("Pow2", lambda x: x ** 2, lambda v: v ** 2, away_from_zero),
    ("Pow3", lambda x: x ** 3, lambda v: v ** 3, away_from_zero),
    ("Pow-1", lambda x: x ** -1, lambda v: v ** -1.0, away_from_zero),
    ("Pow0.5", lambda x: x ** 0.5, np.sqrt, positive),
    ("Pow-1.5", lambda x: x ** -1.5, lambda v: v ** -1.5, positive),
    ("Exp", lambda x: x.exp(), np.exp, away_from_zero),
    ("exp()", mg.exp, np.exp, away_from_zero),
    ("Log", lambda x: x.log(), np.log, positive),
    ("log()", mg.log, np.log, positive),
    ("Tanh", lambda x: x.tanh(), np.tanh, away_from_zero),
    ("tanh()", mg.tanh, np.tanh, away_from_zero),
    ("Sigmoid", lambda x: x.sigmoid(), lambda v: 1 / (1 + np.exp(-v)), away_from_zero),
    ("sigmoid()", mg.sigmoid, lambda v: 1 / (1 + np.exp(-v)), away_from_zero),
    ("ReLU", lambda x: x.relu(), lambda v: np.maximum(v, 0), away_from_zero),
    ("relu()", mg.relu, lambda v: np.maximum(v, 0), away_from_zero),
]


@pytest.mark.parametrize("name, ours, theirs, make", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
def test_unary_op_forward_and_gradcheck(name, ours, theirs, make, shape, rng):
    """Each unary op matches its numpy formula and its derivative passes gradcheck."""
    data = make(rng, shape)
    x = leaf(data, "x")
    out = ours(x)
    assert out.shape == shape
    np.testing.assert_allclose(out.data, theirs(data), rtol=1e-12)
    assert gradcheck(ours, [x])


def test_relu_gradient_is_the_step_function():
    """ReLU passes the gradient where x > 0 and blocks it elsewhere (0 at the kink, as PyTorch)."""
    x = leaf([-2.0, -0.5, 0.0, 0.5, 3.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_sigmoid_does_not_overflow():
    """Large |x| gives 0 and 1 without NaN, and the gradient there is ~0."""
    x = leaf([-800.0, 0.0, 800.0])
    y = x.sigmoid()
    np.testing.assert_allclose(y.data, [0.0, 0.5, 1.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.25, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_the_two_sided_form_across_its_clip(dtype):
    """σ is eᵃ / (1 + eᵃ) with a clipped where eᵃ would overflow (88 / 709): over the whole range
    up to past the clip it matches the form that never overflows, e^-|a|, and warns nothing.
    A clip too low changes values below it; one too high gives inf / inf = NaN."""
    top = 88.0 if dtype == np.float32 else 709.0
    a = np.concatenate([np.linspace(-top - 30, top + 30, 8001), [-np.inf, np.inf, np.nan]]).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = mg.sigmoid(mg.Tensor(a)).data
    e = np.exp(-np.abs(a))
    two_sided = np.where(a >= 0, 1, e) / (1 + e)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, two_sided, rtol=4 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)
    np.testing.assert_array_equal(got[a >= top], 1.0)


def test_sigmoid_of_integers_is_float32_and_right():
    """Integers are computed in float32, as torch.sigmoid does (e^-|a| of a uint8 wrapped: σ(200) was 0)."""
    got = mg.sigmoid(mg.Tensor(np.array([200, 1, 0], np.uint8))).data
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-np.array([200.0, 1.0, 0.0]))), rtol=1e-6)


# --- reductions ------------------------------------------------------------------------------

AXES = [None, 0, 1, 2, -1, -2, (0, 2), (-1, 0), (0, 1, 2)]
REDUCTIONS = {
    "sum": np.sum,
    "mean": np.mean,
    "max": np.max,
}


@pytest.mark.parametrize("reduction", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_forward_and_gradcheck(reduction, axis, keepdims, rng):
    """Sum/Mean/Max over every kind of axis, with and without keepdims."""
    data = distinct(rng, (2, 3, 4))
    x = leaf(data, "x")

    def fn(t):
        return getattr(t, reduction)(axis=axis, keepdims=keepdims)

    expected = REDUCTIONS[reduction](data, axis=axis, keepdims=keepdims)
    out = fn(x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(fn, [x])


def test_mean_gradient_is_one_over_count():
    """d mean / dx = 1/n for every element, n the number of reduced elements."""
    x = leaf(np.ones((2, 5)))
    x.mean(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 5), 1 / 5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_the_mean_of_nothing_is_nan_without_warnings_and_its_gradient_empty(dtype):
    """As torch.mean: nan, silently (numpy warns "Mean of empty slice"); so is a cross-entropy
    averaged over a batch of 0 examples, whose logits get an empty gradient."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = Tensor(np.zeros((0, 3), dtype=dtype))
        assert np.isnan(empty.mean().item()) and empty.mean().dtype == np.zeros(1, dtype).mean().dtype
        assert empty.mean(axis=1).shape == (0,) and np.isnan(empty.mean(axis=0).data).all()
        logits = leaf(np.zeros((0, 4, 5)))
        loss = mg.cross_entropy(logits, np.zeros((0, 4), dtype=np.int64))
        assert np.isnan(loss.item())
        loss.backward()
    assert logits.grad.shape == (0, 4, 5)


def test_max_gradient_goes_to_the_maximum_and_is_shared_between_ties():
    """The max's gradient flows to the arg-max only; tied maxima share it equally."""
    x = leaf([[1.0, 3.0, 3.0], [5.0, 2.0, 0.0]])
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


# --- shape ops -------------------------------------------------------------------------------

RESHAPES = [
    ("tuple", lambda x: x.reshape((6, 4))),
    ("varargs", lambda x: x.reshape(2, 12)),
    ("minus-one", lambda x: x.reshape(4, -1)),
    ("flat", lambda x: x.reshape(24)),
    ("more-axes", lambda x: x.reshape(2, 3, 2, 2)),
]


@pytest.mark.parametrize("name, fn", RESHAPES, ids=[r[0] for r in RESHAPES])
def test_reshape(name, fn, rng):
    """Reshape keeps numpy's element order and moves the gradient back to the input's shape."""
    data = rng.standard_normal((2, 3, 4))
    x = leaf(data)
    out = fn(x)
    expected = fn(data)  # the same call on the numpy array: numpy is the reference
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)
    assert gradcheck(fn, [x])


TRANSPOSES = [
    ("permute(2,0,1)", lambda x: x.permute(2, 0, 1), lambda v: np.transpose(v, (2, 0, 1))),
    ("permute tuple", lambda x: x.permute((1, 2, 0)), lambda v: np.transpose(v, (1, 2, 0))),
    ("permute negative", lambda x: x.permute(-1, 0, -2), lambda v: np.transpose(v, (2, 0, 1))),
    (".T", lambda x: x.T, lambda v: v.T),
    ("transpose()", lambda x: x.transpose(), lambda v: np.swapaxes(v, -1, -2)),
    ("transpose(0,2)", lambda x: x.transpose(0, 2), lambda v: np.swapaxes(v, 0, 2)),
    ("identity", lambda x: x.permute(0, 1, 2), lambda v: v),
]


@pytest.mark.parametrize("name, ours, theirs", TRANSPOSES, ids=[t[0] for t in TRANSPOSES])
def test_transpose(name, ours, theirs, rng):
    """Every way of permuting axes matches numpy and permutes the gradient back."""
    data = rng.standard_normal((2, 3, 4))
    x = leaf(data)
    out = ours(x)
    np.testing.assert_array_equal(out.data, theirs(data))
    assert gradcheck(ours, [x])


def test_T_of_a_matrix():
    """.T of a 2-D tensor is the matrix transpose."""
    data = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(leaf(data).T.data, [[0, 3], [1, 4], [2, 5]])


INDEXES = [
    ("int", 1),
    ("negative int", -1),
    ("slice", (slice(None), slice(1, 3))),
    ("step", (slice(None, None, -1), slice(None), slice(0, 4, 2))),
    ("ellipsis", (Ellipsis, 0)),
    ("newaxis", (None,)),
    ("newaxis middle", (slice(None), None, 1)),
    ("int array repeated", np.array([0, 0, 1, 0])),
    ("list repeated", [1, 1, 1]),
    ("two int arrays", (np.array([0, 1, 0, 0]), np.array([2, 2, 2, 1]))),
    ("array and slice", (slice(None), np.array([2, 0, 2]))),
    ("2-D int array", np.array([[0, 1], [1, 1]])),
    ("boolean mask", np.array([True, False])),
]


@pytest.mark.parametrize("name, index", INDEXES, ids=[i[0] for i in INDEXES])
def test_getitem(name, index, rng):
    """x[index] matches numpy; repeated indices add their gradients (gradcheck sees it)."""
    data = rng.standard_normal((2, 3, 4))
    x = leaf(data)
    out = x[index]
    np.testing.assert_array_equal(out.data, data[index])
    assert gradcheck(lambda t: t[index], [x])


def test_getitem_repeated_indices_add_up():
    """An embedding-style lookup that picks row 0 three times sends it three gradients."""
    table = leaf(np.zeros((3, 2)))
    table[np.array([0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(table.grad, [[3.0, 3.0], [0.0, 0.0], [1.0, 1.0]])


def test_getitem_with_a_tensor_index(rng):
    """An integer Tensor can be used as an index, like its array."""
    data = rng.standard_normal((4, 3))
    x = leaf(data)
    idx = Tensor([3, 3, 0])
    np.testing.assert_array_equal(x[idx].data, data[[3, 3, 0]])
    assert gradcheck(lambda t: t[idx], [x])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(axis, rng):
    """concat joins along an existing axis; each input gets its slice of the gradient."""
    shapes = {0: [(1, 3, 2), (2, 3, 2)], 1: [(2, 1, 2), (2, 3, 2)], -1: [(2, 3, 1), (2, 3, 3)]}[axis]
    datas = [rng.standard_normal(s) for s in shapes] + [rng.standard_normal(shapes[0])]
    xs = [leaf(d) for d in datas]
    out = mg.concat(xs, axis=axis)
    np.testing.assert_array_equal(out.data, np.concatenate(datas, axis=axis))
    assert gradcheck(lambda *t: mg.concat(list(t), axis=axis), xs)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis, rng):
    """stack joins along a new axis; each input gets its slice of the gradient."""
    datas = [rng.standard_normal((2, 3)) for _ in range(3)]
    xs = [leaf(d) for d in datas]
    out = mg.stack(xs, axis=axis)
    np.testing.assert_array_equal(out.data, np.stack(datas, axis=axis))
    assert gradcheck(lambda *t: mg.stack(list(t), axis=axis), xs)


def weighted_join(pieces, axis):
    """Scale each piece differently and join them again, so a gradient routed to the wrong
    piece (or lost) is visible to gradcheck."""
    return mg.concat([p * float(i + 1) for i, p in enumerate(pieces)], axis=axis)


@pytest.mark.parametrize("sizes, axis", [([1, 3, 2], 0), ([2, 2], 1), (4, -1), (2, 0), (5, 2)])
def test_split(sizes, axis, rng):
    """split matches np.split and routes each piece's gradient to its place."""
    data = rng.standard_normal((6, 4, 5))
    x = leaf(data)
    pieces = mg.split(x, sizes, axis=axis)
    length = data.shape[axis]
    if isinstance(sizes, int):
        bounds = list(range(sizes, length, sizes))
    else:
        bounds = list(np.cumsum(sizes)[:-1])
    expected = np.split(data, bounds, axis=axis)
    assert len(pieces) == len(expected)
    for piece, want in zip(pieces, expected):
        np.testing.assert_array_equal(piece.data, want)
    assert gradcheck(lambda t: weighted_join(mg.split(t, sizes, axis=axis), axis), [x])


@pytest.mark.parametrize("sizes", [[np.uint8(200), np.uint8(100)], [np.uint64(100), 200], iter([150, 150])],
                         ids=["uint8", "uint64 and int", "a generator"])
def test_split_sizes_of_any_integer_type_add_up_as_numbers(sizes):
    """numpy integer sizes are numbers (uint8's sum wrapped to 44; uint64 with an int made float
    bounds), and a generator of sizes is read once."""
    pieces = mg.split(mg.Tensor(np.arange(300.0)), sizes)
    assert sum(p.shape[0] for p in pieces) == 300 and len(pieces) == 2


@pytest.mark.parametrize("chunks, axis, expected_sizes", [(3, 0, [2, 2, 2]), (4, 0, [2, 2, 2]),
                                                          (2, 1, [2, 2]), (3, -1, [2, 2, 1])])
def test_chunk(chunks, axis, expected_sizes, rng):
    """chunk cuts into equal pieces (the last may be smaller), as torch.chunk."""
    data = rng.standard_normal((6, 4, 5))
    x = leaf(data)
    pieces = mg.chunk(x, chunks, axis=axis)
    assert [p.shape[axis] for p in pieces] == expected_sizes
    np.testing.assert_array_equal(mg.concat(pieces, axis=axis).data, data)
    assert gradcheck(lambda t: weighted_join(mg.chunk(t, chunks, axis=axis), axis), [x])


@pytest.mark.parametrize("cut, pieces", [(lambda x: mg.split(x, 2), 1), (lambda x: mg.split(x, 0), 1),
                                         (lambda x: mg.split(x, [0, 0]), 2), (lambda x: mg.chunk(x, 3), 3)],
                         ids=["split 2", "split 0", "split [0, 0]", "chunk 3"])
def test_split_and_chunk_of_an_empty_axis_give_empty_pieces_as_torch(cut, pieces):
    """torch.split(x, 2) of a length-0 axis is one empty piece and torch.chunk(x, 3) three
    (before, both gave no piece at all); their gradient is zero."""
    x = mg.Tensor(np.zeros((0, 3)), requires_grad=True)
    out = cut(x)
    assert [p.shape for p in out] == [(0, 3)] * pieces
    mg.concat(out, axis=0).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("cut", [lambda x: mg.split(x, True), lambda x: mg.split(x, [True, 3]),
                                 lambda x: mg.split(x, np.bool_(True)), lambda x: mg.chunk(x, True),
                                 lambda x: mg.split(x, 2, axis=True), lambda x: mg.chunk(x, 2, axis=False),
                                 lambda x: mg.split(x, 2.0), lambda x: mg.split(x, np.array(2)),
                                 lambda x: mg.split(x, 0)],
                         ids=["split True", "split [True, 3]", "split np.True_", "chunk True",
                              "split axis True", "chunk axis False", "split 2.0", "split array(2)", "split 0"])
def test_split_and_chunk_refuse_what_is_no_size_or_axis(cut):
    """True is not the size 1, nor False the axis 0 (torch refuses both), 2.0 and a 0-d array are no
    list of sizes (a bare TypeError before), and 0 cuts only an empty axis: a clear error naming the op."""
    with pytest.raises(mg.OpError, match=r"^(split|chunk): .*(True|False|2\.0|array\(2\)|positive, not 0)"):
        cut(mg.Tensor(np.arange(4.0)))


# --- matmul ----------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),          # 2-D
    ((2, 3, 4), (2, 4, 5)),    # batched
    ((2, 1, 3, 4), (5, 4, 2)), # broadcast batch axes
    ((3, 4), (2, 4, 5)),       # a matrix against a batch
    ((2, 3, 4), (4, 5)),       # a batch against a matrix
    ((4,), (4, 5)),            # 1-D left: a row vector
    ((3, 4), (4,)),            # 1-D right: a column vector
    ((4,), (4,)),              # dot product
    ((4,), (2, 4, 5)),         # 1-D left against a batch
    ((2, 3, 4), (4,)),         # batch against 1-D right
]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES, ids=str)
def test_matmul(shape_a, shape_b, rng):
    """a @ b matches np.matmul, and both gradients pass gradcheck."""
    a_data, b_data = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = leaf(a_data, "a"), leaf(b_data, "b")
    out = a @ b
    expected = np.matmul(a_data, b_data)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda x, y: x @ y, [a, b])


def test_matmul_with_numpy_array_on_the_left(rng):
    """ndarray @ Tensor goes to Tensor.__rmatmul__ and is differentiable in the tensor."""
    m, v = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    x = leaf(v)
    out = m @ x
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, m @ v, rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, m.T @ np.ones((3, 2)), rtol=1e-12)


SHORTCUT_SHAPES = [((2, 3, 4), (4, 5)),     # rows of a batch times one weight: one GEMM
                   ((2, 1, 4), (2, 4, 5)),  # one query row (as α<t,·> @ a): an outer product
                   ((3, 4), (4, 1)),        # a column on the right
                   ((1, 4), (3, 4, 2)),     # one row against a batch
                   ((5, 4), (4, 3))]        # two matrices: the two GEMMs alone


@pytest.mark.parametrize("shape_a, shape_b", SHORTCUT_SHAPES, ids=str)
def test_matmul_shortcuts_give_the_textbook_gradients(shape_a, shape_b, rng, monkeypatch):
    """The faster routes of ops/matmul_shortcuts.py apply to these shapes and give the same
    gradients as the textbook rule in MatMul.backward (the shortcut switched off)."""
    from minigrad.ops import linalg
    from minigrad.ops.matmul_shortcuts import matmul_backward_shortcut
    a_data, b_data, g = (rng.standard_normal(shape) for shape in (shape_a, shape_b, np.matmul(
        np.zeros(shape_a), np.zeros(shape_b)).shape))
    assert matmul_backward_shortcut(g, a_data, b_data, True, True) is not None

    def gradients():
        a, b = leaf(a_data), leaf(b_data)
        (a @ b).backward(g)
        return a.grad, b.grad

    fast = gradients()
    monkeypatch.setattr(linalg, "matmul_backward_shortcut", lambda *arrays: None)
    textbook = gradients()
    for got, expected in zip(fast, textbook):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3, 4), (4, 5)), ((2, 2, 3, 4), (4, 1)),
                                              ((3, 4), (4, 5)), ((2, 1, 4), (2, 4, 5))], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_matmul_product_is_numpys(shape_a, shape_b, layout, rng):
    """matmul_product (one GEMM over a batch of rows times one weight) gives np.matmul's product,
    also for an `a` that is a transposed view (its rows are then copied into one block)."""
    from minigrad.ops.matmul_shortcuts import matmul_product
    a = rng.standard_normal(shape_a)
    if layout == "transposed":
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
    b = rng.standard_normal(shape_b)
    np.testing.assert_allclose(matmul_product(a, b), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    assert matmul_product(a, b).shape == np.matmul(a, b).shape


# --- the op contract: backward reads arrays and needs_input_grad only ----------------------

CONTRACT = [
    ("Add", lambda a, b: a + b, [(3, 1), (4,)]),
    ("Sub", lambda a, b: a - b, [(3, 4), (4,)]),
    ("Mul", lambda a, b: a * b, [(2, 3), (2, 1)]),
    ("Div", lambda a, b: a / b, [(3,), (2, 3)]),
    ("TensorPow", lambda a, b: a ** b, [(2, 3), (3,)]),
    ("MatMul", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("MatMul batched", lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    ("Concat", lambda a, b, c: mg.concat([a, b, c], axis=1), [(2, 1), (2, 3), (2, 2)]),
    ("Stack", lambda a, b, c: mg.stack([a, b, c], axis=0), [(2, 3)] * 3),
    ("Sum", lambda a: a.sum(axis=0), [(3, 4)]),
    ("Mean", lambda a: a.mean(axis=1, keepdims=True), [(3, 4)]),
    ("Max", lambda a: a.max(axis=0), [(3, 4)]),
    ("Reshape", lambda a: a.reshape(4, 3), [(3, 4)]),
    ("BroadcastTo", lambda a: a.broadcast_to(2, 3, 4), [(3, 1)]),
    ("Transpose", lambda a: a.T, [(3, 4)]),
    ("GetItem", lambda a: a[np.array([0, 2, 0])], [(3, 4)]),
    ("Softmax", lambda a: mg.softmax(a, axis=0), [(3, 4)]),
    ("LogSoftmax", lambda a: mg.log_softmax(a, axis=0), [(3, 4)]),
    ("cross_entropy's Gather", lambda a: ops.Gather.apply(a, index=np.array([[0, 2]]), axis=0), [(3, 2)]),
    ("Tanh", lambda a: a.tanh(), [(3,)]),
    ("Pow", lambda a: a ** 3, [(3,)]),
]


@pytest.mark.parametrize("name, make, shapes", CONTRACT, ids=[c[0] for c in CONTRACT])
def test_backward_reads_arrays_and_needs_input_grad_only(name, make, shapes, rng):
    """With each single input requiring grad (and with all of them), the op's backward runs with
    its input Tensors taken away, returns a gradient of the right shape for each input that
    needs one and None for the others, and needs_input_grad says which those are."""
    choices = [tuple(i == k for i in range(len(shapes))) for k in range(len(shapes))]
    for needs in choices + [(True,) * len(shapes)]:
        inputs = [Tensor(away_from_zero(rng, shape), requires_grad=need) for shape, need in zip(shapes, needs)]
        out = make(*inputs)
        fn = out.grad_fn
        assert fn.needs_input_grad == needs
        fn.inputs = None  # a backward that reads a Tensor now fails
        grads = fn.backward(np.ones(out.shape))
        assert len(grads) == len(shapes)
        for grad, need, shape in zip(grads, needs, shapes):
            if need:
                assert np.asarray(getattr(grad, "dense", lambda: grad)()).shape == shape
            else:
                assert grad is None


# --- softmax, log_softmax, cross-entropy -------------------------------------------------

SOFTMAXES = {"one_op": mg.softmax, "composed": mg.composed_softmax}


@pytest.mark.parametrize("form", sorted(SOFTMAXES))
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_softmax(form, axis, rng):
    """softmax in both forms matches numpy, sums to 1 along axis, and passes gradcheck."""
    data = rng.standard_normal((3, 4, 5)) * 3
    x = leaf(data)
    softmax = SOFTMAXES[form]
    out = softmax(x, axis=axis)
    expected = np.exp(data) / np.exp(data).sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda t: softmax(t, axis=axis), [x])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_one_op_and_composed_softmax_have_the_same_gradient(axis, rng):
    """The one op's analytic backward equals backward through Sub, Exp, Sum and Div."""
    data = rng.standard_normal((3, 4))
    weights = rng.standard_normal((3, 4))
    grads = []
    for softmax in (mg.softmax, mg.composed_softmax):
        x = leaf(data)
        (softmax(x, axis=axis) * weights).sum().backward()
        grads.append(x.grad)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-14)


def test_softmax_is_stable_for_large_logits():
    """Max-subtraction: logits of 1000 give finite probabilities."""
    x = leaf([[1000.0, 1000.0], [-1000.0, 0.0]])
    for softmax in (mg.softmax, mg.composed_softmax):
        np.testing.assert_allclose(softmax(x).data, [[0.5, 0.5], [0.0, 1.0]])


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_log_softmax(axis, rng):
    """log_softmax matches the numpy formula (also for huge logits) and passes gradcheck."""
    data = rng.standard_normal((3, 4, 5)) * 3
    x = leaf(data)
    np.testing.assert_allclose(mg.log_softmax(x, axis=axis).data, np_log_softmax(data, axis),
                               rtol=1e-12, atol=1e-14)  # float64 rounding of two formulations
    assert gradcheck(lambda t: mg.log_softmax(t, axis=axis), [x])
    big = leaf(data * 1000)
    out = mg.log_softmax(big, axis=axis).data
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, np_log_softmax(data * 1000, axis), rtol=1e-12, atol=1e-12)


CE_CASES = [  # logits shape, axis
    ((4, 5), -1),
    ((4, 5), 1),
    ((5, 4), 0),
    ((2, 5, 3), 1),
    ((2, 3, 5), -1),
    ((2, 5, 3), -2),
    ((5,), 0),
]


def np_cross_entropy(logits, target, axis):
    """-log softmax picked at the target class along axis, per position (numpy reference)."""
    log_probs = np_log_softmax(logits, axis)
    picked = np.take_along_axis(log_probs, np.expand_dims(target, axis), axis=axis)
    return -np.squeeze(picked, axis=axis)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, axis", CE_CASES, ids=str)
def test_cross_entropy(shape, axis, reduction, rng):
    """cross_entropy (log_softmax + Gather) matches numpy for every reduction and axis."""
    data = rng.standard_normal(shape) * 2
    classes = shape[axis]
    target_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    target = rng.integers(0, classes, size=target_shape)
    x = leaf(data)
    out = mg.cross_entropy(x, target, axis=axis, reduction=reduction)
    per_position = np_cross_entropy(data, target, axis)
    expected = {"none": per_position, "sum": per_position.sum(), "mean": per_position.mean()}
    assert out.shape == np.shape(expected[reduction])
    np.testing.assert_allclose(out.data, expected[reduction], rtol=1e-12)
    assert gradcheck(lambda t: mg.cross_entropy(t, target, axis=axis, reduction=reduction), [x])


def test_cross_entropy_gradient_is_softmax_minus_onehot(rng):
    """For 'sum', d loss / d logits = softmax(logits) - onehot(target), written out by hand."""
    data = rng.standard_normal((3, 4))
    target = np.array([2, 0, 3])
    x = leaf(data)
    mg.cross_entropy(x, Tensor(target), reduction="sum").backward()
    probs = np.exp(data) / np.exp(data).sum(axis=1, keepdims=True)
    onehot = np.eye(4)[target]
    np.testing.assert_allclose(x.grad, probs - onehot, rtol=1e-10)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_op_directly(axis, rng):
    """Gather (take_along_axis) matches numpy and puts the gradient back where it picked."""
    data = rng.standard_normal((3, 4))
    index = np.expand_dims(rng.integers(0, data.shape[axis], size=np.delete(data.shape, axis % 2)),
                           axis)
    x = leaf(data)
    out = mg.ops.Gather.apply(x, index=index, axis=axis)
    np.testing.assert_array_equal(out.data, np.take_along_axis(data, index, axis=axis))
    assert gradcheck(lambda t: mg.ops.Gather.apply(t, index=index, axis=axis), [x])


# --- a composed expression, as the models use ----------------------------------------------

def test_attention_like_expression(rng):
    """softmax(q kᵀ / √d) v: several ops chained, all inputs gradchecked together."""
    q, k, v = (leaf(rng.standard_normal((2, 3, 4)), n) for n in "qkv")

    def attention(q, k, v):
        scores = q @ k.transpose() / 2.0
        return mg.softmax(scores, axis=-1) @ v

    assert gradcheck(attention, [q, k, v])


# --- gradcheck must catch a wrong backward ---------------------------------------------------

class WrongSquare(Function):
    """x² with a backward that forgets the factor 2 (gradient x instead of 2x)."""
    __slots__ = ()

    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    def backward(self, g):
        (a,) = self.saved
        return (g * a,)


class RightSquare(WrongSquare):
    """The same op with the correct backward, to show the check tells them apart."""
    __slots__ = ()

    def backward(self, g):
        (a,) = self.saved
        return (2 * g * a,)


class WrongSecondInput(mg.ops.Mul):
    """Mul whose backward gets a's gradient right and b's wrong (the sign)."""
    __slots__ = ()

    def backward(self, g):
        a, b = self.saved
        return g * b, -g * a


def parse_mismatch(message):
    """(index tuple, analytic, numeric) read back from a GradcheckError message."""
    match = re.search(r"worst element \(([\d, ]*)\): analytic (\S+) vs numeric (\S+?)\s", message)
    assert match, message
    index = tuple(int(i) for i in match.group(1).split(",") if i.strip())
    return index, float(match.group(2)), float(match.group(3))


def test_gradcheck_accepts_the_correct_square(rng):
    """The control: the correct backward passes, so the failure below is about the bug."""
    x = leaf(away_from_zero(rng, (3, 4)))
    assert gradcheck(lambda t: RightSquare.apply(t), [x])


def test_gradcheck_rejects_a_backward_missing_a_factor_of_two(rng):
    """GradcheckError names the input, the worst element and both values (numeric = 2 × analytic)."""
    data = away_from_zero(rng, (3, 4))
    x = leaf(data, name="w")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda t: WrongSquare.apply(t), [x])
    message = str(caught.value)
    assert "'w'" in message
    assert "(3, 4)" in message
    index, analytic, numeric = parse_mismatch(message)
    # gradcheck projects the output on r ~ N(0, 1) from default_rng(0): L = Σ r·x²
    r = np.random.default_rng(0).standard_normal((3, 4))
    true_grad, wrong_grad = 2 * r * data, r * data
    np.testing.assert_allclose(numeric, true_grad[index], rtol=1e-6)
    np.testing.assert_allclose(analytic, wrong_grad[index], rtol=1e-6)
    # the worst element is where the error |r·x| exceeds its tolerance the most
    excess = np.abs(wrong_grad - true_grad) - (1e-5 + 1e-3 * np.abs(true_grad))
    assert index == np.unravel_index(np.argmax(excess), (3, 4))
    assert "12 of 12 elements fail" in message
    assert isinstance(caught.value, AssertionError)  # a failed check, usable in plain asserts


class WrongAbs(Function):
    """|x| with a backward that forgets the sign: right for x > 0, wrong for x < 0 only."""
    __slots__ = ()

    def forward(self, a):
        self.save_for_backward(a)
        return np.abs(a)

    def backward(self, g):
        return (g * np.ones_like(self.saved[0]),)


def test_gradcheck_catches_a_gradient_wrong_at_a_few_elements():
    """One wrong element is enough to fail; the message counts the failing elements and
    points at one of them."""
    data = np.array([[1.0, -2.0, 0.5], [1.5, 2.0, -0.7]])
    x = leaf(data)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda t: WrongAbs.apply(t), [x])
    message = str(caught.value)
    assert "input #0" in message and "2 of 6 elements fail" in message
    index, analytic, numeric = parse_mismatch(message)
    assert index in [(0, 1), (1, 2)]  # the negative entries
    np.testing.assert_allclose(analytic, -numeric, rtol=1e-6)


def test_gradcheck_names_the_unnamed_input_that_is_wrong(rng):
    """With two inputs, only the wrong one (#1) is reported, by position when it has no name."""
    a, b = leaf(away_from_zero(rng, (2, 3))), leaf(away_from_zero(rng, (2, 3)))
    with pytest.raises(GradcheckError, match=r"input #1 \(shape \(2, 3\)\)"):
        gradcheck(lambda x, y: WrongSecondInput.apply(x, y), [a, b])


def test_gradcheck_without_inputs_requiring_grad_is_an_error():
    """Nothing to check is a usage error, not a silent pass."""
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2.0, [Tensor([1.0, 2.0])])


def test_gradcheck_function_checks_one_op_without_the_engine(rng, monkeypatch):
    """gradcheck_function runs only the op's forward and backward: it passes for Mul even when
    the engine's backward pass is broken, and fails for the wrong square."""
    monkeypatch.setattr(autograd, "topological_order", None)  # any use of the engine would fail
    assert gradcheck_function(ops.Mul, rng.standard_normal((3, 4)), rng.standard_normal((3, 4)))
    assert gradcheck_function(ops.Softmax, rng.standard_normal((2, 5)), axis=0)
    with pytest.raises(GradcheckError, match=r"gradcheck_function\(WrongSquare\): input #0"):
        gradcheck_function(WrongSquare, away_from_zero(rng, (3, 4)))


def test_gradcheck_function_refuses_a_gradient_of_the_wrong_shape(rng):
    """A backward that forgets to sum a broadcast gradient back is named, with both shapes."""
    class UnsummedAdd(ops.Add):
        __slots__ = ()

        def backward(self, g):
            return g, g

    with pytest.raises(GradcheckError, match=r"input #1 has shape \(3, 4\), but the input has shape \(4,\)"):
        gradcheck_function(UnsummedAdd, rng.standard_normal((3, 4)), rng.standard_normal(4))


@pytest.mark.parametrize("shape,target", [((3,), (4, 3)), ((2, 1, 3), (2, 5, 3)), ((1,), (2, 2))])
def test_broadcast_to(shape, target):
    """BroadcastTo repeats in forward and sums the repeats in backward."""
    rng = np.random.default_rng(7)
    x = Tensor(rng.standard_normal(shape), requires_grad=True)
    weights = rng.standard_normal(target)
    np.testing.assert_array_equal(x.broadcast_to(target).data, np.broadcast_to(x.data, target))
    assert gradcheck(lambda x: x.broadcast_to(target) * Tensor(weights), [x])
