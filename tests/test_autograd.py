"""The backward pass: which tensors get gradients, when they accumulate, the grad modes,
the order of the graph, and the dtype rules of Tensor and of its gradients."""
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, enable_grad, no_grad, topological_order
from other_thread import while_open_in_another_thread


# --- depth ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_million_op_chain_backpropagates_without_recursion():
    """backward is iterative: a chain of 1,000,000 ops neither hits RecursionError nor loses
    the gradient (y = ((x·1)·1)…: dy/dx is exactly 1)."""
    length = 1_000_000
    x = Tensor([1.5], requires_grad=True)
    one = Tensor([1.0])  # a ready-made constant: Python's 1.0 would be wrapped a million times
    y = x
    gc.disable()  # a million new objects would trigger many useless collections
    try:
        for _ in range(length):
            y = y * one
        assert y.grad_fn is not None and y.data[0] == 1.5
        y.backward(np.ones(1, dtype=np.float32))
        assert x.grad.dtype == np.float32
        np.testing.assert_array_equal(x.grad, [1.0])
        # every op of the chain got its gradient, down to the first one
        first = y
        for _ in range(length - 1):
            first = first.grad_fn.inputs[0]
        assert first.grad_fn.inputs[0] is x
        np.testing.assert_array_equal(first.grad, [1.0])
        del y, first
    finally:
        gc.enable()


def test_a_deep_chain_with_changing_gradient():
    """A 5,000-op chain (deeper than Python's recursion limit) of y = y·1.001:
    dy/dx = 1.001^5000, checked against the closed form."""
    length = 5_000
    x = Tensor(np.array([2.0]), requires_grad=True)
    y = x
    for _ in range(length):
        y = y * 1.001
    y.backward(np.ones(1))
    np.testing.assert_allclose(x.grad, [1.001 ** length], rtol=1e-9)


# --- which tensors hold .grad ------------------------------------------------------------------

def seed_graph():
    """The seed's c = Σ α·a with α = softmax(e): leaves e and a, intermediates alpha, prod."""
    e = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="e")
    a = Tensor(np.array([1.0, 3.0, -2.0]), requires_grad=True, name="a")
    alpha = mg.softmax(e)
    prod = alpha * a
    c = prod.sum()
    return e, a, alpha, prod, c


def hand_gradients(e_data, a_data):
    """The same gradients derived by hand: dc/dα = a, dc/da = α, dc/de = α ⊙ (a - c)."""
    alpha = np.exp(e_data) / np.exp(e_data).sum()
    c = (alpha * a_data).sum()
    return {"alpha": a_data, "a": alpha, "e": alpha * (a_data - c), "prod": np.ones(3), "c": 1.0}


def test_every_tensor_of_the_graph_holds_its_grad():
    """After c.backward() leaves and intermediates alike hold .grad, with hand-derived values."""
    e, a, alpha, prod, c = seed_graph()
    c.backward()
    want = hand_gradients(e.data, a.data)
    np.testing.assert_allclose(c.grad, want["c"])
    np.testing.assert_allclose(prod.grad, want["prod"])
    np.testing.assert_allclose(alpha.grad, want["alpha"])
    np.testing.assert_allclose(a.grad, want["a"], rtol=1e-12)
    np.testing.assert_allclose(e.grad, want["e"], rtol=1e-12)
    for tensor in topological_order(c):
        assert tensor.grad is not None
        assert tensor.grad.shape == tensor.shape


def test_leaves_accumulate_and_intermediates_are_overwritten():
    """A second backward adds to the leaves' .grad (as PyTorch) but replaces the
    intermediates' .grad with that pass's gradient (autograd.backward's docstring)."""
    e, a, alpha, prod, c = seed_graph()
    want = hand_gradients(e.data, a.data)
    c.backward()
    c.backward()
    np.testing.assert_allclose(a.grad, 2 * want["a"], rtol=1e-12)
    np.testing.assert_allclose(e.grad, 2 * want["e"], rtol=1e-12)
    np.testing.assert_allclose(alpha.grad, want["alpha"])
    np.testing.assert_allclose(prod.grad, want["prod"])
    np.testing.assert_allclose(c.grad, want["c"])


