"""Issue 5's whole benchmark in one command: every figure of its table, each contender in its own process.

    python bench/report.py           the full table (about ten minutes on two cores)
    python bench/report.py --quick   fewer steps and repetitions, no run to 99% (for development)
    python bench/report.py --threads 1   every contender's BLAS and PyTorch on one thread each

Sections: the training step of the dlai date model against PyTorch (median over repetitions,
ratios, memory), wall time of the default `train` to 99% held-out exact match, step time as Tx
grows, backward of a 1,000,000-op chain, and the per-op overhead of bench_ops.py.
Timings are medians, but the machine may be shared: the load average is printed at the start
and the end, and a figure is only worth quoting from a run whose load stayed low.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

import numpy as np

from bench_epoch import describe_convergence, time_to_target

BENCH = os.path.dirname(os.path.abspath(__file__))
CONTENDERS = ("minigrad", "minigrad-composed", "torch-fused", "torch-composed")
MINE = ("minigrad", "minigrad-composed")


WORKER_ENV = dict(os.environ)


def pin_threads(threads: int) -> None:
    """Give numpy's OpenBLAS and PyTorch's intra-op pool the same number of threads in every worker."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        WORKER_ENV[variable] = str(threads)


def worker(script: str, *args) -> dict:
    """Run bench/<script> in a fresh process and return the JSON of its last line."""
    done = subprocess.run([sys.executable, os.path.join(BENCH, script), *map(str, args)],
                          capture_output=True, text=True, env=WORKER_ENV)
    if done.returncode:
        sys.exit(f"{script} {' '.join(map(str, args))} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def torch_version():
    """PyTorch's version and the intra-op threads a worker gets, or None without PyTorch."""
    done = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__, "
                           "torch.get_num_threads())"], capture_output=True, text=True, env=WORKER_ENV)
    if done.returncode:
        return None
    version, threads = done.stdout.split()
    return f"torch {version}, {threads} intra-op threads"


def step_section(contenders, memory_steps: int, extra_rounds: int, round_steps: int) -> dict:
    """One long run per contender (its memory, and one step-time repetition), then short rounds,
    interleaved so that a burst of load elsewhere hits every contender alike."""
    results = {name: worker("bench_train.py", "--run", name, "--steps", memory_steps) for name in contenders}
    medians = {name: [r["step_ms"]] for name, r in results.items()}
    for _ in range(extra_rounds):
        for name in contenders:
            medians[name].append(worker("bench_train.py", "--run", name, "--steps", round_steps)["step_ms"])
    print(f"training step, batch {100}: median of {1 + extra_rounds} processes per contender "
          f"(one of {memory_steps} steps, {extra_rounds} of {round_steps}); MB are RSS")
    print(f"{'contender':15} {'step ms':>8} {'(min–max)':>13} {'step peak':>10} {'peak RSS':>9} "
          f"{'RSS@1':>7} {'RSS@100':>8} {'RSS@1000':>9}")
    for name in contenders:
        rss, runs = results[name]["rss_mb"], medians[name]
        results[name]["median_ms"] = statistics.median(runs)
        results[name]["step_peak_mb"] = rss["peak"] - rss["before"]
        print(f"{name:15} {statistics.median(runs):>8.1f} {f'({min(runs):.1f}–{max(runs):.1f})':>13} "
              f"{rss['peak'] - rss['before']:>10.0f} {rss['peak']:>9.0f} {rss.get('1', 0):>7.0f} "
              f"{rss.get('100', float('nan')):>8.0f} {rss.get('1000', float('nan')):>9.0f}")
    print("step peak = peak RSS during the steps minus RSS before the first step (the step's own memory)")
    for mine in MINE:
        ratios = [f"÷ {name} {results[mine]['median_ms'] / results[name]['median_ms']:.2f}"
                  for name in contenders if name.startswith("torch")]
        if ratios:
            print(f"{mine}: " + ", ".join(ratios))
    return results


