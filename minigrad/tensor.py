"""Tensor: a numpy array, its gradient, its name, and the Function that made it.

Operators are sugar: `a * b` is `Mul.apply(a, b)`. Tensor and the ops need each other
(ops make tensors; tensor methods call ops), and this file's last line is the one place
that knot is tied.
"""
from __future__ import annotations

import numpy as np

from minigrad import autograd
from minigrad.errors import DTypeError, GradError, describe, format_location, op_error, user_location
from minigrad.modes import MODES, step_name


def as_array(data, dtype=None) -> np.ndarray:
    """Copy `data` into a numeric array: float32 unless told otherwise or given float64 numpy data."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        if dtype is not None:
            return np.array(data, dtype=dtype)
        array = np.array(data)
    except (ValueError, TypeError) as error:
        raise DTypeError(f"Tensor: cannot make a numeric array from {type(data).__name__}: "
                         f"{error}\n  called at {format_location(user_location())}") from error
    if array.dtype.kind not in "biuf":
        raise DTypeError(f"Tensor: data of dtype {array.dtype} is not numeric "
                         f"(got {type(data).__name__} {str(data)[:40]!r})\n"
                         f"  called at {format_location(user_location())}")
    if array.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        array = array.astype(np.float32)
    return array


class Tensor:
    """A node of the graph: `data` (numpy), `grad` (numpy of the same shape, or None).

    `grad_fn` is the Function that made this tensor (None for leaves: data you made, and
    parameters). `created_at` is the (file, line) of the user's code that made it, and
    `scope` the names of the `minigrad.scope` blocks open then. `version` counts the in-place
    writes made through the tensor (see `version`).
    """
    __slots__ = ("_data", "_version", "grad", "requires_grad", "grad_fn", "name", "created_at", "scope",
                 "_hooks", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray * Tensor -> Tensor

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self._data = as_array(data, dtype)
        self._version = 0
        self.created_at = user_location()
        self.scope = MODES.scope
        self.name = name
        self.grad = None
        self.grad_fn = None
        self._hooks = None
        if requires_grad and self.data.dtype.kind != "f":
            raise DTypeError(f"Tensor: only float tensors can require grad; "
                             f"{describe(self)} has integer/bool dtype")
        self.requires_grad = bool(requires_grad)

    @classmethod
    def _make(cls, data, grad_fn, requires_grad, created_at) -> "Tensor":
        """The fast constructor ops use: no copy, no checks."""
        out = object.__new__(cls)
        out.scope = MODES.scope
        out._data = data
        out._version = 0
        out.grad = None
        out.requires_grad = requires_grad
        out.grad_fn = grad_fn
        out.name = None
        out.created_at = created_at
        out._hooks = None
        return out

    # --- what it is ---------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value) -> None:
        """Replacing the array (also `p.data -= lr * g`, which assigns the result back) is an
        in-place write: the version goes up, so a Function that saved the old values notices."""
        self._data = value if type(value) is np.ndarray else as_array(value, self._data.dtype)
        self._version += 1

    @property
    def version(self) -> int:
        """How many in-place writes went through this tensor: `.data = …`, `t[i] = …`, the
        `*_()` methods and optimiser steps (PyTorch's `_version`). A Function notes the version of
        each tensor it saves, and backward refuses to use a tensor written since.

        Writing into the array itself (`t.data[i] = …`) is plain numpy and is not counted, as
        in PyTorch, where `.data` is the escape hatch outside autograd; write `t[i] = …` instead.
        """
        return self._version

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def source(self) -> str:
        """'file.py:line' of the user's code that created this tensor."""
        return format_location(self.created_at)

    def named(self, name: str) -> "Tensor":
        """Give this tensor a name for graphs, reprs and errors; returns self for chaining.

        Inside `minigrad.scope(..., step=t)`, a `t` in angle brackets is the step: "s<t-1>"
        names it "s<2>" at step 3 (see `modes.step_name`).
        """
        self.name = step_name(name)
        if self.grad_fn is not None:
            self.grad_fn.output_name = self.name  # what repr(grad_fn) shows in a debugger
        return self

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors have an item; {describe(self)}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> "Tensor":
        """The same data (shared, not copied) cut out of the graph; a write through it counts
        in this tensor's version too, since it changes the same values."""
        out = Detached._make(self._data, None, False, user_location())
        out._base = self._base if type(self) is Detached else self
        return out

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        parts = [np.array2string(self.data, precision=4, threshold=12, edgeitems=2,
                                 separator=", ").replace("\n", "")]
        if self.name:
            parts.append(f"name={self.name!r}")
        parts.append(f"shape={self.shape}")
        parts.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            parts.append(f"grad_fn={type(self.grad_fn).__name__}")
        elif self.requires_grad:
            parts.append("requires_grad=True")
        if self.grad is not None:
            parts.append("grad=" + np.array2string(
                self.grad, precision=4, threshold=12, edgeitems=2, separator=", ").replace("\n", ""))
        return f"Tensor({', '.join(parts)})"

    # --- autograd -------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Gradients of this tensor with respect to every tensor of its graph (see autograd.backward)."""
        autograd.backward(self, grad)

    def zero_grad(self) -> None:
        self.grad = None

    def register_hook(self, hook) -> "RemovableHandle":
        """Call `hook(grad)` when this tensor's gradient is complete; a returned array replaces it."""
        if not self.requires_grad:
            raise GradError(f"register_hook: {describe(self)} does not require grad")
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    # --- operators: sugar over the ops ------------------------------------------------
    def __add__(self, other): return ops.Add.apply(self, other)
    def __radd__(self, other): return ops.Add.apply(other, self)
    def __sub__(self, other): return ops.Sub.apply(self, other)
    def __rsub__(self, other): return ops.Sub.apply(other, self)
    def __mul__(self, other): return ops.Mul.apply(self, other)
    def __rmul__(self, other): return ops.Mul.apply(other, self)
    def __truediv__(self, other): return ops.Div.apply(self, other)
    def __rtruediv__(self, other): return ops.Div.apply(other, self)
    def __neg__(self): return ops.Neg.apply(self)
    def __matmul__(self, other): return ops.MatMul.apply(self, other)
    def __rmatmul__(self, other): return ops.MatMul.apply(other, self)

    def __pow__(self, exponent):
        if isinstance(exponent, (Tensor, np.ndarray)):
            return ops.TensorPow.apply(self, exponent)
        return ops.Pow.apply(self, exponent=_number("Pow", exponent, self))

    def __rpow__(self, base):
        """base ** tensor, as 2.0 ** x: the base is a constant of the graph."""
        if not isinstance(base, np.ndarray):
            base = _number("Pow", base, self)
        return ops.TensorPow.apply(base, self)

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_plain_index(index))

    # --- in-place writes: not differentiated, counted in `version` ---------------------
    def __setitem__(self, index, value):
        def write(array): array[_plain_index(index)] = getattr(value, "data", value)
        self._write_in_place("setitem", write)

    def copy_(self, source) -> "Tensor":
        def write(array): array[...] = getattr(source, "data", source)
        return self._write_in_place("copy_", write)

    def fill_(self, value: float) -> "Tensor":
        return self._write_in_place("fill_", lambda array: array.fill(value))

    def zero_(self) -> "Tensor":
        return self._write_in_place("zero_", lambda array: array.fill(0))

    def add_(self, other) -> "Tensor": return self._update("add_", np.add, other)
    def sub_(self, other) -> "Tensor": return self._update("sub_", np.subtract, other)
    def mul_(self, other) -> "Tensor": return self._update("mul_", np.multiply, other)
    def div_(self, other) -> "Tensor": return self._update("div_", np.divide, other)

    def _update(self, op: str, ufunc, other) -> "Tensor":
        other = getattr(other, "data", other)
        return self._write_in_place(op, lambda array: ufunc(array, other, out=array))

    def _write_in_place(self, op: str, write) -> "Tensor":
        """Change this tensor's values in place and count the write in its version."""
        if self.requires_grad and MODES.grad_enabled:
            raise GradError(
                f"{op}: {describe(self)} requires grad, and an in-place write is not differentiated; "
                f"write it inside `with minigrad.no_grad():` (as an optimiser step does), or compute "
                f"a new tensor instead\n  called at {format_location(user_location())}")
        try:
            write(self._data)
        except (ValueError, TypeError, IndexError) as error:
            raise op_error(op, str(error), (self,)) from error
        self._version += 1
        return self

    def exp(self): return ops.Exp.apply(self)
    def log(self): return ops.Log.apply(self)
    def tanh(self): return ops.Tanh.apply(self)
    def sigmoid(self): return ops.Sigmoid.apply(self)
    def relu(self): return ops.ReLU.apply(self)

    def sum(self, axis=None, keepdims=False): return ops.Sum.apply(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return ops.Mean.apply(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None) -> "Tensor":
        """Indices of the maxima: an integer tensor, outside the graph."""
        return Tensor._make(np.asarray(self.data.argmax(axis=axis)), None, False, user_location())

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.Reshape.apply(self, shape=tuple(shape))

    def broadcast_to(self, *shape):
        """Repeat along new or size-1 axes, as numpy.broadcast_to (backward sums the repeats)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.BroadcastTo.apply(self, shape=tuple(shape))

    def permute(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return ops.Transpose.apply(self, axes=tuple(axes))

    def transpose(self, dim0: int = -2, dim1: int = -1):
        """Swap two axes (the last two by default, as batched matmul wants)."""
        if not (-self.ndim <= dim0 < self.ndim and -self.ndim <= dim1 < self.ndim):
            raise op_error("Transpose", f"cannot swap axes {dim0} and {dim1} of a tensor of "
                           f"shape {self.shape}", (self,))
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return ops.Transpose.apply(self, axes=tuple(axes))

    @property
    def T(self):
        """All axes reversed, as numpy's .T."""
        return ops.Transpose.apply(self, axes=tuple(reversed(range(self.ndim))))


class Detached(Tensor):
    """What `detach()` returns: a constant sharing its array with `_base`, the tensor it came from."""
    __slots__ = ("_base",)

    def _write_in_place(self, op: str, write) -> "Tensor":
        super()._write_in_place(op, write)
        self._base._version += 1  # the same values changed under the tensor it was detached from
        return self


class RemovableHandle:
    """Returned by register_hook; `.remove()` takes the hook away again."""
    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


def _number(op: str, value, tensor: Tensor) -> float:
    """A Python or numpy number, as a float; anything else is refused (not parsed: "2" is no number)."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    raise op_error(op, f"expected a number or a Tensor, not {type(value).__name__} {str(value)[:40]!r}",
                   (tensor,), error_type=DTypeError)


def _plain_index(index):
    """Replace tensors inside an index by their arrays (an index is data, never differentiated)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        for i in index:  # a loop that copies only when it must: x[:, t] runs for every step
            if isinstance(i, Tensor):
                return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


from minigrad import ops  # noqa: E402  (the knot: ops import Function, which makes Tensors)
