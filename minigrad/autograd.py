"""Reverse-mode differentiation: the order of the graph, the backward pass, and its modes.

The graph is made of Tensors; a non-leaf tensor's `grad_fn` is the Function that made it and
`grad_fn.inputs` are the tensors it was made from. Backward visits the tensors in reverse
topological order, so each tensor's gradient is complete before it is passed further down.
Nothing here recurses: a chain of a million ops goes through the same loops as a chain of three.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from minigrad.errors import (AnomalyError, GradError, describe, format_location, non_finite_origin,
                             user_location)
from minigrad.modes import MODES


def topological_order(root, all_inputs: bool = False) -> list:
    """Every tensor that requires grad and reaches `root`, inputs before the ops that use them.

    With `all_inputs`, constants and data that do not require grad are included too (for
    drawing and tracing the forward pass).

    Iterative depth-first search: a tensor is appended once all its inputs are, which is
    the post-order a recursive version would give, without Python's recursion limit.
    """
    # BEGIN SOLUTION 1.6
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if tensor in visited:
            continue
        visited.add(tensor)
        stack.append((tensor, True))
        fn = tensor.grad_fn
        if fn is not None:
            for tensor_input in reversed(fn.inputs):  # reversed: the first input is visited first
                if (all_inputs or tensor_input.requires_grad) and tensor_input not in visited:
                    stack.append((tensor_input, False))
    return order
    # END SOLUTION


class SliceGradient:
    """The gradient of a[index] with respect to a: `values` at `index`, zeros elsewhere, kept sparse.

    A sequence read one timestep at a time (x[:, t]) sends Tx slice gradients back to x. As
    full-size arrays of zeros that would be Tx full-size allocations and additions; kept sparse,
    backward adds each slice into one buffer in place.
    """
    __slots__ = ("shape", "index", "values")

    def __init__(self, shape: tuple, index, values: np.ndarray):
        self.shape, self.index, self.values = shape, index, values

    def add_to(self, buffer: np.ndarray) -> np.ndarray:
        """buffer[index] += values, counting an index that repeats (a gather) once per repeat."""
        items = self.index if isinstance(self.index, tuple) else (self.index,)
        if all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items):
            buffer[self.index] += self.values  # basic indexing: no element is picked twice
        elif isinstance(self.index, np.ndarray) and self.index.dtype.kind in "iu":
            self._add_rows(buffer)
        else:
            np.add.at(buffer, self.index, self.values)
        return buffer

    def _add_rows(self, buffer: np.ndarray) -> None:
        """A gather of rows (an embedding): sort the values by row, sum each row's run, add the sums.

        Rows are written through `buffer[...]`, never through a reshape of it: a reshape of a
        transposed or strided buffer is a copy, and the sums would go into the copy.
        """
        rows = self.index.reshape(-1)
        if rows.size == 0:  # an empty gather picked nothing
            return
        rows = np.where(rows < 0, rows + buffer.shape[0], rows)  # -1 and n-1 are one row
        order = np.argsort(rows, kind="stable")
        values = self.values.reshape((rows.size,) + buffer.shape[1:]).take(order, axis=0)
        rows = rows[order]
        starts = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
        if len(starts) > 64:
            buffer[rows[starts]] += np.add.reduceat(values, starts, axis=0)
            return
        for start, end in zip(starts, np.append(starts[1:], rows.size)):  # few runs: summed one by one,
            buffer[rows[start]] += values[start:end].sum(axis=0)          # faster than reduceat's row loop

    def dense(self, dtype=None) -> np.ndarray:
        return self.add_to(np.zeros(self.shape, dtype=dtype or self.values.dtype))


@dataclass
class BackwardStep:
    """What one Function did during backward: the record `backward_steps` yields.

    `grad_inputs[i]` is the gradient the Function sent to `function.inputs[i]`
    (None for an input that does not require grad).
    """
    index: int
    function: object
    output: object
    grad_output: np.ndarray
    grad_inputs: tuple
    source: str

    def __repr__(self):
        return (f"BackwardStep({self.index}: {type(self.function).__name__} "
                f"at {self.source}, grad_output shape {self.grad_output.shape})")


def _seed_gradient(root, grad):
    if not root.requires_grad:
        raise GradError(
            f"backward(): {describe(root)} does not require grad: none of the tensors it was "
            "computed from has requires_grad=True (or it was computed under no_grad()).")
    if grad is None:
        if root.data.size != 1:
            raise GradError(
                f"backward(): {describe(root)} is not a scalar; pass grad= of shape "
                f"{root.shape} (the gradient of some scalar with respect to it).")
        return np.ones_like(root.data)
    try:
        grad = np.array(getattr(grad, "data", grad), dtype=root.dtype)
    except (TypeError, ValueError) as error:
        raise GradError(f"backward(): grad= must be numbers of shape {root.shape}, not "
                        f"{type(grad).__name__} {str(grad)[:40]!r} ({error}); {describe(root)}; "
                        f"called at {format_location(user_location())}") from error
    if grad.shape != root.shape:
        raise GradError(f"backward(): grad has shape {grad.shape} but {describe(root)}")
    return grad


def _check_finite(array, fn, output, grad_output, tensor_input) -> None:
    if not np.all(np.isfinite(array)):
        sources = [("the gradient of its output", grad_output)]
        sources += [(f"saved value {i}", saved) for i, saved in enumerate(fn.saved)]
        raise AnomalyError(
            f"{type(fn).__name__}.backward (the op made {describe(output)}) produced "
            f"{non_finite_origin(array, sources)}. It is the gradient of {describe(tensor_input)}")


def _check_versions(fn, output) -> None:
    """Refuse to differentiate with values that an in-place write changed after `fn` saved them."""
    for k, (tensor, version) in enumerate(zip(fn.inputs + (output,), fn.saved_versions)):
        if version is not None and tensor._version != version:
            role = "its output" if k == len(fn.inputs) else f"its input {k}"
            raise GradError(
                f"backward(): {describe(tensor)} was modified in place after it was saved by "
                f"{type(fn).__name__} at {format_location(output.created_at)} ({role}; version "
                f"{version} then, {tensor._version} now), so that gradient would be computed from "
                "the new values. Write the new values into a copy (x = x * 0 + v, or a fresh "
                "Tensor), or make the edit before the forward pass.")


def _accumulate(pending: dict, owned: set, tensor, grad_input) -> None:
    """Add one consumer's gradient into `pending[tensor]`, in place when this pass owns that array.

    An array a Function returned may be shared (Add passes its gradient on to both inputs), so
    it is never written to: the first addition into it copies it into a new array, which is
    then owned. Every pending gradient is an ndarray, also for a 0-d tensor: numpy arithmetic
    on 0-d arrays returns immutable scalars, and a `+=` into a scalar would be lost.
    """
    dtype = tensor.data.dtype
    previous = pending.get(tensor)
    if type(grad_input) is SliceGradient:
        if previous is None:
            pending[tensor] = grad_input.dense(dtype)
        elif tensor in owned:
            grad_input.add_to(previous)
            return
        else:
            pending[tensor] = grad_input.add_to(np.array(previous, dtype=dtype))
        owned.add(tensor)
        return
    if type(grad_input) is not np.ndarray or grad_input.dtype != dtype:
        grad_input = np.asarray(grad_input, dtype=dtype)
    if previous is None:
        pending[tensor] = grad_input
    elif tensor in owned:
        previous += grad_input
    else:
        total = np.array(previous)  # a copy this pass owns (np.array of a 0-d array is an array)
        total += grad_input
        pending[tensor] = total
        owned.add(tensor)


def _backward_pass(root, grad, record: bool) -> Iterator[BackwardStep]:
    """The one backward loop. Yields a BackwardStep after each Function only when `record`.

    A step is yielded when the Function has sent its gradients and every leaf those
    completed holds its `.grad`, just before the next Function runs.

    Gradients of a tensor's several consumers are summed in `pending`; when the tensor's
    turn comes its sum is complete: hooks may replace it, then it is stored in `.grad`
    (leaves add it to what they hold, as in PyTorch; other tensors are overwritten) and
    passed through the Function that made the tensor.
    """
    pending = {root: _seed_gradient(root, grad)}
    owned = set()  # tensors whose pending array this pass allocated, so it may grow in place
    index = 0
    finished_step = None  # yielded once the leaves it completed are filled in too
    for tensor in reversed(topological_order(root)):
        if finished_step is not None and tensor.grad_fn is not None:
            yield finished_step
            finished_step = None
        grad_output = pending.pop(tensor)
        if tensor._hooks:
            for hook in tensor._hooks.values():
                replaced = hook(grad_output)
                if replaced is not None:
                    grad_output = np.asarray(getattr(replaced, "data", replaced))
                    if grad_output.shape != tensor.shape:
                        raise GradError(
                            f"hook {getattr(hook, '__qualname__', hook)} returned a gradient of shape "
                            f"{grad_output.shape} for {describe(tensor)}; a hook returns None or an "
                            "array of the tensor's shape")
        fn = tensor.grad_fn
        if fn is None:
            if tensor.grad is None:
                tensor.grad = np.array(grad_output, dtype=tensor.data.dtype)
            else:
                tensor.grad += grad_output
            continue
        tensor.grad = grad_output
        if fn.saved:
            _check_versions(fn, tensor)
        grad_inputs = fn.backward(grad_output)
        for tensor_input, grad_input in zip(fn.inputs, grad_inputs):
            if grad_input is None or not tensor_input.requires_grad:
                continue
            if MODES.detect_anomaly:
                _check_finite(getattr(grad_input, "values", grad_input), fn, tensor, grad_output,
                              tensor_input)
            _accumulate(pending, owned, tensor_input, grad_input)
        if record:
            dense = tuple(g.dense() if type(g) is SliceGradient else g for g in grad_inputs)
            finished_step = BackwardStep(index, fn, tensor, grad_output, dense,
                                         format_location(tensor.created_at))
        index += 1
    if finished_step is not None:
        yield finished_step


def backward(root, grad=None) -> None:
    """Fill `.grad` of every tensor that requires grad and reaches `root`.

    Leaves accumulate across calls (call `zero_grad()` between steps); every other tensor's
    `.grad` holds the gradient of the latest backward pass that reached it. The graph is
    kept, so backward may run again on it.
    """
    for _ in _backward_pass(root, grad, record=False):
        pass


def backward_steps(root, grad=None) -> Iterator[BackwardStep]:
    """Run backward one Function at a time, yielding a BackwardStep after each.

    Pause in the loop (or in a Function's `backward`) and the tensors' `.grad` show the
    state so far: the gradients computed in steps 0..k, exactly as `backward` fills them.
    """
    return _backward_pass(root, grad, record=True)
