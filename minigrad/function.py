"""Function: one primitive op, its forward and its derivative, and the node it leaves in the graph.

A Function object *is* the node: after `c = a * b`, `c.grad_fn` is a `Mul` whose `inputs` are
`(a, b)` and whose `saved` holds what its `backward` needs. A debugger stepping through
`loss.backward()` lands in these objects' `backward` methods, one per op.

Subclasses write
    forward(self, *arrays, **params) -> ndarray     numpy in, numpy out
    backward(self, grad) -> tuple                   numpy in, one gradient (or None) per input out
and keep any parameters (an axis, an input's shape) as attributes declared in `__slots__`.
`backward` reads only arrays, those attributes and `self.needs_input_grad` (one bool per input,
as in PyTorch), and returns None for every input that needs no gradient. A gradient is an array
of the input's shape, a SliceGradient (values for part of the input, the rest zero), which
backward adds into the input's gradient in place, or, only while the backward loop runs it
(MODES.factored_gradients), a FactoredGradient (left @ right, kept as its factors and multiplied
out once, when the input's turn comes); see gradients.py.

Saving an input's (or the output's) array also notes that tensor's version, one integer each;
backward refuses to run if an in-place write has changed the tensor since (see Tensor.version).
"""
from __future__ import annotations

import os

import numpy as np

from minigrad.errors import AnomalyError, describe, format_location, non_finite_origin, op_error, user_location
from minigrad.modes import MODES
from minigrad.tensor import Tensor, as_array


class Function:
    """Base class of every primitive op. See the module docstring for the contract."""
    __slots__ = ("inputs", "needs_input_grad", "saved", "saved_versions", "output_at", "output_name")
    broadcast_core = None  # how forward broadcasts its inputs, for the drawing (see ops/broadcast.py)

    def save_for_backward(self, *arrays) -> None:
        """Keep the arrays `backward` needs (read them back as `self.saved`)."""
        self.saved = arrays

    def forward(self, *arrays, **params) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad: np.ndarray) -> tuple:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor:
        """Run the op on Tensors (Python numbers become constants) and record it in the graph."""
        location = user_location()
        tensors = inputs
        for x in inputs:  # plain loops, not any()/all(): this is the hottest path of the library
            if not isinstance(x, Tensor):
                tensors = _lift_constants(inputs, location)
                break
        fn = cls()
        fn.saved = ()
        n = len(tensors)  # one and two inputs spelt out here and below: this runs for every op made
        try:
            if n == 1:
                data = fn.forward(tensors[0]._data, **params)
            elif n == 2:
                data = fn.forward(tensors[0]._data, tensors[1]._data, **params)
            else:
                data = fn.forward(*[t._data for t in tensors], **params)
        except (ValueError, IndexError, TypeError) as error:
            raise op_error(cls.__name__, str(error), tensors) from error
        except MemoryError as error:
            raise op_error(cls.__name__, f"numpy could not allocate the result ({error})", tensors) from error
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        if n == 1:
            needs_input_grad = _NEEDS_ONE[tensors[0].requires_grad]
        elif n == 2:
            needs_input_grad = _NEEDS_TWO[tensors[0].requires_grad][tensors[1].requires_grad]
        else:
            needs_input_grad = tuple([t.requires_grad for t in tensors])
        requires_grad = MODES.grad_enabled and True in needs_input_grad
        out = Tensor._make(data, fn if requires_grad else None, requires_grad, location)
        if requires_grad:
            fn.inputs = tensors
            fn.needs_input_grad = needs_input_grad
            fn.output_at = location  # for repr; the name comes from Tensor.named (a node holds no output)
            if fn.saved:
                fn.saved_versions = _saved_versions(fn.saved, tensors, out)
        if MODES.detect_anomaly and data.dtype.kind == "f" and not np.all(np.isfinite(data)):
            sources = [(f"input {i}", t._data) for i, t in enumerate(tensors)]
            raise AnomalyError(
                f"{cls.__name__} (forward, at {format_location(out.created_at)}) produced "
                f"{non_finite_origin(data, sources)}. Inputs: "
                + "; ".join(f"{i}: {describe(t)}" for i, t in enumerate(tensors)))
        return out

    def __repr__(self):
        """'Tanh → f<2> at cells.py:123': the op, the tensor it made and the user's line that made it."""
        if not hasattr(self, "output_at"):
            return f"{type(self).__name__} (not in a graph)"
        name = getattr(self, "output_name", None) or "an unnamed tensor"
        return f"{type(self).__name__} → {name} at {_short_location(self.output_at)}"


# needs_input_grad of one- and two-input ops, made once: a fresh tuple per op would be one more
# object for the garbage collector to count on the hottest path
_NEEDS_ONE = {False: (False,), True: (True,)}
_NEEDS_TWO = {a: {b: (a, b) for b in (False, True)} for a in (False, True)}
_SAVED_OUTPUT = (None, 0)  # saved_versions of a one-input op that saved only its output (version 0)


def _saved_versions(saved: tuple, tensors: tuple, out: Tensor) -> tuple:
    """For each input, then the output: its version if backward reads its array, else None."""
    data = out._data
    # the two commonest cases spelt out (this runs for most ops made): backward reads both
    # inputs (Mul, MatMul), or only its own fresh output (Exp, Tanh, Sigmoid)
    if len(saved) == 2 and len(tensors) == 2 and saved[0] is tensors[0]._data \
            and saved[1] is tensors[1]._data and data is not saved[0] and data is not saved[1]:
        return (tensors[0]._version, tensors[1]._version, None)
    if len(saved) == 1 and len(tensors) == 1 and saved[0] is data and data is not tensors[0]._data:
        return _SAVED_OUTPUT
    versions = []
    for t in tensors + (out,):
        version = None
        for array in saved:
            if array is t._data:
                version = t._version
                break
        versions.append(version)
    return tuple(versions)


def _lift_constants(inputs, location) -> tuple:
    """Wrap Python numbers and arrays as constant tensors, in the dtype of the first float input."""
    like = next((x for x in inputs if isinstance(x, Tensor) and x.dtype.kind == "f"), None)
    dtype = like.dtype if like is not None else None
    return tuple(x if isinstance(x, Tensor) else Tensor._make(as_array(x, dtype), None, False, location)
                 for x in inputs)


def _short_location(location) -> str:
    """'cells.py:123': the file's name without its folders, as a debugger's frame line shows it."""
    filename, line = location
    return f"{os.path.basename(filename)}:{line}"
