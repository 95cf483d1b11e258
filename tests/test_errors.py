"""Bad inputs raise clear errors: the op's name, the shapes involved, and the lines of *this*
file where the offending tensors were made and where the op was called.

`here()` returns the line it is called on, so `a, a_line = Tensor(...), here()` records the
line that created `a`; the messages must point at exactly that line.
"""
import inspect
import os
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import DTypeError, GradError, OpError, Tensor

FILE = os.path.basename(__file__)


def here() -> int:
    """The line number of the caller."""
    return inspect.currentframe().f_back.f_lineno


def at(line: int) -> str:
    """A regex for 'test_errors.py:<line>' (and not a longer number starting with those digits)."""
    return rf"{re.escape(FILE)}:{line}\b"


def assert_points_at(message: str, *lines: int) -> None:
    for line in lines:
        assert re.search(at(line), message), f"line {line} of {FILE} not in:\n{message}"


# --- ops refusing their inputs --------------------------------------------------------------

def test_matmul_shape_mismatch():
    """MatMul names itself, both shapes, the inner sizes, and both creation lines."""
    a, a_line = Tensor(np.ones((2, 3)), requires_grad=True), here()
    b, b_line = Tensor(np.ones((4, 5))), here()
    with pytest.raises(OpError) as caught:
        call_line = here(); a @ b  # noqa: E702  (the call and its line number on one line)
    message = str(caught.value)
    assert message.startswith("MatMul:")
    assert "(2, 3)" in message and "(4, 5)" in message
    assert "3" in message and "4" in message
    assert_points_at(message, a_line, b_line, call_line)
    assert re.search(r"called at .*" + at(call_line), message)
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize("op, symbol", [("Add", "+"), ("Sub", "-"), ("Mul", "*"), ("Div", "/")])
def test_broadcasting_mismatch(op, symbol):
    """(2, 3) op (4,) fails naming the op, both shapes and both lines; numpy's error is chained."""
    a, a_line = Tensor(np.ones((2, 3))), here()
    b, b_line = Tensor(np.ones(4), requires_grad=True), here()
    with pytest.raises(OpError) as caught:
        eval(f"a {symbol} b")
    message = str(caught.value)
    assert message.startswith(f"{op}:")
    assert "shape (2, 3)" in message and "shape (4,)" in message
    assert_points_at(message, a_line, b_line)
    cause = caught.value.__cause__
    assert isinstance(cause, ValueError) and "broadcast" in str(cause)


def test_broadcasting_mismatch_names_the_tensor():
    """A named tensor is called by its name in the message."""
    w = Tensor(np.ones((3, 2)), name="weights")
    with pytest.raises(OpError, match="'weights' shape \\(3, 2\\)"):
        w * Tensor(np.ones((3, 4)))


def test_op_error_is_still_a_value_error_and_an_index_error():
    """Code written for numpy's exceptions keeps catching them."""
    with pytest.raises(ValueError):
        Tensor(np.ones(2)) + Tensor(np.ones(3))
    with pytest.raises(IndexError):
        Tensor(np.ones(2))[5]
    assert issubclass(OpError, mg.MinigradError)


@pytest.mark.parametrize("join", ["concat", "stack"])
def test_concat_and_stack_mismatch(join):
    """concat/stack of tensors that do not fit name the op, every input's shape and line."""
    a, a_line = Tensor(np.ones((2, 3))), here()
    b, b_line = Tensor(np.ones((2, 4))), here()
    with pytest.raises(OpError) as caught:
        getattr(mg, join)([a, b], axis=0)
    message = str(caught.value)
    assert message.startswith({"concat": "Concat:", "stack": "Stack:"}[join])
    assert "input 0: shape (2, 3)" in message and "input 1: shape (2, 4)" in message
    assert_points_at(message, a_line, b_line)
    assert isinstance(caught.value.__cause__, ValueError)


