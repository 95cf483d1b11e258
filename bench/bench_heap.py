"""The measurement behind minigrad/heap.py: page faults and time of train's steps, with and without kept_heap.

    python bench/bench_heap.py                  (about two minutes)
    python bench/bench_heap.py --steps 5 --rounds 1

For each path (the default fast twin and the composed teaching model) and task, `--steps` steps of
train's loop body (forward, cross-entropy, backward, Adam) on one BLAS thread inside
rare_collections(), in a fresh process each (malloc's state is the process's): at glibc's
defaults and inside kept_heap(). Per step: wall ms, minor page faults and system-time ms; and the
process's RSS after the steps and at its peak. Rounds alternate the two settings; the figures are
medians. Faults are counts and barely depend on the machine's load; the times do.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
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


def measure(path: str, task: str, setting: str, steps: int) -> dict:
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", path, task, setting,
                           "--steps", str(steps)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"worker {path} {task} {setting} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps per measurement (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--tasks", nargs="+", default=("dlai-dates", "dates"), choices=("dlai-dates", "dates"))
    parser.add_argument("--worker", nargs=3, metavar=("PATH", "TASK", "SETTING"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error(f"--steps and --rounds must be at least 1, got {args.steps} and {args.rounds}")
    if args.worker:
        print(json.dumps(worker(*args.worker, args.steps)))
        return 0
    print(f"command: python bench/bench_heap.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    print(f"{'path':9} {'task':11} {'settings':15} {'ms/step':>8} {'faults/step':>12} {'sys ms/step':>12} "
          f"{'RSS MB':>7} {'peak MB':>8}")
    for path in ("fast", "composed"):
        for task in args.tasks:
            runs = {setting: [] for setting in SETTINGS}
            for round_ in range(args.rounds):
                for setting in SETTINGS if round_ % 2 == 0 else SETTINGS[::-1]:
                    runs[setting].append(measure(path, task, setting, args.steps))
            for setting in SETTINGS:
                median = {key: statistics.median(r[key] for r in runs[setting]) for key in runs[setting][0]}
                print(f"{path:9} {task:11} {setting:15} {median['ms']:>8.1f} {median['faults']:>12.0f} "
                      f"{median['sys_ms']:>12.1f} {median['rss']:>7.0f} {median['peak']:>8.0f}", flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
