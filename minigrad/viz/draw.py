"""draw: the computation graph as a `graphviz.Digraph`, built from the one graph backward walks.

Tensor nodes show name, shape, dtype, values and gradient; op nodes show the Function's class.
Edges run forward (inputs → op → output). An edge whose gradient backward sums over broadcast
axes says so ("Σ axis 0"), because that step is the one students most often get wrong.
"""
from __future__ import annotations

import warnings
from collections import Counter, defaultdict

import graphviz
import numpy as np

from minigrad.autograd import backward_schedule
from minigrad.errors import MinigradError, format_location
from minigrad.nn.module import Parameter
from minigrad.ops.broadcast import summed_axes
from minigrad.order import topological_order
from minigrad.tensor import Tensor
from minigrad.viz import render
# rendering's errors, importable from here too
from minigrad.viz.render import GraphvizNotInstalledError, UnsupportedFormatError  # noqa: F401

COLOURS = {
    "parameter": "#fdd49e",     # orange: what the optimiser learns
    "input": "#c6dbef",         # blue: data and constants, no gradient wanted
    "output": "#fcbba1",        # red: the root(s), usually the loss
    "intermediate": "#ffffff",  # white: computed on the way
    "op": "#e5e5e5",            # grey: a Function
}
PATH_COLOUR = "#d62728"         # the highlighted paths from the root to chosen tensors
DONE_COLOUR = "#bdbdbd"         # step view: Functions whose backward has run
CURRENT_COLOUR = "#ffd92f"      # step view: the Function of this step
SMALL = 12                      # tensors with at most this many elements show every value
SHARED_COPIES = 8               # a leaf used by more ops than this is drawn beside each use
LAYOUTS = ("auto", "TB", "LR", "BT", "RL")  # Graphviz's rank directions, or pick by shape


class GraphTooLargeError(MinigradError, ValueError):
    """The drawing would have more nodes than `max_nodes` even with its scopes collapsed."""


class Drawing(graphviz.Digraph):
    """A graphviz.Digraph that renders with Graphviz's `dot` when it is on PATH and with the
    pip-installed graphviz-pure otherwise (see minigrad.viz.render): `render`, `pipe` and
    Jupyter's inline SVG keep graphviz's API either way.
    """

    # graphviz runs `dot` through these three (its documented seams for mocking).
    @property
    def _render(self):
        return render.render

    @property
    def _pipe_lines(self):
        return render.pipe_lines

    @property
    def _pipe_lines_string(self):
        return render.pipe_lines_string

    def _repr_svg_(self) -> str:
        """Inline SVG for notebooks that ask for `_repr_svg_` (Jupyter uses `_repr_mimebundle_`)."""
        return self.pipe(format="svg", encoding="utf-8")


def summarise(array: np.ndarray | None) -> str:
    """Every value of a small array, min/mean/max of a large one."""
    if array is None:
        return "—"
    if array.size <= SMALL:
        return np.array2string(np.asarray(array), precision=3, separator=", ",
                               suppress_small=True).replace("\n", "")
    return f"min {array.min():.3g}  mean {shown_mean(array):.3g}  max {array.max():.3g}"


def shown_mean(array: np.ndarray, dtype=None) -> float:
    """The mean of the values, summed in float64; 0 when they have both signs and it is within
    the rounding of their sum in `dtype` (theirs by default), 8 · eps · max |x| / √n: the mean of
    a gradient whose values sum to zero, as softmax's does, is then rounding noise, which would
    read as a value and would differ from one CPU to the next."""
    mean = float(np.mean(array, dtype=np.float64))
    dtype = array.dtype if dtype is None else np.dtype(dtype)
    if np.issubdtype(dtype, np.floating) and np.isfinite(mean):
        low, high = float(array.min()), float(array.max())
        if low < 0 < high and abs(mean) <= 8 * float(np.finfo(dtype).eps) * max(-low, high) / np.sqrt(array.size):
            return 0.0
    return mean


def tensor_kind(tensor: Tensor, roots) -> str:
    if tensor in roots:
        return "output"
    if isinstance(tensor, Parameter):
        return "parameter"
    if tensor.grad_fn is None:
        return "parameter" if tensor.requires_grad else "input"
    return "intermediate"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _collapsed_scope(tensor: Tensor, collapse) -> str | None:
    """The name of the collapsed scope that swallows `tensor`, if any."""
    for depth in range(1, len(tensor.scope) + 1):
        path = "/".join(tensor.scope[:depth])
        if path in collapse or tensor.scope[depth - 1] in collapse:
            return path
    return None


