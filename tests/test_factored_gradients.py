"""FactoredGradient: a gradient kept as left @ right until its tensor's turn in backward.

The context c<t> = α<t,·> · a sends a an outer product at every decoder step; MatMul's shortcut
returns it as its factors. Whatever else reaches the same tensor (arrays, SliceGradients, other
factored gradients, in any order, owned by the pass or not) must sum to what the textbook rule
gives, in the tensor's dtype, and a debugger, a hook or np.asarray must see a plain array.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.gradients import (FactoredGradient, SliceGradient, accumulate, accumulate_factored, dense,
                                multiplied_out)
from minigrad.ops import linalg

B, TX, N = 3, 5, 4


def outer(rng, dtype=np.float64):
    """A factored outer product of a's shape (B, TX, N), as α<t,·>ᵀ g<t>."""
    left = rng.standard_normal((B, TX, 1)).astype(dtype)
    right = rng.standard_normal((B, 1, N)).astype(dtype)
    return FactoredGradient(left, right), left * right


class Holder:
    """What accumulate reads of a tensor: its array's dtype."""
    def __init__(self, dtype):
        self._data = np.zeros((B, TX, N), dtype=dtype)


def kinds(rng, dtype):
    """(gradient, its dense value) of every kind a consumer may send."""
    dense_array = rng.standard_normal((B, TX, N)).astype(dtype)
    rows = rng.standard_normal((B, 2, N)).astype(dtype)
    index = (slice(None), slice(1, 3))
    sliced = np.zeros((B, TX, N), dtype)
    sliced[index] = rows
    return {"array": lambda: (dense_array, dense_array),
            "slice": lambda: (SliceGradient((B, TX, N), index, rows), sliced),
            "factored": lambda: outer(rng, dtype)}


class Pass:
    """One tensor's gradients summed as the backward loop sums them (autograd._backward_pass)."""
    def __init__(self, dtype):
        self.tensor, self.pending, self.owned, self.factored = Holder(dtype), {}, set(), {}

    def send(self, grad):
        if type(grad) is FactoredGradient:
            accumulate_factored(self.factored, self.pending, self.owned, self.tensor, grad)
        else:
            accumulate(self.pending, self.owned, self.tensor, grad)

    def total(self):
        dtype = self.tensor._data.dtype
        if self.tensor in self.factored:
            return multiplied_out(self.factored[self.tensor], self.pending.get(self.tensor), dtype)
        return self.pending[self.tensor]


