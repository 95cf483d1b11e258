"""A setting of the whole process (the garbage collector's, malloc's) that `with` blocks in any
thread hold together: the first block to open applies it, the last to close restores what was
there before, whatever order the threads leave in (minigrad/collector.py, minigrad/heap.py).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable


class ProcessSetting:
    """`held(*args)` blocks of one setting; `apply(*args)` (the first block's arguments) returns
    what `restore(before)` needs to undo it."""

    def __init__(self, apply: Callable[..., object], restore: Callable[[object], None]):
        self._apply, self._restore = apply, restore
        self._open = 0  # blocks open in the process, in any thread
        self._before = None  # what apply() returned for the first of them
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        """How many blocks are open now, in all threads."""
        return self._open

    @contextmanager
    def held(self, *args):
        opened = False  # counted only once open: an interrupt before that leaves the count right
        try:
            with self._lock:
                if self._open == 0:
                    self._before = self._apply(*args)
                self._open += 1
                opened = True
            yield
        finally:
            with self._lock:
                if opened:
                    self._open -= 1
                    if self._open == 0:
                        before, self._before = self._before, None
                        self._restore(before)
