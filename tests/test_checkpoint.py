"""Checkpoints are never lost: one atomic file, a lock per training run, crashes mid-save, old formats.

The concurrency and crash tests run real processes (two `train` runs, writers killed with
SIGKILL), because a lock or a rename that only works inside one process proves nothing.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minigrad as mg
import minigrad.serialization as serialization
from attention.__main__ import main
from attention.checkpoint import LOCK, CheckpointError, load_checkpoint, save_checkpoint, writing
from attention.train import TrainConfig, build, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVIRONMENT = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
posix_only = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and SIGINT of a child process")

# Saves alternately an LSTM and a GRU model into argv[1], argv[2] times (forever if negative):
# a reader that ever saw LSTM weights with a GRU config would fail to load them.
WRITER = r"""
import sys
from attention.checkpoint import save_checkpoint
from attention.train import TrainConfig, build
out, count = sys.argv[1], int(sys.argv[2])
models = []
for cell in ("lstm", "gru"):
    config = TrainConfig(task="reverse", cell=cell, train_size=10, held_out_size=10)
    task, _, _, model = build(config)
    models.append((model, task, config))
saved = 0
while count < 0 or saved < count:
    model, task, config = models[saved % 2]
    metrics = {"exact_match": 0.5, "per_position": 0.5, "epoch": saved + 1, "loss": 1.0}
    save_checkpoint(out, model, task, config, metrics)
    saved += 1
    print(saved, flush=True)