def test_second_backward_from_another_root_overwrites_intermediates():
    """An intermediate reached by two different backward passes keeps the latest one's gradient."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 3.0
    (h * 2.0).sum().backward()
    np.testing.assert_array_equal(h.grad, [2.0, 2.0])
    (h * 5.0).sum().backward()
    np.testing.assert_array_equal(h.grad, [5.0, 5.0])
    np.testing.assert_array_equal(x.grad, [21.0, 21.0])  # 3·2 + 3·5, accumulated


def test_zero_grad_resets_a_leaf():
    """zero_grad() clears .grad, so the next backward starts from zero again."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 4.0).sum().backward()
    x.zero_grad()
    assert x.grad is None
    (x * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])


def test_leaf_grad_does_not_alias_the_gradient_passed_in():
    """Accumulating into a leaf's .grad never writes into the caller's gradient array."""
    x = Tensor(np.zeros(3), requires_grad=True)
    upstream = np.array([1.0, 2.0, 3.0])
    x.backward(upstream)
    x.backward(upstream)
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(upstream, [1.0, 2.0, 3.0])


# --- grad modes ------------------------------------------------------------------------------

def test_no_grad_records_nothing():
    """Inside no_grad results neither require grad nor remember a grad_fn."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = (x * 2.0).sum()
    assert y.requires_grad is False
    assert y.grad_fn is None
    np.testing.assert_array_equal(y.data, 6.0)
    with pytest.raises(mg.GradError):
        y.backward()


def test_enable_grad_inside_no_grad_and_modes_restored():
    """enable_grad re-enables recording inside no_grad; each block restores the previous mode,
    also when it is left by an exception."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        with enable_grad():
            inner = x * 3.0
        after_inner = x * 3.0
    outside = x * 3.0
    assert inner.requires_grad and isinstance(inner.grad_fn, mg.ops.Mul)
    assert not after_inner.requires_grad and after_inner.grad_fn is None
    assert outside.requires_grad
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert (x * 1.0).requires_grad
    inner.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_backward_of_a_recorded_graph_works_inside_no_grad():
    """no_grad stops recording new ops; it does not stop backward of a graph made before."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    with no_grad():
        loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_nested_no_grad():
    """Leaving an inner no_grad keeps grad off until the outer one ends."""
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        with no_grad():
            pass
        assert not (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad


def test_modes_are_per_thread():
    """A no_grad, detect_anomaly or scope block open in one thread changes nothing in another
    (torch's grad mode is per thread too): before, one training's held-out evaluation under
    no_grad stopped a training in another thread from recording its graph."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = while_open_in_another_thread(no_grad, lambda: x * 2.0)
    assert y.requires_grad and isinstance(y.grad_fn, mg.ops.Mul)
    log0 = while_open_in_another_thread(mg.detect_anomaly, lambda: Tensor([0.0], requires_grad=True).log())
    assert np.isneginf(log0.data).all()  # no AnomalyError: anomaly mode is on in the other thread only
    named = while_open_in_another_thread(lambda: mg.scope("decoder", step=3), lambda: (x * 1.0).named("s<t-1>"))
    assert named.name == "s<t-1>" and named.scope == ()
    with no_grad():  # and the other way round: a new thread starts from the defaults
        made = []
        thread = threading.Thread(target=lambda: made.append(x * 2.0))
        thread.start()
        thread.join()
        assert made[0].requires_grad and not (x * 2.0).requires_grad


def test_scope_with_a_step_names_the_box_and_the_tensors_made_inside():
    """scope(name, step=t) opens the box "name t=<t>"; inside it a `t` (or `t'`, `t-1`, `t+1`) in
    angle brackets of a name becomes the step, a nested scope keeps it, and outside the name is
    kept as written. The step is restored when the block is left, also by an exception."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    with mg.scope("decoder", step=3):
        e = (x * 2.0).named("e<t,·>")
        s = (x + 1.0).named("s<t-1>")
        both = (x - 1.0).named("[a; s<t-1>]")
        with mg.scope("attention"):
            a = x.exp().named("a<t'>")
            after = x.tanh().named("f<t+1>")
        plain = x.relu().named("weight_t <tt>")
    assert [e.name, s.name, both.name, a.name, after.name] == ["e<3,·>", "s<2>", "[a; s<2>]", "a<3>", "f<4>"]
    assert plain.name == "weight_t <tt>"  # only the token t counts, and only inside <...>
    assert e.scope == ("decoder t=3",) and a.scope == ("decoder t=3", "attention")
    outside = (x * 1.0).named("e<t,·>")
    assert outside.name == "e<t,·>" and outside.scope == ()
    with mg.scope("encoder"):
        assert (x * 1.0).named("s<t>").name == "s<t>"  # a scope without step= sets no step
    with pytest.raises(KeyError):
        with mg.scope("decoder", step=5):
            raise KeyError("boom")
    assert (x * 1.0).named("s<t>").name == "s<t>"


def test_a_function_shows_its_op_its_output_and_the_line_that_made_it():
    """repr(fn) reads like a debugger's frame: 'Tanh → h at test_autograd.py:<line>'. The
    Function does not hold its output: the output is freed as soon as nothing else holds it."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh().named("h"); line = sys._getframe().f_lineno  # noqa: E702  (the line that made h)
    unnamed = x * 2.0; unnamed_line = sys._getframe().f_lineno  # noqa: E702
    assert repr(h.grad_fn) == f"Tanh → h at test_autograd.py:{line}"
    assert repr(unnamed.grad_fn) == f"Mul → an unnamed tensor at test_autograd.py:{unnamed_line}"
    fn, alive = h.grad_fn, weakref.ref(h)
    del h
    gc.collect()
    assert alive() is None
    assert repr(fn) == f"Tanh → h at test_autograd.py:{line}"
    assert repr(mg.ops.Tanh()) == "Tanh (not in a graph)"


def test_each_step_records_the_tensors_whose_grad_it_completed():
    """A BackwardStep's `completed` are its output and the leaves finished with it: when the step
    is yielded they hold their .grad, and the records follow backward_schedule, the one
    definition of the steps."""
    w = Tensor([[0.2], [-0.4]], requires_grad=True, name="w")
    b = Tensor([0.1], requires_grad=True, name="b")
    x = Tensor([[1.0, 2.0]], name="x")
    loss = ((x @ w).named("u") + b).tanh().sum().named("loss")
    schedule = list(mg.autograd.backward_schedule(loss))
    for record, planned in zip(mg.backward_steps(loss), schedule, strict=True):
        assert record.completed == tuple(planned) and record.output is planned[0]
        assert all(t.grad is not None for t in record.completed)
    assert [[t.name for t in step if t.grad_fn is None] for step in schedule] == [[], [], ["b"], ["w"]]


# --- requires_grad propagation -----------------------------------------------------------

@pytest.mark.parametrize("a_requires, b_requires", [(True, False), (False, True), (True, True),
                                                    (False, False)])
def test_requires_grad_propagates_like_pytorch(a_requires, b_requires):
    """An op's result requires grad iff any input does; only inputs requiring grad get .grad."""
    a = Tensor([1.0, 2.0], requires_grad=a_requires)
    b = Tensor([3.0, 4.0], requires_grad=b_requires)
    out = (a * b).sum()
    assert out.requires_grad == (a_requires or b_requires)
    assert (out.grad_fn is not None) == (a_requires or b_requires)
    if out.requires_grad:
        out.backward()
    assert (a.grad is not None) == a_requires
    assert (b.grad is not None) == b_requires
    if a_requires:
        np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    if b_requires:
        np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_integer_tensors_are_never_differentiated():
    """An int tensor used with a float parameter gets no .grad and is not in the graph order;
    an int tensor cannot be made to require grad."""
    counts = Tensor([1, 2, 3])
    assert counts.dtype == np.int64 and counts.requires_grad is False
    w = Tensor([0.5, 0.5, 0.5], requires_grad=True)
    out = (w * counts).sum()
    out.backward()
    assert counts.grad is None
    np.testing.assert_array_equal(w.grad, [1.0, 2.0, 3.0])
    assert all(t is not counts for t in topological_order(out))
    int_result = counts * counts
    assert int_result.requires_grad is False and int_result.grad_fn is None
    with pytest.raises(mg.DTypeError):
        Tensor([1, 2], requires_grad=True)


# --- graph shapes ------------------------------------------------------------------------------

def test_diamond_graph_sums_gradients():
    """x used twice (directly and through h) receives the sum of both paths' gradients."""
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    h = x * x           # dh/dx = 2x
    y = (h + x * 3.0)   # dy/dx = 2x + 3
    z = (y * h).sum()   # z = (x² + 3x)·x² → dz/dx = 4x³ + 9x²
    z.backward()
    xs = x.data
    np.testing.assert_allclose(x.grad, 4 * xs ** 3 + 9 * xs ** 2, rtol=1e-12)
    np.testing.assert_allclose(h.grad, y.data + h.data, rtol=1e-12)  # dz/dh = y + h·1


def test_same_tensor_twice_in_one_op():
    """x + x and x * x count x once per use."""
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    x.zero_grad()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0])


