"""Training cost of the dlai date model: minigrad against PyTorch on the same CPU (one contender a process).

One training step = forward, cross-entropy, backward and an Adam update on a batch of 100
(Tx = 30, Ty = 10, Bi-LSTM n_a = 32, post-attention LSTM n_s = 64, dlai scorer 10 → 1).
Contenders (the models are bench/twin.py's):
  minigrad           the model `train` trains by default: the fast twin of attention/fast.py
                     (both minigrad contenders run under train's loop settings: bench/twin.py)
  minigrad-composed  the composed teaching model (`train --composed`)
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

CONTENDERS = ("minigrad", "minigrad-composed", "torch-fused", "torch-composed")
WARMUP = 5  # steps left out of the timing: first calls allocate and fill caches


def minigrad_step(tx: int, path: str, score: str):
    import minigrad as mg
    model = minigrad_model(path, tx, score)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = synthetic_pairs(B, tx)

    def step():
        logits, _ = model(X)
        loss = mg.cross_entropy(logits, Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


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
    if name.startswith("minigrad"):
        step = minigrad_step(tx, "composed" if name == "minigrad-composed" else "default", score)
    else:
        step = torch_step(tx, name == "torch-fused", score)
    rss = {"before": memory_mb("VmRSS")}
    reset_peak_memory()
    times = []
    with as_train_runs() if name.startswith("minigrad") else nullcontext():
        for k in range(1, steps + 1):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
            if k in (1, 100, 1000):
                rss[str(k)] = memory_mb("VmRSS")
        rss["peak"] = memory_mb("VmHWM")  # before kept_heap ends: seen afterwards, below the RSS at step 100
    return {"step_ms": statistics.median(times[WARMUP:] or times) * 1e3, "rss_mb": rss}


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
