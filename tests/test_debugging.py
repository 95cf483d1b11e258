"""Stepping through backward, hooks, anomaly mode, trace and repr: the tools a student debugs with."""
import numpy as np
import pytest

import minigrad as mg
from seed_graph import attention_step, line_of


def count_functions(root) -> int:
    return sum(1 for t in mg.topological_order(root) if t.grad_fn is not None)


def test_one_step_per_function_in_reverse_order():
    graph = attention_step()
    steps = list(mg.backward_steps(graph["loss"]))
    assert len(steps) == count_functions(graph["loss"])
    assert [s.index for s in steps] == list(range(len(steps)))
    assert [type(s.function).__name__ for s in steps[:3]] == ["Sum", "Mul", "MatMul"]
    assert steps[0].source.endswith(f"seed_graph.py:{line_of('loss = ')}")  # the line that made the loss


def test_partial_gradients_match_a_hand_computation():
    """loss = Σ c², c = α a:  ∂loss/∂c = 2c, then ∂loss/∂α = 2c aᵀ and ∂loss/∂a = αᵀ 2c."""
    graph = attention_step()
    c, alpha, a = graph["c"].data, graph["alpha"].data, graph["a"].data
    stepper = mg.backward_steps(graph["loss"])
    sum_step, mul_step, matmul_step = next(stepper), next(stepper), next(stepper)
    np.testing.assert_allclose(sum_step.grad_inputs[0], np.ones((1, 3)))
    np.testing.assert_allclose(mul_step.grad_inputs[0], c)  # each factor of c·c gets c
    np.testing.assert_allclose(matmul_step.grad_output, 2 * c)
    np.testing.assert_allclose(graph["c"].grad, 2 * c)  # .grad filled in as the steps run
    np.testing.assert_allclose(matmul_step.grad_inputs[0], 2 * c @ a.T)
    np.testing.assert_allclose(matmul_step.grad_inputs[1], alpha.T @ (2 * c))
    assert graph["alpha"].grad is None  # its turn (Softmax's step) has not come yet
    assert graph["a"].grad is None  # a leaf: complete only after every use of a


def test_stepped_and_plain_backward_agree_exactly():
    stepped, plain = attention_step(), attention_step()
    for _ in mg.backward_steps(stepped["loss"]):
        pass
    plain["loss"].backward()
    for name in ("a", "s_prev", "w", "bias", "e", "alpha", "c"):
        np.testing.assert_array_equal(stepped[name].grad, plain[name].grad, err_msg=name)


def test_a_breakpoint_inside_a_backward_sees_the_grads_so_far(monkeypatch):
    """What a debugger paused in Softmax.backward shows: c's grad set, α's not yet."""
    graph = attention_step()
    seen = {}
    original = mg.ops.Softmax.backward

    def spy(self, g):
        seen["c"], seen["alpha"] = graph["c"].grad, graph["alpha"].grad
        return original(self, g)

    monkeypatch.setattr(mg.ops.Softmax, "backward", spy)
    graph["loss"].backward()
    assert seen["c"] is not None and seen["alpha"] is not None  # alpha's grad is complete at its turn
    np.testing.assert_allclose(seen["alpha"], 2 * graph["c"].data @ graph["a"].data.T)


def test_hook_sees_the_gradient_and_can_replace_it():
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.copy()))
    handle = y.register_hook(lambda g: g * 0)  # cut the gradient to x
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * y.data)
    np.testing.assert_allclose(x.grad, [0.0, 0.0])
    handle.remove()
    x.grad = None
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, 3 * 2 * y.data)
    assert len(seen) == 2


def test_hook_on_a_leaf_gets_this_pass_gradient():
    w = mg.Tensor([2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(float(g[0])))
    (w * 5).sum().backward()
    (w * 5).sum().backward()
    assert seen == [5.0, 5.0] and w.grad[0] == 10.0  # hooks see each pass; .grad accumulates


def test_hook_returning_a_gradient_of_the_wrong_shape_is_named_at_once():
    """A hook that returns something by accident (dict.setdefault returns a value) would fail far
    away inside another op's backward; the error names the tensor and the shapes instead."""
    e = mg.Tensor([[0.5, -1.0, 2.0]], requires_grad=True, name="e<1,·>")
    alpha = mg.softmax(e * 1.0).named("alpha<1,·>")
    kept = {}
    alpha.register_hook(lambda g: kept.setdefault("first", 0.0))
    with pytest.raises(mg.GradError, match=r"returned a gradient of shape \(\) for 'alpha<1,·>' shape \(1, 3\)"):
        (alpha * alpha).sum().backward()


def test_hook_needs_requires_grad():
    with pytest.raises(mg.GradError):
        mg.Tensor([1.0]).register_hook(print)


def test_anomaly_mode_catches_log_of_zero_in_forward():
    x = mg.Tensor([1.0, 0.0], requires_grad=True, name="probabilities")
    with mg.detect_anomaly():
        with pytest.raises(mg.AnomalyError) as info:
            x.log()
    message = str(info.value)
    assert "Log" in message and "inf" in message and "probabilities" in message
    assert "test_debugging.py" in message
    assert np.isinf(x.log().data[1])  # outside anomaly mode log(0) = -inf, silently


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # the NaN is the point
def test_anomaly_mode_catches_nan_made_in_backward():
    """√x at 0 has an infinite slope; times a zero gradient it makes NaN only in backward."""
    x = mg.Tensor([0.0, 4.0], requires_grad=True, name="x")
    with mg.detect_anomaly():
        root = (x ** 0.5).named("root x")
        loss = (root * mg.Tensor([0.0, 1.0])).sum()
        with pytest.raises(mg.AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert "Pow.backward" in message and "NaN" in message and "'x'" in message
    assert "test_debugging.py" in message


def test_trace_is_a_wengert_list_in_seed_names():
    graph = attention_step()
    lines = mg.trace(graph["loss"])
    text = str(lines)
    assert any(line.startswith("alpha<1,·> = Softmax(e<1,·>)") for line in lines)
    assert any(line.startswith("c<1> = MatMul(alpha<1,·>, a)") for line in lines)
    assert lines[-1].startswith("loss = Sum(")
    assert "seed_graph.py:" in text
    names = [line.split(" = ")[0] for line in lines]
    assert names.index("a") < names.index("c<1>") < names.index("loss")  # inputs first


def test_repr_shows_name_shape_dtype_op_data_and_grad():
    graph = attention_step()
    graph["loss"].backward()
    text = repr(graph["alpha"])
    for part in ("name='alpha<1,·>'", "shape=(1, 4)", "dtype=float64", "grad_fn=Softmax", "grad=[["):
        assert part in text
    made_at = graph["alpha"].source.rsplit("/", 1)[-1]  # "seed_graph.py:23"
    assert repr(graph["alpha"].grad_fn) == f"Softmax → alpha<1,·> at {made_at}"  # op, its output, the line
