"""The backward pass: `backward`, and `backward_steps`, which yields a record after each Function.

The graph is made of Tensors; a non-leaf tensor's `grad_fn` is the Function that made it and
`grad_fn.inputs` are the tensors it was made from. Backward visits the tensors in reverse
topological order (order.py), summing each tensor's gradients (gradients.py) until they are
complete, then passes them through the Function that made it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from minigrad.errors import (AnomalyError, GradError, describe, format_location, non_finite_origin,
                             user_location)
from minigrad.gradients import (FactoredGradient, SliceGradient, accumulate, accumulate_factored, dense,
                                multiplied_out)
from minigrad.modes import MODES
from minigrad.order import topological_order


@dataclass
class BackwardStep:
    """What one Function did during backward: the record `backward_steps` yields.

    `grad_inputs[i]` is the gradient the Function sent to `function.inputs[i]`
    (None for an input that does not require grad). `completed` are the tensors whose `.grad`
    this step completed: `output`, then the leaves finished with it (see `backward_schedule`).
    """
    index: int
    function: object
    output: object
    grad_output: np.ndarray
    grad_inputs: tuple
    source: str
    completed: tuple

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


def _run_hooks(tensor, grad_output):
    """The gradient after `tensor`'s hooks: each may return a replacement of the same shape."""
    for hook in tensor._hooks.values():
        replaced = hook(grad_output)
        if replaced is not None:
            grad_output = np.asarray(getattr(replaced, "data", replaced))
            if grad_output.shape != tensor.shape:
                raise GradError(
                    f"hook {getattr(hook, '__qualname__', hook)} returned a gradient of shape "
                    f"{grad_output.shape} for {describe(tensor)}; a hook returns None or an "
                    "array of the tensor's shape")
    return grad_output


def _store_leaf_grad(tensor, grad_output) -> None:
    """Leaves add to the `.grad` they hold, as in PyTorch (other tensors' `.grad` is overwritten)."""
    if tensor.grad is None:
        tensor.grad = np.array(grad_output, dtype=tensor.data.dtype)
    else:
        tensor.grad += grad_output


def _check_finite(grad_input, fn, output, grad_output, tensor_input) -> None:
    array = grad_input.values if type(grad_input) is SliceGradient else dense(grad_input)
    if not np.all(np.isfinite(array)):
        sources = [("the gradient of its output", grad_output)]
        sources += [(f"saved value {i}", saved) for i, saved in enumerate(fn.saved)]
        raise AnomalyError(
            f"{type(fn).__name__}.backward (the op made {describe(output)}) produced "
            f"{non_finite_origin(array, sources)}. It is the gradient of {describe(tensor_input)}")


def _check_versions(fn, output) -> None:
    """Refuse to differentiate with values that an in-place write changed after `fn` saved them."""
    inputs = fn.inputs
    for k, version in enumerate(fn.saved_versions):  # one per input, then the output's
        if version is None:
            continue
        tensor = inputs[k] if k < len(inputs) else output
        if tensor._version != version:
            role = "its output" if k == len(inputs) else f"its input {k}"
            raise GradError(
                f"backward(): {describe(tensor)} was modified in place after it was saved by "
                f"{type(fn).__name__} at {format_location(output.created_at)} ({role}; version "
                f"{version} then, {tensor._version} now), so that gradient would be computed from "
                "the new values. Write the new values into a copy (x = x * 0 + v, or a fresh "
                "Tensor), or make the edit before the forward pass.")


def backward_schedule(root) -> Iterator[list]:
    """The steps of backward from `root`: for each Function, in the order backward runs them, the
    tensors whose `.grad` that step completes: the Function's output first, then the leaves that
    are complete once it has run (a step ends where the next Function's output comes).

    This is the one definition of a step: the backward loop runs it, and drawing reads it.
    Each step is yielded as soon as it is known, so the loop holds one step's list at a time.
    """
    current = None
    for tensor in reversed(topological_order(root)):
        if tensor.grad_fn is not None or current is None:
            if current is not None:
                yield current
            current = [tensor]
        else:
            current.append(tensor)
    if current is not None:
        yield current


def _backward_pass(root, grad, record: bool) -> Iterator[BackwardStep]:
    """The one backward loop. Yields a BackwardStep after each Function only when `record`.

    Gradients of a tensor's several consumers are summed in `pending`; when the tensor's turn
    comes its sum is complete: hooks may replace it, then it is stored in `.grad` and, unless the
    tensor is a leaf, passed through the Function that made it. A step is yielded when its
    Function has run and the leaves it completed hold their `.grad`, before the next one runs.
    """
    pending = {root: _seed_gradient(root, grad)}
    owned = set()  # tensors whose pending array this pass allocated, so it may grow in place
    factored = {}  # tensors' FactoredGradients, summed apart from `pending` until their turn
    outside = MODES.factored_gradients  # a backward run from a hook may nest in this one
    MODES.factored_gradients = True
    try:
        for index, completed in enumerate(backward_schedule(root)):
            for tensor in completed:
                if factored and tensor in factored:
                    grad_output = multiplied_out(factored.pop(tensor), pending.pop(tensor, None), tensor._data.dtype)
                else:
                    grad_output = pending.pop(tensor)
                if tensor._hooks:
                    MODES.factored_gradients = outside  # a hook is the user's code: its backward gives arrays
                    grad_output = _run_hooks(tensor, grad_output)
                    MODES.factored_gradients = True
                fn = tensor.grad_fn
                if fn is None:
                    _store_leaf_grad(tensor, grad_output)
                    continue
                tensor.grad = grad_output
                if fn.saved:
                    _check_versions(fn, tensor)
                grad_inputs = fn.backward(grad_output)
                for tensor_input, grad_input in zip(fn.inputs, grad_inputs):
                    if grad_input is not None:  # None: that input needs no gradient (fn.needs_input_grad)
                        if MODES.detect_anomaly:
                            _check_finite(grad_input, fn, tensor, grad_output, tensor_input)
                        if type(grad_input) is FactoredGradient:
                            accumulate_factored(factored, pending, owned, tensor_input, grad_input)
                        else:
                            accumulate(pending, owned, tensor_input, grad_input)
            fn = completed[0].grad_fn
            if record and fn is not None:
                MODES.factored_gradients = outside  # paused here, a backward called by hand gives arrays
                yield BackwardStep(index, fn, completed[0], completed[0].grad,
                                   tuple(dense(g) for g in grad_inputs), format_location(completed[0].created_at),
                                   tuple(completed))
                MODES.factored_gradients = True
    finally:
        MODES.factored_gradients = outside


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