def test_topological_order_puts_inputs_before_outputs():
    """Each tensor appears once, after every input of its grad_fn that requires grad; the root
    is last; constants (not requiring grad) are left out."""
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    w = Tensor([3.0, 4.0], requires_grad=True, name="w")
    const = Tensor([5.0, 6.0], name="const")
    h = x * w
    k = h + x
    m = (k * h + const).sum()
    order = topological_order(m)
    assert order[-1] is m
    ids = [id(t) for t in order]
    assert len(ids) == len(set(ids))
    assert {id(t) for t in (x, w, h, k, m)} <= set(ids)
    assert id(const) not in ids
    position = {id(t): i for i, t in enumerate(order)}
    for tensor in order:
        if tensor.grad_fn is not None:
            for parent in tensor.grad_fn.inputs:
                if parent.requires_grad:
                    assert position[id(parent)] < position[id(tensor)]
    assert position[id(h)] < position[id(k)]
    assert position[id(x)] < position[id(h)] and position[id(w)] < position[id(h)]


def test_backward_with_explicit_gradient_for_a_non_scalar():
    """y.backward(grad=G) computes the vector-Jacobian product Gᵀ·∂y/∂x."""
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * x
    upstream = np.array([[1.0, 0.0, -1.0], [2.0, 0.5, 0.0]])
    y.backward(grad=upstream)
    np.testing.assert_array_equal(x.grad, upstream * 2 * x.data)
    np.testing.assert_array_equal(y.grad, upstream)


