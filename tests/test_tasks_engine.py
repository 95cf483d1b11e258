"""Coursework assignment 1, the autograd engine: each test grades one task of coursework.toml.

Each task is tested on its own. An op's backward is checked with `gradcheck_function`, which
runs only that op (its forward for central differences, its backward directly), so a student's
Mul can score before their topological order works, and the other way round.
"""
import numpy as np
import pytest

from minigrad import Tensor, gradcheck_function, ops
from minigrad.order import topological_order
from minigrad.ops import elementwise, linalg
from minigrad.ops.broadcast import broadcast_axes, sum_to_shape


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng, shape):
    """Values at least 0.1 from 0, where ReLU has no kink for central differences to straddle."""
    return rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


# --- 1.1 Add and Mul backward ----------------------------------------------------------------
@pytest.mark.task("1.1")
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4)])
def test_add_backward_passes_the_gradient_to_both_inputs(shape, rng):
    assert gradcheck_function(ops.Add, rng.standard_normal(shape), rng.standard_normal(shape))


@pytest.mark.task("1.1")
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4)])
def test_mul_backward_multiplies_by_the_other_input(shape, rng):
    assert gradcheck_function(ops.Mul, rng.standard_normal(shape), rng.standard_normal(shape))


@pytest.mark.task("1.1")
@pytest.mark.parametrize("op", [ops.Add, ops.Mul], ids=["Add", "Mul"])
def test_add_and_mul_sum_a_broadcast_input_back_to_its_shape(op, rng, monkeypatch):
    """b of shape (4,) is used by every row of a (3, 4): its gradient must go through
    sum_to_shape. A numpy sum_to_shape stands in for task 1.5's, so this grades 1.1 alone."""
    def numpy_sum_to_shape(grad, shape):
        extra = grad.ndim - len(shape)
        axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1)
        return grad.sum(axis=axes, keepdims=True).reshape(shape)
    monkeypatch.setattr(elementwise, "sum_to_shape", numpy_sum_to_shape)
    assert gradcheck_function(op, rng.standard_normal((3, 4)), rng.standard_normal(4))


@pytest.mark.task("1.1")
def test_mul_backward_by_hand():
    """c = a·b with g = 1: ga = b and gb = a."""
    a = Tensor([2.0, -3.0], requires_grad=True)
    b = Tensor([5.0, 7.0], requires_grad=True)
    ga, gb = ops.Mul.apply(a, b).grad_fn.backward(np.ones(2, dtype=np.float32))
    np.testing.assert_array_equal(ga, [5.0, 7.0])
    np.testing.assert_array_equal(gb, [2.0, -3.0])


# --- 1.2 MatMul backward ---------------------------------------------------------------------
@pytest.fixture
def textbook_matmul(monkeypatch):
    """MatMul's backward without its shortcuts (ops/matmul_shortcuts.py): the task's rule alone,
    also on the shapes the shortcuts would take. (A weight shared by a batch needs task 1.5's
    sum over the batch axes, so it is not among this task's shapes; tests/test_ops.py has it.)"""
    monkeypatch.setattr(linalg, "matmul_backward_shortcut", lambda *arrays: None)


@pytest.mark.task("1.2")
@pytest.mark.parametrize("shape_a, shape_b", [
    ((3, 4), (4, 5)),          # a Dense layer: (batch, in) @ (in, out)
    ((2, 3, 4), (2, 4, 5)),    # batched, one matrix per sequence
    ((2, 1, 6), (2, 6, 5)),    # the seed's α<t,·> @ a: (1×Tx)·(Tx×n) per sequence
    ((2, 6, 1), (2, 1, 5)),    # an outer product: the contracted axis has length 1
])
def test_matmul_backward(shape_a, shape_b, rng, textbook_matmul):
    assert gradcheck_function(ops.MatMul, rng.standard_normal(shape_a), rng.standard_normal(shape_b))


