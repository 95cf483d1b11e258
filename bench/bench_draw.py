"""How long drawing takes: build the graphviz.Digraph (`draw`) and render it with `dot` to SVG.

Two graphs, both an unrolled tanh RNN (h<t> = tanh(x<t> W + h<t-1> U + b), a few ops a step)
with each timestep in its own scope:
  small: ~100 nodes, drawn whole;
  large: ~3,000 nodes, drawn with every timestep collapsed into one box, and whole.
The weights W, U, b are used by every timestep: draw places a copy beside each use
(see draw._copy_widely_shared_leaves), without which dot takes minutes on the large graph.
Run: python bench/bench_draw.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np

import minigrad as mg
from minigrad.viz.draw import _count_nodes


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


def main() -> None:
    small = unrolled_rnn(8)
    large = unrolled_rnn(250)
    scopes = tuple(f"t={t}" for t in range(1, 251))
    rows = [
        ("small, whole", small, {}),
        ("large, timesteps collapsed", large, {"collapse": scopes}),
        ("large, whole", large, {}),
    ]
    print(f"{'graph':32} {'nodes':>6} {'drawn':>6} {'draw ms':>9} {'draw+render ms':>15}")
    for label, root, options in rows:
        tensors = mg.topological_order(root, all_inputs=True)
        nodes = _count_nodes(tensors, set())
        drawn = _count_nodes(tensors, set(options.get("collapse", ())))
        draw_time = timed(lambda: mg.draw(root, **options))
        render_time = timed(lambda: mg.draw(root, **options).pipe(format="svg"), repeats=3)
        print(f"{label:32} {nodes:>6} {drawn:>6} {draw_time * 1e3:>9.1f} {render_time * 1e3:>15.1f}")


if __name__ == "__main__":
    main()
