"""Where the composed teaching path's training step goes, and the least such a graph costs on this engine.

    python bench/bench_composed.py              (half a minute; with PyTorch installed, its steps too)
    python bench/bench_composed.py --steps 5

Issue 16 asks for the composed path (every gate, e, α and c a node) within 1.3× PyTorch's fused
epoch. This takes one training step of the composed date model apart (bench/twin.py: batch 100,
Tx 30, train's default score unless --score says otherwise, train's loop settings):
  op class    for each Function class: its nodes per step, the ms spent inside its forward and
              inside its backward (the numpy work), and µs per node
  the rest    the step's time outside every forward and backward: the engine's bookkeeping
              (recording nodes, ordering them, summing gradients) and the model's own Python
  per node    what a node costs the engine when it has next to no numpy work: bench_chain.py's
              chain of y = y * c on one-element tensors, forward and backward, less the same
              multiplies in bare numpy
  floor       the numpy work + nodes × the cost per node: what this graph costs on this engine
              with no model code at all
then the top Python functions by their own time under cProfile (which slows every call, so read
the order, not the figures), and, when PyTorch is installed, PyTorch's fused and composed steps
on the same batch (bench/bench_train.py, each in its own process) to read the floor against, and
the step's costliest matrix products (the MatMul shapes with the most time) timed bare, numpy
against PyTorch, both on one thread as train runs them: C = A B and its two gradients G Bᵀ and
Aᵀ G, the batch axes of rows times one weight folded into one product as MatMul's shortcut folds
them. They say how much of the numpy work is a BLAS's, which no engine can remove.
Every timing is a median over --steps steps after a warm-up, in one run; the load average is
printed at both ends.
"""
from __future__ import annotations

import argparse
import cProfile
import collections
import importlib.util
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, ROOT)  # this checkout's minigrad and attention, also where another is installed

from attention.additive import DEFAULT_SCORE, SCORES  # noqa: E402
from bench_chain import chain  # noqa: E402
from twin import B, as_train_runs, minigrad_model, synthetic_pairs, train_loop_step  # noqa: E402
# what the profile of the rest leaves out: the ops' helpers and numpy (the numpy work), and this harness
LEFT_OUT = (os.path.join("minigrad", "ops") + os.sep, os.path.relpath(os.path.dirname(np.__file__), ROOT),
            os.path.relpath(__file__, ROOT))
WARMUP = 3
REPEATS = 20  # chains timed, the fastest kept
CHAIN = 2_000  # nodes in the chain that measures the engine's cost per node (about a step's)


def function_classes() -> list:
    """Every Function class that defines its own forward or backward."""
    from minigrad.function import Function
    found, stack = [], [Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if "forward" in sub.__dict__ or "backward" in sub.__dict__:
                found.append(sub)
    return found


@contextmanager
def timed_bodies(seconds: dict, counts: collections.Counter, products: dict | None = None):
    """Inside the block, every forward and backward adds its wall time to seconds[(class name,
    "forward" | "backward")], and every forward counts a node of its class; a MatMul's forward
    and backward also add theirs to products[(A's shape, B's shape)] when `products` is given."""
    clock = time.perf_counter
    originals = []
    products = collections.defaultdict(float) if products is None else products

    def timed(cls, method_name):
        method = cls.__dict__[method_name]
        if method_name == "forward":
            def wrapper(self, *arrays, **params):
                start = clock()
                result = method(self, *arrays, **params)
                key = type(self).__name__
                spent = clock() - start
                seconds[key, "forward"] += spent
                counts[key] += 1
                if key == "MatMul":
                    products[arrays[0].shape, arrays[1].shape] += spent
                return result
        else:
            def wrapper(self, grad):
                start = clock()
                result = method(self, grad)
                key = type(self).__name__
                spent = clock() - start
                seconds[key, "backward"] += spent
                if key == "MatMul":
                    products[self.saved[0].shape, self.saved[1].shape] += spent
                return result
        return wrapper

    for cls in function_classes():
        for name in ("forward", "backward"):
            if name in cls.__dict__:
                originals.append((cls, name, cls.__dict__[name]))
                setattr(cls, name, timed(cls, name))
    try:
        yield
    finally:
        for cls, name, method in originals:
            setattr(cls, name, method)


def composed_steps(steps: int, score: str):
    """A function running training step k (of WARMUP + `steps`) of a fresh composed model with its Adam."""
    import minigrad as mg
    model = minigrad_model("composed", score=score)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = synthetic_pairs(B * (steps + WARMUP), 30)
    return lambda k: train_loop_step(model, optimizer, X, Y, k)


def median_step_ms(step, steps: int) -> float:
    for k in range(WARMUP):
        step(k)
    times = []
    for k in range(WARMUP, WARMUP + steps):
        start = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def engine_us_per_node() -> tuple[float, float]:
    """(µs per node of a chain of Mul on one-element tensors, forward and backward (bench_chain.py),
    less bare numpy's multiplies; the bare numpy µs of those multiplies): the engine's cost of one node."""
    fastest = min(run["forward_s"] + run["backward_s"] for run in (chain(CHAIN) for _ in range(REPEATS)))
    a, b = np.ones(1, dtype=np.float32), np.ones(1, dtype=np.float32)
    bare = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CHAIN):  # forward's a * b, and backward's g * b for the one input needing grad
            a * b
            a * b
        bare.append(time.perf_counter() - start)
    bare_us = min(bare) / CHAIN * 1e6
    return fastest / CHAIN * 1e6 - bare_us, bare_us


