"""Data-parallel training steps: a batch's rows split over processes, each computing the gradient of
its share with the same parameters, the parent summing them (what PyTorch's DistributedDataParallel
does with its all-reduce, here on one machine through shared memory).

Why: a training step of the fast twin is a long chain of numpy calls on small arrays, which one
core runs one after another. A second BLAS thread buys nothing on products this small
(minigrad/threads.py); a second process does, with an interpreter and a core of its own. Half
a batch costs more than half a step (the count of numpy calls does not halve), so two processes
shorten a step by about a quarter on a quiet machine and lengthen it beside other work
(bench/bench_processes.py, bench/bench_train.py --run minigrad-train; docs/performance.md).

A step with shares of n_0, …, n_{P-1} rows (n in all), L_k the mean loss over share k:
    L = Σ_k (n_k / n) L_k,   ∇L = Σ_k (n_k / n) ∇L_k
which are the batch's mean loss and its gradient, to float rounding (the sums over the batch are
taken in another order, and over many steps a run then takes another route). Share 0 is the
parent's own; `processes` fixes the split, so a seed gives the same run every time with the same
`processes`. A `.grad` the parameters already hold is added to, as one process's backward does.

How, with nothing pickled:
  - the parameters' arrays move into memory shared with the workers (an anonymous shared mapping,
    made before the workers are forked), so what the optimizer writes into them in the parent is
    what every worker reads at its next share;
  - each worker has a block of that memory of its own: its rows, its loss, its gradients, and
    whether each parameter got one;
  - the parent writes each worker's rows and wakes it through a pipe (8 bytes: the row count),
    computes share 0, waits for each worker's one-byte answer and adds its gradients in.
Workers are forked (Linux and other POSIX systems), and only from a program running no other
thread (`fork_hazard`; a Ctrl-C arriving meanwhile is held until the workers are made). They
inherit the model and the data as they are when `DataParallel` is made; later changes other than to the parameters' values (hooks,
anomaly mode, a new module) do not reach them. An optimizer that assigns `p.data = …` instead of
writing into the array is caught at the next step, whose values are copied back into the shared
memory. A worker keeps no file of the parent's open but its two pipes, ignores Ctrl-C (the
parent handles it), exits when its pipe closes (also when the parent dies), and sends an
exception back as text, which the parent raises as WorkerError, closing the DataParallel (as
the next call does after a step interrupted before every answer was read).
"""
from __future__ import annotations

import mmap
import os
import signal
import sys
import threading
import time
import weakref
from contextlib import contextmanager

import numpy as np

import minigrad as mg

ALIGN = 64  # bytes: every array of the shared block starts on a cache line of its own
EXIT_WAIT = 5.0  # seconds a worker has to finish its share and exit once the parent closes


class WorkerError(RuntimeError):
    """A worker process failed: the exception it raised, or how it died."""


def usable_cpus() -> int:
    """The CPUs this process may use: its affinity mask, less where a cgroup's quota allows fewer."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, int(quota))) if quota is not None else cpus


def _cgroup_quota(root: str = "/sys/fs/cgroup") -> float | None:
    """CPUs' worth of time the cgroup may use (cgroup v2's cpu.max, v1's cfs quota and period), None if
    unlimited or unreadable."""
    for files in (("cpu.max",), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            fields = [field for name in files for field in open(os.path.join(root, name)).read().split()]
            return parse_quota(*fields[:2])
        except (OSError, ValueError, TypeError):
            continue
    return None


def parse_quota(quota: str, period: str) -> float | None:
    """quota ÷ period from a cgroup's files ("max" or a negative quota: no limit)."""
    if quota == "max" or int(quota) < 0:
        return None
    return int(quota) / int(period)


def default_processes() -> int:
    """2 where a second core is free to take half the batch and workers can be forked safely (Linux, and
    no other thread running: see `fork_hazard`), else 1."""
    return 2 if sys.platform.startswith("linux") and usable_cpus() >= 2 and not fork_hazard() else 1


def fork_hazard() -> str | None:
    """Why forking here could hang the worker, or None: a fork copies only the thread that calls it, so
    a lock another thread holds at that moment (OpenBLAS's, in a product) stays locked in the child."""
    others = sum(1 for thread in threading.enumerate()
                 if thread is not threading.current_thread() and not _redraws_bars_only(thread))
    if others:
        return f"this program runs {others} other thread{'s' if others > 1 else ''}"
    if threading.current_thread() is not threading.main_thread():
        return "it runs outside the main thread"
    return None


