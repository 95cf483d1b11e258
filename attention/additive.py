"""Additive attention: energies e<t,t'> → weights α<t,t'> → context c<t>, in the seed's names.

For decoder step t, with encoder states a (B, Tx, n_a2) and the previous decoder state s<t-1>:
    e<t,t'> = score(s<t-1>, a<t'>)              one number per input position t'
    α<t,·>  = softmax over t' of e<t,·>         Σ_t' α<t,t'> = 1
    c<t>    = α<t,·> @ a                        (1×Tx)·(Tx×n_a2) per sequence: Σ_t' α<t,t'> a<t'>
Two scoring networks, one class each, with the same two methods (`keys`, `energies`):
    DlaiAttention      e = relu(Dense(1)(tanh(Dense(10)([a<t'>; s<t-1>]))))   the deeplearning.ai assignment
    BahdanauAttention  e = vᵀ tanh(W s<t-1> + U a<t'> + b)                   Bahdanau et al. 2015; U a is
                       computed once per sequence (`keys`), since it does not depend on t.
The dlai relu can die: if every energy is ≤ 0 they are all 0, α = 1/Tx everywhere, and no
gradient reaches the scorer again. The trainer watches for that (see train.attention_sharpness).

Nodes are named with the symbolic step t ("e<t,·>"); the decoder's `mg.scope("decoder", step=t)`
turns that into the step's number ("e<3,·>").
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.nn import Linear, Module
from minigrad.tensor import Tensor


class AdditiveAttention(Module):
    """What both scorers share: softmax of the energies over t', then the α-weighted sum of a."""

    def keys(self, a: Tensor):
        """What the score can compute once per sequence, before the decoder's first step."""
        raise NotImplementedError

    def energies(self, s_prev: Tensor, a: Tensor, keys) -> Tensor:
        """e<t,·>: (B, Tx, 1), one energy per input position."""
        raise NotImplementedError

    def forward(self, s_prev: Tensor, a: Tensor, keys) -> tuple[Tensor, Tensor]:
        """α<t,·> (B, 1, Tx) and c<t> (B, 1, n_a2) for the decoder step the caller is in."""
        batch, tx, _ = a.shape
        e = self.energies(s_prev, a, keys).reshape(batch, 1, tx).named("e<t,·>")
        # BEGIN SOLUTION 3.4
        alpha = mg.softmax(e, axis=-1).named("alpha<t,·>")
        context = (alpha @ a).named("c<t>")
        return alpha, context
        # END SOLUTION


class DlaiAttention(AdditiveAttention):
    """The assignment's scorer: Dense(10, tanh) then Dense(1, relu) on [a<t'>; s<t-1>]."""

    def __init__(self, n_a2: int, n_s: int, hidden: int = 10, rng=None, dtype=np.float32):
        super().__init__()
        self.energy_hidden = Linear(n_a2 + n_s, hidden, rng=rng, dtype=dtype)  # Dense(10, tanh)
        self.energy_out = Linear(hidden, 1, rng=rng, dtype=dtype)              # Dense(1, relu)

    def keys(self, a: Tensor):
        """Nothing: every energy reads s<t-1>, so the score is computed whole at each step."""
        return None

    def energies(self, s_prev, a, keys):
        batch, tx, _ = a.shape
        # BEGIN SOLUTION 3.3
        n_s = s_prev.shape[-1]
        s_repeated = s_prev.reshape(batch, 1, n_s).broadcast_to(batch, tx, n_s)
        scorer_input = mg.concat([a, s_repeated], axis=-1).named("[a; s<t-1>]")
        return self.energy_out(self.energy_hidden(scorer_input).tanh()).relu()
        # END SOLUTION


class BahdanauAttention(AdditiveAttention):
    """Bahdanau's scorer: vᵀ tanh(W s<t-1> + U a<t'> + b), with U a + b computed once per sequence."""

    def __init__(self, n_a2: int, n_s: int, hidden: int = 10, rng=None, dtype=np.float32):
        super().__init__()
        self.query = Linear(n_s, hidden, bias=False, rng=rng, dtype=dtype)     # W
        self.key = Linear(n_a2, hidden, rng=rng, dtype=dtype)                  # U, b
        self.v = Linear(hidden, 1, bias=False, rng=rng, dtype=dtype)           # v

    def keys(self, a: Tensor):
        """U a + b, (B, Tx, hidden): it does not depend on t."""
        return self.key(a).named("U a")

    def energies(self, s_prev, a, keys):
        # BEGIN SOLUTION 3.3
        query = self.query(s_prev).named("W s<t-1>").reshape(a.shape[0], 1, keys.shape[-1])
        return self.v((keys + query).named("U a + W s<t-1>").tanh())
        # END SOLUTION


SCORES = {"dlai": DlaiAttention, "bahdanau": BahdanauAttention}
DEFAULT_SCORE = "bahdanau"


def make_attention(score: str, n_a2: int, n_s: int, hidden: int = 10, rng=None,
                   dtype=np.float32) -> AdditiveAttention:
    """The attention with the scorer named `score` (one of SCORES)."""
    if score not in SCORES:
        raise ValueError(f"unknown attention score {score!r}; choose one of {tuple(SCORES)}")
    return SCORES[score](n_a2, n_s, hidden, rng=rng, dtype=dtype)
