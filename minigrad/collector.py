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
from contextlib import contextmanager

from minigrad.process_setting import ProcessSetting

__all__ = ["COLLECT_EVERY", "rare_collections"]

COLLECT_EVERY = 100_000  # allocations between two passes over the youngest objects (Python's default: 700)


def _apply(every: int) -> tuple:
    """Freeze what is alive (unless the program froze some itself: gc.unfreeze() would thaw that
    too) and pass less often; (Python's thresholds, whether this froze) to undo it."""
    before = gc.get_threshold(), gc.get_freeze_count() == 0
    if before[1]:
        gc.freeze()
    gc.set_threshold(every, *before[0][1:])
    return before


def _restore(before: tuple) -> None:
    thresholds, froze = before
    gc.set_threshold(*thresholds)
    if froze:
        gc.unfreeze()


_SETTING = ProcessSetting(_apply, _restore)


@contextmanager
def rare_collections(every: int = COLLECT_EVERY):
    """Fewer, shorter collector passes while the block (or another thread's) is open; see the
    module docstring. A block opened while another is open keeps that one's `every`."""
    if type(every) is not int or every < 1:
        raise ValueError(f"rare_collections: every must be a whole number of allocations ≥ 1, got {every!r}")
    with _SETTING.held(every):
        yield