def targets(results: dict) -> None:
    if "torch-fused" not in results:
        return
    fast, fused, composed = results["minigrad"], results["torch-fused"], results["torch-composed"]
    checks = [
        ("minigrad ÷ torch-fused step time ≤ 1.0", fast["median_ms"] / fused["median_ms"], 1.0),
        ("minigrad ÷ torch-composed step time ≤ 0.7", fast["median_ms"] / composed["median_ms"], 0.7),
        ("minigrad ÷ torch-fused step peak memory ≤ 1.5",
         fast["step_peak_mb"] / fused["step_peak_mb"], 1.5),
    ]
    for name in MINE:
        rss = results[name]["rss_mb"]
        if "1000" in rss:
            checks.append((f"{name} RSS@1000 ÷ RSS@100 ≤ 1.05", rss["1000"] / rss["100"], 1.05))
    print("targets:")
    for what, value, limit in checks:
        print(f"  {what:52} {value:6.2f}  {'met' if value <= limit else 'NOT MET'}")


def convergence_section() -> None:
    print("\nwall time of `train` (bahdanau, seed 0) to 99% held-out exact match, checkpoint included")
    for flags in ((), ("--composed",)):
        print("  " + describe_convergence(time_to_target(list(flags), target=0.99, max_epochs=12)))


def scaling_section(steps: int) -> None:
    print(f"\nstep time as Tx grows (median of {steps - 5} steps after 5 warm-up; linear: ms per input step flat)")
    print(f"{'Tx':>5}" + "".join(f"{name + ' ms':>18}{'per Tx':>8}" for name in MINE))
    for tx in (10, 30, 100, 300):
        cells = []
        for name in MINE:
            ms = worker("bench_train.py", "--run", name, "--steps", steps, "--tx", tx)["step_ms"]
            cells.append(f"{ms:>18.1f}{ms / tx:>8.2f}")
        print(f"{tx:>5}" + "".join(cells))


def chain_section(sizes) -> None:
    print("\nbackward of a chain of ops (y = y · c, one-element tensors)")
    for ops in sizes:
        r = worker("bench_chain.py", "--ops", ops)
        print(f"  {ops:>9,} ops: build {r['forward_s']:5.2f} s, backward {r['backward_s']:5.2f} s "
              f"({r['backward_us_per_op']:.2f} µs per op)")


def ops_section(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "ops.json")
        done = subprocess.run([sys.executable, os.path.join(BENCH, "bench_ops.py"), "--json", path]
                              + (["--quick"] if quick else []), capture_output=True, text=True,
                              env=WORKER_ENV)
        if done.returncode:
            sys.exit(f"bench_ops.py failed:\n{done.stderr}")
        with open(path) as file:
            rows = json.load(file)["results"]
    print("\nper-op overhead (bench_ops.py: forward + backward per op, float32 (100, 64))")
    print(f"  {'op':18}{'minigrad µs':>12}{'÷ numpy':>9}{'÷ torch':>9}")
    for r in rows:
        versus_torch = f"{r['minigrad_over_torch']:.2f}" if r["minigrad_over_torch"] else "—"
        print(f"  {r['op'] + ' (' + r['case'] + ')':18}{r['minigrad_us']:>12.2f}"
              f"{r['minigrad_over_numpy']:>9.2f}{versus_torch:>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run for development")
    parser.add_argument("--threads", type=int, help="BLAS and PyTorch threads of every worker "
                        "(default: each library's own default)")
    args = parser.parse_args()
    quick = args.quick
    if args.threads:
        pin_threads(args.threads)
    torch_info = torch_version()
    contenders = CONTENDERS if torch_info else MINE
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"{torch_info or 'torch not installed: minigrad alone'}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print(f"command: python bench/report.py {' '.join(sys.argv[1:])}".rstrip()
          + f"; numpy's BLAS threads: {WORKER_ENV.get('OPENBLAS_NUM_THREADS', 'its default')}\n")
    results = step_section(contenders, memory_steps=100 if quick else 1000,
                           extra_rounds=1 if quick else 4, round_steps=40 if quick else 100)
    if torch_info:
        targets(results)
    if not quick:
        convergence_section()
    scaling_section(steps=8 if quick else 12)
    chain_section((100_000,) if quick else (100_000, 1_000_000))
    ops_section(quick)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