@pytest.mark.task("1.2")
@pytest.mark.parametrize("shape_a, shape_b", [((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,))])
def test_matmul_backward_with_vectors(shape_a, shape_b, rng, textbook_matmul):
    """A 1-D operand is a row vector on the left and a column vector on the right, as in numpy."""
    assert gradcheck_function(ops.MatMul, rng.standard_normal(shape_a), rng.standard_normal(shape_b))


@pytest.mark.task("1.2")
def test_matmul_backward_by_hand(rng, textbook_matmul):
    """For C = A B: ∂L/∂A = G Bᵀ and ∂L/∂B = Aᵀ G."""
    a, b, g = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    ga, gb = ops.MatMul.apply(Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)).grad_fn.backward(g)
    np.testing.assert_allclose(ga, g @ b.T, rtol=1e-12)
    np.testing.assert_allclose(gb, a.T @ g, rtol=1e-12)


# --- 1.3 Exp, Log, Tanh, Sigmoid, ReLU backward ------------------------------------------------
UNARY = {"Exp": ops.Exp, "Log": ops.Log, "Tanh": ops.Tanh, "Sigmoid": ops.Sigmoid, "ReLU": ops.ReLU}


@pytest.mark.task("1.3")
@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(5,), (3, 4)])
def test_unary_backward(name, shape, rng):
    data = positive(rng, shape) if name == "Log" else away_from_zero(rng, shape)
    assert gradcheck_function(UNARY[name], data)


@pytest.mark.task("1.3")
def test_relu_gradient_is_zero_at_zero():
    """At the kink a = 0 the gradient is 0, as in PyTorch."""
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (grad,) = ops.ReLU.apply(x).grad_fn.backward(np.ones(3, dtype=np.float32))
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0])


@pytest.mark.task("1.3")
def test_sigmoid_and_tanh_gradients_stay_finite_far_from_zero():
    x = Tensor([-100.0, 100.0], requires_grad=True)
    for op in (ops.Sigmoid, ops.Tanh):
        (grad,) = op.apply(x).grad_fn.backward(np.ones(2, dtype=np.float32))
        assert np.all(np.isfinite(grad)) and np.all(grad >= 0) and np.all(grad < 1e-6)


# --- 1.4 Sum and Max backward ------------------------------------------------------------------
@pytest.mark.task("1.4")
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (1, True), (-1, False),
                                            ((0, 2), False), ((0, 2), True)])
def test_sum_backward(axis, keepdims, rng):
    assert gradcheck_function(ops.Sum, rng.standard_normal((2, 3, 4)), axis=axis, keepdims=keepdims)


@pytest.mark.task("1.4")
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), (-1, True)])
def test_max_backward(axis, keepdims, rng):
    data = rng.permutation(24).reshape(2, 3, 4).astype(np.float64)  # distinct values: no ties
    assert gradcheck_function(ops.Max, data, axis=axis, keepdims=keepdims)


