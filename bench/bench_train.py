"""Training-step cost of the dlai date model: minigrad against PyTorch on the same CPU.

One training step = forward, cross-entropy, backward and an Adam update on a batch of 100
(Tx = 30, Ty = 10, Bi-LSTM n_a = 32, post-attention LSTM n_s = 64, dlai scorer 10 → 1).
Contenders, each in its own process (so memory is measured per contender):
  minigrad        attention.Seq2SeqAttention, the composed teaching model
  minigrad-fused  the same with fused_cells=True (one LSTMStep node per cell step)
  torch-fused     nn.LSTM (bidirectional) encoder + nn.LSTMCell decoder, same attention maths
  torch-composed  the same primitive ops as minigrad (matmul, sigmoid, tanh, …) in PyTorch
Reported: median step time over several repetitions, ratios to each PyTorch build, peak RSS,
and RSS after 1, 100 and 1,000 steps (flat means no graph or grad survives a step).
Run: python bench/bench_train.py [--steps 1000] [--repeats 30]; without torch, minigrad alone.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

B, TX, TY, VIN, VOUT, NA, NS, HID = 100, 30, 10, 37, 11, 32, 64, 10


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch(tx: int):
    rng = np.random.default_rng(0)
    return rng.integers(0, VIN, (B, tx)), rng.integers(0, VOUT, (B, TY))


def minigrad_step(tx: int, fused: bool = False):
    import minigrad as mg
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(0)
    model = Seq2SeqAttention(ModelConfig(Tx=tx, score="dlai", fused_cells=fused))
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = batch(tx)

    def step():
        logits, _ = model(X)
        loss = mg.cross_entropy(logits, Y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def torch_step(tx: int, fused: bool):
    import torch
    torch.manual_seed(0)
    X, Y = (torch.from_numpy(a) for a in batch(tx))
    onehot = torch.nn.functional.one_hot(X, VIN).float()

    class Composed(torch.nn.Module):
        """An LSTM cell from primitive ops, as minigrad builds it."""
        def __init__(self, n_in, n_h):
            super().__init__()
            self.wx = torch.nn.Parameter(torch.randn(n_in, 4 * n_h) * 0.1)
            self.wh = torch.nn.Parameter(torch.randn(n_h, 4 * n_h) * 0.1)
            self.b = torch.nn.Parameter(torch.zeros(4 * n_h))

        def forward(self, x, state):
            h, c = state
            i, f, g, o = (x @ self.wx + h @ self.wh + self.b).chunk(4, dim=-1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            return o.sigmoid() * c.tanh(), c

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if fused:
                self.encoder = torch.nn.LSTM(VIN, NA, batch_first=True, bidirectional=True)
                self.post = torch.nn.LSTMCell(2 * NA, NS)
            else:
                self.forward_cell, self.backward_cell = Composed(VIN, NA), Composed(VIN, NA)
                self.post = Composed(2 * NA, NS)
            self.dense1 = torch.nn.Linear(2 * NA + NS, HID)
            self.dense2 = torch.nn.Linear(HID, 1)
            self.out = torch.nn.Linear(NS, VOUT)

        def encode(self, x):
            if fused:
                return self.encoder(x)[0]
            zeros = torch.zeros(B, NA)
            forward_h, backward_h, state_f, state_b = [], [None] * tx, (zeros, zeros), (zeros, zeros)
            for t in range(tx):
                state_f = self.forward_cell(x[:, t], state_f)
                forward_h.append(state_f[0])
            for t in reversed(range(tx)):
                state_b = self.backward_cell(x[:, t], state_b)
                backward_h[t] = state_b[0]
            return torch.stack([torch.cat(p, -1) for p in zip(forward_h, backward_h)], 1)

        def forward(self, x):
            a = self.encode(x)
            s = c = torch.zeros(B, NS)
            logits = []
            for _ in range(TY):
                scorer_input = torch.cat([a, s[:, None, :].expand(B, tx, NS)], -1)
                e = torch.relu(self.dense2(torch.tanh(self.dense1(scorer_input))))
                alpha = torch.softmax(e.transpose(1, 2), -1)
                context = (alpha @ a)[:, 0]
                s, c = self.post(context, (s, c))
                logits.append(self.out(s))
            return torch.stack(logits, 1)

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

    def step():
        loss = torch.nn.functional.cross_entropy(model(onehot).reshape(-1, VOUT), Y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def run_contender(name: str, steps: int, repeats: int, tx: int) -> dict:
    if name.startswith("minigrad"):
        step = minigrad_step(tx, fused=name == "minigrad-fused")
    else:
        step = torch_step(tx, fused=name == "torch-fused")
    rss = {}
    times = []
    for k in range(1, steps + 1):
        start = time.perf_counter()
        step()
        if k > steps - repeats or k <= 1:
            times.append(time.perf_counter() - start)
        if k in (1, 100, 1000):
            rss[k] = rss_mb()
    return {"step_ms": statistics.median(times[1:] or times) * 1e3, "rss_mb": rss,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--tx", type=int, default=TX)
    parser.add_argument("--scaling", action="store_true",
                        help="also minigrad's step time for Tx = 10, 30, 100, 300 (should grow linearly)")
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_contender(args.run, args.steps, args.repeats, args.tx)))
        return
    try:
        import torch
        contenders = ["minigrad", "minigrad-fused", "torch-fused", "torch-composed"]
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    except ImportError:
        contenders = ["minigrad", "minigrad-fused"]
        print("torch not installed: minigrad alone")
    results = {}
    for name in contenders:
        command = [sys.executable, __file__, "--run", name, "--steps", str(args.steps),
                   "--repeats", str(args.repeats), "--tx", str(args.tx)]
        results[name] = json.loads(subprocess.run(command, capture_output=True, text=True,
                                                  check=True).stdout)
    print(f"{'contender':15} {'step ms':>8} {'peak RSS MB':>12} {'RSS@1':>7} {'RSS@100':>8} {'RSS@1000':>9}")
    for name, r in results.items():
        rss = r["rss_mb"]
        print(f"{name:15} {r['step_ms']:>8.1f} {r['peak_rss_mb']:>12.0f} {rss.get('1', 0):>7.0f} "
              f"{rss.get('100', 0):>8.0f} {rss.get('1000', 0):>9.0f}")
    for mine in ("minigrad", "minigrad-fused"):
        for name in (c for c in contenders if c.startswith("torch")):
            print(f"{mine} ÷ {name}: {results[mine]['step_ms'] / results[name]['step_ms']:.2f}")
    if args.scaling:
        print(f"{'Tx':>5} {'minigrad step ms':>17} {'ms per input step':>18}")
        for tx in (10, 30, 100, 300):
            step = minigrad_step(tx)
            times = []
            for _ in range(6):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            median = statistics.median(times[1:]) * 1e3
            print(f"{tx:>5} {median:>17.1f} {median / tx:>18.2f}")


if __name__ == "__main__":
    main()
