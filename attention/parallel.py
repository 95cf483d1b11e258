"""Training steps split over processes: a batch's rows (DataParallel), or the composed model's step
(ComposedParallel). Either way the parent ends the step holding the batch's mean loss and its
gradient, as one process would, to float rounding.

Why: a training step here is a long chain of numpy calls on small arrays, which one core runs one
after another. A second BLAS thread buys nothing on products this small (minigrad/threads.py); a
second process does, with an interpreter and a core of its own. Beside other work it costs more
than it gains (bench/bench_processes.py; docs/performance.md).

DataParallel, for the fast twin: shares of n_0, …, n_{P-1} rows (n in all), L_k the mean loss over
share k,
    L = Σ_k (n_k / n) L_k,   ∇L = Σ_k (n_k / n) ∇L_k.
Share 0 is the parent's own. Half a batch costs more than half a step (the count of numpy calls
does not halve), so two processes shorten a twin's step by about a quarter on a quiet machine.

ComposedParallel, for the composed model on two processes: its encoder is two chains of small
nodes, whose Python costs the same whatever the rows, so halving its rows saves little. Its two
directions do not depend on each other, so each process runs one; its decoder's nodes are larger
(every attention step is (B, Tx, ·)), so it is split by rows as above. The graph is cut at
a = [F; B], F and B the directions' states, (B, Tx, n_a) each:
    FORWARD   worker: B = (h_b<1>, …, h_b<Tx>)        parent: F = (h_f<1>, …, h_f<Tx>)
    DECODE    each decodes its rows (the parent the first half) from a = [F; B] as two leaves,
              its loss's backward seeded with its weight n_k / n: its share of the gradients of
              the attention, the post-attention cell and the output layer, and ∂L/∂F, ∂L/∂B of
              its rows; the two swap the halves the other needs
    BACKWARD  worker: backward through B from ∂L/∂B    parent: backward through F from ∂L/∂F
which is the chain rule at the cut: the gradient of the whole graph.

The split fixes the order of the sums, so a seed gives the same run every time with the same
`processes`; a run with another count takes another route (rounding). A `.grad` the parameters
already hold is added to, as one process's backward does.

How, with nothing pickled:
  - the parameters a worker reads move into memory shared with the workers (an anonymous shared
    mapping, made before the workers are forked), so what the optimizer writes into them in the
    parent is what every worker reads next;
  - each worker has a block of that memory of its own: its rows, its gradients and whether each
    parameter got one, a share's loss, and for ComposedParallel the halves of F, B and their
    gradients that the two swap;
  - the parent writes a worker's rows and wakes it through a pipe (8 bytes: the row count, or
    DECODE or BACKWARD), works meanwhile, and waits for the worker's one-byte answer.
Workers are forked (Linux and other POSIX systems), and only from a program running no other
thread (`fork_hazard`; a Ctrl-C arriving meanwhile is held until the workers are made). They
inherit the model and the data as they are when the split is made; later changes other than to
the parameters' values (hooks, anomaly mode, a new module) do not reach them. An optimizer that
assigns `p.data = …` instead of writing into the array is caught at the next step, whose values
are copied back into the shared memory. A worker keeps no file of the parent's open but its two
pipes, ignores Ctrl-C (the parent handles it), exits when its pipe closes (also when the parent
dies), and sends an exception back as text, which the parent raises as WorkerError, closing the
split (as the next call does after a step interrupted before every answer was read).
"""
from __future__ import annotations

import mmap
import os
import select
import signal
import sys
import threading
import time
import weakref
from contextlib import contextmanager

import numpy as np

import minigrad as mg
from attention.encoder import to_time_major

ALIGN = 64  # bytes: every array of the shared block starts on a cache line of its own
EXIT_WAIT = 5.0  # seconds a worker has to finish its share and exit once the parent closes
POLL_WAIT = 0.005  # seconds a process polls its pipe for what it waits for before it sleeps in read (`_read`)


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


