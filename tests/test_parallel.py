"""Data-parallel steps (attention/parallel.py): the batch's gradient from its rows split over processes."""
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import minigrad as mg
from attention import parallel
from attention.fast import fast
from attention.parallel import DataParallel, WorkerError
from attention.seq2seq import ModelConfig, Seq2SeqAttention
from attention.train import TrainConfig, train

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
SHAPE = dict(Tx=7, Ty=5, input_vocab=9, output_vocab=6, n_a=6, n_s=8, attention_hidden=4)


def small_model(composed=False, cell="lstm", score="bahdanau"):
    model = Seq2SeqAttention(ModelConfig(**SHAPE, cell=cell, score=score), rng=np.random.default_rng(0))
    return model, (model if composed else fast(model))


def data(rows=40, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, SHAPE["input_vocab"], (rows, SHAPE["Tx"])), rng.integers(0, SHAPE["output_vocab"],
                                                                                   (rows, SHAPE["Ty"]))


def whole_batch(model, trained, X, Y, rows):
    """The loss and gradients of the batch in this process, without DataParallel."""
    for p in model.parameters():
        p.grad = None
    logits, _ = trained(X[rows])
    loss = mg.cross_entropy(logits, Y[rows])
    loss.backward()
    return loss.item(), [p.grad.copy() for p in model.parameters()]


def assert_split_gives(split, model, rows, loss, grads) -> None:
    """split.backward(rows), from no gradients, gives the whole batch's `loss` and `grads` (to rounding)."""
    for p in model.parameters():
        p.grad = None
    assert split.backward(rows) == pytest.approx(loss, rel=1e-6)
    for p, grad in zip(model.parameters(), grads):
        np.testing.assert_allclose(p.grad, grad, rtol=1e-4, atol=1e-6)


def worker_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie nobody has reaped yet counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("processes, rows", [(2, 40), (3, 40), (3, 7), (2, 1), (4, 3)])
@pytest.mark.parametrize("composed", [False, True])
def test_split_batch_gives_the_batch_loss_and_gradient(processes, rows, composed):
    """Equal and unequal shares, and more processes than rows (empty shares), on both paths."""
    model, trained = small_model(composed)
    X, Y = data()
    batch = np.arange(rows)[::-1] * 2 % len(X)  # not in order: each share reads its own rows
    loss, grads = whole_batch(model, trained, X, Y, batch)
    with DataParallel(trained, model.parameters(), X, Y, processes, max_rows=rows) as split:
        assert len(split.workers) == processes - 1
        assert_split_gives(split, model, batch, loss, grads)


@pytest.mark.parametrize("cell, score", [("gru", "dlai"), ("rnn", "bahdanau")])
def test_other_cells_and_scores_split_alike(cell, score):
    model, trained = small_model(cell=cell, score=score)
    X, Y = data()
    rows = np.arange(30)
    loss, grads = whole_batch(model, trained, X, Y, rows)
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=30) as split:
        assert_split_gives(split, model, rows, loss, grads)


def test_workers_read_the_parameters_the_optimizer_wrote():
    """Steps of Adam in the parent move the weights every worker reads: ten split steps give the
    parameters ten whole-batch steps give (to rounding)."""
    X, Y = data(60)
    finals = []
    for processes in (1, 2):
        model, trained = small_model()
        optimizer = mg.optim.Adam(model.parameters(), lr=0.01)
        with DataParallel(trained, model.parameters(), X, Y, processes, max_rows=20) as split:
            for step in range(10):
                optimizer.zero_grad()
                split.backward(np.arange(20) + 20 * (step % 3))
                optimizer.step()
        finals.append([p.data.copy() for p in model.parameters()])
    for one, two in zip(*finals):
        np.testing.assert_allclose(two, one, rtol=1e-3, atol=1e-5)


