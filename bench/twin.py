"""The pieces every training benchmark shares: the date model in minigrad (default or composed
path) and its PyTorch twin, a synthetic batch, the process settings of train's loop, and the
process's memory.

The PyTorch twin is the same model (Bi-LSTM encoder n_a, additive attention with the dlai or
the Bahdanau score, post-attention LSTM n_s, output layer), built two ways:
  fused     nn.LSTM (bidirectional) for the encoder and nn.LSTMCell for the decoder, as a
            PyTorch user would write it
  composed  the composed cells' primitive ops (gather, matmul, sigmoid, tanh, …) in PyTorch
"""
from __future__ import annotations


import numpy as np

B, TX, TY, VIN, VOUT, NA, NS, HID = 100, 30, 10, 37, 11, 32, 64, 10


def memory_mb(field: str, pid: str = "self") -> float:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process (or process `pid`), in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_memory(pid: str = "self") -> None:
    """Start VmHWM of this process (or process `pid`) afresh from its current RSS (Linux ≥ 4.0), so the
    peak is what follows."""
    with open(f"/proc/{pid}/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def synthetic_pairs(n: int, tx: int, seed: int = 0):
    """Random token indices X (n, tx) and targets Y (n, TY) in the date task's vocabularies."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, VIN, (n, tx)), rng.integers(0, VOUT, (n, TY))


def as_train_runs():
    """The settings `python -m attention train` runs its loop under (attention.train.loop_settings: one
    BLAS thread, the collector, malloc)."""
    from attention.train import loop_settings
    return loop_settings()


def train_loop_step(trained, optimizer, X, Y, k: int) -> None:
    """Step k of train's loop body on the batch of rows k·B …: forward, cross-entropy, the loss
    read out, backward, an optimizer step (attention/train.py, without its checks)."""
    import minigrad as mg
    rows = slice(k * B, k * B + B)
    logits, _ = trained(X[rows])
    loss = mg.cross_entropy(logits, Y[rows])
    loss.item()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def minigrad_model(path: str, tx: int = TX, score: str = "dlai", input_vocab: int = VIN,
                   output_vocab: int = VOUT, ty: int = TY):
    """The date model on minigrad's `path`: "default" (what `train` trains) or "composed"
    (`train --composed`, every gate, e, α and c a node)."""
    import minigrad as mg
    from attention.seq2seq import ModelConfig, Seq2SeqAttention
    mg.manual_seed(0)
    shape = dict(Tx=tx, Ty=ty, score=score, input_vocab=input_vocab, output_vocab=output_vocab)
    from attention.fast import fast
    model = Seq2SeqAttention(ModelConfig(**shape))
    return fast(model) if path == "default" else model


def torch_model(fused: bool, tx: int = TX, score: str = "dlai", input_vocab: int = VIN,
                output_vocab: int = VOUT, ty: int = TY):
    """The PyTorch twin: model(X) → (logits (B, Ty, V), α (B, Ty, Tx)) for token indices X (B, Tx)."""
    import torch
    from torch import nn
    torch.manual_seed(0)

    class ComposedLSTM(nn.Module):
        """An LSTM cell from primitive ops, as minigrad's composed LSTMCell builds it."""
        def __init__(self, n_in, n_h):
            super().__init__()
            self.wx = nn.Parameter(torch.randn(n_in, 4 * n_h) * 0.1)
            self.wh = nn.Parameter(torch.randn(n_h, 4 * n_h) * 0.1)
            self.b = nn.Parameter(torch.zeros(4 * n_h))

        def input_projection(self, tokens):
            return (self.wx + self.b)[tokens]

        def step(self, projected, state):
            h, c = state
            i, f, g, o = (projected + h @ self.wh).chunk(4, dim=-1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            return o.sigmoid() * c.tanh(), c

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            if fused:
                self.encoder = nn.LSTM(input_vocab, NA, batch_first=True, bidirectional=True)
                self.post = nn.LSTMCell(2 * NA, NS)
            else:
                self.forward_cell, self.backward_cell = ComposedLSTM(input_vocab, NA), ComposedLSTM(input_vocab, NA)
                self.post = ComposedLSTM(2 * NA, NS)
            if score == "dlai":
                self.dense1 = nn.Linear(2 * NA + NS, HID)
                self.dense2 = nn.Linear(HID, 1)
            else:
                self.query = nn.Linear(NS, HID, bias=False)
                self.key = nn.Linear(2 * NA, HID)
                self.v = nn.Linear(HID, 1, bias=False)
            self.out = nn.Linear(NS, output_vocab)

        def encode(self, X):
            if fused:
                return self.encoder(nn.functional.one_hot(X, input_vocab).float())[0]
            zeros = torch.zeros(len(X), NA)
            projected_f = self.forward_cell.input_projection(X)
            projected_b = self.backward_cell.input_projection(X)
            forward_h, backward_h, state_f, state_b = [], [None] * tx, (zeros, zeros), (zeros, zeros)
            for t in range(tx):
                state_f = self.forward_cell.step(projected_f[:, t], state_f)
                forward_h.append(state_f[0])
            for t in reversed(range(tx)):
                state_b = self.backward_cell.step(projected_b[:, t], state_b)
                backward_h[t] = state_b[0]
            return torch.stack([torch.cat(p, -1) for p in zip(forward_h, backward_h)], 1)

        def energies(self, a, keys, s):
            if score == "dlai":
                scorer_input = torch.cat([a, s[:, None, :].expand(-1, tx, NS)], -1)
                return torch.relu(self.dense2(torch.tanh(self.dense1(scorer_input))))
            return self.v(torch.tanh(keys + self.query(s)[:, None, :]))

        def decode_step(self, context, state):
            if fused:
                return self.post(context, state)
            return self.post.step(context @ self.post.wx + self.post.b, state)

        def forward(self, X):
            a = self.encode(X)
            keys = self.key(a) if score == "bahdanau" else None
            s = c = torch.zeros(len(X), NS)
            logits, alphas = [], []
            for _ in range(ty):
                alpha = torch.softmax(self.energies(a, keys, s).transpose(1, 2), -1)
                s, c = self.decode_step((alpha @ a)[:, 0], (s, c))
                logits.append(self.out(s))
                alphas.append(alpha)
            return torch.stack(logits, 1), torch.cat(alphas, 1)

    return Seq2Seq()
