"""Does the default `train` reach 99% held-out exact match for every seed? (issue 4's target)

    python bench/bench_seeds.py [--seeds 0 1 2] [--last-date 2026-11-25] [--fused]

Trains the default model once per seed, with the dates drawn up to --last-date so a run repeats
on any day, and prints, per seed: the first epoch at or above 99% and the wall time then, the
last epoch's exact match, and the epoch the checkpoint keeps (the best held-out one).
"""
from __future__ import annotations

import argparse
import tempfile

from attention.train import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--last-date", default="2026-11-25")
    parser.add_argument("--fused", action="store_true")
    args = parser.parse_args()
    print(f"default train, dates up to {args.last_date}{', fused path' if args.fused else ''}")
    print(f"{'seed':>4} {'first ≥ 99%':>12} {'seconds':>8} {'last epoch':>11} {'kept epoch':>11} {'total s':>8}")
    for seed in args.seeds:
        config = TrainConfig(seed=seed, last_date=args.last_date, fused_cells=args.fused)
        with tempfile.TemporaryDirectory() as out:
            history = train(config, out, log=lambda line: None, progress=False)
        epochs = history["epochs"]
        reached = next((e for e in epochs if e["exact_match"] >= 0.99), None)
        kept = next(e for e in epochs if e["epoch"] == history["best_epoch"])
        print(f"{seed:>4} {reached['epoch'] if reached else 'never':>12} "
              f"{reached['seconds'] if reached else float('nan'):>8.1f} "
              f"{epochs[-1]['exact_match']:>10.1%} {kept['epoch']:>5} ({kept['exact_match']:.1%}) "
              f"{epochs[-1]['seconds']:>7.1f}")


if __name__ == "__main__":
    main()