def test_close_stops_the_workers_and_gives_the_parameters_private_arrays():
    model, trained = small_model()
    X, Y = data()
    before = [p.data.copy() for p in model.parameters()]
    split = DataParallel(trained, model.parameters(), X, Y, 3, max_rows=10)
    pids = [worker.pid for worker in split.workers]
    assert all(worker_alive(pid) for pid in pids)
    assert all(p.data.base is not None for p in model.parameters())  # views of the shared block
    split.close()
    assert not any(worker_alive(pid) for pid in pids)
    for p, value in zip(model.parameters(), before):
        assert p.data.base is None and p.data.flags.writeable
        np.testing.assert_array_equal(p.data, value)
    split.close()  # twice is harmless


def test_one_process_forks_nothing():
    model, trained = small_model()
    X, Y = data()
    arrays = [p.data for p in model.parameters()]
    with DataParallel(trained, model.parameters(), X, Y, 1, max_rows=10) as split:
        assert split.workers == []
        split.backward(np.arange(10))
    assert all(p.data is array for p, array in zip(model.parameters(), arrays))


def test_a_failing_share_raises_its_error_in_the_parent():
    model, trained = small_model()
    X, Y = data(20)
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10) as split:
        with pytest.raises(WorkerError, match=r"IndexError.*processes=1 \(train --processes 1\)"):
            split.backward(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10_000]))  # the last rows are the worker's


def test_a_worker_killed_mid_run_is_named_and_the_rest_stopped():
    model, trained = small_model()
    X, Y = data()
    with DataParallel(trained, model.parameters(), X, Y, 3, max_rows=10) as split:
        pids = [worker.pid for worker in split.workers]
        os.kill(pids[0], signal.SIGKILL)
        with pytest.raises(WorkerError, match=rf"worker process {pids[0]} ended .*killed by signal 9"):
            split.backward(np.arange(10))
        assert not any(worker_alive(pid) for pid in pids)
        assert all(p.data.base is None for p in model.parameters())
        with pytest.raises(RuntimeError, match="DataParallel is closed"):
            split.backward(np.arange(10))


def test_a_failing_share_of_the_parent_leaves_the_workers_in_step():
    """Share 0 raising (a bad row of the parent's) must not leave a worker's answer unread: the next
    batch gets its own answers, and the right gradient."""
    model, trained = small_model()
    X, Y = data()
    rows = np.arange(12)
    loss, grads = whole_batch(model, trained, X, Y, rows)
    with DataParallel(trained, model.parameters(), X, Y, 3, max_rows=12) as split:
        with pytest.raises(IndexError):
            split.backward(np.array([10_000] + list(range(11))))  # the first row is the parent's
        assert_split_gives(split, model, rows, loss, grads)


def test_more_rows_than_it_was_made_for_are_refused():
    model, trained = small_model()
    X, Y = data()
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10) as split:
        with pytest.raises(ValueError, match=r"11 rows, more than the 10 \(max_rows\)"):
            split.backward(np.arange(11))


def test_interrupt_in_the_parent_stops_the_workers():
    model, trained = small_model()
    X, Y = data()
    calls = []

    def interrupted(x):
        if os.getpid() == parent and len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return trained(x)

    parent = os.getpid()
    with pytest.raises(KeyboardInterrupt):
        with DataParallel(interrupted, model.parameters(), X, Y, 2, max_rows=10) as split:
            pids = [worker.pid for worker in split.workers]
            for _ in range(3):
                split.backward(np.arange(10))
    assert not any(worker_alive(pid) for pid in pids)


def test_an_optimizer_that_assigns_new_arrays_still_reaches_the_workers():
    """A student's step may write `p.data = p.data - …` (a new array, not the shared one): the next
    split step copies it back into the shared block, so every worker reads the new weights."""
    model, trained = small_model()
    X, Y = data()
    rows = np.arange(20)
    rng = np.random.default_rng(5)
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=20) as split:
        for p in model.parameters():
            p.grad = None
        split.backward(rows)
        for p in model.parameters():
            p.data = p.data + rng.normal(0, 0.3, p.data.shape).astype(p.data.dtype)  # a new array each
        loss, grads = whole_batch(model, trained, X, Y, rows)
        assert_split_gives(split, model, rows, loss, grads)


