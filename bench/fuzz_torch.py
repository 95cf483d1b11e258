"""Thousands of random programs through minigrad and PyTorch, compared value by value and
gradient by gradient (the fuzzer is tests/torch_fuzz.py; the test suite runs 300 of them).
Every mismatch is printed as a shrunk script that runs on its own.

    python bench/fuzz_torch.py [--programs 5000] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import torch_fuzz  # noqa: E402  (tests/ is not a package)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ran, found = torch_fuzz.fuzz(args.programs, args.seed)
    print(f"{ran} programs (seeds {args.seed}..{args.seed + ran - 1}) in "
          f"{time.perf_counter() - started:.1f}s: {len(found)} disagree "
          f"(load average {os.getloadavg()[0]:.2f})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
