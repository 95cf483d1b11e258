"""Function: one primitive op, its forward and its derivative, and the node it leaves in the graph.

A Function object *is* the node: after `c = a * b`, `c.grad_fn` is a `Mul` whose `inputs` are
`(a, b)` and whose `saved` holds what its `backward` needs. A debugger stepping through
`loss.backward()` lands in these objects' `backward` methods, one per op.

Subclasses write
    forward(self, *arrays, **params) -> ndarray     numpy in, numpy out
    backward(self, grad) -> tuple                   one gradient (or None) per input
and keep any parameters (an axis, a shape) as attributes declared in `__slots__`. A gradient is
an array of the input's shape, or a SliceGradient (values for part of the input, the rest zero),
which backward adds into the input's gradient in place; `.dense()` gives it as an array.

Saving an input's (or the output's) array also notes that tensor's version, one integer each;
backward refuses to run if an in-place write has changed the tensor since (see Tensor.version).
"""
from __future__ import annotations

import numpy as np

from minigrad.errors import AnomalyError, describe, format_location, non_finite_origin, op_error, user_location
from minigrad.modes import MODES
from minigrad.tensor import Tensor, as_array


class Function:
    """Base class of every primitive op. See the module docstring for the contract."""
    __slots__ = ("inputs", "saved", "saved_versions")

    def save_for_backward(self, *arrays) -> None:
        """Keep the arrays `backward` needs (read them back as `self.saved`)."""
        self.saved = arrays

    def forward(self, *arrays, **params) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad: np.ndarray) -> tuple:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def summed_axes(self, input_index: int, out_shape: tuple) -> tuple:
        """The axes of the output over which backward sums input `input_index`'s gradient
        because forward broadcast it (drawn on the graph's edge). Most ops broadcast nothing.
        """
        return ()

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
        try:
            data = fn.forward(*[t._data for t in tensors], **params)
        except (ValueError, IndexError, TypeError) as error:
            raise op_error(cls.__name__, str(error), tensors) from error
        except MemoryError as error:
            raise op_error(cls.__name__, f"numpy could not allocate the result ({error})", tensors) from error
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        requires_grad = False
        if MODES.grad_enabled:
            for t in tensors:
                if t.requires_grad:
                    requires_grad = True
                    break
        out = Tensor._make(data, fn if requires_grad else None, requires_grad, location)
        if requires_grad:
            fn.inputs = tensors
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
        names = ", ".join(t.name or f"<{t.shape}>" for t in getattr(self, "inputs", ()))
        return f"{type(self).__name__}({names})"


def _saved_versions(saved: tuple, tensors: tuple, out: Tensor) -> tuple:
    """For each input, then the output: its version if backward reads its array, else None."""
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
