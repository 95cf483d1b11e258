"""bench/bench_factored.py runs both variants and prints a ratio for each measurement, and leaves
MatMul's shortcut as it found it."""
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_benchmark_prints_each_ratio_and_restores_the_shortcut(capsys):
    from minigrad.ops import matmul_shortcuts
    before = matmul_shortcuts._gradient
    spec = importlib.util.spec_from_file_location("bench_factored", os.path.join(ROOT, "bench", "bench_factored.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--rounds", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("backward, 10 contexts, B 50", "backward, 10 contexts, B 100", "composed training step"):
        line = next(line for line in out.splitlines() if line.startswith(label))
        factored, one_by_one, ratio = map(float, line[len(label):].split())
        assert factored > 0 and one_by_one > 0 and ratio == pytest.approx(factored / one_by_one, abs=0.01)
    assert matmul_shortcuts._gradient is before
    with pytest.raises(SystemExit):
        bench.main(["--rounds", "0"])


def test_the_two_variants_really_differ(monkeypatch):
    """Swapping the module's _gradient changes what MatMul's shortcut returns inside the backward
    loop: the factors, or the outer product made as an array (the same numbers)."""
    import numpy as np
    from minigrad.gradients import FactoredGradient
    from minigrad.modes import MODES
    from minigrad.ops import matmul_shortcuts
    spec = importlib.util.spec_from_file_location("bench_factored", os.path.join(ROOT, "bench", "bench_factored.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = np.random.default_rng(0)
    alpha, a, g = (rng.standard_normal(shape).astype(np.float32) for shape in ((4, 1, 6), (4, 6, 5), (4, 1, 5)))
    monkeypatch.setattr(MODES, "factored_gradients", True)
    grads = {}
    for name, variant in bench.VARIANTS.items():
        monkeypatch.setattr(matmul_shortcuts, "_gradient", variant)
        grads[name] = matmul_shortcuts.matmul_backward_shortcut(g, alpha, a, True, True)[1]
    assert type(grads["factored"]) is FactoredGradient and type(grads["one by one"]) is np.ndarray
    np.testing.assert_allclose(np.asarray(grads["factored"]), grads["one by one"], rtol=1e-6)