def _redraws_bars_only(thread: threading.Thread) -> bool:
    """tqdm's monitor thread (it outlives train's progress bars): it takes tqdm's locks, never numpy's."""
    return type(thread).__name__ == "TMonitor" and type(thread).__module__.startswith("tqdm")


@contextmanager
def _interrupts_held():
    """Ctrl-C in the block is delivered after it: one arriving inside os.fork is raised in the parent's
    after-fork hooks, where Python only prints it ("Exception ignored") and the run goes on."""
    held = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: held.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            signal.raise_signal(signal.SIGINT)


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGN) * ALIGN


class _Worker:
    """The parent's handle on one worker: its pid, its two pipes and its views of the shared block."""
    __slots__ = ("pid", "commands", "answers", "rows", "loss", "has_grad", "grads")


def _reap(worker: _Worker, block: bool) -> str | None:
    """How the worker ended, once it has ("exited with status 3", "killed by signal 9"); None if not yet."""
    try:
        pid, status = os.waitpid(worker.pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # reaped already (SIGCHLD ignored)
        worker.pid = None
        return "ended"
    if pid == 0:
        return None
    worker.pid = None
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _stop(workers: list) -> None:
    """Close the workers' pipes, wait for each to exit (killing one that takes over EXIT_WAIT), forget them."""
    try:
        for worker in workers:
            for fd in (worker.commands, worker.answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
        deadline = time.monotonic() + EXIT_WAIT
        try:
            for worker in workers:
                while worker.pid is not None and _reap(worker, block=False) is None:
                    if time.monotonic() > deadline:
                        _kill(worker)
                    else:
                        time.sleep(0.005)
        except KeyboardInterrupt:  # no more waiting: end them now, then pass the interrupt on
            for worker in workers:
                if worker.pid is not None:
                    _kill(worker)
            raise
    finally:
        workers.clear()


def _kill(worker: _Worker) -> None:
    try:
        os.kill(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(worker, block=True)


class DataParallel:
    """`backward(rows)`: the mean loss of `model` on rows of (X, Y), with the gradient of that mean added
    into every parameter's `.grad`, over `processes` processes.

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
        hazard = fork_hazard() if processes > 1 else None
        if hazard:
            raise ValueError(f"DataParallel: processes={processes} forks workers, and {hazard}: a lock held "
                             "by another thread when a worker is forked stays locked in it, which can hang it; "
                             "use processes=1 here (train's default does)")
        self.model, self.X, self.Y, self.max_rows = model, X, Y, max_rows
        self.parameters = list(parameters)
        self.workers: list[_Worker] = []
        self._shared: list[np.ndarray] = []  # each parameter's array in the shared block
        self._memory = None
        self._closed = self._stepping = False
        self._stop_workers = weakref.finalize(self, _stop, self.workers)  # also if never closed
        if processes > 1:
            try:
                with _interrupts_held():
                    self._start(processes - 1, max_rows)
            except BaseException:
                self.close()
                raise

    def _start(self, count: int, max_rows: int) -> None:
        sizes = [_aligned(p.data.nbytes) for p in self.parameters]
        block = sum(sizes) + ALIGN + _aligned(8 * max_rows) + _aligned(len(sizes))  # grads, loss, rows, has_grad
        self._memory = memory = mmap.mmap(-1, sum(sizes) + count * block)  # anonymous: MAP_SHARED
        offset = 0
        for p, size in zip(self.parameters, sizes):
            shared = self._view(offset, p.data.dtype, p.data.shape)
            shared[...] = p.data
            p.data = shared
            self._shared.append(shared)
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
        pid = os.fork()  # no other thread runs (fork_hazard), so none holds a lock the worker needs
        if pid == 0:  # the worker: it never returns into the caller's code
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                low, high = sorted((commands_read, answers_write))
                os.closerange(3, low)  # every other file of the parent's: other workers' pipes, the training lock
                os.closerange(low + 1, high)
                os.closerange(high + 1, os.sysconf("SC_OPEN_MAX"))
                status = self._serve(worker, commands_read, answers_write)
            finally:
                os._exit(status)
        os.close(commands_read)
        os.close(answers_write)
        worker.pid, worker.commands, worker.answers = pid, commands_write, answers_read
        self.workers.append(worker)

    def _serve(self, worker: _Worker, commands: int, answers: int) -> int:
        """The worker's loop: read a row count, compute that share, answer; until the pipe closes.
        Its exit status: 0, or 1 after sending back an exception."""
        while True:
            message = os.read(commands, 8)
            if not message:
                return 0
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
                return 1
            os.write(answers, b"\x00")

    def _share(self, rows: np.ndarray, weight: float = 1.0) -> float:
        """The mean loss L on these rows; the gradient of weight · L is added into the parameters' `.grad`
        (backward seeded with the weight, so what they held is not scaled with it)."""
        logits, *_ = self.model(self.X[rows])
        loss = mg.cross_entropy(logits, self.Y[rows])
        loss.backward(None if weight == 1 else np.asarray(weight, dtype=loss.dtype))
        return loss.item()

    def backward(self, rows) -> float:
        """The batch's mean loss; its gradient is added into the parameters' `.grad` (zero them first)."""
        if self._closed:
            raise RuntimeError("DataParallel.backward: this DataParallel is closed (its workers have stopped)")
        if self._stepping:
            self.close()
            raise RuntimeError("DataParallel.backward: the previous call was interrupted before every worker "
                               "answered, so their answers are out of step; this DataParallel is now closed")
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise TypeError(f"DataParallel.backward: rows must be a 1-D array of row indices, got "
                            f"{rows.dtype} of shape {rows.shape}")
        if len(rows) > self.max_rows:
            raise ValueError(f"DataParallel.backward: {len(rows)} rows, more than the {self.max_rows} "
                             "(max_rows) it was made for")
        if not self.workers or not len(rows):
            return self._share(rows)
        self._reshare()
        n, shares = len(rows), np.array_split(rows, len(self.workers) + 1)
        busy, failures = [], []
        self._stepping = True
        try:
            for worker, share in zip(self.workers, shares[1:]):
                if len(share):
                    worker.rows[:len(share)] = share
                    try:
                        os.write(worker.commands, len(share).to_bytes(8, "little"))
                    except OSError:  # it has died since its last answer
                        failures.append(self._ended(worker))
                        continue
                    busy.append((worker, len(share) / n))
            own = len(shares[0]) / n
            loss = self._share(shares[0], own) * own
        finally:  # also when share 0 raises: every answer is read, so the pipes stay in step
            failures += [failure for failure in map(self._wait, [worker for worker, _ in busy]) if failure]
            self._stepping = False
            if failures:
                self.close()
        if failures:
            raise WorkerError(failures[0])
        for worker, weight in busy:
            loss += float(worker.loss[0]) * weight
            for p, grad, has_grad in zip(self.parameters, worker.grads, worker.has_grad):
                if has_grad:
                    if p.grad is None:
                        p.grad = grad * weight
                    else:
                        p.grad += grad * weight
        return loss

    def _reshare(self) -> None:
        """Put back into the shared block any parameter whose `.data` was assigned a new array."""
        for p, shared in zip(self.parameters, self._shared):
            if p.data is not shared:
                if p.data.shape != shared.shape:
                    raise ValueError(f"DataParallel.backward: parameter {p.name or ''} of shape {shared.shape} "
                                     f"now holds an array of shape {p.data.shape}")
                shared[...] = p.data
                p.data = shared

    def _wait(self, worker: _Worker) -> str | None:
        """Read the worker's answer to its share: None when done, else what went wrong, in words."""
        answer = os.read(worker.answers, 1)
        if answer == b"\x00":
            return None
        if answer == b"\x01":
            text = b"".join(iter(lambda: os.read(worker.answers, 65536), b"")).decode("utf-8", "replace")
            return (f"worker process {worker.pid} (one of {len(self.workers)} workers) failed on its share of the batch: "
                    f"{text}; run with processes=1 (train --processes 1) to see it in this process")
        return self._ended(worker)

    def _ended(self, worker: _Worker) -> str:
        return (f"worker process {worker.pid} ended while computing its share of the batch "
                f"({_reap(worker, block=True)}); run with processes=1 (train --processes 1) to train in "
                "one process")

    def close(self) -> None:
        """Stop the workers (each finishes the share it is on) and give the parameters private arrays."""
        self._closed = True
        try:
            self._stop_workers()
        finally:
            if self._memory is not None:
                for p in self.parameters:
                    p.data = np.array(p.data)
                self._shared = []
                self._memory = None  # freed with the last view of it

    def __enter__(self) -> "DataParallel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
