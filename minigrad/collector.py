"""Python's cyclic garbage collector during a training loop: `with rare_collections():`.

A minigrad graph holds no reference cycle (a Function holds its inputs, never its output, and
a tensor holds the Function that made it), so reference counting frees each step's graph as
soon as its loss goes out of scope. The cyclic collector still runs on the graph's thousands
of new objects: a pass every 700 allocations, and now and then a walk over every object of the
process, the model, its data and numpy's modules included. It finds nothing: tests/test_collector.py
trains both paths with the collector off and counts the garbage they leave, none.

Inside the block, the objects alive when it starts are frozen out of those walks (gc.freeze),
unless the program froze some itself, and a pass comes every COLLECT_EVERY allocations; the
collector's settings come back after. A cycle made inside the block is still collected, later.
The figures behind COLLECT_EVERY are in README.md, "Speed".
"""
from __future__ import annotations

import gc
from contextlib import contextmanager

__all__ = ["COLLECT_EVERY", "rare_collections"]

COLLECT_EVERY = 100_000  # allocations between two passes over the youngest objects (Python's default: 700)


@contextmanager
def rare_collections(every: int = COLLECT_EVERY):
    """Fewer, shorter collector passes inside the block (see the module docstring)."""
    if type(every) is not int or every < 1:
        raise ValueError(f"rare_collections: every must be a whole number of allocations ≥ 1, got {every!r}")
    thresholds = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # gc.unfreeze() thaws everything: leave a program's own freeze alone
    if freeze:
        gc.freeze()
    gc.set_threshold(every, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freeze:
            gc.unfreeze()
