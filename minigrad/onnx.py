"""Export a recorded forward pass as an ONNX model, checked against ONNX Runtime before it is written.

    import minigrad.onnx
    minigrad.onnx.export(model, (x,), "model.onnx", input_names=["x"], output_names=["y"])

One forward pass is traced (and a second one with other values, and with `dynamic_batch` one
row more, to tell what grows with the batch and what would wrongly be a constant) and the graph it records, the one `draw` and `trace`
walk, is written node for node: each Function becomes ONNX operators of the same maths, each
parameter an initializer named by its module path ("encoder.forward_cell.weight_h"), each named
tensor a value of the same name ("alpha<1,·>", "c<1>"), so Netron shows the seed's notation.
A Function defined outside minigrad gives its ONNX form with a method
`to_onnx(self, graph, inputs) -> value name`, written with `Graph.op` and `Graph.constant`
(attention/fused_lstm.py does).

Needs the optional extra (pip install "minigrad[onnx]"): `onnx` to build and check the model,
and `onnxruntime`, when installed, to run it on the example inputs before anything is written.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from minigrad.errors import MinigradError, describe, format_location
from minigrad.modes import enable_grad
from minigrad.nn.module import Module, Parameter
from minigrad.order import topological_order
from minigrad.tensor import Tensor

OPSET = 18  # ReduceMax/ReduceMean take their axes as an input from 18 on; ONNX Runtime ≥ 1.14 runs it
TOLERANCE = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
INT64_MAX, INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


class ExportError(MinigradError, ValueError):
    """The graph cannot be written as ONNX, or the written model does not compute what minigrad does."""


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("minigrad.onnx.export needs the onnx package: pip install 'minigrad[onnx]' "
                          "(or pip install onnx onnxruntime)") from None
    return onnx


# --- tracing ------------------------------------------------------------------------------

@dataclass
class _Trace:
    """One forward pass: what was passed in, the outputs, and every tensor of the graph in order."""
    passed: list        # per input: the Tensor made for a float input, the index array for an integer one
    arrays: list        # per input: its numpy array
    outputs: list
    tensors: list


def _trace(fn, arrays: list, given: list) -> _Trace:
    passed = []
    for array, original in zip(arrays, given):
        if array.dtype.kind == "f":  # requires grad, so that the ops reading it record the graph
            passed.append(Tensor(array, requires_grad=True, dtype=array.dtype))
        else:  # integers are indices: the graph holds their array (GetItem.index), found by its values
            passed.append(Tensor(array, dtype=array.dtype) if isinstance(original, Tensor) else array)
    with enable_grad():
        result = fn(*passed)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    for i, output in enumerate(outputs):
        if not isinstance(output, Tensor):
            raise ExportError(f"export: output {i} of the traced function is a {type(output).__name__}, "
                              "not a Tensor; return a Tensor or a tuple of Tensors")
    tensors = list(dict.fromkeys(t for out in outputs for t in topological_order(out, all_inputs=True)))
    return _Trace(passed, arrays, outputs, tensors)


def _other_inputs(arrays: list, grow: bool) -> list:
    """Inputs for the second trace: other values (floats mixed with their neighbours, indices
    shifted), and with `grow` one more row, so that whatever depends on the values or on the
    batch size shows as a difference between the traces."""
    others = []
    for array in arrays:
        base = np.concatenate([array, array[:1]]) if grow else array.copy()
        shifted = np.roll(base.reshape(-1), 1).reshape(base.shape)
        others.append((0.75 * base + 0.25 * shifted).astype(base.dtype) if base.dtype.kind == "f" else shifted)
    return others


def _op_name(tensor) -> str:
    return type(tensor.grad_fn).__name__ if tensor.grad_fn is not None else "leaf"


def _matching(first: _Trace, second: _Trace) -> None:
    """The two traces must record the same graph: position by position, the same op."""
    if len(first.tensors) != len(second.tensors) or any(
            _op_name(a) != _op_name(b) for a, b in zip(first.tensors, second.tensors)):
        grew = bool(first.arrays) and first.arrays[0].shape != second.arrays[0].shape
        raise ExportError(
            f"export: the recorded graph changes with the inputs (traced twice, with other values"
            f"{' and one row more' if grew else ''}: {len(first.tensors)} and {len(second.tensors)} tensors). "
            "Python control flow that reads tensor values cannot be exported as one graph"
            + ("; a loop over the batch can, with dynamic_batch=False" if grew else ""))


# --- the graph being written --------------------------------------------------------------

class Graph:
    """The ONNX graph a converter writes into, in minigrad's value names.

    `op(op_type, *inputs, outputs=1, **attributes)` appends a node and returns its output's value
    name (a list of names for `outputs` > 1); `constant(array)` adds an initializer and returns
    its name; `shape(dims)` gives an int64 shape value for dimensions that may grow with the batch.
    """

    def __init__(self, onnx):
        self._onnx = onnx
        self.nodes, self.initializers, self.value_info = [], [], []
        self.used = set()
        self.batch = None       # the value holding [batch size], made when first needed
        self.batch_source = None
        self.location = ""      # the user's line of the tensor being converted, on each node it makes
        self.scope = ""
        self._integers = {}
        self._suffixes = {}  # hint → the next number to try, so that naming stays linear

    def fresh(self, hint: str) -> str:
        """A value name not used yet: `hint` itself when free, else hint_2, hint_3, …"""
        name, number = hint, self._suffixes.get(hint, 2)
        while name in self.used or not name:
            name, number = f"{hint}_{number}", number + 1
        self._suffixes[hint] = number
        self.used.add(name)
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attributes):
        names = [self.fresh(f"{self.scope}{op_type}") for _ in range(outputs)]
        self.add_node(op_type, list(inputs), names, **attributes)
        return names[0] if outputs == 1 else names

    def add_node(self, op_type: str, inputs: list, outputs: list, **attributes) -> None:
        """A node with the given value names; node names are numbered, so they never collide."""
        self.nodes.append(self._onnx.helper.make_node(
            op_type, inputs, outputs, name=f"{self.scope}{op_type}#{len(self.nodes)}",
            doc_string=self.location, **attributes))

    def constant(self, array, name: str | None = None) -> str:
        name = self.fresh(name or f"{self.scope}constant")
        self.initializers.append(self._onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def integers(self, values) -> str:
        """An int64 constant (axes, shapes, indices), made once per value."""
        array = np.asarray(values, dtype=np.int64)
        key = (array.shape, array.tobytes())
        if key not in self._integers:
            self._integers[key] = self.constant(array, "ints")
        return self._integers[key]

    def shape(self, dims, reshape: bool = False) -> str:
        """An int64 1-D value for `dims`: ints, and (k, c) for k·batch + c. For `reshape`, one
        dimension that grows with the batch is written -1 (Reshape infers it)."""
        dynamic = [d for d in dims if not isinstance(d, int)]
        if not dynamic:
            return self.integers(dims)
        if reshape and len(dynamic) == 1 and 0 not in dims:
            return self.integers([-1 if not isinstance(d, int) else d for d in dims])
        pieces = [self.integers([d]) if isinstance(d, int) else self.batch_times(*d) for d in dims]
        return self.op("Concat", *pieces, axis=0)

    def batch_times(self, k: int, c: int) -> str:
        """[k·batch + c], from the batch size of the first input."""
        if self.batch is None:
            self.batch = self.op("Shape", self.batch_source, start=0, end=1)
        value = self.batch if k == 1 else self.op("Mul", self.batch, self.integers([k]))
        return value if c == 0 else self.op("Add", value, self.integers([c]))


@dataclass
class Node:
    """What a converter gets: the Function (and its twin from the second trace), the value names
    of its inputs, and the shapes of its output (dims: ints, or (k, c) for k·batch + c)."""
    fn: object
    fn2: object
    inputs: list
    output: Tensor
    output2: Tensor
    dims: tuple
    index_value: object  # index_value(array, array2) -> value name of an index array

    def cast_inputs(self, graph: Graph) -> list:
        """The inputs cast to the output's dtype where numpy promoted them (float32 + float64)."""
        onnx, dtype = graph._onnx, self.output.dtype
        names = []
        for name, tensor in zip(self.inputs, self.fn.inputs):
            if tensor.dtype != dtype:
                name = graph.op("Cast", name, to=onnx.helper.np_dtype_to_tensor_dtype(dtype))
            names.append(name)
        return names


