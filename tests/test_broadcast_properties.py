"""Property tests (hypothesis): broadcasting's gradients, and reshape/permute round trips.

The reference gradients are computed here with plain numpy (np.broadcast_to and sums over
axes), independently of minigrad's own sum_to_shape.
"""
import numpy as np
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
from hypothesis import given, settings

from minigrad import Tensor

SETTINGS = settings(max_examples=50, deadline=None)

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)
seeds = st.integers(0, 2**32 - 1)


def reduce_to(full, shape):
    """Sum `full` (the output's shape) back to `shape`: over the leading axes `shape` lacks,
    then over each axis where `shape` has 1 and `full` does not."""
    full = np.asarray(full)
    while full.ndim > len(shape):
        full = full.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and full.shape[axis] != 1:
            full = full.sum(axis=axis, keepdims=True)
    assert full.shape == tuple(shape)
    return full


def operands(seed, shape_a, shape_b):
    """Random float64 operands; b stays away from 0 so it can divide."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape_a)
    b = rng.choice([-1.0, 1.0], size=shape_b) * rng.uniform(0.5, 2.0, size=shape_b)
    return np.asarray(a), np.asarray(b)


def local_derivatives(op, a, b, out_shape):
    """(∂c/∂a, ∂c/∂b) elementwise, as arrays of the output's shape."""
    A, B = np.broadcast_to(a, out_shape), np.broadcast_to(b, out_shape)
    ones = np.ones(out_shape)
    return {
        "add": (ones, ones),
        "sub": (ones, -ones),
        "mul": (B, A),
        "div": (1 / B, -A / (B * B)),
    }[op]


FORWARD = {
    "add": (lambda x, y: x + y, np.add),
    "sub": (lambda x, y: x - y, np.subtract),
    "mul": (lambda x, y: x * y, np.multiply),
    "div": (lambda x, y: x / y, np.divide),
}

ops = st.sampled_from(sorted(FORWARD))


@SETTINGS
@given(op=ops, shapes=shape_pairs, seed=seeds)
def test_binary_op_gradients_of_sum_have_the_inputs_shapes(op, shapes, seed):
    """After (a op b).sum().backward(), a.grad and b.grad have a's and b's shapes and equal the
    local derivative broadcast to the output and summed back over the broadcast axes."""
    shape_a, shape_b = shapes.input_shapes
    a_data, b_data = operands(seed, shape_a, shape_b)
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    ours, theirs = FORWARD[op]
    out = ours(a, b)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.data, theirs(a_data, b_data), rtol=1e-12)

    out.sum().backward()
    da, db = local_derivatives(op, a_data, b_data, shapes.result_shape)
    assert a.grad.shape == shape_a
    assert b.grad.shape == shape_b
    np.testing.assert_allclose(a.grad, reduce_to(da, shape_a), rtol=1e-10, atol=1e-10)  # ≤256-term sums in another order
    np.testing.assert_allclose(b.grad, reduce_to(db, shape_b), rtol=1e-10, atol=1e-10)  # ≤256-term sums in another order


@SETTINGS
@given(op=ops, shapes=shape_pairs, seed=seeds)
def test_binary_op_gradients_for_any_upstream_gradient(op, shapes, seed):
    """The same with backward(grad=G) for a random G: each output position's gradient lands on
    the input elements it was broadcast from (a constant G=1 could hide a mix-up)."""
    shape_a, shape_b = shapes.input_shapes
    a_data, b_data = operands(seed, shape_a, shape_b)
    upstream = np.random.default_rng(seed + 1).standard_normal(shapes.result_shape)
    a, b = Tensor(a_data, requires_grad=True), Tensor(b_data, requires_grad=True)
    FORWARD[op][0](a, b).backward(upstream)
    da, db = local_derivatives(op, a_data, b_data, shapes.result_shape)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    np.testing.assert_allclose(a.grad, reduce_to(upstream * da, shape_a), rtol=1e-10, atol=1e-10)  # ≤256-term sums in another order
    np.testing.assert_allclose(b.grad, reduce_to(upstream * db, shape_b), rtol=1e-10, atol=1e-10)  # ≤256-term sums in another order


@st.composite
def shape_and_reshape(draw):
    """A shape, and another shape with the same number of elements (maybe with one -1)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    remaining = int(np.prod(shape))
    target = []
    for _ in range(draw(st.integers(0, 3))):
        divisor = draw(st.sampled_from([d for d in range(1, remaining + 1) if remaining % d == 0]))
        target.append(divisor)
        remaining //= divisor
    target.append(remaining)
    target = draw(st.permutations(target))
    if draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


@SETTINGS
@given(shapes=shape_and_reshape(), seed=seeds)
def test_reshape_round_trip(shapes, seed):
    """x.reshape(s).reshape(x.shape) gives x's data back, and the gradient flows back unchanged."""
    shape, target = shapes
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape)
    x = Tensor(data, requires_grad=True)
    y = x.reshape(target)
    np.testing.assert_array_equal(y.data, np.reshape(data, target))
    z = y.reshape(x.shape)
    assert z.shape == shape
    np.testing.assert_array_equal(z.data, data)

    upstream = rng.standard_normal(shape)
    z.backward(upstream)
    np.testing.assert_array_equal(x.grad, upstream)
    np.testing.assert_array_equal(y.grad, np.reshape(upstream, y.shape))


@st.composite
def shape_and_permutation(draw):
    """A shape and a permutation of its axes, some written as negative axes."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=4))
    perm = draw(st.permutations(range(len(shape))))
    negative = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    written = tuple(ax - len(shape) if neg else ax for ax, neg in zip(perm, negative))
    return shape, tuple(perm), written


@SETTINGS
@given(case=shape_and_permutation(), seed=seeds)
def test_permute_then_inverse_permute(case, seed):
    """permute(p) matches np.transpose; permuting by the inverse gives x back; and the gradient
    reaching x is the upstream gradient itself."""
    shape, perm, written = case
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape)
    x = Tensor(data, requires_grad=True)
    y = x.permute(written)
    np.testing.assert_array_equal(y.data, np.transpose(data, perm))
    inverse = tuple(int(i) for i in np.argsort(perm))
    z = y.permute(inverse)
    np.testing.assert_array_equal(z.data, data)

    upstream = rng.standard_normal(shape)
    z.backward(upstream)
    np.testing.assert_array_equal(x.grad, upstream)
    np.testing.assert_array_equal(y.grad, np.transpose(upstream, perm))


@SETTINGS
@given(case=shape_and_permutation(), seed=seeds)
def test_permute_gradient_for_a_weighted_sum(case, seed):
    """d Σ (W ⊙ x.permute(p)) / dx = W permuted back by the inverse of p."""
    shape, perm, written = case
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(shape), requires_grad=True)
    weights = rng.standard_normal(np.transpose(np.empty(shape), perm).shape)
    (x.permute(written) * weights).sum().backward()
    np.testing.assert_array_equal(x.grad, np.transpose(weights, np.argsort(perm)))