def _backward_progress(root: Tensor, step):
    """The Functions done by backward step `step` (an index, or a BackwardStep of this graph),
    the current one, and the tensors whose .grad is complete: read from backward's schedule."""
    schedule = [completed for completed in backward_schedule(root) if completed[0].grad_fn is not None]
    index = getattr(step, "index", step)
    if not isinstance(index, (int, np.integer)) or not 0 <= index < len(schedule):
        raise ValueError(f"draw(step={index!r}): backward of this graph has steps 0..{len(schedule) - 1}")
    if hasattr(step, "output") and schedule[index][0] is not step.output:
        raise ValueError(f"draw(step=...): {step!r} is a step of another graph's backward")
    done = {completed[0].grad_fn: k for k, completed in enumerate(schedule[:index + 1])}
    finished = {t for completed in schedule[:index + 1] for t in completed}
    return done, schedule[index][0].grad_fn, finished


def _on_paths_to(targets, tensors, roots) -> set:
    """Tensors and Functions on some path from a target up to a root (forward reachability)."""
    consumers = defaultdict(list)
    for t in tensors:
        if t.grad_fn is not None:
            for tensor_input in t.grad_fn.inputs:
                consumers[tensor_input].append(t)
    reached, frontier = set(targets), list(targets)
    while frontier:
        for out in consumers[frontier.pop()]:
            if out not in reached:
                reached.add(out)
                frontier.append(out)
    ancestors = set(tensors)  # every tensor drawn reaches a root
    on_path = {t for t in reached if t in ancestors}
    # The op that makes a tensor on a path is on it too, unless the tensor is where a path
    # starts and nothing on a path feeds it (the op that makes α from e is not between α and c).
    return on_path | {t.grad_fn for t in on_path if t.grad_fn is not None and
                      (t not in targets or any(x in on_path for x in t.grad_fn.inputs))}