# --- converters of minigrad's primitives ----------------------------------------------------

def _same(op_type):
    def convert(g, node):
        return g.op(op_type, *node.cast_inputs(g))
    return convert


def _pow(g, node):
    exponent = g.constant(np.asarray(node.fn.exponent, dtype=node.output.dtype))
    return g.op("Pow", node.inputs[0], exponent)


def _reduce(op_type):
    def convert(g, node):
        axes = g.integers(list(node.fn.axes))
        return g.op(op_type, node.inputs[0], axes, keepdims=int(bool(node.fn.keepdims)), noop_with_empty_axes=1)
    return convert


def _reshape(g, node):
    shape = g.shape(node.dims, reshape=True)
    return g.op("Reshape", node.inputs[0], shape, **({"allowzero": 1} if 0 in node.dims else {}))


def _broadcast_to(g, node):
    return g.op("Expand", node.inputs[0], g.shape(node.dims))


def _transpose(g, node):
    ndim = node.output.ndim
    return g.op("Transpose", node.inputs[0], perm=[ax % ndim for ax in node.fn.axes])


def _concat(g, node):
    return g.op("Concat", *node.cast_inputs(g), axis=node.fn.axis % node.output.ndim)


def _stack(g, node):
    axis = node.fn.axis % node.output.ndim
    axes = g.integers([axis])
    return g.op("Concat", *[g.op("Unsqueeze", x, axes) for x in node.cast_inputs(g)], axis=axis)


