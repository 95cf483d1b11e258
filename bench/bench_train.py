"""Training cost of the dlai date model: minigrad against PyTorch on the same CPU (one contender a process).

One training step = forward, cross-entropy, backward and an Adam update on a batch of 100
(Tx = 30, Ty = 10, Bi-LSTM n_a = 32, post-attention LSTM n_s = 64, dlai scorer 10 → 1).
Contenders (the models are bench/twin.py's):
  minigrad           the model `train` trains by default: the fast twin of attention/fast.py, in
                     one process (the minigrad contenders run under train's loop settings: bench/twin.py)
  minigrad-train     the same step as `train` runs it by default: each batch split over
                     attention.parallel.default_processes() processes; its RSS is the sum of theirs
  minigrad-composed  the composed teaching model (`train --composed`), in one process
  minigrad-composed-train
                     the same step as `train --composed` runs it by default: on
                     default_processes() processes (two: attention.parallel.ComposedParallel)
  torch-fused        nn.LSTM (bidirectional) encoder + nn.LSTMCell decoder, same attention maths
  torch-composed     the composed model's primitive ops (gather, matmul, sigmoid, tanh, …) in PyTorch
bench/report.py runs the worker below and prints the table; it prints one line of JSON:
  --run NAME --steps N [--tx T] [--score S]   step times, and RSS before, after steps 1, 100 and 1,000, and at peak
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext

from twin import B, TX, VOUT, as_train_runs, memory_mb, minigrad_model, reset_peak_memory, synthetic_pairs, torch_model

CONTENDERS = ("minigrad", "minigrad-train", "minigrad-composed", "minigrad-composed-train", "torch-fused",
              "torch-composed")
WARMUP = 5  # steps left out of the timing: first calls allocate and fill caches


def minigrad_step(tx: int, path: str, score: str, processes: int = 1):
    """One step of `path`, and the split `train` would run it on (one process: forks nothing)."""
    import numpy as np
    import minigrad as mg
    from attention.fast import fast
    from attention.parallel import training_split
    model = minigrad_model("composed", tx, score)
    trained = model if path == "composed" else fast(model)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = synthetic_pairs(B, tx)
    split = training_split(model, trained, X, Y, processes, B)
    rows = np.arange(B)

    def step():
        optimizer.zero_grad()
        split.backward(rows)
        optimizer.step()
    return step, split


def torch_step(tx: int, fused: bool, score: str):
    import torch
    model = torch_model(fused, tx, score)
    X, Y = (torch.from_numpy(a) for a in synthetic_pairs(B, tx))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

    def step():
        loss = torch.nn.functional.cross_entropy(model(X)[0].reshape(-1, VOUT), Y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def run_contender(name: str, steps: int, tx: int, score: str = "dlai") -> dict:
    with as_train_runs() if name.startswith("minigrad") else nullcontext():  # also the workers' settings
        split = None
        if name.startswith("minigrad"):
            from attention.parallel import default_processes
            processes = default_processes() if name.endswith("-train") else 1
            step, split = minigrad_step(tx, "composed" if name.startswith("minigrad-composed") else "default",
                                        score, processes)
        else:
            step = torch_step(tx, name == "torch-fused", score)
        pids = ["self"] + ([str(worker.pid) for worker in split.workers] if split else [])
        rss = {"before": sum(memory_mb("VmRSS", pid) for pid in pids)}
        for pid in pids:
            reset_peak_memory(pid)
        times = []
        for k in range(1, steps + 1):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
            if k in (1, 100, 1000):
                rss[str(k)] = sum(memory_mb("VmRSS", pid) for pid in pids)
        rss["peak"] = sum(memory_mb("VmHWM", pid) for pid in pids)  # before kept_heap ends: seen afterwards, below the RSS at step 100
        if split:
            split.close()
    return {"step_ms": statistics.median(times[WARMUP:] or times) * 1e3, "rss_mb": rss, "processes": len(pids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, choices=CONTENDERS, help="a contender's name")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--tx", type=int, default=TX)
    parser.add_argument("--score", choices=("dlai", "bahdanau"), default="dlai")
    args = parser.parse_args()
    print(json.dumps(run_contender(args.run, args.steps, args.tx, args.score)))


if __name__ == "__main__":
    main()
