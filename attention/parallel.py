"""Data-parallel training steps: a batch's rows split over processes, each computing the gradient of
its share with the same parameters, the parent summing them (what PyTorch's DistributedDataParallel
does with its all-reduce, here on one machine through shared memory).

Why: a training step of the fast twin is a long chain of numpy calls on small arrays, which one
core runs one after another. A second BLAS thread buys nothing on products this small
(minigrad/threads.py); a second process does: half the batch costs about 0.63 of the whole one,
and two halves side by side on two cores made a step 0.73 as long (README, "Speed").

A step with shares of n_0, …, n_{P-1} rows (n in all), L_k the mean loss over share k:
    L = Σ_k (n_k / n) L_k,   ∇L = Σ_k (n_k / n) ∇L_k
which are the batch's mean loss and its gradient, to float rounding (the sums over the batch are
taken in another order). Share 0 is the parent's own; `processes` fixes the split, so a seed gives
the same run every time on the same setting.

How, with nothing pickled:
  - the parameters' arrays move into memory shared with the workers (an anonymous shared mapping,
    made before the workers are forked), so what the optimizer writes into them in the parent is
    what every worker reads at its next share;
  - each worker has a block of that memory of its own: its rows, its loss, its gradients, and
    whether each parameter got one;
  - the parent writes each worker's rows and wakes it through a pipe (8 bytes: the row count),
    computes share 0, waits for each worker's one-byte answer and adds its gradients in.
Workers are forked (Linux and other POSIX systems): they inherit the model and the data as they
are when `DataParallel` is made. A worker ignores Ctrl-C (the parent handles it), exits when its
pipe closes (also when the parent dies), and sends an exception back as text, which the parent
raises as WorkerError.
"""
from __future__ import annotations

import mmap
import os
import signal
import sys
import time

import numpy as np

import minigrad as mg

ALIGN = 64  # bytes: every array of the shared block starts on a cache line of its own
EXIT_WAIT = 5.0  # seconds a worker has to finish its share and exit once the parent closes


class WorkerError(RuntimeError):
    """A worker process failed: the exception it raised, or how it died."""


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; the machine's count where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_processes() -> int:
    """2 where a second core is free to take half the batch and workers can be forked (Linux), else 1."""
    return 2 if sys.platform.startswith("linux") and usable_cpus() >= 2 else 1


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGN) * ALIGN


class _Worker:
    """The parent's handle on one worker: its pid, its two pipes and its views of the shared block."""
    __slots__ = ("pid", "commands", "answers", "rows", "loss", "has_grad", "grads")