def _softmax(op_type):
    def convert(g, node):
        return g.op(op_type, node.inputs[0], axis=node.fn.axis % node.output.ndim)
    return convert


def _gather(g, node):
    """take_along_axis is GatherElements, once the index has the output's shape (numpy broadcasts it)."""
    index = np.broadcast_to(node.fn.index, node.output.shape)
    index2 = np.broadcast_to(node.fn2.index, node.output2.shape)
    return g.op("GatherElements", node.inputs[0], node.index_value(index, index2),
                axis=node.fn.axis % node.output.ndim)


def _getitem(g, node):
    return _Indexing(g, node).convert()


class _Indexing:
    """x[index] with numpy's rules: slices → Slice, ints → Gather, one integer array → Gather,
    several → GatherND, None → Unsqueeze."""

    def __init__(self, g: Graph, node: Node):
        self.g, self.node = g, node
        ndim = node.fn.inputs[0].ndim
        self.items = self._expanded(node.fn.index, ndim)
        items2 = self._expanded(node.fn2.index, ndim)
        for a, b in zip(self.items, items2):
            if isinstance(a, np.ndarray) != isinstance(b, np.ndarray) or (
                    not isinstance(a, np.ndarray) and a != b):
                raise ExportError(f"export: the index {node.fn.index!r} of GetItem changes with the inputs; "
                                  f"{describe(node.output)}")
        self.items2 = items2

    @staticmethod
    def _expanded(index, ndim: int) -> list:
        items = list(index) if isinstance(index, tuple) else [index]
        flat = []
        for item in items:
            if isinstance(item, list):
                item = np.asarray(item)
            if isinstance(item, np.ndarray) and item.dtype == bool:
                flat.extend(np.nonzero(item))  # a mask is the integer arrays of its True places
            elif isinstance(item, (np.integer, np.ndarray)) and np.ndim(item) == 0:
                flat.append(int(item))
            else:
                flat.append(item)
        consumed = sum(1 for i in flat if i is not None and i is not Ellipsis)
        ellipsis = [k for k, i in enumerate(flat) if i is Ellipsis]
        if ellipsis:
            flat[ellipsis[0]:ellipsis[0] + 1] = [slice(None)] * (ndim - consumed)
            return flat
        return flat + [slice(None)] * (ndim - consumed)

    def convert(self) -> str:
        g, items = self.g, self.items
        arrays = [k for k, i in enumerate(items) if isinstance(i, np.ndarray)]
        if arrays:  # numpy treats ints beside arrays as arrays too
            items = [np.asarray(i) if isinstance(i, int) else i for i in items]
            self.items2 = [np.asarray(i) if isinstance(i, int) else i for i in self.items2]
            arrays = [k for k, i in enumerate(items) if isinstance(i, np.ndarray)]
        axis_of = {}  # item position → input axis
        axis = 0
        for k, item in enumerate(items):
            if item is not None:
                axis_of[k] = axis
                axis += 1
        x = self._slices(self.node.inputs[0], items, axis_of)
        if not arrays:
            for k in sorted((k for k, i in enumerate(items) if isinstance(i, int)), reverse=True):
                x = g.op("Gather", x, g.integers(items[k]), axis=axis_of[k])
            kept = [i for i in items if not isinstance(i, int)]
        else:
            x = self._advanced(x, items, arrays, axis_of)
            kept = self._layout_with_arrays(items, arrays)
        new_axes = [k for k, i in enumerate(kept) if i is None]
        if new_axes:
            x = g.op("Unsqueeze", x, g.integers(new_axes))
        return x

    def _slices(self, x, items, axis_of):
        starts, ends, axes, steps = [], [], [], []
        for k, item in enumerate(items):
            if isinstance(item, slice) and item != slice(None):
                step = 1 if item.step is None else item.step
                starts.append(item.start if item.start is not None else (0 if step > 0 else INT64_MAX))
                ends.append(item.stop if item.stop is not None else (INT64_MAX if step > 0 else INT64_MIN))
                axes.append(axis_of[k])
                steps.append(step)
        if not axes:
            return x
        g = self.g
        return g.op("Slice", x, g.integers(starts), g.integers(ends), g.integers(axes), g.integers(steps))

    def _advanced(self, x, items, arrays, axis_of):
        g = self.g
        if len(arrays) == 1:
            k = arrays[0]
            return g.op("Gather", x, self.node.index_value(items[k], self.items2[k]), axis=axis_of[k])
        for k in arrays:
            if not np.array_equal(items[k], self.items2[k]) or items[k].shape != self.items2[k].shape:
                raise ExportError("export: indexing with several integer arrays that change with the inputs "
                                  f"is not supported; {describe(self.node.output)}")
        ndim = self.node.fn.inputs[0].ndim
        indexed = [axis_of[k] for k in arrays]
        rest = [ax for ax in range(ndim) if ax not in indexed]
        if indexed != list(range(len(indexed))):
            x = g.op("Transpose", x, perm=indexed + rest)
        picked = np.stack(np.broadcast_arrays(*[items[k] for k in arrays]), axis=-1).astype(np.int64)
        x = g.op("GatherND", x, g.constant(picked))
        if arrays == list(range(arrays[0], arrays[0] + len(arrays))) and arrays[0] > 0:
            # adjacent arrays: numpy leaves their dimensions in place, after the axes before them
            width = picked.ndim - 1
            before = sum(1 for k in range(arrays[0]) if items[k] is not None)
            perm = list(range(width, width + before)) + list(range(width)) + \
                list(range(width + before, width + len(rest)))
            x = g.op("Transpose", x, perm=perm)
        return x

    @staticmethod
    def _layout_with_arrays(items, arrays) -> list:
        """The output's axes in order: None where a new axis goes, "array" for the arrays' block."""
        adjacent = arrays == list(range(arrays[0], arrays[0] + len(arrays)))
        shape = np.broadcast_shapes(*[items[k].shape for k in arrays])
        block = ["array"] * len(shape)
        kept = [] if adjacent else list(block)
        for k, item in enumerate(items):
            if k == arrays[0] and adjacent:
                kept += block
            elif not isinstance(item, np.ndarray):
                kept.append(item)
        return kept


