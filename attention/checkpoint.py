"""Checkpoints: one file, `DIR/model.npz`, holding the weights and everything needed to use them.

The weights are minigrad.save's state dict and the rest (model shape, task, vocabularies,
training settings, held-out metrics) is the file's JSON metadata, so the checkpoint is replaced
as one unit by one atomic rename: a crash, a power cut or a second reader never sees new
weights with an old config. A training run holds `DIR/.train.lock` for as long as it writes,
so a second run into the same directory is refused instead of interleaving its saves.

Every checkpoint is checked before a model is built from it: the config against its schema
(ModelConfig), its lengths against the task, its vocabularies against the layers they feed,
and the weights for NaN. Older directories (model.npz without metadata + config.json, the
first format) still load, through the same checks.
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict

import numpy as np

import minigrad as mg
from attention.data import TASKS, Vocabulary, get_task
from attention.seq2seq import ModelConfig, Seq2SeqAttention
from minigrad.serialization import fsync_directory, stale_temporaries

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

FORMAT = "attention.checkpoint"
VERSION = 2              # 1: model.npz + config.json, a pair; 2: the config inside model.npz
WEIGHTS = "model.npz"
LEGACY_CONFIG = "config.json"
LOCK = ".train.lock"
MAX_LEGACY_CONFIG_BYTES = 1 << 20
# Model-config fields older checkpoints wrote that no longer fix anything: fused_cells picked the
# fast path, which is now attention/fast.py's twin of any model (the parameters never differed).
RETIRED_MODEL_FIELDS = ("fused_cells",)


class CheckpointError(Exception):
    """A model directory that is missing, incomplete, damaged, or busy with another run."""


def _retrain(model_dir: str) -> str:
    return f"restore it, or retrain: python -m attention train --out {model_dir}"


# --- writing ---------------------------------------------------------------------------------
def save_checkpoint(out_dir: str, model, task, config, metrics: dict) -> None:
    """Replace `out_dir`/model.npz, weights and metadata together, by one fsynced rename."""
    os.makedirs(out_dir, exist_ok=True)
    metadata = {"format": FORMAT, "version": VERSION,
                "model": model.config.to_json(), "train": asdict(config), "metrics": metrics,
                "task": task.name, "human_vocab": task.human_vocab.to_json(),
                "machine_vocab": task.machine_vocab.to_json()}
    mg.save(model.state_dict(), os.path.join(out_dir, WEIGHTS), metadata=metadata)
    legacy = os.path.join(out_dir, LEGACY_CONFIG)
    if os.path.exists(legacy):  # the first format's half of the pair, stale once model.npz is replaced
        os.remove(legacy)
        fsync_directory(out_dir)


@contextmanager
def writing(out_dir: str):
    """Hold `out_dir` for one training run: create it, lock it (refusing if another run holds
    it), and remove the temporaries of runs that died mid-save."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CheckpointError(f"--out {out_dir} is a file, not a directory; choose a directory for the model")
    try:
        os.makedirs(out_dir, exist_ok=True)
        lock = open(os.path.join(out_dir, LOCK), "a+", encoding="utf-8")
    except OSError as error:
        raise CheckpointError(f"cannot write the model into {out_dir}: {error.strerror}; "
                              "choose a directory you can write to") from None
    with lock:
        try:
            _lock(lock)
        except OSError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise CheckpointError(f"{out_dir} is being written by another training run ({holder}); "
                                  "wait for it to finish, or train into another --out") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        weights = os.path.join(out_dir, WEIGHTS)
        legacy = [weights + ".partial", os.path.join(out_dir, LEGACY_CONFIG + ".partial")]  # the first format's
        for stale in stale_temporaries(weights) + legacy:
            if os.path.exists(stale):
                os.remove(stale)
        yield  # the lock is released when the file is closed


def _lock(file) -> None:
    """An exclusive, non-blocking lock on `file`; OSError if another process holds it."""
    if fcntl is not None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)


# --- reading ---------------------------------------------------------------------------------
def read_metadata(model_dir: str):
    """(arrays, metadata, where) of the checkpoint in `model_dir`, read from one file (or, for the
    first format, from its pair); the metadata is not checked yet."""
    if not os.path.exists(model_dir):
        raise CheckpointError(f"{model_dir} is not a trained model directory: it does not exist "
                              f"(train one with: python -m attention train --out {model_dir})")
    if not os.path.isdir(model_dir):
        raise CheckpointError(f"{model_dir} is a file; give --model the directory that train wrote "
                              f"(the one holding {WEIGHTS})")
    weights = os.path.join(model_dir, WEIGHTS)
    if not os.path.exists(weights):
        raise CheckpointError(f"{model_dir} is not a trained model directory: {WEIGHTS} is missing "
                              f"(train one with: python -m attention train --out {model_dir})")
    try:
        arrays, metadata = mg.load(weights, with_metadata=True)
    except mg.SerializationError as error:
        raise CheckpointError(f"{weights} is damaged or not a model ({error}); {_retrain(model_dir)}") from None
    if metadata is not None:
        return arrays, metadata, weights
    config = os.path.join(model_dir, LEGACY_CONFIG)
    if not os.path.exists(config):
        raise CheckpointError(f"{weights} holds weights but no config, and {LEGACY_CONFIG} is missing; "
                              + _retrain(model_dir))
    return arrays, _read_legacy_config(config, model_dir), config