def test_weights_written_in_place_reach_the_workers_at_once():
    model, trained = small_model()
    X, Y = data()
    rows = np.arange(20)
    with DataParallel(trained, model.parameters(), X, Y, 3, max_rows=20) as split:
        for p in model.parameters():
            p.data[...] = np.random.default_rng(7).normal(0, 0.5, p.data.shape)
        for p in model.parameters():
            p.grad = None
        split_loss = split.backward(rows)
    assert split_loss == pytest.approx(whole_batch(model, trained, X, Y, rows)[0], rel=1e-6)


def test_gradients_already_held_are_added_to_as_in_one_process():
    model, trained = small_model()
    X, Y = data()
    rows = np.arange(16)
    results = []
    for processes in (1, 2):
        with DataParallel(trained, model.parameters(), X, Y, processes, max_rows=16) as split:
            for p in model.parameters():
                p.grad = np.full(p.data.shape, 0.25, dtype=p.data.dtype)
            split.backward(rows)
            results.append([p.grad.copy() for p in model.parameters()])
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6)


def test_an_empty_batch_gives_what_one_process_gives():
    model, trained = small_model()
    X, Y = data()
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10) as split:
        for p in model.parameters():
            p.grad = None
        assert np.isnan(split.backward(np.arange(0)))
        assert all(not np.any(p.grad) for p in model.parameters())


@pytest.mark.parametrize("rows", [np.ones(5, dtype=bool), np.arange(5.0), np.arange(6).reshape(2, 3)])
def test_rows_that_are_not_indices_are_refused(rows):
    model, trained = small_model()
    X, Y = data()
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10) as split:
        with pytest.raises(TypeError, match="rows must be a 1-D array of row indices"):
            split.backward(rows)
        split.backward(np.arange(4))  # and it still works


def test_a_worker_killed_between_steps_is_named():
    model, trained = small_model()
    X, Y = data()
    with DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10) as split:
        split.backward(np.arange(10))
        pid = split.workers[0].pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while worker_alive(pid) and time.monotonic() < deadline:  # dead (a zombie) before the next step
            time.sleep(0.01)
        with pytest.raises(WorkerError, match=rf"worker process {pid} ended .*killed by signal 9"):
            split.backward(np.arange(10))


def test_the_parent_and_a_worker_failing_together_closes_it():
    model, trained = small_model()
    X, Y = data()
    split = DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10)
    pid = split.workers[0].pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(IndexError):
        split.backward(np.array([10_000, 1, 2, 3]))  # share 0 raises too
    assert not worker_alive(pid) and split.workers == []
    with pytest.raises(RuntimeError, match="closed"):
        split.backward(np.arange(4))


def test_a_step_interrupted_while_waiting_is_not_reused(monkeypatch):
    """Ctrl-C while the parent waits for an answer: the answer is never read, so the next call must
    not read it as its own; it closes the DataParallel and says why."""
    model, trained = small_model()
    X, Y = data()
    split = DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10)
    pids = [worker.pid for worker in split.workers]
    real_read = os.read

    def interrupted_read(fd, size):
        monkeypatch.setattr(parallel.os, "read", real_read)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel.os, "read", interrupted_read)
    with pytest.raises(KeyboardInterrupt):
        split.backward(np.arange(10))
    with pytest.raises(RuntimeError, match="interrupted before every worker answered"):
        split.backward(np.arange(10))
    assert not any(worker_alive(pid) for pid in pids)


def test_workers_keep_no_file_of_the_parent_open(tmp_path):
    """Two DataParallels at once: closing the first ends its worker at once, which it would not if
    the second's worker held the first's pipe open; nor does a worker hold the parent's files."""
    model, trained = small_model()
    X, Y = data()
    kept = open(tmp_path / "held-by-the-parent", "w")
    first = DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10)
    other_model, other_trained = small_model()
    second = DataParallel(other_trained, other_model.parameters(), X, Y, 2, max_rows=10)
    for split in (first, second):
        split.backward(np.arange(10))  # so the worker has closed what it closes
        worker_files = {os.readlink(f"/proc/{split.workers[0].pid}/fd/{fd}")
                        for fd in os.listdir(f"/proc/{split.workers[0].pid}/fd")}
        assert str(tmp_path / "held-by-the-parent") not in worker_files
        assert len([f for f in worker_files if f.startswith("pipe:")]) == 2
    started = time.monotonic()
    first.close()
    assert time.monotonic() - started < parallel.EXIT_WAIT / 2
    second.backward(np.arange(10))
    second.close()
    kept.close()