@pytest.mark.task("1.4")
def test_max_backward_shares_the_gradient_between_ties():
    """Two equal maxima share the gradient equally, so it still sums to g (as torch.amax)."""
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    (grad,) = ops.Max.apply(x, axis=1).grad_fn.backward(np.array([1.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


# --- 1.5 Broadcasting's gradient ----------------------------------------------------------------
@pytest.mark.task("1.5")
@pytest.mark.parametrize("shape, out_shape, axes", [
    ((3,), (4, 3), (0,)), ((4, 1), (4, 3), (1,)), ((1, 3), (2, 4, 3), (0, 1)),
    ((2, 1, 3), (2, 5, 3), (1,)), ((), (2, 3), (0, 1)), ((1, 1), (1, 1), ()),
])
def test_broadcast_axes(shape, out_shape, axes):
    assert tuple(broadcast_axes(shape, out_shape)) == axes


@pytest.mark.task("1.5")
@pytest.mark.parametrize("shape, out_shape, reference", [
    ((3,), (4, 3), lambda g: g.sum(axis=0)),
    ((4, 1), (4, 3), lambda g: g.sum(axis=1, keepdims=True)),
    ((1, 3), (2, 4, 3), lambda g: g.sum(axis=(0, 1))[None, :]),
    ((2, 1, 3), (2, 5, 3), lambda g: g.sum(axis=1, keepdims=True)),
    ((), (2, 3), lambda g: g.sum()),
])
def test_sum_to_shape_adds_up_the_copies(shape, out_shape, reference, rng):
    """An input broadcast along an axis was used once per position of it: its gradient is the sum."""
    g = rng.standard_normal(out_shape)
    summed = sum_to_shape(g, shape)
    assert summed.shape == shape
    np.testing.assert_allclose(summed, reference(g), rtol=1e-12)


@pytest.mark.task("1.5")
@pytest.mark.parametrize("shape, target", [((3,), (4, 3)), ((2, 1, 3), (2, 5, 3))])
def test_broadcast_to_backward(shape, target, rng):
    """BroadcastTo (Keras' RepeatVector) sends its gradient back through sum_to_shape."""
    assert gradcheck_function(ops.BroadcastTo, rng.standard_normal(shape), shape=target)


# --- 1.6 The topological order -------------------------------------------------------------------
def diamond():
    """x feeds y and z, which both feed out: out = (−x) − x², with x used twice."""
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (-x).named("y")
    z = (x ** 2).named("z")
    return x, y, z, (y - z).named("out")


@pytest.mark.task("1.6")
def test_topological_order_puts_inputs_before_their_users():
    x, y, z, out = diamond()
    order = topological_order(out)
    assert len(order) == len({id(t) for t in order}) == 4, "each tensor exactly once"
    position = {id(t): k for k, t in enumerate(order)}
    assert position[id(x)] < position[id(y)] < position[id(out)]
    assert position[id(x)] < position[id(z)] < position[id(out)]
    assert order[-1] is out


@pytest.mark.task("1.6")
def test_topological_order_leaves_out_what_needs_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    constant = Tensor([3.0, 4.0])
    out = (x - constant) ** 2
    is_constant = [t is constant for t in topological_order(out)]
    assert not any(is_constant) and len(is_constant) == 3
    assert any(t is constant for t in topological_order(out, all_inputs=True))


@pytest.mark.task("1.6")
def test_topological_order_of_a_long_chain_needs_no_recursion():
    """50,000 ops deep: far past Python's recursion limit, so the walk must be iterative."""
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(50_000):
        y = -y
    order = topological_order(y)
    assert len(order) == 50_001 and order[0] is x and order[-1] is y


@pytest.mark.task("1.6")
def test_backward_follows_the_order_to_the_right_gradients():
    """out = Σ (−x − x²)/w: every op here (Neg, Pow, Sub, Div, Mean) is given; only the order is yours.
    ∂out/∂x = (−1 − 2x)/(n·w) and ∂out/∂w = (x + x²)/(n·w²) with n = 3 elements."""
    x = Tensor([1.0, -2.0, 0.5], requires_grad=True, dtype=np.float64)
    w = Tensor([2.0, 4.0, 1.0], requires_grad=True, dtype=np.float64)
    out = ((-x - x ** 2) / w).mean()
    out.backward()
    np.testing.assert_allclose(x.grad, (-1 - 2 * x.data) / (3 * w.data), rtol=1e-12)
    np.testing.assert_allclose(w.grad, (x.data + x.data ** 2) / (3 * w.data ** 2), rtol=1e-12)


@pytest.mark.task("1.6")
def test_every_tensor_is_complete_before_it_is_passed_on():
    """x is used by two branches; in order, both gradients reach x before x's turn, so
    intermediate y's gradient is read once, complete."""
    x, y, z, out = diamond()
    out.backward(np.ones(2))
    np.testing.assert_allclose(x.grad, -1 - 2 * x.data)
    np.testing.assert_allclose(y.grad, [1.0, 1.0])
    np.testing.assert_allclose(z.grad, [-1.0, -1.0])
