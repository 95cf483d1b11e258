"""The measurement behind minigrad/collector.py: the cyclic collector's passes during training steps.

    python bench/bench_collector.py           (about a minute)
    python bench/bench_collector.py --steps 5

For each path (the default fast twin and the composed teaching model) on the dates task: the
collector's passes per generation over `--steps` steps of train's loop body (forward,
cross-entropy, backward, Adam), at Python's default settings and inside rare_collections(), with
the wall time of each; then how long one full pass takes with a step's graph alive. Passes are
counts, so they do not depend on the machine's load; the times do.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from contextlib import nullcontext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import minigrad as mg  # noqa: E402
from attention.fast import fast  # noqa: E402
from attention.train import TrainConfig, build  # noqa: E402
from minigrad.collector import rare_collections  # noqa: E402
from minigrad.threads import blas_threads  # noqa: E402
from twin import train_loop_step  # noqa: E402


def passes_and_seconds(trained, optimizer, X, Y, steps: int, settings) -> tuple[list, float]:
    """([passes of generation 0, 1, 2], wall seconds) of `steps` steps inside `settings`."""
    with settings:
        before = [generation["collections"] for generation in gc.get_stats()]
        start = time.perf_counter()
        for step in range(steps):
            train_loop_step(trained, optimizer, X, Y, step)
        seconds = time.perf_counter() - start
        return [generation["collections"] - b for generation, b in zip(gc.get_stats(), before)], seconds


def full_pass_ms(trained, X) -> float:
    """The fastest of 5 full collections with one forward graph alive, in ms."""
    logits, _ = trained(X[:100])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        gc.collect()
        times.append(time.perf_counter() - start)
    del logits
    return min(times) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per measurement (default 30)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    print(f"{'path':9} {'settings':17} {'passes gen 0/1/2':>17} {'ms/step':>8}")
    with blas_threads():
        for path in ("fast", "composed"):
            config = TrainConfig(task="dates", train_size=(args.steps + 1) * 100, composed=path == "composed")
            _, (X, Y), _, model = build(config)
            trained = fast(model) if path == "fast" else model
            optimizer = mg.optim.Adam(model.parameters(), lr=config.lr)
            passes_and_seconds(trained, optimizer, X, Y, 2, nullcontext())  # warm-up
            for name, settings in (("Python's default", nullcontext()), ("rare_collections", rare_collections())):
                passes, seconds = passes_and_seconds(trained, optimizer, X, Y, args.steps, settings)
                print(f"{path:9} {name:17} {'/'.join(map(str, passes)):>17} {seconds / args.steps * 1000:>8.1f}")
            print(f"{path:9} one full pass with a step's graph alive: {full_pass_ms(trained, X):.1f} ms")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