def test_a_dataparallel_never_closed_stops_its_workers_when_collected():
    model, trained = small_model()
    X, Y = data()
    split = DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10)
    pid = split.workers[0].pid
    del split
    import gc
    gc.collect()
    assert not worker_alive(pid)


def test_workers_end_when_the_parent_is_killed(tmp_path):
    """A parent killed outright (no close) leaves no worker behind: its pipe closes, the worker exits."""
    script = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_parallel import small_model, data
        from attention.parallel import DataParallel
        model, trained = small_model()
        X, Y = data()
        split = DataParallel(trained, model.parameters(), X, Y, 3, max_rows=10)
        split.backward(np.arange(10))
        print(*[w.pid for w in split.workers], flush=True)
        time.sleep(60)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)
    assert ready, "the script printed no worker pids in 60 s"
    pids = [int(pid) for pid in process.stdout.readline().split()]
    assert len(pids) == 2 and all(worker_alive(pid) for pid in pids)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while any(worker_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(worker_alive(pid) for pid in pids)


def test_bad_process_counts_are_refused_by_name():
    model, trained = small_model()
    X, Y = data()
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="processes must be a whole number"):
            DataParallel(trained, model.parameters(), X, Y, bad, max_rows=10)
    for bad in (0, 2.0, "2"):
        with pytest.raises(ValueError, match="processes must be"):
            TrainConfig(processes=bad)


def test_default_is_two_processes_only_with_a_second_core(monkeypatch):
    monkeypatch.setattr(parallel, "fork_hazard", lambda: None)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 1)
    assert parallel.default_processes() == 1
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 8)
    assert parallel.default_processes() == (2 if sys.platform.startswith("linux") else 1)


def test_a_cgroup_quota_of_one_cpu_counts_as_one(monkeypatch):
    """A container may see every core in its affinity mask and be allowed the time of one."""
    assert parallel.parse_quota("max", "100000") is None
    assert parallel.parse_quota("-1", "100000") is None
    assert parallel.parse_quota("150000", "100000") == 1.5
    monkeypatch.setattr(parallel, "_cgroup_quota", lambda: 1.5)
    assert parallel.usable_cpus() == 1
    monkeypatch.setattr(parallel, "_cgroup_quota", lambda: 0.5)
    assert parallel.usable_cpus() == 1
    monkeypatch.setattr(parallel, "_cgroup_quota", lambda: None)
    assert parallel.usable_cpus() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("files, quota", [
    ({"cpu.max": "150000 100000\n"}, 1.5), ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbage\n"}, None), ({"cpu.max": "abc 100000\n"}, None),
    ({"cpu.max": ""}, None), ({}, None)])
