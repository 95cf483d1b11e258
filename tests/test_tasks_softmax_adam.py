"""Coursework assignment 2, softmax, cross-entropy and Adam: each test grades one task.

The composed functions are checked by their values and by the graph they build (walked
without minigrad's topological order, task 1.6); the ops' backward with `gradcheck_function`.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck_function, ops
from graph_walk import functions_used, reaches


def numpy_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# --- 2.1 Softmax ------------------------------------------------------------------------------------
@pytest.mark.task("2.1")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 1, 6), -1)])
def test_composed_softmax_values(shape, axis, rng):
    x = rng.standard_normal(shape)
    alpha = mg.composed_softmax(Tensor(x), axis=axis)
    np.testing.assert_allclose(alpha.data, numpy_softmax(x, axis), rtol=1e-6)
    np.testing.assert_allclose(alpha.data.sum(axis=axis), 1.0, rtol=1e-6)


@pytest.mark.task("2.1")
def test_composed_softmax_does_not_overflow():
    """exp(1000) is inf in float32 and float64: the max must be subtracted first."""
    alpha = mg.composed_softmax(Tensor([[1000.0, 1000.0, 990.0]]))
    assert np.all(np.isfinite(alpha.data))
    np.testing.assert_allclose(alpha.data, numpy_softmax(np.array([[1000.0, 1000.0, 990.0]]), -1), rtol=1e-5)


@pytest.mark.task("2.1")
def test_composed_softmax_is_the_seeds_formula_node_by_node():
    """α = exp(e) / Σ exp(e) built from Exp, Sum and Div, so its graph shows the formula and
    backward reaches e through it."""
    e = Tensor([[0.5, -1.0, 2.0]], requires_grad=True, name="e")
    alpha = mg.composed_softmax(e)
    assert {"Exp", "Sum", "Div"} <= functions_used(alpha)
    assert "Softmax" not in functions_used(alpha)
    assert alpha.requires_grad and reaches(alpha, e)


@pytest.mark.task("2.1")
@pytest.mark.parametrize("shape, axis", [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
def test_fused_softmax_backward(shape, axis, rng):
    """gx = y ⊙ (g − Σⱼ gⱼ yⱼ), the Jacobian yᵢ(δᵢⱼ − yⱼ) applied to g."""
    assert gradcheck_function(ops.Softmax, rng.standard_normal(shape), axis=axis)


# --- 2.2 Log-softmax and cross-entropy ----------------------------------------------------------
def numpy_cross_entropy(logits, target, axis=-1):
    log_probs = np.log(numpy_softmax(logits, axis))
    picked = np.take_along_axis(log_probs, np.expand_dims(target, axis), axis=axis)
    return -np.squeeze(picked, axis=axis)


@pytest.mark.task("2.2")
@pytest.mark.parametrize("shape, axis", [((4, 5), -1), ((2, 3, 5), -1), ((3, 4), 0)])
def test_log_softmax_values_and_backward(shape, axis, rng):
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(mg.log_softmax(Tensor(x), axis=axis).data, np.log(numpy_softmax(x, axis)),
                               rtol=1e-5, atol=1e-6)
    assert gradcheck_function(ops.LogSoftmax, x, axis=axis)


@pytest.mark.task("2.2")
def test_log_softmax_of_large_logits_is_finite():
    y = mg.log_softmax(Tensor([[1000.0, 0.0, -1000.0]], dtype=np.float64))
    np.testing.assert_allclose(y.data, [[0.0, -1000.0, -2000.0]], rtol=1e-12)


@pytest.mark.task("2.2")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_values(reduction, rng):
    logits, target = rng.standard_normal((6, 11)), rng.integers(0, 11, 6)
    loss = mg.cross_entropy(Tensor(logits), target, reduction=reduction)
    per_row = numpy_cross_entropy(logits, target)
    expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-6)


@pytest.mark.task("2.2")
def test_cross_entropy_over_a_sequence_and_another_axis(rng):
    """The date model's loss: logits (B, Ty, classes) against targets (B, Ty); and classes on axis 1."""
    logits, target = rng.standard_normal((4, 10, 11)), rng.integers(0, 11, (4, 10))
    np.testing.assert_allclose(mg.cross_entropy(Tensor(logits), target).data,
                               numpy_cross_entropy(logits, target).mean(), rtol=1e-6)
    moved = np.moveaxis(logits, -1, 1)
    np.testing.assert_allclose(mg.cross_entropy(Tensor(moved), target, axis=1).data,
                               numpy_cross_entropy(moved, target, axis=1).mean(), rtol=1e-6)


@pytest.mark.task("2.2")
def test_cross_entropy_is_in_the_graph_and_stable():
    """The loss is built from ops (so backward reaches the logits), through log-softmax, not log(softmax)."""
    logits = Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    loss = mg.cross_entropy(logits, [2])
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(2000.0, rel=1e-6)
    assert loss.requires_grad and reaches(loss, logits)
    assert "LogSoftmax" in functions_used(loss)


# --- 2.3 Adam ---------------------------------------------------------------------------------------
def numpy_adam(p, grads, lr, betas, eps, weight_decay):
    """PyTorch's Adam, step by step, on plain arrays: the oracle."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        p = p - lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    return p


@pytest.mark.task("2.3")
@pytest.mark.parametrize("lr, betas, eps, weight_decay", [
    (0.005, (0.9, 0.999), 1e-8, 0.0), (0.1, (0.8, 0.99), 1e-6, 0.0), (0.01, (0.9, 0.999), 1e-8, 0.1),
])
def test_adam_matches_the_formula_over_several_steps(lr, betas, eps, weight_decay, rng):
    start = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(4)]
    p = mg.nn.Parameter(start.copy())
    optimizer = mg.optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    for g in grads:
        p.grad = g.copy()
        optimizer.step()
    np.testing.assert_allclose(p.data, numpy_adam(start, grads, lr, betas, eps, weight_decay), rtol=1e-10)


@pytest.mark.task("2.3")
def test_adam_first_step_moves_each_weight_by_about_lr():
    """After bias correction the first step is lr·g/(|g| + eps): ±lr whatever the gradient's scale."""
    p = mg.nn.Parameter(np.zeros(3))
    optimizer = mg.optim.Adam([p], lr=0.01)
    p.grad = np.array([1e-3, -5.0, 200.0])
    optimizer.step()
    np.testing.assert_allclose(p.data, [-0.01, 0.01, -0.01], rtol=1e-4)


@pytest.mark.task("2.3")
def test_adam_skips_a_parameter_without_gradient_and_counts_its_own_steps(rng):
    """A parameter whose grad is None is not moved, and its step count t does not advance."""
    a, b = mg.nn.Parameter(rng.standard_normal(2)), mg.nn.Parameter(rng.standard_normal(2))
    b_start = b.data.copy()
    optimizer = mg.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(2), None
    optimizer.step()
    np.testing.assert_array_equal(b.data, b_start)
    b.grad = np.array([2.0, -1.0])
    optimizer.step()  # b's first step: bias-corrected by t = 1, not t = 2
    np.testing.assert_allclose(b.data, numpy_adam(b_start, [b.grad], 0.1, (0.9, 0.999), 1e-8, 0.0), rtol=1e-10)
