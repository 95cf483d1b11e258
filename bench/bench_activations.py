"""The measurement behind attention/fused_lstm.py's gates from one exp: numpy's float32 exp against its tanh.

    python bench/bench_activations.py              (a few seconds)
    python bench/bench_activations.py --repeats 50

The fast twin computes its gates' sigmoids and tanh from one exp of the gate block, because
numpy vectorises float32 exp and not tanh. For the gate blocks of the date model (the decoder
step's (100, 256), both encoder directions' (2, 100, 128), the encoder's whole (30, 2, 100, 128)),
this prints the median µs of np.exp and np.tanh over `--repeats` calls, written into one output
array, and their ratio. numpy's SIMD dispatch depends on the CPU, so the ratio is this machine's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

SHAPES = ((100, 256), (2, 100, 128), (30, 2, 100, 128))


def median_us(function, x: np.ndarray, out: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(x, out=out)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=200, help="calls per timing (default 200)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    print(f"numpy {np.__version__}, float32, median of {args.repeats} calls; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'shape':>20} {'exp µs':>9} {'tanh µs':>9} {'tanh ÷ exp':>11}")
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        out = np.empty_like(x)
        exp, tanh = median_us(np.exp, x, out, args.repeats), median_us(np.tanh, x, out, args.repeats)
        print(f"{str(shape):>20} {exp:>9.1f} {tanh:>9.1f} {tanh / exp:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
