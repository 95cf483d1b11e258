"""Training: Adam on cross-entropy over the Ty output positions, checkpointed every epoch.

Checkpoints are `DIR/model.npz` (minigrad.save of the state dict: no pickle) and
`DIR/config.json` (model shape, task, vocabularies, metrics). Both are replaced atomically
after every epoch that is at least as good on the held-out split as the best before it, so
Ctrl-C, a crash or a late blow-up of the training leaves the best model so far in place.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np

import minigrad as mg
from attention.data import Vocabulary, get_task
from attention.seq2seq import ModelConfig, Seq2SeqAttention

try:
    from tqdm import tqdm
except ImportError:  # tqdm is an optional extra: without it, only the per-epoch lines are printed
    tqdm = None


@dataclass
class TrainConfig:
    task: str = "dates"
    cell: str = "lstm"
    score: str = "bahdanau"
    epochs: int = 8  # with 20,000 pairs: about a minute on a quiet 2-core machine (README)
    batch_size: int = 100
    lr: float = 0.005
    seed: int = 0
    train_size: int = 20_000
    held_out_size: int = 1_000
    target_exact: float | None = None  # stop early once held-out exact match reaches this
    fused_cells: bool = False  # the fast path (see ModelConfig): faster, less to see
    last_date: str | None = None  # dlai-dates: the latest date drawn (ISO); None = today, as the assignment

    def __post_init__(self):
        if self.last_date is not None:
            if self.task != "dlai-dates":
                raise ValueError(f"last_date applies to the dlai-dates task only, not to {self.task!r}")
            try:
                date.fromisoformat(self.last_date)
            except ValueError:
                raise ValueError(f"last_date {self.last_date!r} is not a date written YYYY-MM-DD") from None


def attention_sharpness(alphas: np.ndarray) -> float:
    """Mean over all (sequence, t) of max_t' α<t,t'>: 1 = each output looks at one input, 1/Tx = uniform."""
    return float(alphas.max(axis=-1).mean())


def uniform_attention_warning(sharpness: float, tx: int, score: str) -> str | None:
    """A plain-words warning when every α<t,t'> is about 1/Tx (within 10%), else None."""
    if sharpness >= 1.1 / tx:
        return None
    message = (f"attention has gone uniform: the mean largest α<t,t'> is {sharpness:.3f}, about "
               f"1/Tx = {1 / tx:.3f}, so every context c<t> is just the average of a.")
    if score == "dlai":
        message += (" This is the dead-relu failure of the dlai scorer: every energy e<t,t'> is "
                    "≤ 0, relu makes them all 0, softmax gives 1/Tx, and no gradient reaches the "
                    "scorer again. Retrain with another --seed, or use --score bahdanau.")
    return message


def evaluate(model: Seq2SeqAttention, X: np.ndarray, Y: np.ndarray, batch_size: int = 500) -> dict:
    """Exact-match and per-position accuracy and attention sharpness on (X, Y)."""
    predictions, alphas = [], []
    for start in range(0, len(X), batch_size):
        predicted, alpha = model.predict(X[start:start + batch_size])
        predictions.append(predicted)
        alphas.append(alpha)
    predicted, alpha = np.concatenate(predictions), np.concatenate(alphas)
    correct = predicted == Y
    return {"exact_match": float(correct.all(axis=1).mean()),
            "per_position": float(correct.mean()),
            "sharpness": attention_sharpness(alpha)}


def build(config: TrainConfig):
    """The task, its train/held-out arrays and a fresh model, all from the config's seed."""
    task = get_task(config.task, **_task_options(config))
    pairs = task.make_pairs(config.train_size + config.held_out_size, seed=config.seed)
    X, Y = task.encode(pairs)
    held = config.held_out_size
    model_config = ModelConfig(input_vocab=len(task.human_vocab), output_vocab=len(task.machine_vocab),
                               Tx=task.Tx, Ty=task.Ty, cell=config.cell, score=config.score,
                               fused_cells=config.fused_cells)
    mg.manual_seed(config.seed)
    model = Seq2SeqAttention(model_config)
    return task, (X[held:], Y[held:]), (X[:held], Y[:held]), model


def _task_options(config: TrainConfig) -> dict:
    """The task's own settings from the config: the dlai-dates task's last date, when one is fixed."""
    return {} if config.last_date is None else {"end": date.fromisoformat(config.last_date)}


