"""Python's cyclic garbage collector during a training loop: `with rare_collections():`.

A minigrad graph holds no reference cycle (a Function holds its inputs, never its output, and
a tensor holds the Function that made it), so reference counting frees each step's graph as
soon as its loss goes out of scope. The cyclic collector still runs on the graph's thousands
of new objects: a pass every 700 allocations, and now and then a walk over every object of the
process, the model, its data and numpy's modules included. It finds nothing: tests/test_collector.py
trains both paths with the collector off and counts the garbage they leave, none.

Inside the block, the objects alive when it starts are frozen out of those walks (gc.freeze),
unless the program froze some itself, and a pass comes every COLLECT_EVERY allocations; the
collector's settings come back when the last block open in the process closes (the collector is
the process's, so a block in one thread holds them for all). A cycle made inside the block is
still collected, later.
The figures behind COLLECT_EVERY are in README.md, "Speed".
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

__all__ = ["COLLECT_EVERY", "rare_collections"]

COLLECT_EVERY = 100_000  # allocations between two passes over the youngest objects (Python's default: 700)
_open = 0  # blocks open in the process, in any thread: the collector is the process's
_before = None  # (thresholds, whether the first block froze) from before the first open block
_lock = threading.Lock()


@contextmanager
def rare_collections(every: int = COLLECT_EVERY):
    """Fewer, shorter collector passes while the block (or another thread's) is open; see the module docstring."""
    global _open, _before
    if type(every) is not int or every < 1:
        raise ValueError(f"rare_collections: every must be a whole number of allocations ≥ 1, got {every!r}")
    opened = False
    try:
        with _lock:
            if _open == 0:
                freeze = gc.get_freeze_count() == 0  # gc.unfreeze() thaws everything: leave a program's own freeze alone
                _before = gc.get_threshold(), freeze
                if freeze:
                    gc.freeze()
            _open += 1
            opened = True
            gc.set_threshold(every, *_before[0][1:])
        yield
    finally:
        with _lock:
            if opened:
                _open -= 1
                if _open == 0:
                    (thresholds, froze), _before = _before, None
                    gc.set_threshold(*thresholds)
                    if froze:
                        gc.unfreeze()
