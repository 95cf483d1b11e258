"""The measurement behind minigrad/threads.py: BLAS threads for small and large matrices, alone and under load.

    python bench/bench_threads.py            (about two minutes)
    python bench/bench_threads.py --quick

For each workload, one BLAS thread against numpy's default (OpenBLAS: one per core), each in a
fresh process, alone and then beside a second process training the date model with the same
thread setting (what two users, or a benchmark and a training, do on one machine):
  step (default)    a training step of the model `train` trains (bench/twin.py, batch 100, Tx 30)
  step (composed)   the same step on the composed teaching path
  matmul N          an N×N float32 product (np.matmul), N = 1000 and 2000
Medians of the workload's repetitions, interleaved over rounds; the ratio is default ÷ one thread
(above 1: the default threads are slower).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
WORKLOADS = ("step-default", "step-composed", "matmul-1000", "matmul-2000")
SETTINGS = {"1 thread": 1, "default": 0}  # 0: numpy's own default


def workload(name: str):
    """A function doing one repetition of the workload."""
    import numpy as np
    if name.startswith("matmul"):
        size = int(name.split("-")[1])
        a, b = (np.random.default_rng(k).standard_normal((size, size), dtype=np.float32) for k in (0, 1))
        return lambda: a @ b
    import minigrad as mg
    from twin import B, TX, minigrad_model, synthetic_pairs
    model = minigrad_model(name.split("-")[1], TX)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = synthetic_pairs(B, TX)

    def step():
        loss = mg.cross_entropy(model(X)[0], Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def worker(name: str, threads: int, seconds: float) -> dict:
    """Repeat the workload for about `seconds` (after two warm-up calls); its median in ms."""
    from minigrad.threads import blas_threads
    run = workload(name)
    with blas_threads(threads) if threads else nullcontext():
        run(), run()
        times, end = [], time.perf_counter() + seconds
        while time.perf_counter() < end or len(times) < 3:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return {"ms": statistics.median(times) * 1e3, "repetitions": len(times)}


def spawn(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, os.path.join(BENCH, "bench_threads.py"), *map(str, args)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))


def measure(name: str, threads: int, seconds: float, loaded: bool) -> float:
    load = spawn("--worker", "step-default", "--threads", threads, "--seconds", 3600) if loaded else None
    try:
        if load:
            time.sleep(1.5)  # let the second training get going
        done = spawn("--worker", name, "--threads", threads, "--seconds", seconds)
        stdout, _ = done.communicate()
        if done.returncode:
            sys.exit(f"bench_threads.py --worker {name} failed")
        return json.loads(stdout.strip().splitlines()[-1])["ms"]
    finally:
        if load:
            load.kill()
            load.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.seconds)), flush=True)
        return
    seconds, rounds = (0.5, 1) if args.quick else (3.0, args.rounds or 2)
    blas_env = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ}
    print(f"command: python bench/bench_threads.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start; {os.cpu_count()} CPUs; "
          f"BLAS environment {blas_env or 'unset (numpy default)'}", flush=True)
    ms = {(w, s, loaded): [] for w in WORKLOADS for s in SETTINGS for loaded in (False, True)}
    for _ in range(rounds):
        for loaded in (False, True):
            for w in WORKLOADS:
                for setting, threads in SETTINGS.items():
                    ms[w, setting, loaded].append(measure(w, threads, seconds, loaded))
    print(f"\nms per repetition, median of {rounds} rounds ({seconds:g} s of repetitions each); "
          "under load = beside a second training with the same threads")
    print("| workload | 1 thread | default | default ÷ 1 | under load: 1 thread | default | default ÷ 1 |")
    print("|---|---|---|---|---|---|---|")
    for w in WORKLOADS:
        cells = []
        for loaded in (False, True):
            one, default = (statistics.median(ms[w, s, loaded]) for s in SETTINGS)
            cells += [f"{one:.1f}", f"{default:.1f}", f"{default / one:.2f}"]
        print(f"| {w} | " + " | ".join(cells) + " |")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