CONVERTERS = {
    "Add": _same("Add"), "Sub": _same("Sub"), "Mul": _same("Mul"), "Div": _same("Div"),
    "Neg": _same("Neg"), "Exp": _same("Exp"), "Log": _same("Log"), "Tanh": _same("Tanh"),
    "Sigmoid": _same("Sigmoid"), "ReLU": _same("Relu"), "MatMul": _same("MatMul"), "Pow": _pow,
    "TensorPow": _same("Pow"),
    "Sum": _reduce("ReduceSum"), "Mean": _reduce("ReduceMean"), "Max": _reduce("ReduceMax"),
    "Reshape": _reshape, "BroadcastTo": _broadcast_to, "Transpose": _transpose, "GetItem": _getitem,
    "Gather": _gather, "Concat": _concat, "Stack": _stack,
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
}


# --- export ---------------------------------------------------------------------------------

def export(fn_or_module, example_inputs, path, input_names=None, output_names=None,
           dynamic_batch: bool = True, tolerance: float | None = None):
    """Trace `fn_or_module(*example_inputs)` and write it to `path` as an ONNX model; returns the ModelProto.

    example_inputs: an array or Tensor, or a tuple of them. Float inputs become graph inputs;
    integer inputs too, where the graph reads them as indices (a token lookup). With
    `dynamic_batch`, axis 0 of every input and output is the dimension "batch".
    Before writing, `onnx.checker` checks the model and, when onnxruntime is installed, the model
    is run on the example inputs and on a second trace's (other values; with `dynamic_batch`, one
    row more), and must give
    minigrad's outputs to `tolerance` (by dtype: float32 1e-5, float64 1e-10); a mismatch is an
    ExportError and nothing is written.
    """
    onnx = _import_onnx()
    given = list(example_inputs) if isinstance(example_inputs, (tuple, list)) else [example_inputs]
    arrays = [np.asarray(getattr(x, "data", x)) for x in given]
    for i, array in enumerate(arrays):
        if array.dtype.kind not in "biuf":
            raise ExportError(f"export: example input {i} has dtype {array.dtype}, not a number")
    if dynamic_batch:
        sizes = {array.shape[0] if array.ndim else None for array in arrays}
        if None in sizes or len(sizes) != 1:
            raise ExportError("export: dynamic_batch makes axis 0 of every input the batch, but the example "
                              f"inputs have shapes {[a.shape for a in arrays]}; give inputs of one batch size "
                              "or export with dynamic_batch=False")
    first = _trace(fn_or_module, arrays, given)
    second = _trace(fn_or_module, _other_inputs(arrays, dynamic_batch), given)
    _matching(first, second)
    module = fn_or_module if isinstance(fn_or_module, Module) else getattr(fn_or_module, "__self__", None)
    names = _Names(given, input_names, output_names, len(first.outputs),
                   module if isinstance(module, Module) else None)
    builder = _Builder(onnx, first, second, names, dynamic_batch)
    model = builder.model()
    _check(onnx, model, [first, second], builder.value, tolerance)
    temporary = os.fspath(path) + ".partial"
    onnx.save(model, temporary)
    os.replace(temporary, path)
    return model