def test_backward_accepts_a_tensor_as_gradient():
    """grad= may also be a Tensor."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(Tensor([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [3.0, -3.0])


def test_detach_cuts_the_graph():
    """detach() shares the data but is a constant: no gradient flows through it."""
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    d = x.detach()
    assert d.requires_grad is False and d.grad_fn is None
    assert np.shares_memory(d.data, x.data)
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad, x.data)  # not 2x: d counts as a constant
    assert d.grad is None
    h = x * 2.0
    hd = h.detach()
    assert hd.is_leaf and not hd.requires_grad
    assert all(t is not h for t in topological_order((hd * x).sum()))


# --- dtypes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, kwargs, dtype", [
    pytest.param([1.0, 2.5], {}, np.float32, id="float list->float32"),
    pytest.param(2.5, {}, np.float32, id="python float->float32"),
    pytest.param([[1.0], [2.0]], {}, np.float32, id="nested float list->float32"),
    pytest.param(np.array([1.0, 2.0]), {}, np.float64, id="float64 array stays"),
    pytest.param(np.float64(2.0), {}, np.float64, id="numpy float64 scalar stays"),
    pytest.param(np.array([1.0], dtype=np.float32), {}, np.float32, id="float32 array stays"),
    pytest.param([1, 2, 3], {}, np.int64, id="int list->int64"),
    pytest.param(7, {}, np.int64, id="python int->int64"),
    pytest.param([True, False], {}, np.bool_, id="bool list->bool"),
    pytest.param([1.0, 2.0], {"dtype": np.float64}, np.float64, id="dtype=float64"),
    pytest.param([1, 2], {"dtype": np.float32}, np.float32, id="ints dtype=float32"),
    pytest.param(np.array([1.0, 2.0]), {"dtype": np.float32}, np.float32, id="float64 dtype=float32"),
    pytest.param([1.7, 2.2], {"dtype": np.int32}, np.int32, id="floats dtype=int32"),
])
def test_tensor_dtype_rules(data, kwargs, dtype):
    """Tensor picks float32 for Python floats, keeps numpy's float64, int64 for Python ints."""
    assert Tensor(data, **kwargs).dtype == dtype


