"""Version counters: in-place writes through the public API are counted, and backward refuses
values that were changed after a Function saved them, naming the op, the tensor and both lines."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim


def leaf(values, name):
    return mg.Tensor(np.array(values, dtype=np.float64), requires_grad=True, name=name)


@pytest.mark.parametrize("write", [
    lambda x: x.__setitem__(0, 100.0),
    lambda x: x.copy_(np.zeros(3)),
    lambda x: x.fill_(2.0),
    lambda x: x.zero_(),
    lambda x: x.add_(1.0),
    lambda x: x.sub_(1.0),
    lambda x: x.mul_(2.0),
    lambda x: x.div_(2.0),
    lambda x: setattr(x, "data", np.zeros(3)),
], ids=["setitem", "copy_", "fill_", "zero_", "add_", "sub_", "mul_", "div_", "data="])
def test_every_in_place_write_bumps_the_version_and_backward_refuses(write):
    x, y = leaf([1.0, 2.0, 3.0], "x"), leaf([4.0, 5.0, 6.0], "y")
    z = (x * y).sum()
    before = x.version
    with mg.no_grad():
        write(x)
    assert x.version == before + 1
    with pytest.raises(mg.GradError) as error:
        z.backward()
    message = str(error.value)
    assert "'x'" in message and "modified in place" in message and "saved by Mul" in message
    assert message.count("test_versions.py:") == 2  # where x was created and where Mul saved it
    assert y.grad is None  # nothing was computed from the changed values


def test_editing_a_tanh_output_names_the_output_and_the_op_that_saved_it():
    x = leaf([0.5, -0.5], "x")
    h = x.tanh().named("h")
    loss = h.sum()
    with mg.no_grad():
        h.zero_()
    with pytest.raises(mg.GradError, match=r"'h'.*saved by Tanh.*its output"):
        loss.backward()


def test_augmented_data_assignment_counts_too():
    w = leaf([1.0, 2.0], "w")
    loss = (w * w).sum()
    w.data -= 0.1  # what a hand-written SGD step does
    with pytest.raises(mg.GradError, match="saved by Mul"):
        loss.backward()


def test_an_optimiser_step_bumps_every_updated_parameter():
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1)):
        w = nn.Parameter(np.array([1.0, 2.0]))
        (w * w).sum().backward()
        opt = make([w])
        before = w.version
        stale = (w * w).sum()
        opt.step()
        assert w.version == before + 1
        with pytest.raises(mg.GradError, match="modified in place"):
            stale.backward()


def test_writes_that_nothing_saved_do_not_stop_backward():
    x, y = leaf([1.0, 2.0], "x"), leaf([3.0, 4.0], "y")
    z = (x + y).sum()  # Add saves nothing
    with mg.no_grad():
        x.fill_(7.0)
    z.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    a = leaf([1.0, 2.0], "a")
    b = leaf([2.0, 4.0], "b")
    q = (a / b).sum()  # Div saves b and the quotient, not a
    with mg.no_grad():
        a.mul_(10.0)
    q.backward()
    np.testing.assert_allclose(b.grad, -np.array([1.0, 2.0]) / np.array([2.0, 4.0]) ** 2)


def test_a_write_before_the_forward_pass_is_fine():
    x = leaf([1.0, 2.0], "x")
    with mg.no_grad():
        x[1] = 5.0
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 10.0])


def test_in_place_writes_on_a_tensor_that_requires_grad_need_no_grad():
    x = leaf([1.0, 2.0], "x")
    with pytest.raises(mg.GradError, match=r"requires grad.*no_grad\(\)") as error:
        x[0] = 3.0
    assert "test_versions.py:" in str(error.value)
    constant = mg.Tensor(np.zeros(2))
    constant[0] = 3.0  # data that needs no gradient may be written any time
    assert constant.version == 1 and constant.data[0] == 3.0


def test_a_bad_write_names_the_method_and_the_shapes():
    x = mg.Tensor(np.zeros((2, 3)))
    with pytest.raises(mg.OpError, match=r"(?s)copy_:.*\(4,\).*shape \(2, 3\)"):
        x.copy_(np.ones(4))
    assert x.version == 0


def test_versions_start_at_zero_and_reads_do_not_count():
    x = leaf([1.0], "x")
    y = x * 2
    _ = x.data, y.data, x.data[0], repr(x)
    assert x.version == 0 and y.version == 0


def test_a_write_through_a_detached_tensor_counts_for_the_original():
    x = leaf([1.0, 2.0], "x")
    loss = (x * x).sum()
    view = x.detach()
    view[0] = 5.0  # a constant may be written, but the values are x's
    assert x.data[0] == 5.0 and x.version == 1
    with pytest.raises(mg.GradError, match="'x'.*modified in place"):
        loss.backward()