@pytest.mark.parametrize("order", [("factored", "factored", "factored"), ("array", "factored", "array"),
                                   ("factored", "array", "array"), ("slice", "factored", "slice"),
                                   ("factored", "slice", "array", "factored"), ("array", "array", "factored")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_any_mix_of_gradients_sums_to_the_dense_sum(order, dtype, rng):
    made = kinds(rng, dtype)
    summed = Pass(dtype)
    expected = np.zeros((B, TX, N))
    sent = []
    for kind in order:
        grad, value = made[kind]()
        sent.append((grad, np.array(dense(grad))))
        expected += value
        summed.send(grad)
    got = summed.total()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    for grad, before in sent:  # nothing a consumer sent was written into
        np.testing.assert_array_equal(np.array(dense(grad)), before)


def test_the_attention_context_gives_the_textbook_gradient_of_a(rng, monkeypatch):
    """a read by Ty contexts α<t,·> · a and by a dense consumer: the same a.grad, α.grad as the rule
    of MatMul.backward alone (shortcuts off), which makes every outer product as an array."""
    a_data = rng.standard_normal((B, TX, N))
    alphas = [rng.standard_normal((B, 1, TX)) for _ in range(4)]
    weight = rng.standard_normal((N, 2))

    def gradients():
        a = mg.Tensor(a_data, requires_grad=True)
        alpha = [mg.Tensor(x, requires_grad=True) for x in alphas]
        loss = (a @ mg.Tensor(weight)).tanh().sum()
        for x in alpha:
            loss = loss + ((x @ a) * (x @ a)).sum()
        loss.backward()
        return [a.grad] + [x.grad for x in alpha]

    fast = gradients()
    monkeypatch.setattr(linalg, "matmul_backward_shortcut", lambda *arrays: None)
    for got, expected in zip(fast, gradients()):
        assert type(got) is np.ndarray
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_a_debugger_a_hook_and_backward_steps_see_arrays(rng, monkeypatch):
    a = mg.Tensor(rng.standard_normal((B, TX, N)), requires_grad=True)
    alpha = mg.Tensor(rng.standard_normal((B, 1, TX)), requires_grad=True)
    context = alpha @ a
    g = rng.standard_normal(context.shape)
    _, grad_a = context.grad_fn.backward(g)  # what a student calling backward by hand gets
    assert type(grad_a) is np.ndarray
    np.testing.assert_allclose(grad_a, np.swapaxes(alpha.data, -1, -2) @ g, rtol=1e-12)
    multiplied_out = []
    monkeypatch.setattr(FactoredGradient, "dense", lambda self, dtype=None, real=FactoredGradient.dense:
                        multiplied_out.append(self) or real(self, dtype))
    seen = []
    a.register_hook(lambda grad: seen.append((type(grad), type(context.grad_fn.backward(g)[1]))))
    steps = list(mg.autograd.backward_steps(context, g))
    assert multiplied_out, "inside backward the engine's MatMul sends a its factors"
    assert seen == [(np.ndarray, np.ndarray)]  # the hook's own call of backward gets arrays too
    assert all(type(x) is np.ndarray for step in steps for x in step.grad_inputs if x is not None)
    np.testing.assert_allclose(a.grad, np.swapaxes(alpha.data, -1, -2) @ g, rtol=1e-12)


def test_writes_after_the_op_ran_do_not_reach_its_factors(rng):
    """An SGD step on α in α's hook, and an edit of c.grad at a paused step, come after MatMul's
    backward has run; the gradient it sent a is of the values it read then (as before factoring)."""
    a0 = mg.Tensor(rng.standard_normal((B, TX, N)), requires_grad=True)
    alpha = mg.Tensor(rng.standard_normal((B, 1, TX)), requires_grad=True)
    expected = 2 * np.swapaxes(alpha.data, -1, -2) @ (alpha.data @ a0.data) + 1

    def sgd_step(grad):
        with mg.no_grad():
            alpha.sub_(0.5 * grad)
    alpha.register_hook(sgd_step)
    a = a0 * 1.0
    (a.sum() + ((alpha @ a) ** 2).sum()).backward()  # a.sum() first: α's turn comes before a's
    np.testing.assert_allclose(a0.grad, expected, rtol=1e-12)

    a0.grad = None
    alpha = mg.Tensor(rng.standard_normal((B, 1, TX)), requires_grad=True)
    a = a0 * 1.0
    context = alpha @ a
    expected = np.swapaxes(alpha.data, -1, -2) @ (2 * context.data) + 1
    for step in mg.autograd.backward_steps(a.sum() + (context ** 2).sum()):
        if step.output is context:
            context.grad *= 10  # a student trying something at the pause
    np.testing.assert_allclose(a0.grad, expected, rtol=1e-12)


def test_a_broadcast_batch_is_summed_not_factored(rng):
    """One a shared by every query row (a (TX, N), α (B, 1, TX)): its gradient sums over the batch,
    so it is made as an array of a's shape."""
    a = mg.Tensor(rng.standard_normal((1, TX, N)), requires_grad=True)
    alpha = mg.Tensor(rng.standard_normal((B, 1, TX)), requires_grad=True)
    g = rng.standard_normal((B, 1, N))
    _, grad_a = (alpha @ a).grad_fn.backward(g)
    assert type(grad_a) is np.ndarray and grad_a.shape == (1, TX, N)
    np.testing.assert_allclose(grad_a, (np.swapaxes(alpha.data, -1, -2) @ g).sum(0, keepdims=True), rtol=1e-12)


def test_anomaly_mode_reads_a_factored_gradient(rng):
    a = mg.Tensor(rng.standard_normal((B, TX, N)), requires_grad=True)
    alpha = mg.Tensor(rng.standard_normal((B, 1, TX)))  # a's gradient alone: the factored one
    g = np.full((B, 1, N), np.inf)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match=r"MatMul.backward .* produced inf.* gradient of shape \(3, 5, 4\)"):
        (alpha @ a).backward(g)


def test_factors_are_multiplied_out_once_they_outgrow_the_product(rng):
    """(B, 5, 4) holds 20 numbers a sequence; rank-1 factors hold 9: the third would make 27 > 20."""
    summed = Pass(np.float64)
    expected = np.zeros((B, TX, N))
    for count in range(1, 5):
        grad, value = outer(rng)
        expected += value
        summed.send(grad)
        rank = summed.factored[summed.tensor].rank if summed.tensor in summed.factored else 0
        assert (rank, summed.tensor in summed.pending) == {1: (1, False), 2: (2, False), 3: (0, True),
                                                           4: (1, True)}[count]
    np.testing.assert_allclose(summed.total(), expected, rtol=1e-12)