class DataParallel:
    """`backward(rows)`: the mean loss of `model` on rows of (X, Y), with the gradient of that mean in
    every parameter's `.grad` (None where no share gave it one), over `processes` processes.

    `model(X[rows])` must give (logits, …) for `mg.cross_entropy(logits, Y[rows])`; `parameters` are
    the ones it reads (for the fast twin, the composed model's). Use it as a context manager, or
    call `close()`: it stops the workers and gives the parameters private arrays again. With one
    process it forks nothing and shares nothing: `backward` is the plain loss and backward.
    """

    def __init__(self, model, parameters, X: np.ndarray, Y: np.ndarray, processes: int, max_rows: int):
        if type(processes) is not int or processes < 1:
            raise ValueError(f"DataParallel: processes must be a whole number ≥ 1, got {processes!r}")
        if processes > 1 and not hasattr(os, "fork"):
            raise ValueError(f"DataParallel: processes={processes} needs os.fork, which {sys.platform} "
                             "does not have; use processes=1")
        self.model, self.X, self.Y, self.max_rows = model, X, Y, max_rows
        self.parameters = list(parameters)
        self.workers: list[_Worker] = []
        self._memory = None
        self._closed = False
        if processes > 1:
            self._start(processes - 1, max_rows)

    def _start(self, count: int, max_rows: int) -> None:
        sizes = [_aligned(p.data.nbytes) for p in self.parameters]
        block = sum(sizes) + ALIGN + _aligned(8 * max_rows) + _aligned(len(sizes))  # grads, loss, rows, has_grad
        self._memory = memory = mmap.mmap(-1, sum(sizes) + count * block)  # anonymous: MAP_SHARED
        offset = 0
        for p, size in zip(self.parameters, sizes):
            shared = self._view(offset, p.data.dtype, p.data.shape)
            shared[...] = p.data
            p.data = shared
            offset += size
        for _ in range(count):
            worker = _Worker()
            worker.grads = []
            for p, size in zip(self.parameters, sizes):
                worker.grads.append(self._view(offset, p.data.dtype, p.data.shape))
                offset += size
            worker.loss = self._view(offset, np.float64, (1,))
            offset += ALIGN
            worker.rows = self._view(offset, np.int64, (max_rows,))
            offset += _aligned(8 * max_rows)
            worker.has_grad = self._view(offset, np.bool_, (len(sizes),))
            offset += _aligned(len(sizes))
            self._fork(worker)
        assert offset == len(memory)

    def _view(self, offset: int, dtype, shape: tuple) -> np.ndarray:
        count = int(np.prod(shape, dtype=np.int64))
        return np.frombuffer(self._memory, dtype=dtype, count=count, offset=offset).reshape(shape)

    def _fork(self, worker: _Worker) -> None:
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: it never returns into the caller's code
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                os.close(commands_write)
                os.close(answers_read)
                for other in self.workers:  # the pipes of workers forked before this one
                    os.close(other.commands)
                    os.close(other.answers)
                self._serve(worker, commands_read, answers_write)
                status = 0
            finally:
                os._exit(status)
        os.close(commands_read)
        os.close(answers_write)
        worker.pid, worker.commands, worker.answers = pid, commands_write, answers_read
        self.workers.append(worker)

    def _serve(self, worker: _Worker, commands: int, answers: int) -> None:
        """The worker's loop: read a row count, compute that share, answer; until the pipe closes."""
        while True:
            message = os.read(commands, 8)
            if not message:
                return
            try:
                for p in self.parameters:
                    p.grad = None
                worker.loss[0] = self._share(worker.rows[:int.from_bytes(message, "little")])
                for k, (p, grad) in enumerate(zip(self.parameters, worker.grads)):
                    worker.has_grad[k] = p.grad is not None
                    if p.grad is not None:
                        grad[...] = p.grad
            except Exception as error:  # noqa: BLE001 - every failure goes back to the parent as text
                os.write(answers, b"\x01" + f"{type(error).__name__}: {error}".encode("utf-8", "replace"))
                return
            os.write(answers, b"\x00")

    def _share(self, rows: np.ndarray) -> float:
        """The mean loss on these rows, its gradient added into the parameters' `.grad`."""
        logits, *_ = self.model(self.X[rows])
        loss = mg.cross_entropy(logits, self.Y[rows])
        loss.backward()
        return loss.item()

    def backward(self, rows: np.ndarray) -> float:
        """The batch's mean loss; its gradient is left in the parameters' `.grad` (zero them first)."""
        if self._closed:
            raise RuntimeError("DataParallel.backward: this DataParallel is closed (its workers have stopped)")
        rows = np.asarray(rows)
        if len(rows) > self.max_rows:
            raise ValueError(f"DataParallel.backward: {len(rows)} rows, more than the {self.max_rows} "
                             "(max_rows) it was made for")
        if not self.workers:
            return self._share(rows)
        shares = np.array_split(rows, len(self.workers) + 1)
        n = len(rows)
        busy = []
        for worker, share in zip(self.workers, shares[1:]):
            if len(share):
                worker.rows[:len(share)] = share
                os.write(worker.commands, len(share).to_bytes(8, "little"))
                busy.append((worker, len(share) / n))
        own = len(shares[0]) / n
        try:
            loss = self._share(shares[0]) * own
        finally:  # also when share 0 raises: every answer is read, so the pipes stay in step
            failures = [failure for failure in map(self._wait, [worker for worker, _ in busy]) if failure]
        if failures:
            self.close()
            raise WorkerError(failures[0])
        if own != 1:
            for p in self.parameters:
                if p.grad is not None:
                    p.grad *= own
        for worker, weight in busy:
            loss += float(worker.loss[0]) * weight
            for p, grad, has_grad in zip(self.parameters, worker.grads, worker.has_grad):
                if has_grad:
                    if p.grad is None:
                        p.grad = grad * weight
                    else:
                        p.grad += grad * weight
        return loss

    def _wait(self, worker: _Worker) -> str | None:
        """Read the worker's answer to its share: None when done, else what went wrong, in words."""
        answer = os.read(worker.answers, 1)
        if answer == b"\x00":
            return None
        if answer == b"\x01":
            text = b"".join(iter(lambda: os.read(worker.answers, 65536), b"")).decode("utf-8", "replace")
            return (f"worker process {worker.pid} (one of {len(self.workers)}) failed on its share of the batch: "
                    f"{text}; run with processes=1 (train --processes 1) to see it in this process")
        return (f"worker process {worker.pid} ended while computing its share of the batch "
                f"({self._reap(worker, block=True)}); run with processes=1 (train --processes 1) to train in "
                "one process")

    def _reap(self, worker: _Worker, block: bool) -> str | None:
        """How the worker ended, once it has ("exited with status 3", "killed by signal 9"); None if not yet."""
        pid, status = os.waitpid(worker.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        worker.pid = None
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exited with status {os.waitstatus_to_exitcode(status)}"

    def close(self) -> None:
        """Stop the workers (each finishes the share it is on) and give the parameters private arrays."""
        self._closed = True
        for worker in self.workers:
            for fd in (worker.commands, worker.answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
        deadline = time.monotonic() + EXIT_WAIT
        for worker in self.workers:
            while worker.pid is not None and self._reap(worker, block=False) is None:
                if time.monotonic() > deadline:
                    os.kill(worker.pid, signal.SIGKILL)
                    self._reap(worker, block=True)
                time.sleep(0.005)
        self.workers = []
        if self._memory is not None:
            for p in self.parameters:
                p.data = np.array(p.data)
            self._memory = None  # freed with the last view of it

    def __enter__(self) -> "DataParallel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
