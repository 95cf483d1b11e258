"""bench/bench_composed.py, where the composed path's step goes: it runs, counts the ops a step
really runs, and its figures add up."""
import collections
import os
import re
import subprocess
import sys

import pytest

import minigrad as mg
from minigrad.function import Function

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench", "bench_composed.py")
NUMBER = r"(-?[\d.]+)"


def run_bench(*flags: str) -> str:
    done = subprocess.run([sys.executable, BENCH, "--steps", "2", *flags], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def table(stdout: str) -> dict:
    """{op class: (nodes, forward ms, backward ms)} of the printed table."""
    rows = {}
    for line in stdout.splitlines():
        match = re.fullmatch(rf"(\w+)\s+(\d+)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}", line.strip())
        if match:
            rows[match[1]] = (int(match[2]), float(match[3]), float(match[4]))
    return rows


def one_composed_step(score: str) -> tuple[collections.Counter, set]:
    """The op classes one composed training step applies, counted at Function.apply (not where
    the bench counts, in forward), and the shapes of A in its every A @ B."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        from twin import B, minigrad_model, synthetic_pairs, train_loop_step
    finally:
        sys.path.pop(0)
    model = minigrad_model("composed", score=score)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)
    X, Y = synthetic_pairs(B, 30)
    counts, products = collections.Counter(), set()
    original = Function.__dict__["apply"]

    def counted(cls, *inputs, **params):
        counts[cls.__name__] += 1
        if cls.__name__ == "MatMul":
            products.add(inputs[0].shape)
        return original.__func__(cls, *inputs, **params)
    Function.apply = classmethod(counted)
    try:
        train_loop_step(model, optimizer, X, Y, 0)
    finally:
        Function.apply = original
    return counts, products


def test_the_table_counts_the_ops_a_step_runs_and_its_figures_add_up():
    stdout = run_bench("--no-torch")
    assert "--score bahdanau" in stdout  # train's default score
    rows = table(stdout)
    assert {name: nodes for name, (nodes, _, _) in rows.items()} == one_composed_step("bahdanau")[0]
    step = float(re.search(rf"the composed step .*?: {NUMBER} ms", stdout)[1])
    inside = float(re.search(rf"inside\s+{NUMBER}", stdout)[1])
    rest = float(re.search(rf"the rest\s+{NUMBER}", stdout)[1])
    assert inside == pytest.approx(sum(f + b for _, f, b in rows.values()), abs=0.01 * len(rows) + 0.01)
    assert rest == pytest.approx(step - inside, abs=0.06)  # the step is printed to 0.1 ms
    assert 0 < inside < step
    per_node = float(re.search(rf"the engine with next to no numpy work: {NUMBER} µs", stdout)[1])
    floor = re.search(rf"floor: {NUMBER} ms of numpy work \+ (\d+) nodes × {NUMBER} µs = {NUMBER} ms", stdout)
    assert int(floor[2]) == sum(nodes for nodes, _, _ in rows.values()) and float(floor[3]) == per_node
    # the floor, its numpy ms (each printed to 0.1 ms) and the µs a node (to 0.1 µs) are all rounded
    assert float(floor[4]) == pytest.approx(float(floor[1]) + int(floor[2]) * per_node / 1e3,
                                            abs=0.1 + int(floor[2]) * 0.05e-3)
    assert per_node > 0
    profiled = re.findall(r"^\s+[\d.]+ ms\s+\d+ calls\s+(\S+)$", stdout, re.MULTILINE)
    assert profiled and any("function.py" in where and "(apply)" in where for where in profiled)
    assert not any(where.startswith(os.path.join("minigrad", "ops")) or "(forward)" in where for where in profiled)


def test_the_dlai_score_is_taken_apart_too():
    rows = table(run_bench("--no-torch", "--score", "dlai"))
    assert {name: nodes for name, (nodes, _, _) in rows.items()} == one_composed_step("dlai")[0]


@pytest.mark.torch
def test_pytorchs_steps_are_read_against_the_floor():
    pytest.importorskip("torch")
    stdout = run_bench()
    fused, composed = map(float, re.search(rf"fused {NUMBER} ms, composed {NUMBER} ms", stdout).groups())
    step = float(re.search(rf"the composed step .*?: {NUMBER} ms", stdout)[1])
    floor = float(re.search(rf"= {NUMBER} ms \(the step without", stdout)[1])
    ratios = re.search(rf"composed ÷ PyTorch fused: {NUMBER}; the floor ÷ PyTorch fused: {NUMBER}", stdout)
    assert float(ratios[1]) == pytest.approx(step / fused, abs=0.01)
    assert float(ratios[2]) == pytest.approx(floor / fused, abs=0.01)
    assert composed > 0
    # the costliest products: the three MatMul shapes of the step with the most time, in that order
    products = re.findall(rf"^\s+(\([\d, ]+\))\s+(\([\d, ]+\))\s+{NUMBER} ms\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$",
                          stdout, re.MULTILINE)
    assert len(products) == 3, stdout
    in_step = [float(row[2]) for row in products]
    assert in_step == sorted(in_step, reverse=True) and in_step[-1] > 0
    for _, _, _, mine, theirs, ratio in products:
        assert float(ratio) == pytest.approx(float(mine) / float(theirs), abs=0.01 + float(ratio) * 0.02)
    assert {tuple(map(int, re.findall(r"\d+", a))) for a, _, *_ in products} <= one_composed_step("bahdanau")[1]
