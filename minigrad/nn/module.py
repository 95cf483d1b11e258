"""Module and Parameter: a model is a tree of Modules whose leaves hold Parameters.

Assigning a Parameter or a Module to an attribute registers it (as in PyTorch), and names the
parameter after its path ("decoder.cell.weight"), so graphs and errors say which one it is.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from minigrad.errors import MinigradError
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that a Module owns and an optimiser updates: always float, always requires grad."""
    __slots__ = ()

    def __init__(self, data, name: str | None = None):
        array = np.asarray(data)
        super().__init__(array, requires_grad=True,
                         dtype=array.dtype if array.dtype.kind == "f" else np.float32, name=name)


class StateDictError(MinigradError, KeyError):
    """load_state_dict got names or shapes that do not fit the module."""

    def __str__(self):
        return str(self.args[0])


class Module:
    """Base class of layers and models. Subclasses call `super().__init__()` first, assign
    Parameters and sub-Modules as attributes, and define `forward`; calling the module calls it.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_path", "")  # where this module sits in the model that holds it
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning {name!r}")
        path = f"{self._path}.{name}" if self._path else name
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._parameters[name] = value  # a replaced parameter keeps its place in the order
            value.name = path
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
            value._place_at(path)
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def _place_at(self, path: str) -> None:
        """Record this module's path in its model and name every parameter below it after its path."""
        for sub_path, module in self.named_modules(prefix=path):
            object.__setattr__(module, "_path", sub_path)
            for name, parameter in module._parameters.items():
                parameter.name = f"{sub_path}.{name}"

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- the tree --------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every module below it (each once), with dotted paths ("" for this one)."""
        stack, seen = [(prefix, self)], set()
        while stack:
            path, module = stack.pop()
            if module in seen:
                continue
            seen.add(module)
            yield path, module
            children = [(f"{path}.{n}" if path else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        return (module for _, module in self.named_modules())

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted path, parameter) for every parameter, each shared one once."""
        seen = set()
        for path, module in self.named_modules():
            for name, parameter in module._parameters.items():
                if parameter not in seen:
                    seen.add(parameter)
                    yield (f"{path}.{name}" if path else name), parameter

    def parameters(self) -> Iterator[Parameter]:
        return (parameter for _, parameter in self.named_parameters())

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # --- modes and gradients -------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.grad = None

    # --- state -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's array, by dotted path."""
        return {name: parameter.data.copy() for name, parameter in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters of the same names, checking names, shapes and values first.

        Nothing is changed unless everything fits (a bad value after good ones leaves every
        parameter as it was); the error lists every misfit at once.
        """
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise StateDictError(f"load_state_dict into {type(self).__name__}: expected a mapping of "
                                 f"names to arrays, got {type(state).__name__}")
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(map(str, set(state) - set(own)))
        problems, values = [], {}
        for name, parameter in own.items():
            if name not in state:
                continue
            try:
                value = state[name]
                value = np.asarray(value if isinstance(value, np.ndarray) else getattr(value, "data", value))
            except (TypeError, ValueError) as error:  # a ragged list, an object numpy cannot read
                problems.append(f"{name}: not an array ({error})")
                continue
            if value.shape != parameter.shape:
                problems.append(f"{name}: file has {value.shape}, model has {parameter.shape}")
            elif value.dtype.kind not in "biuf" or value.dtype.fields is not None \
                    or not np.can_cast(value.dtype, parameter.dtype, casting="same_kind"):
                problems.append(f"{name}: values of dtype {value.dtype} cannot become {parameter.dtype}")
            else:
                values[name] = value
        problems += ([f"missing from the state dict: {missing}"] if strict and missing else []) \
            + ([f"not in {type(self).__name__}: {unexpected}"] if strict and unexpected else [])
        if problems:
            raise StateDictError(f"load_state_dict into {type(self).__name__}: "
                                 + "; ".join(problems))
        for name, value in values.items():  # every value has been checked: these copies cannot fail
            own[name].data[...] = value

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""
