"""The encoder–decoder with attention: the seed's model, one decoder step at a time.

    a = BidirectionalEncoder(x)                                a<1..Tx>: (B, Tx, 2·n_a)
    for t = 1..Ty:
        α<t,·>, c<t> = AdditiveAttention(s<t-1>, a)
        s<t> = post-attention cell(c<t>, s<t-1>)               (B, n_s)
        ŷ<t> = softmax(s<t> W_y + b_y)                         (B, output vocabulary)
As in the deeplearning.ai assignment, the decoder is fed only c<t> (not its previous output),
so greedy decoding is the argmax at each step.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from attention.additive import DEFAULT_SCORE, SCORES, make_attention
from attention.cells import CELLS, make_cell
from attention.config import check, from_json, setting
from attention.encoder import BidirectionalEncoder
from minigrad.nn import Linear, Module
from minigrad.tensor import Tensor

# Bounds that keep a hand-edited config from asking for gigabytes before its weights are read.
MAX_VOCABULARY = 10_000
MAX_LENGTH = 1_000
MAX_WIDTH = 1_024


@dataclass
class ModelConfig:
    """Everything that fixes the model's shape; the defaults are the assignment's, except the
    score (the assignment's is "dlai", whose relu can die; see additive.py). Every field is
    checked against its setting (attention/config.py) when the config is made or loaded."""
    input_vocab: int = setting(int, 37, low=1, high=MAX_VOCABULARY)
    output_vocab: int = setting(int, 11, low=1, high=MAX_VOCABULARY)
    Tx: int = setting(int, 30, low=1, high=MAX_LENGTH)
    Ty: int = setting(int, 10, low=1, high=MAX_LENGTH)
    n_a: int = setting(int, 32, low=1, high=MAX_WIDTH)              # encoder state size per direction
    n_s: int = setting(int, 64, low=1, high=MAX_WIDTH)              # post-attention state size
    attention_hidden: int = setting(int, 10, low=1, high=MAX_WIDTH)
    cell: str = setting(str, "lstm", choices=CELLS)
    score: str = setting(str, DEFAULT_SCORE, choices=SCORES)

    def __post_init__(self):
        check(self)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ModelConfig":
        return from_json(cls, data, "the model config")


class Seq2SeqAttention(Module):
    def __init__(self, config: ModelConfig, rng=None, dtype=np.float32):
        super().__init__()
        self.config = config
        c = config
        self.encoder = BidirectionalEncoder(c.cell, c.input_vocab, c.n_a, rng=rng, dtype=dtype)
        self.attention = make_attention(c.score, 2 * c.n_a, c.n_s, c.attention_hidden, rng=rng, dtype=dtype)
        self.post_attention = make_cell(c.cell, 2 * c.n_a, c.n_s, rng=rng, dtype=dtype)
        self.output = Linear(c.n_s, c.output_vocab, rng=rng, dtype=dtype)

    def decoder_step(self, t: int, state: tuple, a: Tensor, keys) -> tuple:
        """Step t: attention on a from s<t-1>, then the post-attention cell. Returns (logits, α, state)."""
        batch = a.shape[0]
        with mg.scope("decoder", step=t):
            alpha, context = self.attention(state[0], a, keys)
            state = self.post_attention(context.reshape(batch, a.shape[-1]), state)
            s = state[0].named("s<t>")
            return self.output(s).named("logits<t>"), alpha, (s,) + tuple(state[1:])

    def token_indices(self, x) -> np.ndarray:
        """x as a (B, Tx) integer array of indices into the input vocabulary, or a ValueError naming
        what it should be (as torch's nn.Embedding refuses floats and indices out of its range;
        numpy would read -1 as the last token)."""
        index = np.asarray(getattr(x, "data", x))
        name, vocab = type(self).__name__, self.config.input_vocab
        if index.ndim != 2 or index.shape[1] != self.config.Tx:
            raise ValueError(f"{name}: expected token indices of shape (batch, {self.config.Tx}), got {index.shape}")
        if index.dtype.kind not in "iu":
            raise ValueError(f"{name}: token indices must be integers, got {index.dtype} values of shape {index.shape}")
        low, high = (index.min(), index.max()) if index.size else (0, 0)
        if low < 0 or high >= vocab:
            raise ValueError(f"{name}: token index {low if low < 0 else high} is outside the input vocabulary "
                             f"of {vocab} tokens (0 to {vocab - 1})")
        return index

    def forward(self, x) -> tuple[Tensor, Tensor]:
        """x: (B, Tx) token indices → logits (B, Ty, output_vocab) and α (B, Ty, Tx)."""
        return self.decode(self.encoder(self.token_indices(x)))

    def decode(self, a: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's Ty steps on the encoder's states a (B, Tx, 2·n_a) → logits and α, as `forward`."""
        keys = self.attention.keys(a)
        state = self.post_attention.initial_state(a.shape[0])
        state[0].name = "s<0>"
        logits, alphas = [], []
        for t in range(1, self.config.Ty + 1):
            step_logits, alpha, state = self.decoder_step(t, state, a, keys)
            logits.append(step_logits)
            alphas.append(alpha)
        return mg.stack(logits, axis=1), mg.concat(alphas, axis=1).named("alpha")

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """Greedy decoding without a graph: token indices (B, Ty) and α (B, Ty, Tx)."""
        with mg.no_grad():
            logits, alphas = self.forward(x)
        return logits.data.argmax(axis=-1), alphas.data
