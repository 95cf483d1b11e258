"""Does the default `train` reach 99% held-out exact match, and get the demo dates right, for every seed?

    python bench/bench_seeds.py [--seeds 0 1 2] [--task dates] [--composed] [--keep DIR]
    python bench/bench_seeds.py --task dlai-dates --train-size 10000 --epochs 12 [--last-date 2026-11-25]

Trains the default model (TrainConfig(), or the task and sizes given) once per seed and prints,
per seed: the first epoch at or above 99% and the wall time then, the last epoch's exact match,
the epoch the checkpoint keeps (the best held-out one), the whole run's wall time and its CPU
time, its workers' included (with OPENBLAS_NUM_THREADS=1 and one process, about the wall time on a
quiet machine), and how many of
the demo dates `train` prints (the assignment's examples) the kept model gets right, and how
many of those it would call unsure. It trains the fast twin unless --composed. The dlai-dates
task draws up to --last-date, so a run repeats on any day. --keep DIR keeps each checkpoint as DIR/seedN (for bench_dates.py --model).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from attention.__main__ import DEMO_DATES, translate_texts
from attention.decode import DEFAULT_MIN_CONFIDENCE, task_class
from attention.train import TrainConfig, load_checkpoint, train

DEMO_ANSWERS = ["1979-05-03", "2009-04-05", "2016-08-21", "2007-07-10", "2018-05-09", "2001-03-03",
                "2001-03-03", "2001-03-01"]


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the workers train splits batches over)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def demo(out: str) -> tuple[int, int, list[str]]:
    """(right, right but unsure, the wrong ones as 'text → output') for the demo dates."""
    model, human, machine, metadata = load_checkpoint(out)
    translations, _ = translate_texts(model, human, machine, DEMO_DATES, task_class(metadata))
    right = [t for t, answer in zip(translations, DEMO_ANSWERS) if t.output == answer]
    wrong = [f"{t.text} → {t.output}" for t, answer in zip(translations, DEMO_ANSWERS) if t.output != answer]
    return len(right), sum(t.unsure(DEFAULT_MIN_CONFIDENCE) for t in right), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--task", default=TrainConfig.task, choices=["dates", "dlai-dates"])
    parser.add_argument("--train-size", type=int, default=TrainConfig.train_size)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--last-date", default="2026-11-25", help="dlai-dates only")
    parser.add_argument("--composed", action="store_true", help="train the teaching path (every gate a node)")
    parser.add_argument("--keep", metavar="DIR", help="keep each checkpoint as DIR/seedN")
    args = parser.parse_args()
    options = {"last_date": args.last_date} if args.task == "dlai-dates" else {}
    print(f"train --task {args.task}: {args.train_size} pairs, {args.epochs} epochs"
          f"{', dates up to ' + args.last_date if options else ''}{', composed path' if args.composed else ''}")
    print(f"{'seed':>4} {'first ≥ 99%':>12} {'seconds':>8} {'last epoch':>11} {'kept epoch':>11} {'total s':>8}"
          f" {'CPU s':>6} {'demo right':>11} {'unsure':>7}")
    for seed in args.seeds:
        config = TrainConfig(task=args.task, seed=seed, train_size=args.train_size, epochs=args.epochs,
                             composed=args.composed, **options)
        with tempfile.TemporaryDirectory() as scratch:
            out = os.path.join(args.keep, f"seed{seed}") if args.keep else scratch
            cpu = cpu_seconds()
            history = train(config, out, log=lambda line: None, progress=False)
            cpu = cpu_seconds() - cpu
            right, unsure, wrong = demo(out)
        epochs = history["epochs"]
        reached = next((e for e in epochs if e["exact_match"] >= 0.99), None)
        kept = next(e for e in epochs if e["epoch"] == history["best_epoch"])
        print(f"{seed:>4} {reached['epoch'] if reached else 'never':>12} "
              f"{reached['seconds'] if reached else float('nan'):>8.1f} "
              f"{epochs[-1]['exact_match']:>10.1%} {kept['epoch']:>5} ({kept['exact_match']:.1%}) "
              f"{epochs[-1]['seconds']:>7.1f} {cpu:>6.1f} {right:>8}/{len(DEMO_DATES)} {unsure:>7}"
              + (f"   wrong: {'; '.join(wrong)}" if wrong else ""), flush=True)


if __name__ == "__main__":
    main()
