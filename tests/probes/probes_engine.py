"""Probes of assignment 1, the autograd engine. Each calls one task's code on fixed inputs and
returns what it computed; the grader's judge compares that with the reference's answer.

An op's backward is called directly (`op.apply(...).grad_fn.backward(g)`), so a probe of Mul
does not depend on the student's topological order (task 1.6), nor the other way round.
"""
import numpy as np

from coursework.probe import probe


def backward(op, *arrays, g_seed=0, **params):
    """The gradients `op`'s backward returns for float64 inputs and a fixed upstream gradient."""
    from minigrad import Tensor
    inputs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True, dtype=np.float64) for a in arrays]
    out = op.apply(*inputs, **params)
    g = np.random.default_rng(g_seed).standard_normal(out.shape)
    return [None if grad is None else np.asarray(grad) for grad in out.grad_fn.backward(g)]


def numpy_sum_to_shape(grad, shape):
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


# --- 1.1 -------------------------------------------------------------------------------------
@probe("1.1")
def add_backward(rng):
    """Add's backward passes the gradient to both inputs"""
    from minigrad import ops
    return [backward(ops.Add, rng.standard_normal(s), rng.standard_normal(s)) for s in [(4,), (3, 5), (2, 3, 4)]]


@probe("1.1")
def mul_backward(rng):
    """Mul's backward multiplies by the other input"""
    from minigrad import ops
    return [backward(ops.Mul, rng.standard_normal(s), rng.standard_normal(s)) for s in [(4,), (3, 5), (2, 3, 4)]]


@probe("1.1")
def add_and_mul_with_a_broadcast_input(rng):
    """Add and Mul sum a broadcast input back to its shape (through sum_to_shape)"""
    from minigrad import ops
    from minigrad.ops import elementwise
    given = elementwise.sum_to_shape
    elementwise.sum_to_shape = numpy_sum_to_shape  # task 1.5's part, so this grades 1.1 alone
    try:
        return [backward(op, rng.standard_normal((3, 4)), rng.standard_normal(4)) for op in (ops.Add, ops.Mul)]
    finally:
        elementwise.sum_to_shape = given


# --- 1.2 -------------------------------------------------------------------------------------
@probe("1.2")
def matmul_backward_of_matrices_and_batches(rng):
    """MatMul's backward for matrices, batches and a weight shared by a batch"""
    from minigrad import ops
    shapes = [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)), ((2, 6, 1), (2, 1, 5))]
    return [backward(ops.MatMul, rng.standard_normal(a), rng.standard_normal(b)) for a, b in shapes]


@probe("1.2")
def matmul_backward_with_vectors(rng):
    """MatMul's backward when an operand is a vector"""
    from minigrad import ops
    shapes = [((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,))]
    return [backward(ops.MatMul, rng.standard_normal(a), rng.standard_normal(b)) for a, b in shapes]


# --- 1.3 -------------------------------------------------------------------------------------
def away_from_zero(rng, shape):
    return rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


@probe("1.3")
def exp_and_log_backward(rng):
    """Exp's and Log's backward"""
    from minigrad import ops
    return {"exp": backward(ops.Exp, away_from_zero(rng, (3, 4))),
            "log": backward(ops.Log, rng.uniform(0.5, 2.0, (3, 4)))}


@probe("1.3")
def tanh_and_sigmoid_backward(rng):
    """Tanh's and Sigmoid's backward, also far from zero"""
    from minigrad import ops
    x = np.concatenate([away_from_zero(rng, 6), [-100.0, 100.0]])
    return {"tanh": backward(ops.Tanh, x), "sigmoid": backward(ops.Sigmoid, x)}


@probe("1.3")
def relu_backward(rng):
    """ReLU's backward, 0 at the kink"""
    from minigrad import ops
    return backward(ops.ReLU, np.concatenate([away_from_zero(rng, 7), [0.0]]))


# --- 1.4 -------------------------------------------------------------------------------------
@probe("1.4")
def sum_backward(rng):
    """Sum's backward over every axis, some axes, kept or not"""
    from minigrad import ops
    x = rng.standard_normal((2, 3, 4))
    cases = [(None, False), (0, False), (1, True), (-1, False), ((0, 2), False), ((0, 2), True)]
    return [backward(ops.Sum, x, axis=axis, keepdims=keep) for axis, keep in cases]