def draw(*roots: Tensor, show_data: bool = True, show_grad: bool = True, highlight=(),
         collapse=(), max_nodes: int | None = None, layout: str = "auto",
         step: int | None = None) -> Drawing:
    """Draw the graph that made `roots` (usually the loss).

    highlight: tensors (α, c, …) whose paths to the root are drawn in red.
    collapse: scope names (see `minigrad.scope`) drawn as one box each, with their inputs and outputs.
    max_nodes: more nodes than this collapses the outermost scopes (with a warning), or raises
        GraphTooLargeError if that is not enough.
    layout: "TB" (inputs at the top, the loss at the bottom), "LR" (left to right), "BT", "RL",
        or "auto": TB when the graph is a chain longer than it is wide (most graphs: a narrow,
        tall picture keeps its text readable on a page), LR when it is wider than long.
    step: after `backward`, draw the graph as it stood after backward step `step` (its number, or
        the BackwardStep `backward_steps` yielded): Functions done are shaded, the current one is
        yellow, and only finished gradients are shown.
    """
    if not roots:
        raise ValueError("draw() needs at least one tensor")
    if layout not in LAYOUTS:
        raise ValueError(f"draw(layout={layout!r}): use one of {', '.join(map(repr, LAYOUTS))}")
    collapse = set(collapse)
    tensors = list(dict.fromkeys(t for root in roots for t in topological_order(root, all_inputs=True)))
    root_set = set(roots)
    progress = _backward_progress(roots[0], step) if step is not None else None

    count = _count_nodes(tensors, collapse) if max_nodes is not None else 0
    if max_nodes is not None and count > max_nodes:
        outer = {t.scope[0] for t in tensors if t.scope} - collapse
        if outer and _count_nodes(tensors, collapse | outer) <= max_nodes:
            warnings.warn(f"draw: {count} nodes exceed max_nodes={max_nodes}; "
                          f"collapsed the scopes {sorted(outer)} to fit", stacklevel=2)
            collapse |= outer
        else:
            raise GraphTooLargeError(
                f"draw: the graph has {count} nodes, more than "
                f"max_nodes={max_nodes} even with every outermost scope collapsed. Draw a smaller "
                "part (a root nearer the inputs), group the model's parts with minigrad.scope(...) "
                "and pass collapse=(...), or raise max_nodes.")

    graph = Drawing("minigrad", graph_attr={"fontname": "Helvetica"},
                    node_attr={"fontname": "Helvetica", "fontsize": "11"},
                    edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    on_path = _on_paths_to(set(highlight), tensors, root_set) if highlight else set()

    box_of = {t: _collapsed_scope(t, collapse) for t in tensors} if collapse else {}
    handed_out = _handed_out(tensors, box_of, root_set)
    nodes = {}  # node id -> (scope it is drawn in, graphviz attributes)
    boxes = defaultdict(list)

    def node_id(tensor) -> str:
        box = box_of.get(tensor)
        return f"scope_{box}" if box and tensor not in handed_out else str(id(tensor))

    for t in tensors:
        if box_of.get(t):
            boxes[box_of[t]].append(t)
            if t in handed_out:  # drawn beside its box, named, so the reader sees what leaves it
                name, attrs = _tensor_node(t, root_set, show_data, show_grad, on_path, progress)
                nodes[name] = (t.scope[:box_of[t].count("/")], attrs)
            continue
        name, attrs = _tensor_node(t, root_set, show_data, show_grad, on_path, progress)
        nodes[name] = (t.scope, attrs)
        if t.grad_fn is not None:
            name, attrs = _function_node(t.grad_fn, t, on_path, progress)
            nodes[name] = (t.scope, attrs)
    for box, inside in boxes.items():
        ops = sum(1 for t in inside if t.grad_fn is not None)
        nodes[f"scope_{box}"] = ((), {
            "label": _escape(f"{box}\n{len(inside)} tensors, {ops} ops (collapsed)"),
            "shape": "box3d", "style": "filled", "fillcolor": "#f0f0f0",
            "tooltip": _escape(f"scope {box}")})

    edges = {}
    for t in tensors:
        fn = t.grad_fn
        if fn is None:
            continue
        box = box_of.get(t)
        fn_node = f"scope_{box}" if box else str(id(fn))
        if not box or t in handed_out:
            edges[(fn_node, str(id(t)))] = {"color": PATH_COLOUR, "penwidth": "2"} if fn in on_path else {}
        for i, tensor_input in enumerate(fn.inputs):
            source = node_id(tensor_input)
            if source == fn_node or (box and box_of.get(tensor_input) == box):  # inside one box
                continue
            attrs = {}
            axes = summed_axes(fn, tensor_input.shape, t.shape)
            if axes:
                attrs["label"] = "Σ axis " + ", ".join(str(a) for a in axes)
            if tensor_input in on_path and fn in on_path:
                attrs.update(color=PATH_COLOUR, penwidth="2")
            edges.setdefault((source, fn_node), attrs)
    edges = _copy_widely_shared_leaves(tensors, box_of, nodes, edges)
    graph.graph_attr["rankdir"] = _rank_direction(layout, nodes, edges)

    members = defaultdict(list)  # the drawn nodes of each scope, for clusters
    for name, (scope, attrs) in nodes.items():
        members[scope].append((name, attrs))
    _add_clusters(graph, members)
    for (tail, head), attrs in edges.items():
        graph.edge(tail, head, **attrs)
    _add_legend(graph, bool(highlight), progress is not None)
    return graph


def _handed_out(tensors, box_of, roots) -> set:
    """Tensors made in a collapsed scope and used outside it (`a`, `s<t-1>`), and roots made in one."""
    out = {t for t in roots if box_of.get(t)}
    for t in tensors:
        if t.grad_fn is not None:
            for tensor_input in t.grad_fn.inputs:
                if box_of.get(tensor_input) and box_of.get(tensor_input) != box_of.get(t):
                    out.add(tensor_input)
    return out


def _copy_widely_shared_leaves(tensors, box_of, nodes, edges) -> dict:
    """Draw a leaf used by more than SHARED_COPIES ops (a weight shared by every timestep) as one
    copy beside each use. One node with hundreds of long edges makes an unreadable picture, and
    dot spends minutes laying those edges out.
    """
    uses = defaultdict(list)
    for tail, head in edges:
        uses[tail].append(head)
    for t in tensors:
        tail = str(id(t))
        if t.grad_fn is not None or box_of.get(t) or len(uses[tail]) <= SHARED_COPIES:
            continue
        scope, attrs = nodes.pop(tail)
        for k, head in enumerate(uses[tail]):
            edge = edges.pop((tail, head))
            if head.startswith("scope_"):  # a collapsed box summarises its shared weights too
                nodes[head][1]["label"] += _escape(f"\nuses {t.name or 'a shared leaf'}")
                continue
            copy = dict(attrs, label=attrs["label"] + _escape(f"\n(use {k + 1} of {len(uses[tail])})"))
            nodes[f"{tail}_use{k}"] = (nodes[head][0], copy)
            edges[(f"{tail}_use{k}", head)] = edge
    return edges


def _rank_direction(layout: str, nodes, edges) -> str:
    """`layout`, or for "auto": TB when the longest path has at least as many nodes as the widest
    rank (dot ranks each node by its longest path from a source), LR otherwise."""
    if layout != "auto":
        return layout
    heads, waiting = defaultdict(list), Counter()
    for tail, head in edges:
        heads[tail].append(head)
        waiting[head] += 1
    rank = dict.fromkeys(nodes, 0)
    ready = [name for name in nodes if not waiting[name]]
    while ready:  # Kahn's topological order, longest path on the way
        tail = ready.pop()
        for head in heads[tail]:
            rank[head] = max(rank[head], rank[tail] + 1)
            waiting[head] -= 1
            if not waiting[head]:
                ready.append(head)
    widths = Counter(rank.values())
    return "TB" if len(widths) >= max(widths.values(), default=0) else "LR"


def _count_nodes(tensors, collapse) -> int:
    boxes, count = set(), 0
    for t in tensors:
        box = _collapsed_scope(t, collapse) if collapse else None
        if box:
            boxes.add(box)
        else:
            count += 2 if t.grad_fn is not None else 1
    return count + len(boxes)


def _tensor_node(t, roots, show_data, show_grad, on_path, progress):
    lines = [t.name] if t.name else []
    lines.append(f"{t.shape} {t.dtype}")
    if show_data:
        lines.append("data " + summarise(t.data))
    grad_known = progress is None or t in progress[2]
    if show_grad and t.requires_grad:
        lines.append("grad " + summarise(t.grad if grad_known else None))
    attrs = {"label": _escape("\n".join(lines)), "shape": "box", "style": "rounded,filled",
             "fillcolor": COLOURS[tensor_kind(t, roots)],
             "tooltip": _escape(format_location(t.created_at))}
    if t in on_path:
        attrs.update(color=PATH_COLOUR, penwidth="2.5")
    return str(id(t)), attrs


def _function_node(fn, out, on_path, progress):
    label, fill = type(fn).__name__, COLOURS["op"]
    if progress is not None:
        done, current, _ = progress
        if fn in done:
            label += f"\nstep {done[fn]}"
            fill = CURRENT_COLOUR if fn is current else DONE_COLOUR
    attrs = {"label": label, "shape": "ellipse", "style": "filled", "fillcolor": fill,
             "tooltip": _escape(format_location(out.created_at))}
    if fn in on_path:
        attrs.update(color=PATH_COLOUR, penwidth="2.5")
    if progress is not None and fn is progress[1]:
        attrs.update(penwidth="3")
    return str(id(fn)), attrs


def _add_clusters(graph, members) -> None:
    """Each scope becomes a cluster nested in its parent scope's; unscoped nodes go in the graph."""
    children = defaultdict(set)
    for scope in members:
        for depth in range(1, len(scope) + 1):
            children[scope[:depth - 1]].add(scope[:depth])

    def fill(target, scope):
        for name, attrs in members.get(scope, ()):
            target.node(name, **attrs)
        for child in sorted(children[scope]):
            with target.subgraph(name="cluster_" + "/".join(child)) as cluster:
                cluster.attr(label=_escape(child[-1]), style="rounded,dashed", color="#737373")
                fill(cluster, child)

    fill(graph, ())


def _add_legend(graph, highlighted: bool, stepping: bool) -> None:
    with graph.subgraph(name="cluster_legend") as legend:
        legend.attr(label="legend", style="rounded", color="#bdbdbd", fontsize="10")
        entries = [("parameter", COLOURS["parameter"]), ("input / constant", COLOURS["input"]),
                   ("output", COLOURS["output"]), ("intermediate", COLOURS["intermediate"])]
        for label, colour in entries:
            legend.node(f"legend_{label}", label=label, shape="box", style="rounded,filled",
                        fillcolor=colour, fontsize="9")
        legend.node("legend_op", label="op (Function)", shape="ellipse", style="filled",
                    fillcolor=COLOURS["op"], fontsize="9")
        if highlighted:
            legend.node("legend_path", label="path to highlighted", shape="box", style="rounded",
                        color=PATH_COLOUR, penwidth="2.5", fontsize="9")
        if stepping:
            legend.node("legend_done", label="backward done", shape="ellipse", style="filled",
                        fillcolor=DONE_COLOUR, fontsize="9")
            legend.node("legend_current", label="this step", shape="ellipse", style="filled",
                        fillcolor=CURRENT_COLOUR, fontsize="9")