def test_cgroup_files_are_read_and_a_malformed_one_means_no_limit(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert parallel._cgroup_quota(str(tmp_path)) == quota


def test_the_checkpoint_records_the_processes_a_run_used(tmp_path):
    from attention.checkpoint import load_checkpoint
    settings = dict(task="reverse", epochs=1, batch_size=50, train_size=200, held_out_size=50)
    train(TrainConfig(**settings), str(tmp_path), log=lambda line: None, progress=False)
    assert load_checkpoint(str(tmp_path))[3]["train"]["processes"] == parallel.default_processes()


def test_training_on_two_processes_learns_as_on_one():
    """The same run, the batch split or not: the same losses to rounding, epoch by epoch."""
    settings = dict(task="reverse", epochs=3, batch_size=50, lr=0.01, train_size=1000, held_out_size=200, seed=0)
    one = train(TrainConfig(**settings, processes=1), None, log=lambda line: None, progress=False)
    two = train(TrainConfig(**settings, processes=2), None, log=lambda line: None, progress=False)
    np.testing.assert_allclose([e["loss"] for e in two["epochs"]], [e["loss"] for e in one["epochs"]], rtol=2e-3)
    assert two["epochs"][-1]["per_position"] == pytest.approx(one["epochs"][-1]["per_position"], abs=0.03)


def test_ctrl_c_to_the_whole_group_keeps_the_checkpoint_and_leaves_no_worker(tmp_path):
    """A terminal's Ctrl-C signals the foreground process group, the workers too: they ignore it,
    the parent stops as one process does (exit 130, the last good checkpoint kept, no traceback),
    and no worker outlives it."""
    from attention.checkpoint import load_checkpoint
    out = str(tmp_path / "run")
    command = [sys.executable, "-m", "attention", "train", "--task", "reverse", "--train-size", "300",
               "--epochs", "1000", "--processes", "3", "--no-progress", "--quiet", "--out", out]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.Popen(command, env=dict(os.environ, PYTHONPATH=root), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(out, "model.npz")):  # its first epoch is saved
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.05)
        with open(f"/proc/{run.pid}/task/{run.pid}/children") as children:
            workers = [int(pid) for pid in children.read().split()]
        assert len(workers) == 2 and all(worker_alive(pid) for pid in workers)
    finally:
        os.killpg(run.pid, signal.SIGINT)
        out_text, err_text = run.communicate(timeout=120)
    assert run.returncode == 130, err_text
    assert "Traceback" not in out_text + err_text, err_text
    assert "the last good checkpoint" in out_text
    assert not any(worker_alive(pid) for pid in workers)
    load_checkpoint(out)


def test_in_a_program_with_other_threads_train_does_not_fork():
    """A fork copies only its own thread: a lock another thread holds then (OpenBLAS's, mid-product)
    stays locked in the worker, which hung two trainings in two threads about one run in six."""
    import threading
    found, refused = [], []

    def in_a_thread():
        found.append(parallel.default_processes())
        model, trained = small_model()
        X, Y = data()
        try:
            DataParallel(trained, model.parameters(), X, Y, 2, max_rows=10)
        except ValueError as error:
            refused.append(str(error))

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert found == [1]
    assert len(refused) == 1 and "other thread" in refused[0] and "use processes=1" in refused[0]