def test_getitem_out_of_range_index_like_an_embedding():
    """An embedding-style lookup of row 7 in a 5-row table: GetItem, the table's shape, the
    offending index, and numpy's IndexError chained."""
    table, table_line = Tensor(np.zeros((5, 3)), requires_grad=True), here()
    ids = np.array([0, 7, 2])
    with pytest.raises(OpError) as caught:
        table[ids]
    message = str(caught.value)
    assert message.startswith("GetItem:")
    assert "shape (5, 3)" in message and "7" in message
    assert_points_at(message, table_line)
    assert isinstance(caught.value.__cause__, IndexError)


@pytest.mark.parametrize("make, op, fragment", [
    (lambda t: t.sum(axis=2), "Sum", "axis 2"),
    (lambda t: t.max(axis=-3), "Max", "axis -3"),
    (lambda t: t.reshape(5, 2), "Reshape", "(5,2)"),
    (lambda t: t.permute(0, 0), "Transpose", "(0, 0)"),
    (lambda t: mg.split(t, [1, 1], axis=0), "split", "[1, 1]"),
], ids=["sum-axis", "max-axis", "reshape", "permute", "split"])
def test_other_bad_shapes(make, op, fragment):
    """Reductions, reshape, permute, transpose and split refuse bad axes/shapes by name."""
    x, x_line = Tensor(np.ones((3, 4))), here()
    with pytest.raises(OpError) as caught:
        make(x)
    message = str(caught.value)
    assert message.startswith(f"{op}:")
    assert fragment in message and "shape (3, 4)" in message
    assert_points_at(message, x_line)


def test_transpose_with_a_dim_out_of_range():
    """transpose(0, 5) of a 2-D tensor is an OpError naming Transpose, the dim and the shape,
    not a bare 'list index out of range' from inside Tensor.transpose."""
    x, x_line = Tensor(np.ones((3, 4))), here()
    with pytest.raises(OpError) as caught:
        x.transpose(0, 5)
    message = str(caught.value)
    assert message.startswith("Transpose:") and "5" in message and "(3, 4)" in message
    assert_points_at(message, x_line)


# --- backward refusing ------------------------------------------------------------------------

def test_backward_on_a_non_scalar_needs_grad():
    """backward() of a (2, 3) tensor says it is not a scalar, gives the shape and the line."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y, y_line = x * 2.0, here()
    with pytest.raises(GradError) as caught:
        y.backward()
    message = str(caught.value)
    assert "not a scalar" in message and "(2, 3)" in message and "Mul" in message
    assert_points_at(message, y_line)
    assert isinstance(caught.value, RuntimeError)


def test_backward_on_a_tensor_not_requiring_grad():
    """A tensor made only from constants has no gradient: GradError says so and where it was made."""
    x = Tensor(np.ones(3))
    loss, loss_line = (x * 2.0).sum(), here()
    with pytest.raises(GradError) as caught:
        loss.backward()
    message = str(caught.value)
    assert "does not require grad" in message
    assert_points_at(message, loss_line)


@pytest.mark.parametrize("grad_shape", [(3,), (2, 3, 1), (3, 2), ()])
def test_backward_with_a_wrong_grad_shape(grad_shape):
    """grad= must have the output's shape: GradError names both shapes and the output's line."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y, y_line = x * 2.0, here()
    with pytest.raises(GradError) as caught:
        y.backward(np.ones(grad_shape))
    message = str(caught.value)
    assert str(grad_shape) in message and "(2, 3)" in message
    assert_points_at(message, y_line)
    assert x.grad is None  # nothing was half-computed


# --- bad data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, fragment", [
    ("abc", "<U3"),
    ([object()], "object"),
    ({"a": 1}, "object"),
    ([1 + 2j], "complex"),
], ids=["str", "object", "dict", "complex"])
def test_non_numeric_data(data, fragment):
    """Tensor(non-numbers) raises DTypeError (a TypeError) naming Tensor and the dtype."""
    with pytest.raises(DTypeError) as caught:
        Tensor(data)
    message = str(caught.value)
    assert message.startswith("Tensor:")
    assert fragment in message
    assert isinstance(caught.value, TypeError)


def test_non_numeric_data_names_the_source_line():
    """Like every other error, DTypeError for non-numeric data points at the user's line."""
    with pytest.raises(DTypeError) as caught:
        line = here(); Tensor("abc")  # noqa: E702
    assert_points_at(str(caught.value), line)