def _read_legacy_config(path: str, model_dir: str):
    """The first format's config.json, refused plainly if it is too big, not UTF-8 or not JSON."""
    try:
        if os.path.getsize(path) > MAX_LEGACY_CONFIG_BYTES:
            raise CheckpointError(f"{path} is larger than {MAX_LEGACY_CONFIG_BYTES} bytes, too large "
                                  f"for a config; {_retrain(model_dir)}")
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except RecursionError:
        raise CheckpointError(f"{path} nests lists or objects too deeply to be a config; "
                              + _retrain(model_dir)) from None
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{path} is not a readable JSON config ({error}); {_retrain(model_dir)}") from None


def check_metadata(metadata) -> tuple[ModelConfig, Vocabulary, Vocabulary]:
    """(model config, human vocabulary, machine vocabulary) from checkpoint metadata, or a
    ValueError saying which part does not fit."""
    if not isinstance(metadata, dict):
        raise ValueError(f"the config must be a JSON object, got a {type(metadata).__name__}")
    if metadata.get("format") != FORMAT or metadata.get("version") not in (1, VERSION):
        raise ValueError(f"it was not written by `python -m attention train` (format "
                         f"{str(metadata.get('format'))[:40]!r}, version {str(metadata.get('version'))[:10]})")
    config = metadata.get("model")
    if isinstance(config, dict):
        config = {key: value for key, value in config.items() if key not in RETIRED_MODEL_FIELDS}
    config = ModelConfig.from_json(config)
    task = metadata.get("task")
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task {str(task)[:40]!r} is not one this program knows ({', '.join(sorted(TASKS))})")
    expected = get_task(task)
    if (config.Tx, config.Ty) != (expected.Tx, expected.Ty):
        raise ValueError(f"the model config says Tx = {config.Tx}, Ty = {config.Ty}, but the {task} task "
                         f"reads {expected.Tx} characters and writes {expected.Ty}")
    human, machine = _vocabulary(metadata, "human_vocab"), _vocabulary(metadata, "machine_vocab")
    for vocabulary, name, size, layer in ((human, "human_vocab", config.input_vocab, "input"),
                                          (machine, "machine_vocab", config.output_vocab, "output")):
        if len(vocabulary) != size:
            raise ValueError(f"{name} has {len(vocabulary)} tokens but the model's {layer} layer has {size}")
    if not human.has_specials:
        raise ValueError("human_vocab lacks <unk> and <pad>, which every input needs")
    check_metrics(metadata.get("metrics"))
    return config, human, machine


def _vocabulary(metadata: dict, key: str) -> Vocabulary:
    data = metadata.get(key)
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list) \
            or not isinstance(data.get("specials", False), bool):
        raise ValueError(f"{key} must be an object with a list of 'tokens', got {str(data)[:60]}")
    return Vocabulary.from_json(data)


def check_metrics(metrics) -> dict:
    """The held-out metrics a checkpoint records: exact match and per position in [0, 1], an epoch."""
    fractions_fit = isinstance(metrics, dict) and all(
        type(metrics.get(key)) in (int, float) and 0 <= metrics[key] <= 1
        for key in ("exact_match", "per_position"))
    if not fractions_fit or type(metrics.get("epoch")) is not int or metrics["epoch"] < 1:
        raise ValueError(f"its metrics {str(metrics)[:80]} are not held-out fractions in [0, 1] with an "
                         "epoch (NaN here means the run that wrote it diverged)")
    return metrics


def load_checkpoint(model_dir: str):
    """(model, human vocabulary, machine vocabulary, metadata) from a directory `train` wrote."""
    arrays, metadata, where = read_metadata(model_dir)
    try:
        config, human, machine = check_metadata(metadata)
        model = Seq2SeqAttention(config)
        model.load_state_dict(arrays)
    except (ValueError, KeyError, TypeError, mg.MinigradError) as error:
        raise CheckpointError(f"{where} does not hold a usable model: {error}; {_retrain(model_dir)}") from None
    broken = [name for name, parameter in model.named_parameters() if not np.isfinite(parameter.data).all()]
    if broken:
        raise CheckpointError(f"{where} holds NaN or infinite weights ({', '.join(broken[:3])}): the run "
                              f"that wrote it diverged; retrain with a smaller --lr: "
                              f"python -m attention train --out {model_dir}")
    return model, human, machine, metadata
