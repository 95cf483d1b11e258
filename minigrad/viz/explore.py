"""explore: one backward pass as a page you click through, in a browser or inline in Jupyter.

`explore(loss)` runs backward once through `backward_steps`, the engine's one record of a pass,
keeping what each Function received and sent and which gradients each step completed; lays the
graph out with Graphviz through `draw`; and writes one HTML file whose script and style are
inline (explore_page.js, explore_page.css beside this file). The page loads nothing, so it opens
from file://, offline, and inside a notebook. Every tensor's `.grad` is put back as it was.

In the page (its JSON and the SVG's node names), tensor `t<i>` is the i-th tensor of
`topological_order(loss, all_inputs=True)` and `f<j>` the Function of the j-th of those made by one.
"""
from __future__ import annotations

import html
import inspect
import json
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from minigrad.autograd import backward_steps
from minigrad.errors import format_location
from minigrad.order import topological_order
from minigrad.tensor import Tensor
from minigrad.viz.draw import draw, shown_mean, summarise, tensor_kind

SMALL = 64   # tensors with at most this many elements carry every value; larger ones a summary
GRID = 16    # and a heat grid of at most GRID × GRID block means
DIGITS = 4   # significant digits kept, and printed, in the page
HERE = Path(__file__).resolve().parent


class Explorer:
    """The page `explore` made: `.save(path)` writes it; a notebook shows it inline."""

    def __init__(self, html_text: str, steps: int, tensors: int):
        self.html, self.steps, self.tensors = html_text, steps, tensors

    def save(self, path) -> str:
        Path(path).write_text(self.html, encoding="utf-8")
        return str(path)

    def _repr_html_(self) -> str:
        # An iframe keeps the page's ids, style and script apart from the notebook's and from
        # other explorers shown in the same notebook.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
                'style="width: 100%; height: 720px; border: 1px solid #ccc"></iframe>')

    def __repr__(self):
        return f"Explorer({self.tensors} tensors, {self.steps} backward steps, {len(self.html):,} characters)"


def explore(loss: Tensor, highlight=(), collapse=(), path=None, grad=None, max_nodes=None,
            title: str | None = None) -> Explorer:
    """The graph of `loss` and every step of its backward pass as one self-contained HTML page.

    highlight: tensors (or their names) whose paths to `loss` the page shows in red at first.
    collapse: scope names laid out as one box each (the page can fold the other scopes too).
    path: also write the page there. grad: as in `backward`, for a non-scalar `loss`.
    max_nodes: passed to `draw`: beyond it the outermost scopes are laid out collapsed.
    """
    if not isinstance(loss, Tensor):
        raise TypeError(f"explore() takes the Tensor whose backward to record, not {type(loss).__name__}")
    tensors = topological_order(loss, all_inputs=True)
    targets = _resolve_highlight(highlight, tensors)
    _check_scopes(collapse, tensors)
    keys = {t: f"t{i}" for i, t in enumerate(tensors)}
    functions = [t.grad_fn for t in tensors if t.grad_fn is not None]
    keys.update({fn: f"f{i}" for i, fn in enumerate(functions)})
    with _recorded(loss, grad, tensors, keys) as (steps, completed):
        # laid out while the pass's gradients are in place: each label has room for its gradient
        svg = draw(loss, collapse=collapse, max_nodes=max_nodes).pipe(format="svg").decode("utf-8")
    svg = _renamed(svg, keys)
    data = {
        "title": title or f"backward of {loss.name or 'the loss'}",
        "root": keys[loss],
        "tensors": [_tensor_record(t, keys, completed, loss) for t in tensors],
        "functions": [_function_record(t.grad_fn, t, keys) for t in tensors if t.grad_fn is not None],
        "docs": {type(fn).__name__: inspect.getdoc(type(fn)) or "" for fn in functions},
        "steps": steps,
        "highlight": [keys[t] for t in targets],
        # what draw laid out as boxes: collapse=, and the scopes max_nodes made it collapse
        "laidOutCollapsed": sorted({html.unescape(box) for box in
                                  re.findall(r'class="node">\s*<title>scope_([^<]*)</title>', svg)}),
    }
    page = _page(data, svg)
    explorer = Explorer(page, len(steps), len(tensors))
    if path is not None:
        explorer.save(path)
    return explorer


