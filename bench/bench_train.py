"""Training cost of the dlai date model: minigrad against PyTorch on the same CPU (one contender a process).

One training step = forward, cross-entropy, backward and an Adam update on a batch of 100
(Tx = 30, Ty = 10, Bi-LSTM n_a = 32, post-attention LSTM n_s = 64, dlai scorer 10 → 1).
Contenders:
  minigrad        attention.Seq2SeqAttention, the composed teaching model
  minigrad-fused  the same with fused_cells=True (`train --fused`): LSTMSequence, LSTMStep and
                  the dlai score's a-half once per sequence
  torch-fused     nn.LSTM (bidirectional) encoder + nn.LSTMCell decoder, same attention maths
  torch-composed  the composed model's primitive ops (gather, matmul, sigmoid, tanh, …) in PyTorch
bench/report.py runs the workers below and prints the table; each prints one line of JSON:
  --run NAME --steps N [--tx T]   step times, and RSS before, after steps 1, 100 and 1,000, and at peak
  --converge [--fused]            wall time of the default `train` until 99% held-out exact match
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

B, TX, TY, VIN, VOUT, NA, NS, HID = 100, 30, 10, 37, 11, 32, 64, 10
WARMUP = 5  # steps left out of the timing: first calls allocate and fill caches


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_memory() -> None:
    """Start VmHWM afresh from the current RSS (Linux ≥ 4.0), so the peak is the steps' own."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def batch(tx: int):
    rng = np.random.default_rng(0)
    return rng.integers(0, VIN, (B, tx)), rng.integers(0, VOUT, (B, TY))


def minigrad_step(tx: int, fused: bool):
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
        """An LSTM cell from primitive ops, as minigrad's composed LSTMCell builds it."""
        def __init__(self, n_in, n_h):
            super().__init__()
            self.wx = torch.nn.Parameter(torch.randn(n_in, 4 * n_h) * 0.1)
            self.wh = torch.nn.Parameter(torch.randn(n_h, 4 * n_h) * 0.1)
            self.b = torch.nn.Parameter(torch.zeros(4 * n_h))

        def input_projection(self, tokens):
            return (self.wx + self.b)[tokens]

        def step(self, projected, state):
            h, c = state
            i, f, g, o = (projected + h @ self.wh).chunk(4, dim=-1)
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

        def encode(self):
            if fused:
                return self.encoder(onehot)[0]
            zeros = torch.zeros(B, NA)
            projected_f, projected_b = self.forward_cell.input_projection(X), self.backward_cell.input_projection(X)
            forward_h, backward_h, state_f, state_b = [], [None] * tx, (zeros, zeros), (zeros, zeros)
            for t in range(tx):
                state_f = self.forward_cell.step(projected_f[:, t], state_f)
                forward_h.append(state_f[0])
            for t in reversed(range(tx)):
                state_b = self.backward_cell.step(projected_b[:, t], state_b)
                backward_h[t] = state_b[0]
            return torch.stack([torch.cat(p, -1) for p in zip(forward_h, backward_h)], 1)

        def decode_step(self, context, state):
            if fused:
                return self.post(context, state)
            return self.post.step(context @ self.post.wx + self.post.b, state)

        def forward(self):
            a = self.encode()
            s = c = torch.zeros(B, NS)
            logits = []
            for _ in range(TY):
                scorer_input = torch.cat([a, s[:, None, :].expand(B, tx, NS)], -1)
                e = torch.relu(self.dense2(torch.tanh(self.dense1(scorer_input))))
                alpha = torch.softmax(e.transpose(1, 2), -1)
                context = (alpha @ a)[:, 0]
                s, c = self.decode_step(context, (s, c))
                logits.append(self.out(s))
            return torch.stack(logits, 1)

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

    def step():
        loss = torch.nn.functional.cross_entropy(model().reshape(-1, VOUT), Y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return step


def run_contender(name: str, steps: int, tx: int) -> dict:
    if name.startswith("minigrad"):
        step = minigrad_step(tx, fused=name == "minigrad-fused")
    else:
        step = torch_step(tx, fused=name == "torch-fused")
    rss = {"before": memory_mb("VmRSS")}
    reset_peak_memory()
    times = []
    for k in range(1, steps + 1):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        if k in (1, 100, 1000):
            rss[str(k)] = memory_mb("VmRSS")
    rss["peak"] = memory_mb("VmHWM")
    return {"step_ms": statistics.median(times[WARMUP:] or times) * 1e3, "rss_mb": rss}


def converge(fused: bool) -> dict:
    """The default `train` (12 epochs at most), stopping at 99% held-out exact match."""
    from attention.train import TrainConfig, train
    start = time.perf_counter()
    history = train(TrainConfig(target_exact=0.99, fused_cells=fused), out_dir=None,
                    log=lambda line: None, progress=False)
    last = history["epochs"][-1]
    return {"seconds": time.perf_counter() - start, "epochs": last["epoch"],
            "exact_match": last["exact_match"], "reached": last["exact_match"] >= 0.99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a contender's name")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--tx", type=int, default=TX)
    parser.add_argument("--converge", action="store_true")
    parser.add_argument("--fused", action="store_true", help="with --converge: train --fused")
    args = parser.parse_args()
    if args.converge:
        print(json.dumps(converge(args.fused)))
    elif args.run:
        print(json.dumps(run_contender(args.run, args.steps, args.tx)))
    else:
        parser.error("give --run NAME or --converge; the whole table is python bench/report.py")


if __name__ == "__main__":
    main()
