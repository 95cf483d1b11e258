"""glibc's malloc during a training loop: `with kept_heap():` keeps what a step frees for the next.

Every step allocates the same arrays and frees them all when its graph goes. glibc hands large
freed memory back to the kernel: a block above the mmap threshold is unmapped when freed, and
free space above the trim threshold at the heap's top is released. The next step asks for it
again, and the kernel zero-fills each 4 KB page on its first touch. For the fast twin on the
dates task, in a process that made only the data it steps through, that was 2,479 page faults
and 8 ms of system time in a 46 ms step; with both thresholds raised, 2 faults and 37 ms
(bench/bench_heap.py; README, "Speed"). glibc also raises the thresholds by itself after freeing
a large block, so a process that made big arrays before its loop faults less to begin with
(`train` making its 20,000 pairs: there the block halves the faults and the time stays within
noise). The block makes the loop's cost independent of that history.

Inside the block, freed memory stays in the process (M_TRIM_THRESHOLD) and arrays up to
MMAP_BELOW bytes come from the heap (M_MMAP_THRESHOLD), so the heap never holds more than the
loop's peak. malloc's settings are the process's, so they hold while any block is open, nested
or in another thread. When the last one closes, both thresholds are at glibc's starting values
(128 KB, also where a program had set its own) and malloc_trim returns the main heap's kept
memory; what a worker thread freed inside the block can stay with that thread's arena. glibc's
own adjustment of the thresholds, which any mallopt call switches off, stays off. Where malloc
is not glibc's (macOS, Windows, musl), nothing changes.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from functools import cache

from minigrad.process_setting import ProcessSetting

__all__ = ["MMAP_BELOW", "TRIM_ABOVE", "glibc_malloc", "kept_heap"]

TRIM_ABOVE = 1 << 30  # free bytes at the heap's top before glibc returns them (its start: 128 KB)
MMAP_BELOW = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit (its start: 128 KB)
_GLIBC_START = 128 << 10  # both thresholds' value when a process starts
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (<malloc.h>)


@cache
def glibc_malloc():
    """The C library if its malloc is glibc's (it has mallopt and malloc_trim), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # absent from a Python built without libffi
        libc = ctypes.CDLL(None)
    except (ImportError, OSError):
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    return libc


def _keep() -> None:
    _set_thresholds(TRIM_ABOVE, MMAP_BELOW)


def _give_back(_) -> None:
    if _set_thresholds(_GLIBC_START, _GLIBC_START):
        glibc_malloc().malloc_trim(0)


def _set_thresholds(trim: int, mmap: int) -> bool:
    """Both thresholds, in bytes (values glibc accepts); False where malloc is not glibc's."""
    libc = glibc_malloc()
    if libc is None:
        return False
    libc.mallopt(_M_TRIM_THRESHOLD, trim)
    libc.mallopt(_M_MMAP_THRESHOLD, mmap)
    return True


_SETTING = ProcessSetting(_keep, _give_back)


@contextmanager
def kept_heap():
    """malloc keeps freed memory for reuse while the block (or another thread's) is open; see the module docstring."""
    with _SETTING.held():
        yield