def _resolve_highlight(highlight, tensors) -> list:
    if isinstance(highlight, (Tensor, str)):
        highlight = (highlight,)
    found = []
    names = {t.name: t for t in tensors if t.name}
    members = set(tensors)
    for item in highlight:
        if isinstance(item, str):
            if item not in names:
                raise ValueError(f"explore(highlight={item!r}): no tensor of the graph has that name; "
                                 f"named tensors include {sorted(names)[:12]}")
            found.append(names[item])
        elif isinstance(item, Tensor) and item in members:
            found.append(item)
        else:
            raise ValueError(f"explore(highlight=...): {item!r} is not a tensor of this graph")
    return found


def _check_scopes(collapse, tensors) -> None:
    if isinstance(collapse, str):
        raise TypeError(f"explore(collapse={collapse!r}): pass a tuple of scope names, e.g. ({collapse!r},)")
    known = {name for t in tensors for name in t.scope} | \
            {"/".join(t.scope[:d]) for t in tensors for d in range(1, len(t.scope) + 1)}
    unknown = [name for name in collapse if name not in known]
    if unknown:
        raise ValueError(f"explore(collapse={tuple(collapse)!r}): no tensor was made in the scope(s) "
                         f"{unknown}; the graph's scopes are {sorted(known)}")


@contextmanager
def _recorded(loss, grad, tensors, keys):
    """Run backward once, step by step: each step's record and the step completing each gradient.

    The pass starts from no gradients, so the page shows this pass alone. Inside the block the
    tensors hold this pass's gradients; after it, every `.grad` is what it was before (the
    arrays themselves, not copies).
    """
    before = [(t, t.grad) for t in tensors]
    steps, completed = [], {}
    try:
        for t in tensors:
            t.grad = None
        for step in backward_steps(loss, grad):
            for t in step.completed:
                completed[t] = (step.index, np.array(t.grad))
            steps.append((step, [keys[t] for t in step.completed]))
        steps = [{"fn": keys[step.function], "source": step.source, "completed": done,
                  "sent": [_sent(g, x, completed, keys) for g, x in zip(step.grad_inputs, step.function.inputs)]}
                 for step, done in steps]
        yield steps, completed
    finally:
        for t, previous in before:
            t.grad = previous


def _sent(gradient, tensor_input, completed, keys):
    """What a Function sent an input: None, the input's key when it equals the input's whole
    gradient (its only consumer: the page shows that array once), or the array."""
    if gradient is None:
        return None
    whole = completed.get(tensor_input, (None, None))[1]
    if whole is not None and whole.shape == np.shape(gradient) and np.array_equal(whole, gradient):
        return keys[tensor_input]
    return _array(gradient)


def _tensor_record(t, keys, completed, root) -> dict:
    step, gradient = completed.get(t, (None, None))
    return {
        "key": keys[t], "name": t.name, "label": t.name or keys[t], "shape": list(t.shape),
        "dtype": str(t.dtype), "kind": tensor_kind(t, {root}), "scope": list(t.scope),
        "source": format_location(t.created_at), "requiresGrad": t.requires_grad,
        "fn": keys[t.grad_fn] if t.grad_fn is not None else None,
        "data": _array(t.data), "grad": None if gradient is None else _array(gradient),
        "gradText": None if gradient is None else "grad " + summarise(gradient), "gradStep": step,
    }


def _function_record(fn, out, keys) -> dict:
    return {"key": keys[fn], "op": type(fn).__name__, "output": keys[out], "inputs": [keys[t] for t in fn.inputs],
            "source": format_location(out.created_at)}


def _number(x):
    """A float for JSON, to DIGITS significant digits; NaN and infinities as strings."""
    if np.isfinite(x):
        return float(f"{x:.{DIGITS}g}")
    return "nan" if np.isnan(x) else ("inf" if x > 0 else "-inf")