def _read(fd: int, size: int) -> bytes:
    """os.read(fd, size), after polling the pipe for up to POLL_WAIT seconds: on a quiet machine with
    virtual cores, a message and its answer cost 1.7 ms more with both sides asleep in read than
    polling first (0.02 ms; bench/bench_processes.py --wake-up), against a step of 20-40 ms that
    waits once (DataParallel) or three times (ComposedParallel)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    deadline = time.perf_counter() + POLL_WAIT
    while not poller.poll(0) and time.perf_counter() < deadline:
        pass
    return os.read(fd, size)


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGN) * ALIGN


class _Worker:
    """The parent's handle on one worker: its pid, its two pipes and its views of the shared block
    (rows, grads, has_grad, and the arrays its split passes: `_Split._passed`)."""


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


# ComposedParallel's messages besides FORWARD, which is the step's row count
DECODE, BACKWARD = -2, -1


class _Split:
    """What both splits share: the parameters a worker reads in shared memory, forked workers and their
    pipes, a round of requests and answers, failures, and closing. A subclass says what a worker does
    with a message (`_handle`), what else its block passes (`_passed`) and what a step is (`backward`)."""
    work = "its share of the batch"  # what a worker computes, in words, for its failures

    def __init__(self, parameters, X: np.ndarray, Y: np.ndarray, workers: int, max_rows: int):
        self.X, self.Y, self.max_rows = X, Y, max_rows
        self.parameters = list(parameters)
        self.workers: list[_Worker] = []
        self._shared: list[np.ndarray] = []  # each shared parameter's array in the shared block
        self._memory = None
        self._closed = self._stepping = False
        self._stop_workers = weakref.finalize(self, _stop, self.workers)  # also if never closed
        if workers:
            try:
                with _interrupts_held():
                    self._start(workers)
            except BaseException:
                self.close()
                raise

    @classmethod
    def _refuse_unforkable(cls, processes: int) -> None:
        """A ValueError naming `processes` if workers cannot be forked here, or not safely."""
        if not hasattr(os, "fork"):
            raise ValueError(f"{cls.__name__}: processes={processes} needs os.fork, which {sys.platform} "
                             "does not have; use processes=1")
        hazard = fork_hazard()
        if hazard:
            raise ValueError(f"{cls.__name__}: processes={processes} forks workers, and {hazard}: a lock held "
                             "by another thread when a worker is forked stays locked in it, which can hang it; "
                             "use processes=1 here (train's default does)")

    def _passed(self) -> list:
        """(name, dtype, shape) of each array a worker's block holds besides its rows and gradients."""
        return []

    def _start(self, count: int) -> None:
        sizes = [_aligned(p.data.nbytes) for p in self.parameters]
        arrays = [("rows", np.int64, (self.max_rows,)), ("has_grad", np.bool_, (len(sizes),))] + self._passed()
        nbytes = [_aligned(np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64))) for _, dtype, shape in arrays]
        self._memory = memory = mmap.mmap(-1, sum(sizes) + count * (sum(sizes) + sum(nbytes)))  # anonymous: MAP_SHARED
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
            for (name, dtype, shape), size in zip(arrays, nbytes):
                setattr(worker, name, self._view(offset, dtype, shape))
                offset += size
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
        """The worker's loop: read a message, do what it asks, answer; until the pipe closes.
        Its exit status: 0, or 1 after sending back an exception."""
        while True:
            message = _read(commands, 8)
            if not message:
                return 0
            try:
                done = self._handle(worker, int.from_bytes(message, "little", signed=True))
            except Exception as error:  # noqa: BLE001 - every failure goes back to the parent as text
                os.write(answers, b"\x01" + f"{type(error).__name__}: {error}".encode("utf-8", "replace"))
                return 1
            os.write(answers, b"\x00")
            del done  # freed after the answer: the parent need not wait for it

    def _handle(self, worker: _Worker, message: int):
        """Do what `message` asks; return what it leaves behind (a graph, or None), which `_serve` frees
        once it has answered: freeing a composed step's graphs takes about 1.5 ms of the worker's 40."""
        raise NotImplementedError

    def _gradients_out(self, worker: _Worker) -> None:
        """In the worker: the parameters' gradients into its block."""
        for k, (p, grad) in enumerate(zip(self.parameters, worker.grads)):
            worker.has_grad[k] = p.grad is not None
            if p.grad is not None:
                grad[...] = p.grad

    def _gradients_in(self, worker: _Worker, weight: float) -> None:
        """In the parent: weight × the worker's gradients added into the parameters' `.grad`."""
        for p, grad, has_grad in zip(self.parameters, worker.grads, worker.has_grad):
            if has_grad:
                if p.grad is None:
                    p.grad = grad * weight
                else:
                    p.grad += grad * weight

    def _rows(self, rows) -> np.ndarray:
        """The step's rows as an index array, once this split is known to be fit for another step."""
        name = type(self).__name__
        if self._closed:
            raise RuntimeError(f"{name}.backward: this {name} is closed (its workers have stopped)")
        if self._stepping:
            self.close()
            raise RuntimeError(f"{name}.backward: the previous call was interrupted before every worker "
                               f"answered, so their answers are out of step; this {name} is now closed")
        rows = np.asarray(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise TypeError(f"{name}.backward: rows must be a 1-D array of row indices, got "
                            f"{rows.dtype} of shape {rows.shape}")
        if len(rows) > self.max_rows:
            raise ValueError(f"{name}.backward: {len(rows)} rows, more than the {self.max_rows} "
                             "(max_rows) it was made for")
        self._reshare()
        return rows

    def _round(self, requests: list, own):
        """Send each (worker, message) of `requests`, return `own()` run meanwhile, once every worker sent
        has answered; a worker's failure closes the split and is raised as WorkerError (after an
        exception of `own`'s, if both fail)."""
        busy, failures = [], []
        self._stepping = True
        try:
            for worker, message in requests:
                try:
                    os.write(worker.commands, message.to_bytes(8, "little", signed=True))
                    busy.append(worker)
                except OSError:  # it has died since its last answer
                    failures.append(self._ended(worker))
            result = own()
        finally:  # also when `own` raises: every answer is read, so the pipes stay in step
            failures += [failure for failure in map(self._wait, busy) if failure]
            self._stepping = False
            if failures:
                self.close()
        if failures:
            raise WorkerError(failures[0])
        return result

    def _loss(self, logits: mg.Tensor, rows: np.ndarray, weight: float = 1.0) -> mg.Tensor:
        """The mean cross-entropy L of `logits` against these rows of Y, after its backward: the gradient of
        weight · L is added into the parameters' `.grad` (backward seeded with the weight, so what they
        held is not scaled with it)."""
        loss = mg.cross_entropy(logits, self.Y[rows])
        loss.backward(None if weight == 1 else np.asarray(weight, dtype=loss.dtype))
        return loss

    def _reshare(self) -> None:
        """Put back into the shared block any parameter whose `.data` was assigned a new array."""
        for p, shared in zip(self.parameters, self._shared):
            if p.data is not shared:
                if p.data.shape != shared.shape:
                    raise ValueError(f"{type(self).__name__}.backward: parameter {p.name or ''} of shape "
                                     f"{shared.shape} now holds an array of shape {p.data.shape}")
                shared[...] = p.data
                p.data = shared

    def _wait(self, worker: _Worker) -> str | None:
        """Read the worker's answer: None when done, else what went wrong, in words."""
        answer = _read(worker.answers, 1)
        if answer == b"\x00":
            return None
        if answer == b"\x01":
            text = b"".join(iter(lambda: os.read(worker.answers, 65536), b"")).decode("utf-8", "replace")
            return (f"worker process {worker.pid} (one of {len(self.workers)} workers) failed on {self.work}: "
                    f"{text}; run with processes=1 (train --processes 1) to see it in this process")
        return self._ended(worker)

    def _ended(self, worker: _Worker) -> str:
        return (f"worker process {worker.pid} ended while computing {self.work} "
                f"({_reap(worker, block=True)}); run with processes=1 (train --processes 1) to train in "
                "one process")

    def close(self) -> None:
        """Stop the workers (each finishes what it is on) and give the parameters private arrays."""
        self._closed = True
        try:
            self._stop_workers()
        finally:
            if self._memory is not None:
                for p in self.parameters:
                    p.data = np.array(p.data)
                self._shared = []
                self._memory = None  # freed with the last view of it

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DataParallel(_Split):
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
        if processes > 1:
            self._refuse_unforkable(processes)
        self.model = model
        super().__init__(parameters, X, Y, processes - 1, max_rows)

    def _passed(self) -> list:
        return [("loss", np.float64, (1,))]

    def _handle(self, worker: _Worker, count: int) -> mg.Tensor:
        for p in self.parameters:
            p.grad = None
        loss = self._share(worker.rows[:count])
        worker.loss[0] = loss.item()
        self._gradients_out(worker)
        return loss

    def _share(self, rows: np.ndarray, weight: float = 1.0) -> mg.Tensor:
        logits, *_ = self.model(self.X[rows])
        return self._loss(logits, rows, weight)

    def backward(self, rows) -> float:
        """The batch's mean loss; its gradient is added into the parameters' `.grad` (zero them first)."""
        rows = self._rows(rows)
        if not self.workers or not len(rows):
            return self._share(rows).item()
        n, shares = len(rows), np.array_split(rows, len(self.workers) + 1)
        requests = []
        for worker, share in zip(self.workers, shares[1:]):
            if len(share):
                worker.rows[:len(share)] = share
                requests.append((worker, len(share)))
        own = len(shares[0]) / n
        loss = self._round(requests, lambda: self._share(shares[0], own).item() * own)
        for worker, count in requests:
            loss += float(worker.loss[0]) * count / n
            self._gradients_in(worker, count / n)
        return loss


class ComposedParallel(_Split):
    """`backward(rows)` as DataParallel's, for the composed Seq2SeqAttention on two processes: the encoder
    split by direction, the decoder by rows (see the module docstring).

    The worker keeps its graphs from one message of a step to the next: B after FORWARD, its
    share of the decoder after DECODE, and at BACKWARD the backward pass through B from ∂L/∂B.
    """
    work = "its half of the composed model's step"

    def __init__(self, model, X: np.ndarray, Y: np.ndarray, max_rows: int):
        self._refuse_unforkable(2)
        self.model, self.cell = model, model.encoder.backward_cell
        self._states = self._tail_grad = None  # in the worker, between the messages of a step: B, ∂L/∂B of its rows
        super().__init__(model.parameters(), X, Y, 1, max_rows)

    def _passed(self) -> list:
        shape, dtype = (self.max_rows, self.model.config.Tx, self.cell.hidden_size), self.cell.weight_h.dtype
        return [("loss", np.float64, (1,))] + [(name, dtype, shape) for name in (
            "states", "state_grads",  # B and ∂L/∂B of the parent's rows
            "forward_states", "forward_grads")]  # F and ∂L/∂F of the worker's rows

    def _direction(self, rows: np.ndarray, reverse: bool) -> mg.Tensor:
        """One direction's states at every step, (B, Tx, hidden): F, or B if `reverse`."""
        time_major = to_time_major(self.model.token_indices(self.X[rows]))
        with mg.scope("encoder"):
            return mg.stack(self.model.encoder.direction(time_major, reverse), axis=1)

    def _decoded(self, halves: tuple, rows: np.ndarray, weight: float) -> mg.Tensor:
        """The decoder's mean loss on these rows from a = [F; B] (two leaves); backward seeded with `weight`."""
        logits, _ = self.model.decode(mg.concat(halves, axis=-1).named("a"))
        return self._loss(logits, rows, weight)

    def _handle(self, worker: _Worker, message: int) -> mg.Tensor | None:
        if message >= 0:  # FORWARD, of `message` rows
            for p in self.parameters:
                p.grad = None
            self._states, self._tail_grad = self._direction(worker.rows[:message], reverse=True), None
            own = _parents_rows(message)
            worker.states[:own] = self._states.data[:own]
            return None
        n = len(self._states.data)
        own = _parents_rows(n)
        if message == DECODE:
            halves = (mg.Tensor(np.array(worker.forward_states[:n - own]), requires_grad=True),
                      mg.Tensor(self._states.data[own:], requires_grad=True))
            loss = self._decoded(halves, worker.rows[own:n], (n - own) / n)
            worker.loss[0] = loss.item()
            worker.forward_grads[:n - own] = halves[0].grad
            self._tail_grad = halves[1].grad
            return loss
        grad = np.empty_like(self._states.data)  # BACKWARD
        grad[:own] = worker.state_grads[:own]
        if n > own:
            grad[own:] = self._tail_grad
        states, self._states = self._states, None
        states.backward(grad)
        self._gradients_out(worker)
        return states

    def backward(self, rows) -> float:
        """The batch's mean loss; its gradient is added into the parameters' `.grad` (zero them first)."""
        rows = self._rows(rows)
        if not self.workers or not len(rows):
            logits, _ = self.model(self.X[rows])
            return self._loss(logits, rows).item()
        worker, n = self.workers[0], len(rows)
        own = _parents_rows(n)
        worker.rows[:n] = rows
        forward_states = self._round([(worker, n)], lambda: self._direction(rows, reverse=False))
        worker.forward_states[:n - own] = forward_states.data[own:]
        halves = (mg.Tensor(forward_states.data[:own], requires_grad=True),
                  mg.Tensor(np.array(worker.states[:own]), requires_grad=True))
        loss = self._round([(worker, DECODE)] if n > own else [],
                           lambda: self._decoded(halves, rows[:own], own / n).item() * own / n)
        if n > own:
            loss += float(worker.loss[0]) * (n - own) / n
        worker.state_grads[:own] = halves[1].grad
        forward_grad = np.concatenate([halves[0].grad, worker.forward_grads[:n - own]])
        self._round([(worker, BACKWARD)], lambda: forward_states.backward(forward_grad))
        self._gradients_in(worker, 1.0)
        return loss


def _parents_rows(n: int) -> int:
    """How many of a step's n rows ComposedParallel's parent decodes (the first ones; the worker the rest)."""
    return (n + 1) // 2


def training_split(model, trained, X: np.ndarray, Y: np.ndarray, processes: int, max_rows: int) -> _Split:
    """What `train` steps with: ComposedParallel for the composed model on two processes (it halves the
    encoder's nodes in each process, where DataParallel halves only their rows), else DataParallel of
    `trained` (the composed model or its fast twin) over `processes`."""
    if trained is model and processes == 2:
        return ComposedParallel(model, X, Y, max_rows)
    return DataParallel(trained, model.parameters(), X, Y, processes, max_rows)