"""


def small_config(**overrides) -> TrainConfig:
    settings = dict(task="reverse", epochs=2, batch_size=50, lr=0.01, train_size=200, held_out_size=50)
    return TrainConfig(**{**settings, **overrides})


def quiet(line):
    pass


def test_weights_and_config_are_one_file(tmp_path):
    train(small_config(epochs=1), str(tmp_path), log=quiet, progress=False)
    assert sorted(os.listdir(tmp_path)) == [LOCK, "model.npz"]
    arrays, metadata = mg.load(tmp_path / "model.npz", with_metadata=True)
    assert metadata["format"] == "attention.checkpoint" and metadata["version"] == 2
    assert set(arrays) == set(dict(load_checkpoint(str(tmp_path))[0].named_parameters()))


def test_readers_never_see_a_torn_checkpoint_while_two_writers_save(tmp_path):
    """Two processes save LSTM and GRU models into one directory as fast as they can while this
    one loads it: no writer crashes on a shared temporary, and every load gets a matching pair."""
    out = str(tmp_path / "shared")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, out, "40"], env=ENVIRONMENT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    loads, failures, cells = 0, [], set()
    deadline = time.monotonic() + 120
    while any(writer.poll() is None for writer in writers) and time.monotonic() < deadline:
        if not os.path.exists(os.path.join(out, "model.npz")):
            time.sleep(0.01)
            continue
        try:
            model, _, _, metadata = load_checkpoint(out)
            assert model.config.cell == metadata["train"]["cell"]
            cells.add(model.config.cell)
            loads += 1
        except CheckpointError as error:
            failures.append(str(error))
    results = [writer.communicate(timeout=60) for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], results
    assert failures == []
    assert loads > 0
    assert load_checkpoint(out)[3]["metrics"]["epoch"] == 40
    assert [name for name in os.listdir(out) if name.endswith(".tmp")] == []


@posix_only
def test_a_second_training_run_into_the_same_directory_is_refused(tmp_path):
    """While one `train` holds --out, another exits 2 at once naming the holder; the first, when
    interrupted, leaves its last good checkpoint."""
    out = str(tmp_path / "busy")
    command = [sys.executable, "-m", "attention", "train", "--task", "reverse", "--train-size", "300",
               "--epochs", "1000", "--no-progress", "--quiet", "--out", out]
    # Ctrl-C must reach it as a user's would: a background job's children start with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler
    first = subprocess.Popen(command, env=ENVIRONMENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lock, deadline = os.path.join(out, LOCK), time.monotonic() + 120
        while not (os.path.exists(lock) and open(lock).read().strip() == f"pid {first.pid}"):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        while not os.path.exists(os.path.join(out, "model.npz")):  # its first epoch is saved
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        second = subprocess.run(command, env=ENVIRONMENT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip() == (f"error: {out} is being written by another training run "
                                         f"(pid {first.pid}); wait for it to finish, or train into another --out")
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGINT)
        out_text, err_text = first.communicate(timeout=120)
    assert first.returncode == 130, err_text
    assert "Traceback" not in out_text + err_text
    assert "the last good checkpoint" in out_text
    load_checkpoint(out)


@posix_only
def test_a_writer_killed_mid_save_leaves_a_model_that_loads(tmp_path):
    """SIGKILL at an arbitrary moment of a stream of saves: the directory still loads, and the
    next training run removes whatever temporaries the dead writer left."""
    out = str(tmp_path / "killed")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, out, "-1"], env=ENVIRONMENT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(5):  # a few saves done, more under way
        assert writer.stdout.readline(), writer.stderr.read()
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    model, _, _, metadata = load_checkpoint(out)
    assert metadata["metrics"]["epoch"] >= 5
    stale = os.path.join(out, ".model.npz.dead1234.tmp")  # what a kill inside the write leaves
    with open(stale, "wb") as file:
        file.write(b"PK\x03\x04 half")
    with writing(out):
        pass
    assert [name for name in os.listdir(out) if name.endswith(".tmp") or name.endswith(".partial")] == []
    load_checkpoint(out)


def test_a_save_that_fails_midway_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    """The disk fills up while epoch 2 is saved: `train` exits 1 with one line, and the directory
    still holds epoch 1, with no temporary beside it."""
    out = str(tmp_path / "model")
    real_savez = serialization.np.savez
    calls = {"n": 0}

    def savez_that_fails_the_second_time(file, **arrays):
        calls["n"] += 1
        if calls["n"] == 2:
            file.write(b"PK\x03\x04 the first bytes")
            raise OSError(28, "No space left on device", "model.npz")
        real_savez(file, **arrays)

    monkeypatch.setattr(serialization.np, "savez", savez_that_fails_the_second_time)
    monkeypatch.setattr("attention.train._rank", lambda metrics: 0)  # every epoch counts as best: it saves
    code = main(["train", "--task", "reverse", "--epochs", "2", "--train-size", "100", "--no-progress",
                 "--quiet", "--out", out])
    err = capsys.readouterr().err
    assert code == 1 and err == "error: model.npz could not be written or read: No space left on device\n"
    assert load_checkpoint(out)[3]["metrics"]["epoch"] == 1
    assert sorted(os.listdir(out)) == [LOCK, "model.npz"]


def test_a_nan_gradient_stops_training_and_keeps_the_best_epoch(tmp_path, monkeypatch):
    """A gradient that turns NaN in epoch 2 stops the run before Adam uses it: the checkpoint
    keeps epoch 1, and the message says what happened and what to try."""
    parameters = []
    real_init, real_backward = mg.optim.Adam.__init__, mg.Tensor.backward
    steps = {"n": 0}

    def remember(self, params, *args, **kwargs):
        params = list(params)
        parameters.extend(params)
        real_init(self, params, *args, **kwargs)

    def backward_then_poison(self, *args, **kwargs):
        real_backward(self, *args, **kwargs)
        steps["n"] += 1
        if steps["n"] == 6:  # epoch 2 of 4 steps an epoch
            parameters[3].grad[...] = np.nan

    monkeypatch.setattr(mg.optim.Adam, "__init__", remember)
    monkeypatch.setattr(mg.Tensor, "backward", backward_then_poison)
    lines = []
    history = train(small_config(epochs=3), str(tmp_path), log=lines.append, progress=False)
    assert history["diverged"].startswith(f"training diverged: in epoch 2, step 2, the gradient of "
                                          f"{parameters[3].name} became NaN or infinite.")
    assert "keeps epoch 1" in history["diverged"] and "Try a smaller --lr" in history["diverged"]
    assert lines[-1] == history["diverged"] and len(history["epochs"]) == 1
    assert load_checkpoint(str(tmp_path))[3]["metrics"]["epoch"] == 1


def test_a_huge_learning_rate_writes_no_checkpoint_and_exits_1(tmp_path, capsys):
    out = tmp_path / "nan"
    code = main(["train", "--task", "reverse", "--lr", "1e38", "--epochs", "5", "--train-size", "100",
                 "--no-progress", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1
    assert "training diverged:" in printed.out and "epoch 1" in printed.out
    assert "No checkpoint was written" in printed.out
    assert "epoch   2" not in printed.out and "uniform" not in printed.out
    assert "Traceback" not in printed.out + printed.err and "warning: overflow" not in printed.err
    assert not (out / "model.npz").exists()


def test_a_run_holding_the_directory_makes_another_train_refuse_it(tmp_path):
    with writing(str(tmp_path)):
        with pytest.raises(CheckpointError, match=f"being written by another training run \\(pid {os.getpid()}\\)"):
            train(small_config(epochs=1), str(tmp_path), log=quiet, progress=False)
    assert not (tmp_path / "model.npz").exists()


def test_a_better_run_replaces_the_model_and_says_it_had_one(tmp_path):
    out = str(tmp_path)
    train(small_config(epochs=1), out, log=quiet, progress=False)
    _, metadata = mg.load(tmp_path / "model.npz", with_metadata=True)
    arrays = mg.load(tmp_path / "model.npz")
    metadata["metrics"].update(exact_match=0.0, per_position=0.0)
    mg.save(arrays, tmp_path / "model.npz", metadata=metadata)
    lines = []
    history = train(small_config(epochs=1, seed=3), out, log=lines.append, progress=False)
    assert history["saved"] and "already holds a reverse model (held-out exact 0.00%)" in lines[0]
    assert load_checkpoint(out)[3]["train"]["seed"] == 3


# --- the first format: model.npz (weights only) + config.json ---------------------------------
def _legacy_directory(tmp_path, exact_match=0.25):
    source = tmp_path / "source"
    train(small_config(epochs=1), str(source), log=quiet, progress=False)
    arrays, metadata = mg.load(source / "model.npz", with_metadata=True)
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    mg.save(arrays, legacy / "model.npz")
    metadata.update(version=1)
    metadata["metrics"].update(exact_match=exact_match, per_position=exact_match)
    metadata["model"]["fused_cells"] = metadata["train"]["fused_cells"] = True  # as that format's runs wrote
    (legacy / "config.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return legacy, load_checkpoint(str(source))[0]


def test_an_older_directory_of_model_npz_and_config_json_still_loads(tmp_path, capsys):
    legacy, model = _legacy_directory(tmp_path)
    loaded, human, machine, metadata = load_checkpoint(str(legacy))
    for (name, a), (_, b) in zip(model.named_parameters(), loaded.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)
    assert main(["translate", "--model", str(legacy), "12345678"]) == 0
    assert re.search(r"(^|guess )\d{8}\b", capsys.readouterr().out.strip())  # a translation, sure or not


def test_a_checkpoint_naming_the_retired_fused_cells_setting_still_loads(tmp_path):
    """model.npz files written while `train --fused` existed carry fused_cells in their model
    config; it changed no parameter, so the key is dropped and the same weights load."""
    source = tmp_path / "source"
    train(small_config(epochs=1), str(source), log=quiet, progress=False)
    arrays, metadata = mg.load(source / "model.npz", with_metadata=True)
    metadata["model"]["fused_cells"] = metadata["train"]["fused_cells"] = True
    old = tmp_path / "old"
    old.mkdir()
    mg.save(arrays, old / "model.npz", metadata=metadata)
    loaded, _, _, read = load_checkpoint(str(old))
    assert "fused_cells" not in loaded.config.to_json() and read["model"]["fused_cells"] is True
    for name, parameter in loaded.named_parameters():
        np.testing.assert_array_equal(parameter.data, arrays[name], err_msg=name)
    metadata["model"]["fused_cellz"] = True  # any other unknown field is still refused
    mg.save(arrays, old / "model.npz", metadata=metadata)
    with pytest.raises(CheckpointError, match="unknown fields.*fused_cellz"):
        load_checkpoint(str(old))


def test_training_into_an_older_directory_replaces_the_pair_with_one_file(tmp_path):
    legacy, _ = _legacy_directory(tmp_path, exact_match=0.0)
    (legacy / "model.npz.partial").write_bytes(b"left by the first format's crashed save")
    train(small_config(epochs=1, seed=5), str(legacy), log=quiet, progress=False)
    assert sorted(os.listdir(legacy)) == [LOCK, "model.npz"]
    assert load_checkpoint(str(legacy))[3]["version"] == 2


def test_save_checkpoint_is_one_rename(tmp_path, monkeypatch):
    """The whole checkpoint goes to disk through exactly one os.replace, after an fsync of the file."""
    config = small_config()
    task, _, _, model = build(config)
    events = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(serialization.os, "replace", lambda a, b: (events.append(("replace", os.path.basename(b))),
                                                                     real_replace(a, b)))
    monkeypatch.setattr(serialization.os, "fsync", lambda fd: (events.append(("fsync",)), real_fsync(fd)))
    save_checkpoint(str(tmp_path), model, task, config, {"exact_match": 0.0, "per_position": 0.0, "epoch": 1})
    assert events == [("fsync",), ("replace", "model.npz"), ("fsync",)]
