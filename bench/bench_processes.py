"""The measurement behind attention/parallel.py's default: `train` on one process or two, alone and under load.

    python bench/bench_processes.py            (about three minutes on two cores)
    python bench/bench_processes.py --quick    (small data, to check the harness)

Each run is `python -m attention train --processes P` (dlai-dates, dlai score, 2 epochs of
10,000 pairs, the held-out evaluation and checkpoint included), started together with C - 1
other runs of the same setting (what two or three users, or a benchmark and a training, do on
one machine); the figure is the wall time of each run, start to exit, median over the runs and
rounds, the settings interleaved in every round. Above 1, the ratio says two processes were slower.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PROCESSES = (1, 2)
CONCURRENT = (1, 2, 3)


def concurrent_runs(processes: int, count: int, train_size: int, epochs: int) -> list[float]:
    """Wall seconds of each of `count` trainings started at once, each on `processes` processes."""
    with tempfile.TemporaryDirectory() as out:
        started, running = time.perf_counter(), []
        for k in range(count):
            command = [sys.executable, "-m", "attention", "train", "--quiet", "--no-progress", "--task", "dlai-dates",
                       "--score", "dlai", "--epochs", str(epochs), "--train-size", str(train_size),
                       "--processes", str(processes), "--out", os.path.join(out, str(k))]
            running.append(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            env=dict(os.environ, PYTHONPATH=ROOT)))
        seconds = []
        for process in running:
            _, error = process.communicate()
            if process.returncode:
                raise SystemExit(f"train --processes {processes} failed (exit {process.returncode}):\n{error.decode()}")
            seconds.append(time.perf_counter() - started)  # an upper bound for the ones that ended before
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 1 epoch on 300 pairs")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rounds, train_size, epochs = (1, 300, 1) if args.quick else (args.rounds, 10_000, 2)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start; {os.cpu_count()} CPUs; "
          f"{rounds} rounds of train --epochs {epochs} --train-size {train_size}", flush=True)
    start = time.perf_counter()
    seconds = {(p, c): [] for p in PROCESSES for c in CONCURRENT}
    for _ in range(rounds):
        for count in CONCURRENT:
            for processes in PROCESSES:
                seconds[processes, count] += concurrent_runs(processes, count, train_size, epochs)
    print(f"\n{'trainings at once':>18}" + "".join(f"{f'{p} process' + ('es' if p > 1 else ''):>14}" for p in PROCESSES)
          + f"{'2 ÷ 1':>8}")
    for count in CONCURRENT:
        medians = [statistics.median(seconds[p, count]) for p in PROCESSES]
        print(f"{count:>18}" + "".join(f"{m:>13.1f}s" for m in medians) + f"{medians[1] / medians[0]:>8.2f}")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; "
          f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
