"""The seed's first attention step in miniature, with its tensors named as the seed names them.

Tx = 4 encoder states a<t'> of size n = 3; s<0> of size 2; a one-layer scorer fed [s<0>; a<t'>]
gives e<1,t'>; α<1,·> = softmax over t'; c<1> = α<1,·> @ a. Used by the drawing and stepping tests.
"""
import numpy as np

import minigrad as mg

TX, N_A, N_S = 4, 3, 2


def attention_step(seed: int = 0):
    rng = np.random.default_rng(seed)
    a = mg.Tensor(rng.standard_normal((TX, N_A)), requires_grad=True, name="a")
    s_prev = mg.Tensor(rng.standard_normal((1, N_S)), requires_grad=True, name="s<0>")
    w = mg.Tensor(rng.standard_normal((N_S + N_A, 1)), requires_grad=True, name="W_e")
    bias = mg.Tensor(rng.standard_normal(1), requires_grad=True, name="b_e")
    with mg.scope("attention t=1"):
        s_repeated = (s_prev * mg.Tensor(np.ones((TX, 1)))).named("s<0> repeated")  # broadcast: Σ axis 0 on the way back
        energies_in = mg.concat([s_repeated, a], axis=1).named("[s<0>; a]")
        e = (energies_in @ w + bias).reshape(1, TX).named("e<1,·>")
        alpha = mg.softmax(e, axis=1).named("alpha<1,·>")
        c = (alpha @ a).named("c<1>")
    loss = (c * c).sum().named("loss")
    return dict(a=a, s_prev=s_prev, w=w, bias=bias, e=e, alpha=alpha, c=c, loss=loss)


def line_of(code: str) -> int:
    """The line number in this file where `code` appears (so tests do not hard-code it)."""
    with open(__file__, encoding="utf-8") as source:
        return next(number for number, line in enumerate(source, 1) if code in line)