def top_functions(step, steps: int, count: int = 12) -> list[tuple[str, int, float]]:
    """(function, calls per step, own ms per step under cProfile) of the `count` Python functions
    with the most own time over `steps` steps, leaving out the numpy work: the Functions' forward
    and backward, the helpers of minigrad/ops they call, and numpy's own functions."""
    profile = cProfile.Profile()
    profile.enable()
    for k in range(steps):
        step(WARMUP + k)
    profile.disable()
    rows = []
    for (filename, line, name), (_, calls, own, _, _) in pstats.Stats(profile).stats.items():
        where = os.path.relpath(filename, ROOT) if os.path.isabs(filename) else filename
        if name in ("forward", "backward") or where.startswith(LEFT_OUT) or filename == "~":
            continue  # "~": a function written in C
        rows.append((f"{where}:{line}({name})", calls // steps, own / steps * 1e3))
    return sorted(rows, key=lambda row: -row[2])[:count]


def torch_step_ms(name: str, steps: int, score: str) -> float | None:
    """PyTorch's median step ms from bench/bench_train.py's worker, or None without PyTorch."""
    if importlib.util.find_spec("torch") is None:
        return None
    done = subprocess.run([sys.executable, os.path.join(BENCH, "bench_train.py"), "--run", name,
                           "--steps", str(steps + 5), "--score", score], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"bench_composed.py: PyTorch's {name} step failed (bench/bench_train.py, exit "
                 f"{done.returncode}); run with --no-torch to leave it out:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)["step_ms"]


def product_operands(shape_a: tuple, shape_b: tuple, rng) -> tuple:
    """Random float32 A, B and G (C's gradient) of a MatMul's shapes, a batch of rows times one
    weight folded into one matrix of rows (as ops/matmul_shortcuts.py folds it)."""
    if len(shape_a) > 2 and len(shape_b) == 2:
        shape_a = (int(np.prod(shape_a[:-1])), shape_a[-1])
    a = rng.standard_normal(shape_a).astype(np.float32)
    b = rng.standard_normal(shape_b).astype(np.float32)
    return a, b, rng.standard_normal(np.matmul(a, b).shape).astype(np.float32)


def products_against_torch(shapes: list, repeats: int = 7) -> list:
    """[(A's shape, B's shape, numpy µs, PyTorch µs)] of C = A B, G Bᵀ and Aᵀ G together, each the
    fastest of `repeats` timings, numpy on train's one BLAS thread and PyTorch on one thread."""
    import timeit
    import torch
    from minigrad.threads import blas_threads
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        with blas_threads():
            for shape_a, shape_b in shapes:
                a, b, g = product_operands(shape_a, shape_b, np.random.default_rng(0))
                ta, tb, tg = (torch.from_numpy(x) for x in (a, b, g))
                timings = []
                for matmul, swap, x, y, z in ((np.matmul, np.swapaxes, a, b, g),
                                              (torch.matmul, torch.transpose, ta, tb, tg)):
                    def three():
                        matmul(x, y)
                        matmul(z, swap(y, -1, -2))
                        matmul(swap(x, -1, -2), z)
                    number = max(1, int(2e-2 / max(min(timeit.repeat(three, number=1, repeat=3)), 1e-7)))
                    timings.append(min(timeit.repeat(three, number=number, repeat=repeats)) / number * 1e6)
                rows.append((shape_a, shape_b, *timings))
    finally:
        torch.set_num_threads(threads)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps of each measurement (default 40)")
    parser.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE, help=f"the attention score (default {DEFAULT_SCORE}, train's)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch's steps out")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    print(f"command: python bench/bench_composed.py --steps {args.steps} --score {args.score}; load average "
          f"{os.getloadavg()[0]:.2f} at the start; numpy {np.__version__}", flush=True)
    score = args.score
    with as_train_runs():
        plain_ms = median_step_ms(composed_steps(args.steps, score), args.steps)
        seconds, counts = collections.defaultdict(float), collections.Counter()
        products = collections.defaultdict(float)
        step = composed_steps(args.steps, score)
        for k in range(WARMUP):
            step(k)
        with timed_bodies(seconds, counts, products):
            start = time.perf_counter()
            for k in range(WARMUP, WARMUP + args.steps):
                step(k)
            timed_ms = (time.perf_counter() - start) / args.steps * 1e3
        per_node_us, bare_us = engine_us_per_node()
        profiled = top_functions(step, min(args.steps, 10))
    steps = args.steps
    nodes = sum(counts.values()) / steps
    print(f"\nthe composed step (batch {B}, Tx 30, {score} score): {plain_ms:.1f} ms, median of {steps} "
          f"({timed_ms:.1f} ms a step with the bodies timed); {nodes:.0f} nodes a step\n")
    print(f"{'op class':14} {'nodes':>6} {'forward ms':>11} {'backward ms':>12} {'µs / node':>10}")
    inside = 0.0
    for name in sorted(counts, key=lambda n: -(seconds[n, "forward"] + seconds[n, "backward"])):
        forward, backward = seconds[name, "forward"] / steps * 1e3, seconds[name, "backward"] / steps * 1e3
        inside += forward + backward
        print(f"{name:14} {counts[name] / steps:>6.0f} {forward:>11.2f} {backward:>12.2f} "
              f"{(forward + backward) * 1e3 / (counts[name] / steps):>10.1f}")
    rest = plain_ms - inside
    engine_ms = nodes * per_node_us / 1e3
    floor_ms = inside + engine_ms
    print(f"{'inside':14} {'':>6} {'':>11} {inside:>12.2f}   the numpy work")
    print(f"{'the rest':14} {'':>6} {'':>11} {rest:>12.2f}   the engine's bookkeeping and the model's Python")
    print(f"\nper node, the engine with next to no numpy work: {per_node_us:.1f} µs (a chain of {CHAIN:,} "
          f"y = y * c, forward and backward, less {bare_us:.1f} µs of bare numpy)")
    print(f"floor: {inside:.1f} ms of numpy work + {nodes:.0f} nodes × {per_node_us:.1f} µs = {floor_ms:.1f} ms "
          f"(the step without the model's own Python); the step is {plain_ms / floor_ms:.2f}× the floor")
    print(f"\ntop Python functions of the rest by own time under cProfile, {min(steps, 10)} steps (the "
          "Functions' bodies, minigrad/ops and numpy left out)")
    for where, calls, own in profiled:
        print(f"  {own:7.2f} ms {calls:6d} calls  {where}")
    if not args.no_torch:
        fused, composed = (torch_step_ms(name, steps, score) for name in ("torch-fused", "torch-composed"))
        if fused is None:
            print("\nPyTorch is not installed: no figures to read the floor against")
        else:
            print(f"\nPyTorch's steps (bench/bench_train.py, batch 100, its default threads): fused {fused:.1f} ms, composed "
                  f"{composed:.1f} ms ({composed / fused:.2f}× fused)")
            print(f"minigrad composed ÷ PyTorch fused: {plain_ms / fused:.2f}; the floor ÷ PyTorch fused: "
                  f"{floor_ms / fused:.2f}; the numpy work alone ÷ PyTorch fused: {inside / fused:.2f} "
                  f"(the target: 1.3)")
            costliest = sorted(products, key=lambda shapes: -products[shapes])[:3]
            print("\nthe step's costliest products, A @ B with its gradients G Bᵀ and Aᵀ G, timed bare on one "
                  "thread (µs for the three; rows times one weight folded into one matrix):")
            print(f"  {'A':>14} {'B':>11} {'in the step':>12} {'numpy':>8} {'PyTorch':>8} {'numpy ÷ PyTorch':>16}")
            for shape_a, shape_b, mine, theirs in products_against_torch(costliest):
                print(f"  {str(shape_a):>14} {str(shape_b):>11} {products[shape_a, shape_b] / steps * 1e3:>9.2f} ms "
                      f"{mine:>8.1f} {theirs:>8.1f} {mine / theirs:>16.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