@probe("1.4")
def max_backward(rng):
    """Max's backward, distinct values"""
    from minigrad import ops
    x = rng.permutation(24).reshape(2, 3, 4).astype(np.float64)
    return [backward(ops.Max, x, axis=axis, keepdims=keep) for axis, keep in [(None, False), (1, False), (-1, True)]]


@probe("1.4")
def max_backward_with_ties(rng):
    """Max's backward shares the gradient between tied maxima"""
    from minigrad import ops
    return backward(ops.Max, [[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], axis=1)


# --- 1.5 -------------------------------------------------------------------------------------
@probe("1.5")
def broadcast_axes_found(rng):
    """broadcast_axes names the axes a shape was broadcast along"""
    from minigrad.ops.broadcast import broadcast_axes
    cases = [((3,), (4, 3)), ((4, 1), (4, 3)), ((1, 3), (2, 4, 3)), ((2, 1, 3), (2, 5, 3)), ((), (2, 3)),
             ((1, 1), (1, 1))]
    return [[int(a) for a in broadcast_axes(shape, out)] for shape, out in cases]


@probe("1.5")
def sum_to_shape_adds_up_the_copies(rng):
    """sum_to_shape adds up the copies of a broadcast input"""
    from minigrad.ops.broadcast import sum_to_shape
    cases = [((3,), (4, 3)), ((4, 1), (4, 3)), ((1, 3), (2, 4, 3)), ((2, 1, 3), (2, 5, 3)), ((), (2, 3))]
    return [np.asarray(sum_to_shape(rng.standard_normal(out), shape)) for shape, out in cases]


@probe("1.5")
def broadcast_to_backward(rng):
    """BroadcastTo's backward"""
    from minigrad import ops
    cases = [((3,), (4, 3)), ((2, 1, 3), (2, 5, 3))]
    return [backward(ops.BroadcastTo, rng.standard_normal(s), shape=t) for s, t in cases]


# --- 1.6 -------------------------------------------------------------------------------------
def diamond():
    from minigrad import Tensor
    x = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    y, z = -x, x ** 2
    return x, y, z, y - z


@probe("1.6")
def topological_order_of_a_diamond(rng):
    """The topological order puts each tensor once, inputs before their users"""
    from minigrad.order import topological_order
    x, y, z, out = diamond()
    order = topological_order(out)
    position = {id(t): k for k, t in enumerate(order)}
    return {"count": len(order), "distinct": len({id(t) for t in order}),
            "x before y, z": [position.get(id(x), 9) < position.get(id(t), -1) for t in (y, z)],
            "y, z before out": [position.get(id(t), 9) < position.get(id(out), -1) for t in (y, z)],
            "out last": order[-1] is out}


@probe("1.6")
def topological_order_without_constants(rng):
    """The order leaves out what needs no gradient unless asked for all inputs"""
    from minigrad import Tensor
    from minigrad.order import topological_order
    x, constant = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0])
    out = (x - constant) ** 2
    return {"default": [t is constant for t in topological_order(out)],
            "all inputs": any(t is constant for t in topological_order(out, all_inputs=True))}


@probe("1.6")
def topological_order_of_a_long_chain(rng):
    """The order of a 50,000-op chain (no recursion)"""
    from minigrad import Tensor
    from minigrad.order import topological_order
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(50_000):
        y = -y
    order = topological_order(y)
    return {"count": len(order), "ends": [order[0] is x, order[-1] is y]}


@probe("1.6")
def backward_follows_the_order(rng):
    """backward() gives every tensor its complete gradient"""
    from minigrad import Tensor
    x = Tensor(rng.standard_normal(3), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.uniform(1.0, 2.0, 3), requires_grad=True, dtype=np.float64)
    ((-x - x ** 2) / w).mean().backward()
    d_x, d_y, d_z, d_out = diamond()
    d_out.backward(np.ones(2))
    return {"x": x.grad, "w": w.grad, "diamond": [d_x.grad, d_y.grad, d_z.grad]}