def test_ctrl_c_during_a_fork_is_not_lost(monkeypatch):
    """Ctrl-C inside os.fork would be raised in the parent's after-fork hooks, where Python only prints
    it and goes on; it is held until the workers are made, then raised, and they are stopped."""
    model, trained = small_model()
    X, Y = data()
    real_fork, pids = os.fork, []
    # Python's own handler, also where the suite started with SIGINT ignored (a background job's children)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)

    def fork_while_interrupted():
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the fork is under way
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(parallel.os, "fork", fork_while_interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            DataParallel(trained, model.parameters(), X, Y, 3, max_rows=10)
        monkeypatch.undo()
        assert len(pids) == 2 and not any(worker_alive(pid) for pid in pids)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_worker_failing_mid_run_ends_train_with_one_line_and_the_checkpoint_kept(tmp_path, monkeypatch, capsys):
    """Exit 1 and a sentence naming the worker and where the last good model is, not a traceback."""
    from attention.__main__ import main
    from attention.checkpoint import load_checkpoint
    parent, share = os.getpid(), parallel.DataParallel._share
    calls = []

    def failing_in_the_worker(self, rows, *weight):
        if os.getpid() != parent:
            calls.append(1)
            if len(calls) == 6:  # the worker's sixth share: in epoch 2 (4 steps an epoch)
                raise MemoryError("no room for the share")
        return share(self, rows, *weight)

    monkeypatch.setattr(parallel.DataParallel, "_share", failing_in_the_worker)
    out = str(tmp_path / "run")
    code = main(["train", "--task", "reverse", "--train-size", "200", "--batch-size", "50", "--epochs", "3",
                 "--processes", "2", "--no-progress", "--quiet", "--out", out])
    printed = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in printed.out + printed.err
    assert "training stopped: worker process" in printed.out and "MemoryError: no room for the share" in printed.out
    assert f"The checkpoint in {out} keeps epoch 1." in printed.out
    assert load_checkpoint(out)[3]["metrics"]["epoch"] == 1


def test_tqdm_s_monitor_thread_is_no_hazard():
    """train's progress bars leave tqdm's monitor thread running; it never calls numpy, so the next
    training in the same process still forks."""
    import io
    import threading
    tqdm = pytest.importorskip("tqdm")
    for _ in tqdm.tqdm(range(3), file=io.StringIO()):
        pass
    assert any(type(thread).__name__ == "TMonitor" for thread in threading.enumerate())
    assert parallel.fork_hazard() is None


# --- ComposedParallel: the composed model's step, its encoder split by direction, its decoder by rows ---

def composed_split(model, X, max_rows=40, Y=None):
    return parallel.ComposedParallel(model, X, data()[1] if Y is None else Y, max_rows)


@pytest.mark.parametrize("cell, score", [("lstm", "bahdanau"), ("lstm", "dlai"), ("gru", "dlai"), ("rnn", "bahdanau")])
@pytest.mark.parametrize("rows", [40, 7, 2, 1])
def test_composed_split_gives_the_batch_loss_and_gradient(cell, score, rows):
    """Even and odd row counts, one row (the worker decodes none), rows out of order, two steps running."""
    model, _ = small_model(composed=True, cell=cell, score=score)
    X, Y = data()
    batch = np.arange(rows)[::-1] * 3 % len(X)
    loss, grads = whole_batch(model, model, X, Y, batch)
    with parallel.ComposedParallel(model, X, Y, max_rows=40) as split:
        assert len(split.workers) == 1
        for _ in range(2):
            assert_split_gives(split, model, batch, loss, grads)


def test_the_composed_split_reads_the_weights_the_optimizer_wrote():
    """Ten Adam steps split give the parameters ten whole steps give (to rounding), also with an
    optimizer that assigns new arrays (copied back into the shared block at the next step)."""
    X, Y = data(60)
    finals = []
    for split_it, rebind in ((False, False), (True, False), (True, True)):
        model, _ = small_model(composed=True)
        optimizer = mg.optim.Adam(model.parameters(), lr=0.01)
        split = parallel.ComposedParallel(model, X, Y, 20) if split_it else DataParallel(
            model, model.parameters(), X, Y, 1, 20)
        with split:
            for step in range(10):
                optimizer.zero_grad()
                split.backward(np.arange(20) + 20 * (step % 3))
                optimizer.step()
                if rebind:
                    for p in model.parameters():
                        p.data = p.data.copy()
        finals.append([p.data.copy() for p in model.parameters()])
    for one, *others in zip(*finals):
        for other in others:
            np.testing.assert_allclose(other, one, rtol=1e-3, atol=1e-5)


def test_the_composed_split_adds_to_gradients_already_held():
    model, _ = small_model(composed=True)
    X, Y = data()
    rows = np.arange(15)
    held = [np.full(p.data.shape, 0.25, dtype=p.data.dtype) for p in model.parameters()]
    _, grads = whole_batch(model, model, X, Y, rows)
    with composed_split(model, X, Y=Y) as split:
        for p, grad in zip(model.parameters(), held):
            p.grad = grad.copy()
        split.backward(rows)
    for p, grad, before in zip(model.parameters(), grads, held):
        np.testing.assert_allclose(p.grad, grad + before, rtol=1e-4, atol=1e-6)


def test_the_composed_split_of_an_empty_batch_gives_what_one_process_gives():
    model, _ = small_model(composed=True)
    X, Y = data()
    with composed_split(model, X, Y=Y) as split:
        for p in model.parameters():
            p.grad = None
        assert np.isnan(split.backward(np.arange(0)))
        assert all(not np.any(p.grad) for p in model.parameters())
        assert_split_gives(split, model, np.arange(9), *whole_batch(model, model, X, Y, np.arange(9)))


def test_a_bad_token_in_the_composed_split_is_refused_by_name_and_closes_it():
    model, _ = small_model(composed=True)
    X, Y = data()
    X = X.copy()
    X[3, 2] = SHAPE["input_vocab"]  # one past the vocabulary: both processes read every row
    with composed_split(model, X, Y=Y) as split:
        with pytest.raises(ValueError, match="token index 9 is outside the input vocabulary"):
            split.backward(np.arange(8))
        with pytest.raises(RuntimeError, match="ComposedParallel is closed"):
            split.backward(np.arange(2))


@pytest.mark.parametrize("failing", ["_direction", "_decoded"])
def test_a_failing_worker_of_the_composed_split_is_raised_in_the_parent(monkeypatch, failing):
    """A failure in the worker's encoder direction (FORWARD) or its rows of the decoder (DECODE)."""
    model, _ = small_model(composed=True)
    X, Y = data()
    parent, method = os.getpid(), getattr(parallel.ComposedParallel, failing)

    def failing_in_the_worker(self, *args, **kwargs):
        if os.getpid() != parent:
            raise MemoryError("no room in the worker")
        return method(self, *args, **kwargs)

    monkeypatch.setattr(parallel.ComposedParallel, failing, failing_in_the_worker)
    split = composed_split(model, X, Y=Y)
    pid = split.workers[0].pid
    with pytest.raises(WorkerError, match=rf"worker process {pid} .*failed on its half of the composed model's "
                                          r"step: MemoryError: no room in the worker; run with processes=1"):
        split.backward(np.arange(10))
    assert not worker_alive(pid) and split.workers == []


def test_a_worker_of_the_composed_split_killed_is_named():
    model, _ = small_model(composed=True)
    X, Y = data()
    with composed_split(model, X, Y=Y) as split:
        split.backward(np.arange(10))
        pid = split.workers[0].pid
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerError, match=rf"worker process {pid} ended .*killed by signal 9"):
            split.backward(np.arange(10))
        assert all(p.data.base is None for p in model.parameters())


