"""The measurement behind attention/parallel.py's default: `train` on one process or two, alone and under load.

    python bench/bench_processes.py            (about three minutes on two cores)
    python bench/bench_processes.py --quick    (small data, to check the harness)
    python bench/bench_processes.py --composed (the same for `train --composed`)
    python bench/bench_processes.py --wake-up  (what waiting on a pipe costs: attention.parallel._read)

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


def concurrent_runs(processes: int, count: int, train_size: int, epochs: int, flags: tuple = ()) -> list[float]:
    """Wall seconds of each of `count` trainings started at once, each on `processes` processes."""
    with tempfile.TemporaryDirectory() as out:
        started, running = time.perf_counter(), []
        for k in range(count):
            command = [sys.executable, "-m", "attention", "train", "--quiet", "--no-progress", "--task", "dlai-dates",
                       "--score", "dlai", "--epochs", str(epochs), "--train-size", str(train_size),
                       "--processes", str(processes), "--out", os.path.join(out, str(k)), *flags]
            running.append(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                            env=dict(os.environ, PYTHONPATH=ROOT)))
        seconds = []
        for process in running:
            _, error = process.communicate()
            if process.returncode:
                raise SystemExit(f"train --processes {processes} failed (exit {process.returncode}):\n{error.decode()}")
            seconds.append(time.perf_counter() - started)  # an upper bound for the ones that ended before
        return seconds


WORK = 0.002  # seconds of busy work on each side of a trip: about a decoder share's


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def trip_overheads(read, trips: int = 300) -> list[float]:
    """Seconds each message-and-answer trip took beyond the worker's WORK, both sides waiting with `read`."""
    commands_read, commands_write = os.pipe()
    answers_read, answers_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: answer every message after WORK seconds, until the pipe closes
        os.close(commands_write)
        os.close(answers_read)
        while read(commands_read, 8):
            busy(WORK)
            os.write(answers_write, b"\x00")
        os._exit(0)
    os.close(commands_read)
    os.close(answers_write)
    overheads = []
    for _ in range(trips):
        start = time.perf_counter()
        os.write(commands_write, (0).to_bytes(8, "little"))
        busy(WORK * 0.75)
        read(answers_read, 1)
        overheads.append(time.perf_counter() - start - WORK)
    os.close(commands_write)
    os.waitpid(pid, 0)
    return overheads


def wake_up() -> None:
    sys.path.insert(0, ROOT)
    from attention.parallel import POLL_WAIT, _read
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start; {os.cpu_count()} CPUs; "
          f"a round trip's cost beyond {WORK * 1e3:.0f} ms of work, µs")
    print(f"{'waiting':>34}{'median':>9}{'1 in 10':>9}")
    for name, read in (("asleep in os.read", os.read), (f"polling {POLL_WAIT * 1e3:.0f} ms first (_read)", _read)):
        overheads = sorted(trip_overheads(read))
        print(f"{name:>34}{overheads[len(overheads) // 2] * 1e6:>9.0f}{overheads[len(overheads) * 9 // 10] * 1e6:>9.0f}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 1 epoch on 300 pairs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--composed", action="store_true", help="train --composed")
    parser.add_argument("--wake-up", action="store_true", help="time a wait on a pipe instead of trainings")
    args = parser.parse_args()
    if args.wake_up:
        return wake_up()
    rounds, train_size, epochs = (1, 300, 1) if args.quick else (args.rounds, 10_000, 2)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start; {os.cpu_count()} CPUs; "
          f"{rounds} rounds of train --epochs {epochs} --train-size {train_size}{' --composed' * args.composed}",
          flush=True)
    start = time.perf_counter()
    seconds = {(p, c): [] for p in PROCESSES for c in CONCURRENT}
    for _ in range(rounds):
        for count in CONCURRENT:
            for processes in PROCESSES:
                seconds[processes, count] += concurrent_runs(processes, count, train_size, epochs,
                                                             ("--composed",) if args.composed else ())
    print(f"\n{'trainings at once':>18}" + "".join(f"{f'{p} process' + ('es' if p > 1 else ''):>14}" for p in PROCESSES)
          + f"{'2 ÷ 1':>8}")
    for count in CONCURRENT:
        medians = [statistics.median(seconds[p, count]) for p in PROCESSES]
        print(f"{count:>18}" + "".join(f"{m:>13.1f}s" for m in medians) + f"{medians[1] / medians[0]:>8.2f}")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; "
          f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    main()
