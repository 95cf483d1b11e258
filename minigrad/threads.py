"""How many threads numpy's BLAS may use: one inside minigrad's training loops, its default elsewhere.

OpenBLAS starts one thread per core and keeps them spinning between calls. The date model's
products are small ((100, 64)·(64, 256) and the like, thousands per step), so a second thread
buys nothing and costs a wake-up per call; and when two trainings share two cores, the spinning
threads of each steal the other's core and every step slows several-fold. A large product
(2000×2000) does gain from the second core. So the policy is a scope, not a global clamp:
`with blas_threads():` around a loop of small products, numpy's own default outside it.
The figures behind TRAINING_THREADS are bench/bench_threads.py's (README, "Speed").
"""
from __future__ import annotations

from contextlib import contextmanager

from threadpoolctl import threadpool_limits

__all__ = ["TRAINING_THREADS", "blas_threads"]

TRAINING_THREADS = 1  # measured best for the date model's steps, alone and beside a second training


@contextmanager
def blas_threads(count: int = TRAINING_THREADS):
    """numpy's BLAS uses at most `count` threads inside the block; the previous limit after it."""
    if type(count) is not int or count < 1:
        raise ValueError(f"blas_threads: count must be a whole number of threads ≥ 1, got {count!r}")
    with threadpool_limits(limits=count, user_api="blas"):
        yield