def test_a_composed_step_interrupted_in_the_decoder_leaves_the_next_step_right():
    """Ctrl-C while the parent decodes, between two of the worker's messages: every answer sent was
    read, so the next step starts afresh, with the right gradient."""
    model, _ = small_model(composed=True)
    X, Y = data()
    rows = np.arange(12)
    loss, grads = whole_batch(model, model, X, Y, rows)
    decode, parent = model.decode, os.getpid()

    def interrupted(a):
        if os.getpid() == parent:
            model.decode = decode
            raise KeyboardInterrupt
        return decode(a)

    with composed_split(model, X, Y=Y) as split:
        model.decode = interrupted
        with pytest.raises(KeyboardInterrupt):
            split.backward(rows)
        assert_split_gives(split, model, rows, loss, grads)


def test_train_picks_the_split_by_path_and_processes():
    model, twin = small_model()
    X, Y = data()
    for trained, processes, kind, workers in ((model, 2, parallel.ComposedParallel, 1),
                                              (model, 3, DataParallel, 2), (model, 1, DataParallel, 0),
                                              (twin, 2, DataParallel, 1)):
        with parallel.training_split(model, trained, X, Y, processes, 10) as split:
            assert type(split) is kind and len(split.workers) == workers


def test_composed_training_on_two_processes_learns_as_on_one():
    settings = dict(task="reverse", epochs=2, batch_size=50, lr=0.01, train_size=400, held_out_size=100, seed=0,
                    composed=True)
    one = train(TrainConfig(**settings, processes=1), None, log=lambda line: None, progress=False)
    two = train(TrainConfig(**settings, processes=2), None, log=lambda line: None, progress=False)
    np.testing.assert_allclose([e["loss"] for e in two["epochs"]], [e["loss"] for e in one["epochs"]], rtol=2e-3)


@pytest.mark.parametrize("delay", [0.0, parallel.POLL_WAIT * 3])
def test_a_wait_on_a_pipe_gets_what_comes_before_or_after_its_polling(delay):
    """`_read` polls for POLL_WAIT, then sleeps in read: a message written during either is read whole."""
    readable, writable = os.pipe()
    writer = os.fork()
    if writer == 0:
        time.sleep(delay)
        os.write(writable, b"12345678")
        os._exit(0)
    try:
        assert parallel._read(readable, 8) == b"12345678"
    finally:
        os.waitpid(writer, 0)
        os.close(readable)
        os.close(writable)
