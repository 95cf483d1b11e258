"""rare_collections (minigrad/collector.py): safe because training leaves no cyclic garbage."""
import gc

import numpy as np
import pytest

import minigrad as mg
from attention.fast import fast
from attention.train import TrainConfig, build
from minigrad.collector import COLLECT_EVERY, rare_collections
from other_thread import while_open_in_another_thread


@pytest.mark.parametrize("composed", [True, False], ids=["composed", "fast"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_training_steps_leave_no_cyclic_garbage(composed, cell):
    """Reference counting alone frees every step's graph: the collector finds nothing to do."""
    config = TrainConfig(task="dates", cell=cell, train_size=300, held_out_size=50, composed=composed)
    _, (X, Y), _, model = build(config)
    trained = model if composed else fast(model)
    optimizer = mg.optim.Adam(model.parameters(), lr=config.lr)
    gc.collect()
    gc.disable()
    try:
        for start in (0, 100, 200):
            logits, _ = trained(X[start:start + 100])
            loss = mg.cross_entropy(logits, Y[start:start + 100])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        del logits, loss
        with mg.no_grad():
            trained(X[:50])
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_a_graph_with_a_cycle_is_still_found():
    """The check above can fail: a tensor kept in its own hook's closure is cyclic garbage."""
    gc.collect()
    gc.disable()
    try:
        x = mg.Tensor(np.ones(3), requires_grad=True)
        y = x * 2
        y.register_hook(lambda grad, kept=y: None)  # y → its hooks → the lambda → y
        del x, y
        assert gc.collect() > 0
    finally:
        gc.enable()


def test_settings_come_back_and_a_cycle_made_inside_is_collected():
    before = gc.get_threshold()
    with rare_collections():
        assert gc.get_threshold() == (COLLECT_EVERY, *before[1:])
        assert gc.get_freeze_count() > 0
        cycle = []
        cycle.append(cycle)
        del cycle
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert gc.collect() > 0


def test_a_programs_own_freeze_is_left_alone():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with rare_collections(every=5_000):
            assert gc.get_threshold()[0] == 5_000
            inside = gc.get_freeze_count()
        # not thawed (unfreeze empties it) nor frozen again; a frozen object that dies leaves it
        # (2 of 307,777 did once, in the full suite), so the count may only fall by a little
        assert frozen - 100 <= gc.get_freeze_count() <= frozen and frozen - 100 <= inside <= frozen
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("every", [0, -3, 2.5, "700", True])
def test_a_bad_every_is_refused_by_name(every):
    with pytest.raises(ValueError, match=r"rare_collections: every must be a whole number .* got"):
        with rare_collections(every=every):
            pass


def test_bench_collector_counts_no_pass_inside_rare_collections():
    """bench/bench_collector.py, the figures behind COLLECT_EVERY, on a few steps."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(root / "bench" / "bench_collector.py"), "--steps", "3"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if "rare_collections" in line]
    assert [row[0] for row in rows] == ["fast", "composed"]
    assert all(row[2] == "0/0/0" for row in rows), done.stdout


def test_blocks_in_two_threads_give_the_settings_back_when_the_last_closes():
    """The first block open saves Python's settings and the last to close restores them, in
    whatever order the threads leave (a block that saved another's settings would keep them)."""
    before = gc.get_threshold()

    def open_and_close_here():
        with rare_collections():
            pass
        return gc.get_threshold()[0]

    assert while_open_in_another_thread(rare_collections, open_and_close_here) == COLLECT_EVERY
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_block_inside_another_keeps_the_outer_every():
    before = gc.get_threshold()
    with rare_collections(every=5_000):
        with rare_collections(every=9_000):
            assert gc.get_threshold()[0] == 5_000
        assert gc.get_threshold()[0] == 5_000
    assert gc.get_threshold() == before
