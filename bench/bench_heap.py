"""The measurement behind minigrad/heap.py: page faults and time of train's steps, with and without kept_heap.

    python bench/bench_heap.py                  (about four minutes)
    python bench/bench_heap.py --steps 5 --rounds 1 --train-sizes 500

For each path (the default fast twin and the composed teaching model) and task, `--steps` steps of
train's loop body (forward, cross-entropy, backward, Adam) on one BLAS thread inside
rare_collections(), in a fresh process each (malloc's state is the process's): at glibc's
defaults and inside kept_heap(). Per step: wall ms, minor page faults and system-time ms; and the
process's RSS after the steps and at its peak. Rounds alternate the two settings; the figures are
medians. Then the same comparison for `python -m attention train` itself (its `main`, in a fresh
process, with train's kept_heap replaced by a block that does nothing for "glibc defaults"):
wall seconds and page faults of `--train-epochs` epochs for each of `--train-sizes`, since how
much the block changes depends on what the process allocated before its loop. Faults are counts
and barely depend on the machine's load; the times do.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
SETTINGS = ("glibc defaults", "kept_heap")


def worker(path: str, task: str, setting: str, steps: int) -> dict:
    sys.path.insert(0, ROOT)
    import minigrad as mg
    from attention.fast import fast
    from attention.train import TrainConfig, build
    from minigrad.collector import rare_collections
    from minigrad.heap import kept_heap
    from minigrad.threads import blas_threads
    from twin import memory_mb, train_loop_step
    config = TrainConfig(task=task, train_size=(steps + 3) * 100, composed=path == "composed")
    _, (X, Y), _, model = build(config)
    trained = model if path == "composed" else fast(model)
    optimizer = mg.optim.Adam(model.parameters(), lr=config.lr)

    with blas_threads(), rare_collections(), kept_heap() if setting == "kept_heap" else nullcontext():
        for k in range(3):  # warm-up: first calls, numpy's caches, the heap's first growth
            train_loop_step(trained, optimizer, X, Y, k)
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for k in range(steps):
            train_loop_step(trained, optimizer, X, Y, 3 + k)
        seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        rss, peak = memory_mb("VmRSS"), memory_mb("VmHWM")  # before kept_heap ends (bench_train.py)
    return {"ms": seconds / steps * 1000, "faults": (after.ru_minflt - before.ru_minflt) / steps,
            "sys_ms": (after.ru_stime - before.ru_stime) / steps * 1000, "rss": rss, "peak": peak}


def train_worker(setting: str, task: str, epochs: int, pairs: int) -> dict:
    """Seconds and page faults of `python -m attention train` run by its main in this process."""
    sys.path.insert(0, ROOT)
    import attention.train
    from attention.__main__ import main
    if setting != "kept_heap":
        attention.train.kept_heap = nullcontext
    with tempfile.TemporaryDirectory() as out:
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        code = main(["train", "--quiet", "--no-progress", "--out", out, "--task", task,
                     "--epochs", str(epochs), "--train-size", str(pairs)])
        seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    if code:
        raise SystemExit(f"train exited with {code}")
    return {"seconds": seconds, "faults": after.ru_minflt - before.ru_minflt}


def measure(*worker: str) -> dict:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), *worker], capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"worker {' '.join(worker)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def alternated(rounds: int, *worker: str) -> dict:
    """{setting: the medians of each figure over `rounds`}, the two settings alternated."""
    runs = {setting: [] for setting in SETTINGS}
    for round_ in range(rounds):
        for setting in SETTINGS if round_ % 2 == 0 else SETTINGS[::-1]:
            runs[setting].append(measure(*worker, setting))
    return {setting: {key: statistics.median(r[key] for r in results) for key in results[0]}
            for setting, results in runs.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per measurement (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--tasks", nargs="+", default=("dlai-dates", "dates"), choices=("dlai-dates", "dates"))
    parser.add_argument("--train-sizes", nargs="+", type=int, default=(20_000, 3_000),
                        help="train's --train-size for the section on train itself (default 20000 3000)")
    parser.add_argument("--train-epochs", type=int, default=2, help="epochs of each train run (default 2)")
    parser.add_argument("--worker", nargs=3, metavar=("PATH", "TASK", "SETTING"), help=argparse.SUPPRESS)
    parser.add_argument("--train-worker", nargs=4, metavar=("TASK", "EPOCHS", "PAIRS", "SETTING"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.steps, args.rounds, args.train_epochs, *args.train_sizes) < 1:
        parser.error("--steps, --rounds, --train-epochs and --train-sizes must be at least 1, got "
                     f"{args.steps}, {args.rounds}, {args.train_epochs} and {' '.join(map(str, args.train_sizes))}")
    if args.worker:
        path, task, setting = args.worker
        print(json.dumps(worker(path, task, setting, args.steps)))
        return 0
    if args.train_worker:
        task, epochs, pairs, setting = args.train_worker
        print(json.dumps(train_worker(setting, task, int(epochs), int(pairs))))
        return 0
    print(f"command: python bench/bench_heap.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    print(f"train's loop body, {args.steps} steps, medians of {args.rounds} alternated fresh processes")
    print(f"{'path':9} {'task':11} {'settings':15} {'ms/step':>8} {'faults/step':>12} {'sys ms/step':>12} "
          f"{'RSS MB':>7} {'peak MB':>8}")
    for path in ("fast", "composed"):
        for task in args.tasks:
            medians = alternated(args.rounds, "--steps", str(args.steps), "--worker", path, task)
            for setting, m in medians.items():
                print(f"{path:9} {task:11} {setting:15} {m['ms']:>8.1f} {m['faults']:>12.0f} "
                      f"{m['sys_ms']:>12.1f} {m['rss']:>7.0f} {m['peak']:>8.0f}", flush=True)
    print(f"\npython -m attention train --epochs {args.train_epochs}, whole process after imports, "
          f"medians of {args.rounds} alternated fresh processes")
    print(f"{'task':11} {'pairs':>7} {'settings':15} {'seconds':>8} {'faults':>9}")
    for task in args.tasks:
        for pairs in args.train_sizes:
            medians = alternated(args.rounds, "--train-worker", task, str(args.train_epochs), str(pairs))
            for setting, m in medians.items():
                print(f"{task:11} {pairs:>7} {setting:15} {m['seconds']:>8.2f} {m['faults']:>9.0f}", flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
