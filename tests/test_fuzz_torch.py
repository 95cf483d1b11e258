"""The differential fuzzer (torch_fuzz.py; bench/fuzz_torch.py runs thousands) on a fixed budget:
300 seeded programs must give the same values and gradients in minigrad and PyTorch; the fuzzer
must also catch a wrong gradient and shrink it to a reproducer that runs on its own."""
import contextlib
import io
import re

import numpy as np
import pytest

import minigrad as mg
import torch_fuzz  # tests/torch_fuzz.py

pytestmark = pytest.mark.torch


def test_300_seeded_programs_agree_with_pytorch():
    reports = []
    ran, found = torch_fuzz.fuzz(300, seed=0, log=reports.append)
    assert ran == 300
    assert not found, "\n\n".join(reports)


def test_programs_cover_every_op_and_index_kind():
    sources = "\n".join(s.minigrad for seed in range(300) for s in torch_fuzz.generate(seed).statements)
    for needle in ("+", "-", "*", "/", "**", "2.0 **", ".exp()", ".log()", ".tanh()", ".sigmoid()",
                   ".relu()", ".sum(", ".mean(", ".max(", "@", ".reshape(", ".broadcast_to(",
                   ".permute(", ".transpose(", ".T", "mg.concat(", "mg.stack(", "mg.split(",
                   "mg.chunk(", "mg.composed_softmax(", "mg.log_softmax(", "mg.cross_entropy(",
                   "[None", "[...", ":, np.array(", "1:]"):
        assert needle in sources, needle
    for index_kind in (r"\[-?\d+\]", r"\[-?\d+:-?\d+:\d\]", r"\[np\.array\(\[-?\d",
                       r"\[np\.array\(\[(True|False)", r"\[np\.array\(-?\d+\)\]",
                       r"\[np\.array\(\[\], dtype", r"\[np\.array\(\[[^]]*\]\), np\.array"):
        assert re.search(index_kind, sources), index_kind
    shapes = {a.ndim for seed in range(300) for a, _ in torch_fuzz.generate(seed).leaves.values()}
    assert shapes == {0, 1, 2, 3, 4}


def test_a_wrong_gradient_is_caught_shrunk_and_reproduced(monkeypatch):
    def wrong(self, g):
        (c,) = self.saved
        return (g * (1 - c),)  # forgot a factor c
    monkeypatch.setattr(mg.ops.Tanh, "backward", wrong)
    program = next(p for p in map(torch_fuzz.generate, range(300))
                   if any(".tanh()" in s.minigrad for s in p.statements) and len(p.statements) > 3)
    assert torch_fuzz.mismatches(program)
    small = torch_fuzz.shrink(program)
    assert len(small.statements) < len(program.statements)
    assert small.statements[-1].minigrad.endswith(".tanh()")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(small.reproducer(), "<reproducer>", "exec"), {})
    assert "grad minigrad" in printed.getvalue()


def test_max_shares_tied_gradients_as_amax_does_not_as_max_over_a_dim():
    """The documented difference: minigrad's max splits the gradient among ties (torch.amax);
    torch.max(x, dim) gives all of it to one of them."""
    import torch
    values = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x = mg.Tensor(values, requires_grad=True)
    x.max(axis=1).sum().backward()
    amax = torch.tensor(values, requires_grad=True)
    amax.amax(dim=1).sum().backward()
    one = torch.tensor(values, requires_grad=True)
    one.max(dim=1).values.sum().backward()
    np.testing.assert_allclose(x.grad, amax.grad.numpy())
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    assert sorted(one.grad.numpy()[1]) == [0, 0, 1]