def train(config: TrainConfig, out_dir: str | None, log=print, progress: bool = True) -> dict:
    """Train, evaluating on the held-out split after every epoch; returns the history.

    The checkpoint in `out_dir` is the epoch with the best held-out exact match so far (a later
    epoch replaces it when it is at least as good), so a late blow-up does not overwrite a good model.
    """
    task, (X, Y), (X_held, Y_held), model = build(config)
    optimizer = mg.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    history = {"epochs": [], "interrupted": False}
    best = None  # the metrics of the epoch the checkpoint holds: the best held-out one so far
    started = time.perf_counter()
    batches = range(0, len(X), config.batch_size)
    try:
        for epoch in range(1, config.epochs + 1):
            order = rng.permutation(len(X))
            bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not progress) if tqdm else batches
            losses = []
            for start in bar:
                rows = order[start:start + config.batch_size]
                logits, _ = model(X[rows])
                loss = mg.cross_entropy(logits, Y[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                if tqdm and progress:
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
            metrics = evaluate(model, X_held, Y_held)
            metrics.update(epoch=epoch, loss=float(np.mean(losses)), seconds=time.perf_counter() - started)
            history["epochs"].append(metrics)
            log(f"epoch {epoch:3d}  loss {metrics['loss']:.4f}  held-out exact {metrics['exact_match']:.2%}  "
                f"per-position {metrics['per_position']:.2%}  sharpness {metrics['sharpness']:.3f}  "
                f"({metrics['seconds']:.0f}s)")
            warning = uniform_attention_warning(metrics["sharpness"], task.Tx, config.score)
            if warning:
                log("warning: " + warning)
            if best is None or _rank(metrics) >= _rank(best):
                best = metrics
                if out_dir:
                    save_checkpoint(out_dir, model, task, config, metrics)
            else:  # Adam can blow up late, once its second moments have shrunk: keep the better model
                log(f"held-out exact match fell from {best['exact_match']:.2%} (epoch {best['epoch']}) to "
                    f"{metrics['exact_match']:.2%}; the checkpoint keeps epoch {best['epoch']}")
            if config.target_exact is not None and metrics["exact_match"] >= config.target_exact:
                break
    except KeyboardInterrupt:
        history["interrupted"] = True
        done = history["epochs"][-1]["epoch"] if history["epochs"] else 0
        log(f"interrupted during epoch {done + 1}; "
            + (f"the last good checkpoint (epoch {best['epoch']}) is in {out_dir}" if out_dir and best
               else "no checkpoint was written"))
    history["best_epoch"] = best["epoch"] if best else None
    return history


def _rank(metrics: dict) -> tuple:
    """Which epoch's model is better on the held-out split: exact match first, then per position."""
    return metrics["exact_match"], metrics["per_position"]


def _replace_atomically(path: str, write) -> None:
    temporary = path + ".partial"
    write(temporary)
    os.replace(temporary, path)


def save_checkpoint(out_dir: str, model, task, config: TrainConfig, metrics: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    metadata = {"format": "attention.checkpoint", "version": 1,
                "model": model.config.to_json(), "train": asdict(config), "metrics": metrics,
                "task": task.name, "human_vocab": task.human_vocab.to_json(),
                "machine_vocab": task.machine_vocab.to_json()}
    _replace_atomically(os.path.join(out_dir, "model.npz"), lambda p: mg.save(model.state_dict(), p))

    def write_json(path):
        with open(path, "w", encoding="utf-8") as file:
            json.dump(metadata, file, indent=2)
    _replace_atomically(os.path.join(out_dir, "config.json"), write_json)


class CheckpointError(Exception):
    """A model directory that is missing, incomplete or does not fit its config."""


def load_checkpoint(model_dir: str):
    """(model, human vocabulary, machine vocabulary, metadata) from a directory `train` wrote."""
    config_path = os.path.join(model_dir, "config.json")
    weights_path = os.path.join(model_dir, "model.npz")
    for path in (config_path, weights_path):
        if not os.path.exists(path):
            raise CheckpointError(f"{model_dir} is not a trained model directory: {os.path.basename(path)} "
                                  "is missing (train one with: python -m attention train --out DIR)")
    try:
        with open(config_path, encoding="utf-8") as file:
            metadata = json.load(file)
        if metadata.get("format") != "attention.checkpoint":
            raise CheckpointError(f"{config_path} was not written by `python -m attention train`")
        config = ModelConfig.from_json(metadata["model"])
        config.fused_cells = False  # the same parameters; commands draw and step the composed gates
        model = Seq2SeqAttention(config)
        model.load_state_dict(mg.load(weights_path))
        human = Vocabulary.from_json(metadata["human_vocab"])
        machine = Vocabulary.from_json(metadata["machine_vocab"])
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, mg.MinigradError) as error:
        raise CheckpointError(f"{model_dir} does not hold a usable model: {error}") from error
    return model, human, machine, metadata