def test_tensor_copies_its_data():
    """Tensor(array) copies: changing the array later does not change the tensor."""
    array = np.array([1.0, 2.0])
    t = Tensor(array)
    array[0] = 99.0
    assert t.data[0] == 1.0


@pytest.mark.parametrize("fn", [
    lambda x: (x * 2.0).sum(),
    lambda x: (x / 3 + 1).mean(),
    lambda x: x.sigmoid().tanh().exp().sum(),
    lambda x: mg.softmax(x, axis=-1).max(),
    lambda x: mg.log_softmax(x).sum(),
    lambda x: (x @ x.T).sum(),
    lambda x: (x ** 2).reshape(-1)[np.array([0, 0, 3])].sum(),
], ids=["mul", "div-add-mean", "sigmoid-tanh-exp", "softmax-max", "log_softmax", "matmul",
        "pow-reshape-getitem"])
def test_float32_gradients_stay_float32(fn):
    """Python constants follow the tensor's dtype, so a float32 graph is float32 throughout:
    the loss, every intermediate and every gradient."""
    x = Tensor([[0.1, -0.2], [0.3, 0.4]], requires_grad=True)
    assert x.dtype == np.float32
    loss = fn(x)
    assert loss.dtype == np.float32
    loss.backward()
    for tensor in topological_order(loss):
        assert tensor.dtype == np.float32
        assert tensor.grad.dtype == np.float32, tensor


def test_mixed_precision_gradients_keep_each_inputs_dtype():
    """float32 · float64 computes in float64, but each input's gradient has the input's dtype."""
    x32 = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    w64 = Tensor(np.array([0.5, 0.25], dtype=np.float64), requires_grad=True)
    out = (x32 * w64).sum()
    assert out.dtype == np.float64
    out.backward()
    assert x32.grad.dtype == np.float32
    assert w64.grad.dtype == np.float64
    np.testing.assert_array_equal(x32.grad, [0.5, 0.25])
    np.testing.assert_array_equal(w64.grad, [1.0, 2.0])


def test_slice_gradients_add_up_without_touching_shared_arrays():
    """Add hands the same gradient array to both inputs; a later slice gradient into one of
    them must not leak into the other (the engine only adds in place into arrays it owns)."""
    p = Tensor(np.ones((3, 4)), requires_grad=True)
    q = Tensor(np.ones((3, 4)), requires_grad=True)
    a, b = p * 1.0, q * 1.0
    loss = (a + b).sum() + a[0].sum() + a[:, 1].sum() * 2 + a[[2, 2]].sum()
    loss.backward()
    expected_a = np.ones((3, 4))
    expected_a[0] += 1
    expected_a[:, 1] += 2
    expected_a[2] += 2
    np.testing.assert_array_equal(a.grad, expected_a)
    np.testing.assert_array_equal(b.grad, np.ones((3, 4)))
    np.testing.assert_array_equal(q.grad, np.ones((3, 4)))
    np.testing.assert_array_equal(p.grad, expected_a)


def test_a_sequence_read_one_step_at_a_time_gets_every_step_gradient():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    weights = np.random.default_rng(0).standard_normal((3, 2, 4))
    loss = sum((x[:, t] * Tensor(weights[t])).sum() for t in range(3))
    loss.backward()
    np.testing.assert_allclose(x.grad, weights.transpose(1, 0, 2))