class _Names:
    """The names the model's inputs, outputs and parameters get."""

    def __init__(self, given, input_names, output_names, outputs: int, module):
        self.inputs = list(input_names) if input_names is not None else [
            getattr(x, "name", None) or f"input_{i}" for i, x in enumerate(given)]
        if len(self.inputs) != len(given):
            raise ExportError(f"export: {len(self.inputs)} input_names for {len(given)} example inputs")
        self.outputs = list(output_names) if output_names is not None else None
        if self.outputs is not None and len(self.outputs) != outputs:
            raise ExportError(f"export: {len(self.outputs)} output_names for {outputs} outputs")
        if len(set(self.inputs + (self.outputs or []))) != len(self.inputs) + len(self.outputs or []):
            raise ExportError(f"export: input and output names must differ: {self.inputs}, {self.outputs}")
        self.parameters = {p: name for name, p in module.named_parameters()} if module is not None else {}


class _Builder:
    """Walks the traced graph in topological order and writes every tensor as ONNX values."""

    def __init__(self, onnx, first: _Trace, second: _Trace, names: _Names, dynamic: bool):
        self.onnx, self.first, self.second, self.names, self.dynamic = onnx, first, second, names, dynamic
        self.g = Graph(onnx)
        self.value = {}  # tensor (first trace) → its value name
        self.twin = dict(zip(first.tensors, second.tensors))
        self.wanted = {}  # output tensor → the output name its value gets
        self.batch1 = len(first.arrays[0]) if first.arrays and dynamic else 0
        self.transposed = {}  # input number → its value read transposed, as int64: one Transpose for every reader

    def dims(self, shape1: tuple, shape2: tuple) -> tuple:
        growth = len(self.second.arrays[0]) - self.batch1 if self.dynamic else 0
        dims = []
        for d1, d2 in zip(shape1, shape2):
            if d1 != d2 and not growth:
                raise ExportError(f"export: a shape of the graph depends on the input values ({shape1} and {shape2})")
            k = (d2 - d1) // growth if growth else 0
            dims.append(d1 if d1 == d2 else (k, d1 - k * self.batch1))
        return tuple(dims)

    def value_info(self, name: str, dtype, dims):
        shape = [d if isinstance(d, int) else _dim_name(*d) for d in dims]
        return self.onnx.helper.make_tensor_value_info(
            name, self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape)

    def model(self):
        onnx, g = self.onnx, self.g
        graph_inputs = []
        for i, (passed, array) in enumerate(zip(self.first.passed, self.first.arrays)):
            name = g.fresh(self.names.inputs[i])
            if name != self.names.inputs[i]:
                raise ExportError(f"export: input name {self.names.inputs[i]!r} is used twice")
            if isinstance(passed, Tensor):
                self.value[passed] = name
            dims = self.dims(array.shape, self.second.arrays[i].shape)
            graph_inputs.append(self.value_info(name, array.dtype, dims))
        self.input_values = [vi.name for vi in graph_inputs]
        g.batch_source = self.input_values[0] if self.input_values else None
        wanted = self.names.outputs or [t.name or f"output_{i}" for i, t in enumerate(self.first.outputs)]
        for tensor, name in zip(self.first.outputs, wanted):
            if tensor.grad_fn is not None and tensor not in self.wanted and name not in g.used:
                self.wanted[tensor] = name
            g.used.add(name)
        gemms, skipped = self._gemm_fusions()
        for tensor in self.first.tensors:
            if tensor in self.value or id(tensor) in skipped:
                continue
            g.location = format_location(tensor.created_at)
            g.scope = "".join(f"{s}/" for s in tensor.scope)
            if tensor.grad_fn is None:
                self.value[tensor] = self._leaf(tensor)
            else:
                self.value[tensor] = self._node(tensor, gemms.get(id(tensor)))
                twin = self.twin[tensor]
                g.value_info.append(self.value_info(self.value[tensor], tensor.dtype,
                                                    self.dims(tensor.shape, twin.shape)))
        graph_outputs = []
        for output, name in zip(self.first.outputs, wanted):
            if self.value[output] != name:  # an input, a constant, or an output listed twice
                g.add_node("Identity", [self.value[output]], [name])
            graph_outputs.append(self.value_info(name, output.dtype,
                                                 self.dims(output.shape, self.twin[output].shape)))
        outputs = {o.name for o in graph_outputs}
        read = {name for node in g.nodes for name in node.input} | outputs
        graph = onnx.helper.make_graph(g.nodes, "minigrad", graph_inputs, graph_outputs,
                                       # a Function may skip a weight (a product with a zero first state)
                                       initializer=[i for i in g.initializers if i.name in read],
                                       value_info=[v for v in g.value_info if v.name not in outputs])
        opsets = [onnx.helper.make_opsetid("", OPSET)]
        return onnx.helper.make_model(graph, opset_imports=opsets, producer_name="minigrad",
                                      ir_version=onnx.helper.find_min_ir_version_for(opsets))

    def _leaf(self, tensor) -> str:
        """A parameter becomes an initializer under its module path; any other leaf a constant,
        repeated along the batch when it grows with it (an RNN's zero initial state)."""
        g = self.g
        if isinstance(tensor, Parameter) or (tensor.requires_grad and self.twin[tensor] is tensor):
            name = self.names.parameters.get(tensor) or tensor.name or "parameter"
            return g.constant(tensor.data, name)
        twin = self.twin[tensor]
        dims = self.dims(tensor.shape, twin.shape)
        if all(isinstance(d, int) for d in dims):
            if not np.array_equal(tensor.data, twin.data):
                raise ExportError("export: a tensor the graph holds as a constant changes with the inputs: "
                                  f"{describe(tensor)}. Was it made outside the graph (detach(), .data, "
                                  "numpy)? Compute it from the inputs with minigrad ops")
            return g.constant(tensor.data, tensor.name)
        growing = tuple(ax for ax, d in enumerate(dims) if not isinstance(d, int))
        row = tensor.data[tuple(slice(0, 1) if ax in growing else slice(None) for ax in range(tensor.ndim))]
        if not all(np.array_equal(np.broadcast_to(row, t.shape), t.data) for t in (tensor, twin)):
            raise ExportError("export: a tensor the graph holds as a constant grows with the batch and differs "
                              f"from row to row: {describe(tensor)}. Was it made outside the graph (detach(), "
                              ".data, numpy)? Compute it from the inputs with minigrad ops, or pass it as an input")
        value = g.constant(row, f"{tensor.name}/row" if tensor.name else None)
        return self._named(g.op("Expand", value, g.shape(dims)), tensor, len(g.nodes) - 1)

    def _node(self, tensor, gemm) -> str:
        g, fn = self.g, tensor.grad_fn
        start = len(g.nodes)
        if gemm is not None:
            result = g.op("Gemm", *[self.value[t] for t in gemm])
        else:
            node = Node(fn, self.twin[tensor].grad_fn, [self.value[t] for t in fn.inputs], tensor,
                        self.twin[tensor], self.dims(tensor.shape, self.twin[tensor].shape), self._index_value)
            hook = getattr(type(fn), "to_onnx", None)
            if hook is not None:
                result = fn.to_onnx(g, node.inputs)
            elif _is_minigrad(fn, type(fn).__name__) and type(fn).__name__ in CONVERTERS:
                result = CONVERTERS[type(fn).__name__](g, node)
            else:
                raise ExportError(
                    f"export: {type(fn).__name__} has no ONNX mapping; it made {describe(tensor)}.\n"
                    f"  minigrad maps {', '.join(sorted(CONVERTERS))}; a Function of your own gives its "
                    "ONNX form with a method to_onnx(self, graph, inputs) (see minigrad.onnx.Graph)")
        return self._named(result, tensor, start)

    def _named(self, result: str, tensor, start: int) -> str:
        """Give the value the tensor's own name, renaming the output of the node just made."""
        g = self.g
        if tensor in self.wanted:
            name = self.wanted[tensor]
        elif tensor.name:
            g.used.discard(result)
            name = g.fresh(tensor.name)
        else:
            return result
        produced = [node for node in g.nodes[start:] if result in node.output]
        if not produced:  # the op moved nothing (x[:]): an Identity carries the name
            g.used.add(result)
            g.add_node("Identity", [result], [name])
            return name
        for node in g.nodes[start:]:
            for field in (node.input, node.output):
                for k, value in enumerate(field):
                    if value == result:
                        field[k] = name
        return name

    def _gemm_fusions(self) -> tuple:
        """Add(MatMul(x, W), b) of matrices x, W and a bias row b is one Gemm (a Linear layer on a
        batch of rows): ({id of the Add's output: (x, W, b)}, {ids of the MatMul outputs it absorbs})."""
        uses = {}
        for tensor in self.first.tensors:
            for t in getattr(tensor.grad_fn, "inputs", ()):
                uses[id(t)] = uses.get(id(t), 0) + 1
        gemms, absorbed = {}, set()
        for tensor in self.first.tensors:
            if not _is_minigrad(tensor.grad_fn, "Add"):
                continue
            for product, bias in (tensor.grad_fn.inputs, tensor.grad_fn.inputs[::-1]):
                mm = product.grad_fn
                if (_is_minigrad(mm, "MatMul") and uses[id(product)] == 1 and not product.name
                        and not any(product is o for o in self.first.outputs) and all(t.ndim == 2 for t in mm.inputs)
                        and bias.shape in ((product.shape[1],), (1, product.shape[1]))
                        and len({t.dtype for t in (*mm.inputs, bias, tensor)}) == 1):
                    gemms[id(tensor)] = (*mm.inputs, bias)
                    absorbed.add(id(product))
                    break
        return gemms, absorbed

    def _index_value(self, array: np.ndarray, array2: np.ndarray) -> str:
        """An index array of the graph: an integer input when it holds the input's elements (in
        both traces; or the transposed elements of a 2-D input), else a constant, which must then
        not change with the batch."""
        g = self.g
        for i, (a1, a2) in enumerate(zip(self.first.arrays, self.second.arrays)):
            if a1.dtype.kind not in "iu":
                continue
            as_given = _holds(array, a1) and _holds(array2, a2)
            transposed = a1.ndim == 2 and _holds(array, a1.T) and _holds(array2, a2.T)
            if as_given and transposed and min(a1.shape) > 1:
                raise ExportError(
                    f"export: example input {i} (shape {a1.shape}) reads the same in its own order and "
                    "transposed (the same index at every position?), so the trace cannot tell in which "
                    "order the graph reads it; give example indices that vary, such as a real sentence "
                    "or rng.integers(0, vocabulary, shape)")
            if as_given:
                value = self.input_values[i]
                if array.shape != a1.shape:
                    value = g.op("Reshape", value, g.shape(self.dims(array.shape, array2.shape), reshape=True))
                return self._as_int64(value, a1)
            if transposed:
                if i not in self.transposed:  # read time-major (encoder.py), by each direction of an encoder
                    self.transposed[i] = self._as_int64(g.op("Transpose", self.input_values[i], perm=[1, 0]), a1)
                return self.transposed[i]
        if array.shape != array2.shape or not np.array_equal(array, array2):
            raise ExportError("export: an index array of the graph changes with the inputs but is not one "
                              f"of them (shape {array.shape}); pass it as an integer input")
        return g.constant(np.asarray(array, dtype=np.int64))

    def _as_int64(self, value: str, array: np.ndarray) -> str:
        """`value`, Cast to int64 unless `array` (the input it reads) is int32 or int64 already."""
        if array.dtype in (np.int32, np.int64):
            return value
        return self.g.op("Cast", value, to=self.onnx.TensorProto.INT64)


