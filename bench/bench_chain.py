"""Backward through a long chain: y = y · c applied N times to a one-element leaf, then y.backward().

Nothing in minigrad's backward recurses, so a chain of a million ops goes through the same
loops as a chain of three; its cost should grow linearly with N. Prints one line of JSON:
    python bench/bench_chain.py [--ops 1000000]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import minigrad as mg


def chain(ops: int) -> dict:
    x = mg.Tensor(np.ones(1, dtype=np.float32), requires_grad=True)
    factor = mg.Tensor(np.ones(1, dtype=np.float32))
    start = time.perf_counter()
    y = x
    for _ in range(ops):
        y = y * factor
    built = time.perf_counter()
    y.backward()
    done = time.perf_counter()
    assert x.grad is not None and x.grad[0] == 1.0
    return {"ops": ops, "forward_s": built - start, "backward_s": done - built,
            "backward_us_per_op": (done - built) / ops * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000)
    print(json.dumps(chain(parser.parse_args().ops)))


if __name__ == "__main__":
    main()
