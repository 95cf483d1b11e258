"""glibc's malloc during a training loop: `with kept_heap():` keeps what a step frees for the next.

Every step allocates the same arrays and frees them all when its graph goes. glibc hands large
freed memory back to the kernel: a block above the mmap threshold is unmapped when freed, and
free space above the trim threshold at the heap's top is released. The next step asks for it
again, and the kernel zero-fills each 4 KB page on its first touch. For the fast twin on the
dates task that was 2,487 page faults and 8 ms of system time in a 46 ms step; with both
thresholds raised, 1 fault and 31 ms (bench/bench_heap.py; README, "Speed"). glibc also raises
the thresholds by itself after freeing a large block, so a process that made big arrays before
its loop (train making 20,000 pairs) faults less to begin with: the block makes the loop's cost
independent of that history.

Inside the block, freed memory stays in the process (M_TRIM_THRESHOLD) and arrays up to
MMAP_BELOW bytes come from the heap (M_MMAP_THRESHOLD), so the heap never holds more than the
loop's peak. After the outermost block, both thresholds are back at glibc's starting values and
malloc_trim returns the memory kept; glibc's own adjustment of the thresholds, which any mallopt
call switches off, stays off. Where malloc is not glibc's (macOS, Windows, musl), nothing changes.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager

__all__ = ["MMAP_BELOW", "TRIM_ABOVE", "glibc_malloc", "kept_heap"]

TRIM_ABOVE = 1 << 30  # free bytes at the heap's top before glibc returns them (its start: 128 KB)
MMAP_BELOW = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit (its start: 128 KB)
_GLIBC_START = 128 << 10  # both thresholds' value when a process starts
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (<malloc.h>)
_depth = 0  # open kept_heap blocks: only the outermost sets and restores


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


@contextmanager
def kept_heap():
    """malloc keeps freed memory for reuse inside the block (see the module docstring)."""
    global _depth
    libc = glibc_malloc() if _depth == 0 else None
    if libc is not None:
        _set_thresholds(libc, TRIM_ABOVE, MMAP_BELOW)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if libc is not None:
            _set_thresholds(libc, _GLIBC_START, _GLIBC_START)
            libc.malloc_trim(0)


def _set_thresholds(libc, trim: int, mmap: int) -> None:
    libc.mallopt(_M_TRIM_THRESHOLD, trim)  # both values are in the ranges glibc accepts
    libc.mallopt(_M_MMAP_THRESHOLD, mmap)