def test_ragged_data_chains_numpy_error():
    """A ragged list is refused with DTypeError, and numpy's ValueError is kept as __cause__."""
    with pytest.raises(DTypeError) as caught:
        Tensor([[1.0, 2.0], [3.0]])
    assert isinstance(caught.value.__cause__, ValueError)
    assert "inhomogeneous" in str(caught.value.__cause__)
    assert "inhomogeneous" in str(caught.value)


def test_unconvertible_data_with_dtype_chains_numpy_error():
    """Tensor('abc', dtype=float32) fails with DTypeError whose cause is numpy's ValueError."""
    with pytest.raises(DTypeError) as caught:
        Tensor("abc", dtype=np.float32)
    assert isinstance(caught.value.__cause__, ValueError)


@pytest.mark.parametrize("data", [[1, 2, 3], np.array([1, 2], dtype=np.int32), [True, False]],
                         ids=["int64", "int32", "bool"])
def test_integer_tensor_cannot_require_grad(data):
    """requires_grad=True on integer/bool data is a DTypeError naming the dtype and the line."""
    with pytest.raises(DTypeError) as caught:
        line = here(); Tensor(data, requires_grad=True)  # noqa: E702
    message = str(caught.value)
    assert "only float tensors can require grad" in message
    assert str(np.asarray(data).dtype) in message
    assert f"shape {np.shape(data)}" in message
    assert_points_at(message, line)


# --- cross_entropy ---------------------------------------------------------------------------

def test_cross_entropy_target_shape_mismatch():
    """A target of the wrong shape: cross_entropy names both shapes and the expected one."""
    logits, logits_line = Tensor(np.zeros((4, 5)), requires_grad=True), here()
    with pytest.raises(OpError) as caught:
        call_line = here(); mg.cross_entropy(logits, np.zeros(3, dtype=np.int64))  # noqa: E702
    message = str(caught.value)
    assert message.startswith("cross_entropy:")
    assert "(3,)" in message and "(4, 5)" in message and "expected (4,)" in message
    assert_points_at(message, logits_line, call_line)


@pytest.mark.parametrize("bad_class", [5, 9, -1])
def test_cross_entropy_target_out_of_range(bad_class):
    """A class index outside [0, C) is named together with the number of classes."""
    logits, logits_line = Tensor(np.zeros((4, 5)), requires_grad=True), here()
    target = np.array([0, bad_class, 1, 2])
    with pytest.raises(OpError) as caught:
        mg.cross_entropy(logits, target)
    message = str(caught.value)
    assert message.startswith("cross_entropy:")
    assert f"class {bad_class}" in message and "5 classes" in message
    assert_points_at(message, logits_line)


def test_cross_entropy_float_target():
    """Class indices must be integers (a common mistake: passing one-hot or float labels)."""
    logits = Tensor(np.zeros((4, 5)), requires_grad=True)
    with pytest.raises(OpError, match="cross_entropy: target must hold integer class indices"):
        mg.cross_entropy(logits, np.array([0.0, 1.0, 2.0, 3.0]))


@pytest.mark.parametrize("axis, target_shape", [(2, (5,)), (-3, (4,))])
def test_cross_entropy_axis_out_of_range(axis, target_shape):
    """An axis the logits do not have is an OpError naming cross_entropy and the axis,
    not a bare 'tuple index out of range' from inside the library (the target's shape is
    the one axis % ndim would expect, so only the axis check can catch it)."""
    logits, logits_line = Tensor(np.zeros((4, 5)), requires_grad=True), here()
    with pytest.raises(OpError) as caught:
        mg.cross_entropy(logits, np.zeros(target_shape, dtype=np.int64), axis=axis)
    message = str(caught.value)
    assert message.startswith("cross_entropy:") and str(axis) in message
    assert_points_at(message, logits_line)


def test_cross_entropy_bad_reduction():
    """An unknown reduction is a ValueError listing the valid ones."""
    with pytest.raises(ValueError, match="'mean', 'sum' or 'none'"):
        mg.cross_entropy(Tensor(np.zeros((2, 3))), np.array([0, 1]), reduction="avg")
