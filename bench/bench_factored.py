"""What the FactoredGradient buys (minigrad/gradients.py): a's gradient from c<t> = α<t,·> · a.

    python bench/bench_factored.py                 (about two minutes)
    python bench/bench_factored.py --rounds 3 --steps 5

Two variants of MatMul's backward shortcut, the same numbers: "factored" (minigrad as it is: an
outer-product gradient kept as its factors and the Ty of them multiplied out in one matmul) and
"one by one" (each outer product made as an array and added, as before). Measured, the variants
alternated in every round of one run, medians, the load average printed at both ends:
  contexts   backward of Ty contexts α<t,·> · a on a (B, Tx, n) leaf, Ty 10, Tx 30, n 64
  step       the composed date model's training step in one process (bench/twin.py: batch 100,
             train's loop settings), forward, backward and Adam
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(BENCH), BENCH]  # this checkout's minigrad and attention, and twin.py

import minigrad as mg  # noqa: E402
from minigrad.ops import matmul_shortcuts  # noqa: E402
from twin import as_train_runs, minigrad_model, synthetic_pairs, train_loop_step  # noqa: E402

FACTORED = matmul_shortcuts._gradient


def one_by_one(x, y, shape):
    return matmul_shortcuts.sum_to_shape(matmul_shortcuts._product(x, y), shape)


VARIANTS = {"factored": FACTORED, "one by one": one_by_one}


def contexts_ms(batch: int, repeats: int, rng) -> float:
    a = mg.Tensor(rng.standard_normal((batch, 30, 64)).astype(np.float32), requires_grad=True)
    alphas = [mg.Tensor(rng.standard_normal((batch, 1, 30)).astype(np.float32)) for _ in range(10)]
    times = []
    for _ in range(repeats):
        total = mg.stack([alpha @ a for alpha in alphas], axis=0).sum()
        start = time.perf_counter()
        total.backward()
        times.append(time.perf_counter() - start)
        a.grad = None
    return statistics.median(times) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8, help="alternations of the two variants (default 8)")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps a round (default 10)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be at least 1")
    print(f"command: python bench/bench_factored.py --rounds {args.rounds} --steps {args.steps}; "
          f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    rng = np.random.default_rng(0)
    model = minigrad_model("composed")
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = synthetic_pairs(100 * (args.steps + 2), 30)
    results = {(what, name): [] for what in ("contexts 50", "contexts 100", "step") for name in VARIANTS}
    try:
        with as_train_runs():
            for _ in range(args.rounds):
                for name, variant in VARIANTS.items():
                    matmul_shortcuts._gradient = variant
                    results["contexts 50", name].append(contexts_ms(50, 20, rng))
                    results["contexts 100", name].append(contexts_ms(100, 20, rng))
                    for k in range(2):
                        train_loop_step(model, optimizer, X, Y, k)
                    start = time.perf_counter()
                    for k in range(2, 2 + args.steps):
                        train_loop_step(model, optimizer, X, Y, k)
                    results["step", name].append((time.perf_counter() - start) / args.steps * 1e3)
    finally:
        matmul_shortcuts._gradient = FACTORED
    print(f"\n{'ms, median of rounds':28} {'factored':>9} {'one by one':>11} {'ratio':>6}")
    for what in ("contexts 50", "contexts 100", "step"):
        fast, slow = (statistics.median(results[what, name]) for name in VARIANTS)
        ratios = [f / s for f, s in zip(results[what, "factored"], results[what, "one by one"])]
        label = {"contexts 50": "backward, 10 contexts, B 50", "contexts 100": "backward, 10 contexts, B 100",
                 "step": "composed training step"}[what]
        print(f"{label:28} {fast:9.2f} {slow:11.2f} {statistics.median(ratios):6.2f}")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