def _is_minigrad(fn, name: str) -> bool:
    return type(fn).__name__ == name and type(fn).__module__.startswith("minigrad.")


def _holds(array, source) -> bool:
    return array is source or (array.size == source.size and np.array_equal(array.reshape(-1), source.reshape(-1)))


def _dim_name(k: int, c: int) -> str:
    term = "batch" if k == 1 else f"{k}*batch"
    return term if c == 0 else f"{term}{c:+d}"


# --- validation -----------------------------------------------------------------------------

def _check(onnx, model, traces, values: dict, tolerance) -> None:
    """onnx.checker, then ONNX Runtime on each trace's inputs against minigrad's outputs; on a
    mismatch the error names the first tensor of the graph whose value differs, and its line."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(f"export: onnx.checker rejects the model: {error}") from error
    try:
        import onnxruntime
    except ImportError:
        return  # checked structurally only; install onnxruntime to check the numbers too
    for which, trace in enumerate(traces):
        expected = [(o.name, t) for o, t in zip(model.graph.output, trace.outputs)]
        problem = _first_difference(onnxruntime, model, trace, expected, tolerance)
        if problem is None:
            continue
        name, difference, tensor = problem
        # the outputs differ: run again with every value of the graph as an output, to find where it starts
        own = [(values[t], twin) for t, twin in zip(traces[0].tensors, trace.tensors)
               if t.grad_fn is not None and t in values]
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        del probe.graph.output[:]
        probe.graph.output.extend(onnx.helper.make_tensor_value_info(
            value, onnx.helper.np_dtype_to_tensor_dtype(t.dtype), None) for value, t in own)
        first = _first_difference(onnxruntime, probe, trace, own, tolerance)
        where = "" if first is None else (
            f"\n  the first value that differs is {first[0]!r}: {first[1]}; "
            f"{type(first[2].grad_fn).__name__} made it at {format_location(first[2].created_at)}")
        raise ExportError(f"export: ONNX Runtime's output {name!r} differs from minigrad's "
                          f"({'the example inputs' if which == 0 else 'the second trace'}, batch size "
                          f"{len(trace.arrays[0]) if trace.arrays and trace.arrays[0].ndim else 1}): {difference}; "
                          f"{describe(tensor)}{where}\n  Nothing was written.")


def _first_difference(onnxruntime, model, trace, expected: list, tolerance):
    """(value name, what differs, tensor) of the first of `expected` [(value name, tensor)] that
    ONNX Runtime computes otherwise than minigrad did, or None."""
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = dict(zip([i.name for i in model.graph.input], trace.arrays))
    got = session.run([name for name, _ in expected], feeds)
    for (name, tensor), value in zip(expected, got):
        want = tensor.data
        tol = tolerance if tolerance is not None else TOLERANCE.get(want.dtype, 0)
        if value.shape != want.shape:
            return name, f"shape {value.shape} instead of {want.shape}", tensor
        if not np.allclose(value, want, rtol=tol, atol=tol):
            return name, f"largest difference {np.max(np.abs(value - want)):.3g} (tolerance {tol:g})", tensor
    return None
