"""Additive attention: energies e<t,t'> → weights α<t,t'> → context c<t>, in the seed's names.

For decoder step t, with encoder states a (B, Tx, n_a2) and the previous decoder state s<t-1>:
    e<t,t'> = score(s<t-1>, a<t'>)              one number per input position t'
    α<t,·>  = softmax over t' of e<t,·>         Σ_t' α<t,t'> = 1
    c<t>    = α<t,·> @ a                        (1×Tx)·(Tx×n_a2) per sequence: Σ_t' α<t,t'> a<t'>
Two scoring networks:
    "dlai":      e = relu(Dense(1)(tanh(Dense(10)([a<t'>; s<t-1>]))))   the deeplearning.ai assignment
    "bahdanau":  e = vᵀ tanh(W s<t-1> + U a<t'> + b)                   Bahdanau et al. 2015; U a is
                 computed once per sequence (`keys`), since it does not depend on t.
The dlai relu can die: if every energy is ≤ 0 they are all 0, α = 1/Tx everywhere, and no
gradient reaches the scorer again. The trainer watches for that (see train.attention_sharpness).
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.nn import Linear, Module
from minigrad.tensor import Tensor

SCORES = ("dlai", "bahdanau")


class AdditiveAttention(Module):
    def __init__(self, n_a2: int, n_s: int, score: str = "dlai", hidden: int = 10, rng=None,
                 dtype=np.float32):
        super().__init__()
        if score not in SCORES:
            raise ValueError(f"unknown attention score {score!r}; choose one of {SCORES}")
        self.score, self.n_s = score, n_s
        if score == "dlai":
            self.energy_hidden = Linear(n_a2 + n_s, hidden, rng=rng, dtype=dtype)  # Dense(10, tanh)
            self.energy_out = Linear(hidden, 1, rng=rng, dtype=dtype)              # Dense(1, relu)
        else:
            self.query = Linear(n_s, hidden, bias=False, rng=rng, dtype=dtype)     # W
            self.key = Linear(n_a2, hidden, rng=rng, dtype=dtype)                  # U, b
            self.v = Linear(hidden, 1, bias=False, rng=rng, dtype=dtype)           # v

    def keys(self, a: Tensor):
        """What the score can compute once per sequence: U a + b for "bahdanau", nothing for "dlai"."""
        return self.key(a).named("U a") if self.score == "bahdanau" else None

    def energies(self, s_prev: Tensor, a: Tensor, keys, t: int) -> Tensor:
        """e<t,·>: (B, Tx, 1), one energy per input position."""
        batch, tx, _ = a.shape
        # BEGIN SOLUTION 3.3
        if self.score == "dlai":
            s_repeated = s_prev.reshape(batch, 1, self.n_s).broadcast_to(batch, tx, self.n_s)
            scorer_input = mg.concat([a, s_repeated], axis=-1).named(f"[a; s<{t - 1}>]")
            return self.energy_out(self.energy_hidden(scorer_input).tanh()).relu()
        query = self.query(s_prev).named(f"W s<{t - 1}>").reshape(batch, 1, -1)
        return self.v((keys + query).named(f"U a + W s<{t - 1}>").tanh())
        # END SOLUTION

    def forward(self, s_prev: Tensor, a: Tensor, keys, t: int) -> tuple[Tensor, Tensor]:
        """α<t,·> (B, 1, Tx) and c<t> (B, 1, n_a2) for decoder step t (1-based, as the seed counts)."""
        batch, tx, _ = a.shape
        e = self.energies(s_prev, a, keys, t).reshape(batch, 1, tx).named(f"e<{t},·>")
        # BEGIN SOLUTION 3.4
        alpha = mg.softmax(e, axis=-1).named(f"alpha<{t},·>")
        context = (alpha @ a).named(f"c<{t}>")
        return alpha, context
        # END SOLUTION


class HoistedAdditiveAttention(AdditiveAttention):
    """The same attention, with the part of the dlai score that does not depend on t computed
    once per sequence (the fast path, `train --fused`).

    Dense(10) on [a<t'>; s<t-1>] is a<t'> W_a + s<t-1> W_s + b, where W_a is the first n_a2 rows
    of its weight and W_s the rest. `keys` computes a W_a + b once, as "bahdanau" computes U a,
    and each step only adds s<t-1> W_s: one (B, n_s) product instead of a (B·Tx, n_a2 + n_s) one.
    The parameters are the Dense(10)'s own, so checkpoints and parameter counts do not change.
    """

    def keys(self, a: Tensor):
        if self.score != "dlai":
            return super().keys(a)
        layer = self.energy_hidden
        return (a @ layer.weight[:a.shape[-1]] + layer.bias).named("a W_a + b")

    def energies(self, s_prev: Tensor, a: Tensor, keys, t: int) -> Tensor:
        if self.score != "dlai":
            return super().energies(s_prev, a, keys, t)
        query = (s_prev @ self.energy_hidden.weight[a.shape[-1]:]).reshape(a.shape[0], 1, -1)
        return self.energy_out((keys + query).tanh()).relu()
