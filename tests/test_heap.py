"""minigrad.heap.kept_heap: freed memory stays in the process inside the block, and goes back after.

Each check runs in a fresh interpreter, whose malloc starts at glibc's defaults, and counts the
minor page faults (the kernel zero-filling a page on its first touch) of a loop that allocates
and frees 48 MB in 4 MB arrays: at glibc's defaults that memory is handed back and faulted in
again every round; kept, only the first round faults.
"""
import json
import subprocess
import sys

import pytest

from minigrad import heap

ROUNDS = 10
PAGES = 12 * (4 << 20) // 4096  # the 4 KB pages one round touches (glibc's defaults fault about half)
PROGRAM = """
import json, resource, sys
import numpy as np
from minigrad.heap import kept_heap

def faults_per_round():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range({rounds}):
        arrays = [np.full(1 << 19, 1.0) for _ in range(12)]  # 12 arrays of 4 MB, every page touched
        del arrays
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / {rounds}

faults_per_round()  # warm-up: numpy's and the interpreter's own first allocations
result = {{"default": faults_per_round()}}
{body}
print(json.dumps(result))
"""

needs_glibc = pytest.mark.skipif(heap.glibc_malloc() is None, reason="malloc is not glibc's")


def run(body: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROGRAM.format(rounds=ROUNDS, body=body)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@needs_glibc
def test_inside_the_block_freed_memory_is_reused_and_after_it_is_returned():
    result = run("""
with kept_heap():
    faults_per_round()  # the first round inside faults the heap in once
    result["inside"] = faults_per_round()
result["after"] = faults_per_round()
""")
    assert result["default"] > PAGES / 4  # the control: at glibc's defaults the loop faults
    assert result["inside"] < PAGES / 100
    assert result["after"] > PAGES / 4  # the thresholds are back and the memory was returned


@needs_glibc
def test_a_nested_block_leaves_the_outer_one_in_force():
    result = run("""
with kept_heap():
    with kept_heap():
        faults_per_round()
    result["outer"] = faults_per_round()
""")
    assert result["outer"] < PAGES / 100


@needs_glibc
def test_a_block_in_another_thread_keeps_the_settings_after_the_first_block_closes():
    """The first block to open is not the one that restores: the last to close is."""
    result = run("""
import threading
entered, release = threading.Event(), threading.Event()
def other():
    with kept_heap():
        entered.set()
        release.wait()
thread = threading.Thread(target=other)
with kept_heap():
    thread.start()
    entered.wait()
faults_per_round()
result["other_open"] = faults_per_round()
release.set()
thread.join()
result["all_closed"] = faults_per_round()
""")
    assert result["other_open"] < PAGES / 100
    assert result["all_closed"] > PAGES / 4


def test_without_glibc_the_block_changes_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "glibc_malloc", lambda: calls.append("looked") and None)
    with heap.kept_heap():
        assert heap._SETTING.open == 1
    assert heap._SETTING.open == 0 and calls == ["looked", "looked"]


def test_the_count_comes_back_when_the_block_raises():
    with pytest.raises(KeyboardInterrupt):
        with heap.kept_heap():
            raise KeyboardInterrupt
    assert heap._SETTING.open == 0


@needs_glibc
def test_bench_heap_counts_the_fast_twins_faults_gone_inside_kept_heap():
    """bench/bench_heap.py, the figures behind kept_heap, on a few steps of the dates task and
    one epoch of `train` on 500 pairs."""
    from pathlib import Path
    script = Path(__file__).resolve().parent.parent / "bench" / "bench_heap.py"
    done = subprocess.run([sys.executable, str(script), "--steps", "3", "--rounds", "1", "--tasks", "dates",
                           "--train-sizes", "500", "--train-epochs", "1"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(("fast ", "composed "))]
    faults = {(row[0], row[-6]): float(row[-4]) for row in rows}  # row[-6]: "defaults" or "kept_heap"
    assert set(faults) == {(path, s) for path in ("fast", "composed") for s in ("defaults", "kept_heap")}, done.stdout
    assert faults["fast", "defaults"] > 500 and faults["fast", "kept_heap"] < faults["fast", "defaults"] / 20, done.stdout
    train = {row[-3]: float(row[-1]) for row in (line.split() for line in done.stdout.splitlines())
             if row[:2] == ["dates", "500"]}  # row[-3]: "defaults" or "kept_heap"; row[-1]: page faults
    assert set(train) == {"defaults", "kept_heap"} and train["kept_heap"] < train["defaults"], done.stdout