def _array(array) -> dict:
    """Shape and every value of a small array; min/mean/max/std and a heat grid of a large one."""
    dtype = np.asarray(array).dtype  # the precision the values were computed in, for shown_mean
    a = np.asarray(array, dtype=np.float64)
    record = {"shape": list(a.shape), "size": int(a.size)}
    if a.size == 0:
        return record
    finite = a[np.isfinite(a)]
    stats = finite if finite.size else a.reshape(-1)
    record.update(min=_number(stats.min()), mean=_number(shown_mean(stats, dtype)), max=_number(stats.max()),
                  std=_number(stats.std()), nonFinite=int(a.size - finite.size))
    if a.size <= SMALL:
        record["values"] = [_number(x) for x in a.reshape(-1)]
        return record
    table = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
    rows = np.array_split(np.arange(table.shape[0]), min(GRID, table.shape[0]))
    cols = np.array_split(np.arange(table.shape[1]), min(GRID, table.shape[1]))
    with np.errstate(invalid="ignore"):
        record["grid"] = [[_number(np.nanmean(table[np.ix_(r, c)])) if np.isfinite(table[np.ix_(r, c)]).any()
                           else "nan" for c in cols] for r in rows]
    record["gridRows"] = [[int(r[0]), int(r[-1])] for r in rows]
    record["gridCols"] = [[int(c[0]), int(c[-1])] for c in cols]
    return record


def _renamed(svg: str, keys) -> str:
    """The SVG without its XML prologue, comments and repeated font family (the page's style sets
    it), with draw's node ids (Python object ids, different in every run) replaced by the page's
    keys, so the page is the same file every time."""
    ids = {str(id(obj)): key for obj, key in keys.items()}
    svg = re.sub(r"<!--.*?-->\n?", "", svg[svg.index("<svg"):], flags=re.S)
    svg = svg.replace(' font-family="Helvetica,sans-Serif"', "")
    return re.sub(r"\d{6,}", lambda m: ids.get(m.group(0), m.group(0)), svg)


def _page(data: dict, svg: str) -> str:
    # "</" would end the <script> element early; "<\/" is the same JSON string.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    script = (HERE / "explore_page.js").read_text(encoding="utf-8")
    style = (HERE / "explore_page.css").read_text(encoding="utf-8")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>{html.escape(data["title"])}</title>
<style>
{style}</style>
</head>
<body>
<header>
  <h1>{html.escape(data["title"])}</h1>
  <div id="controls">
    <button id="first" title="first step (Home)">◀◀</button>
    <button id="previous" title="previous step (←)">◀ previous</button>
    <button id="play" title="play / pause (space)">▶ play</button>
    <button id="next" title="next step (→)">next ▶</button>
    <button id="last" title="last step (End)">▶▶</button>
    <input id="slider" type="range" min="0" value="0" aria-label="backward step">
    <span id="step-label"></span>
  </div>
  <div class="hint">yellow: this step's op · grey: ops done · red: paths to the loss from the
  highlighted tensors · “grad —”: that gradient is not complete yet</div>
  <div id="tools">
    <input id="search" type="search" placeholder="search a tensor or op by name" aria-label="search">
    <span id="matches"></span>
    <button id="highlight-selected" title="highlight the paths from the selected tensor to the root">highlight paths from selection</button>
    <button id="clear-highlight">clear highlight</button>
    <span id="quick-highlights"></span>
    <button id="zoom-in">+</button><button id="zoom-out">−</button><button id="zoom-fit">fit</button>
  </div>
</header>
<main>
  <section id="graph-pane"><div id="graph">{svg}</div></section>
  <aside id="side">
    <div id="step-info"></div>
    <div id="scopes"></div>
    <div id="details"><p class="hint">Click a node to see its values, its gradient at this step
    and where your code made it.</p></div>
  </aside>
</main>
<script type="application/json" id="explorer-data">{payload}</script>
<script>
{script}</script>
</body>
</html>
"""
