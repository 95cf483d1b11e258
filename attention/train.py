"""Training: Adam on cross-entropy over the Ty output positions, checkpointed every epoch.

The model trained is the composed model's fast twin (attention/fast.py: the same parameters,
fewer nodes) unless `composed` asks for the teaching path, where every gate, e, α and c is a
node. Each step is split over `processes` processes (attention/parallel.py: by default two on a
machine with two or more cores): the twin's by rows, the composed model's on two processes by the
encoder's directions and the decoder's rows; either way the parent gets the batch's gradient. The
held-out evaluation after each epoch always runs the twin, without a graph.

The checkpoint is `DIR/model.npz` (attention/checkpoint.py): the weights and the config in one
file, replaced atomically after every epoch that is at least as good on the held-out split as
the best before it, including a model the directory held before the run. So Ctrl-C, a crash, a
late blow-up or a worse run leaves the best model in place. A loss or gradient that stops being
finite ends the run at once, keeping that checkpoint, with a message saying what to try.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

import minigrad as mg
from attention.additive import DEFAULT_SCORE, SCORES
from attention.cells import CELLS
from attention.checkpoint import WEIGHTS, CheckpointError, load_checkpoint, save_checkpoint, writing
from attention.config import check, setting
from attention.data import TASKS, get_task
from attention.data.dates import FIRST_DATE
from attention.fast import fast
from attention.parallel import WorkerError, default_processes, training_split
from attention.seq2seq import ModelConfig, Seq2SeqAttention
from minigrad.collector import rare_collections
from minigrad.heap import kept_heap
from minigrad.threads import blas_threads

try:
    from tqdm import tqdm
except ImportError:  # tqdm is an optional extra: without it, only the per-epoch lines are printed
    tqdm = None

__all__ = ["TrainConfig", "train", "evaluate", "build", "loop_settings", "load_checkpoint", "save_checkpoint",
           "CheckpointError", "attention_sharpness", "uniform_attention_warning"]


@dataclass
class TrainConfig:
    """A training run's settings, each checked against its type and range when the config is made."""
    task: str = setting(str, "dates", choices=TASKS)
    cell: str = setting(str, "lstm", choices=CELLS)
    score: str = setting(str, DEFAULT_SCORE, choices=SCORES)
    epochs: int = setting(int, 8, low=1, high=100_000)  # with 20,000 pairs: under a minute (README)
    batch_size: int = setting(int, 100, low=1, high=1_000_000)
    lr: float = setting(float, 0.005, above=0)
    seed: int = setting(int, 0, low=0, high=2**32 - 1)
    train_size: int = setting(int, 20_000, low=1, high=1_000_000)
    held_out_size: int = setting(int, 1_000, low=1, high=100_000)
    target_exact: float | None = setting(float, None, above=0, high=1, optional=True)  # stop early at this
    composed: bool = setting(bool, False)  # train the teaching path (every gate a node) instead of the fast twin
    processes: int | None = setting(int, None, low=1, high=256, optional=True)  # a step split over; None: 2 on 2+ cores
    last_date: str | None = setting(str, None, optional=True)  # dlai-dates: the latest date drawn (ISO); None = today

    def process_count(self) -> int:
        """The processes each step is split over: `processes`, or attention.parallel's default."""
        return self.processes or default_processes()

    def __post_init__(self):
        check(self)
        if self.last_date is not None:
            if self.task != "dlai-dates":
                raise ValueError(f"last_date applies to the dlai-dates task only, not to {self.task!r}; "
                                 "drop --last-date")
            try:
                day = date.fromisoformat(self.last_date)
            except ValueError:
                raise ValueError(f"last_date {self.last_date!r} is not a date written YYYY-MM-DD; "
                                 "give one such as 2020-12-31") from None
            if day < FIRST_DATE:
                raise ValueError(f"last_date {self.last_date} is before the first date drawn, {FIRST_DATE}; "
                                 "give a later one")


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
    if len(X) == 0:
        raise ValueError("evaluate: no examples (X has 0 rows): accuracies of nothing are undefined")
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
                               Tx=task.Tx, Ty=task.Ty, cell=config.cell, score=config.score)
    # its own generator, not mg.manual_seed's global one: two trainings in two threads each get their seed's weights
    model = Seq2SeqAttention(model_config, rng=np.random.default_rng(config.seed))
    return task, (X[held:], Y[held:]), (X[:held], Y[:held]), model


def _task_options(config: TrainConfig) -> dict:
    """The task's own settings from the config: the dlai-dates task's last date, when one is fixed."""
    return {} if config.last_date is None else {"end": date.fromisoformat(config.last_date)}


def train(config: TrainConfig, out_dir: str | None, log=print, progress: bool = True) -> dict:
    """Train, evaluating on the held-out split after every epoch; returns the history.

    The checkpoint in `out_dir` is the best held-out epoch so far, counting the model the
    directory already held (a later epoch replaces it when it is at least as good), so neither
    a late blow-up nor a worse run overwrites a good model. `out_dir` is locked for the run.
    `history["diverged"]` says why a run whose loss or gradients stopped being finite ended, and
    `history["failed"]` why one ended when a worker process failed (attention/parallel.py).
    """
    if out_dir is None:
        return _train(config, None, None, log, progress)
    if os.path.isdir(out_dir):  # refuse before touching the directory; checked again once it is locked
        _previous_checkpoint(out_dir, config.task, log=lambda line: None)
    with writing(out_dir):
        return _train(config, out_dir, _previous_checkpoint(out_dir, config.task, log), log, progress)


def _previous_checkpoint(out_dir: str, task: str, log) -> dict | None:
    """The metadata of the model `out_dir` holds (None if it holds none); refuses a directory whose
    model this run could not fairly replace: another task's, or one that does not load."""
    if not os.path.exists(os.path.join(out_dir, WEIGHTS)):
        return None
    try:
        _, _, _, metadata = load_checkpoint(out_dir)
    except CheckpointError as error:
        raise CheckpointError(f"--out {out_dir} holds a model that does not load, which this run will not "
                              f"overwrite: move it away or train into another --out ({error})") from None
    if metadata["task"] != task:
        raise CheckpointError(f"{out_dir} holds a model of the {metadata['task']} task; train the {task} "
                              "task into another --out (or move that model away)")
    metrics = metadata["metrics"]
    log(f"{out_dir} already holds a {task} model (held-out exact {metrics['exact_match']:.2%}); this run "
        "replaces it only with an epoch at least as good (use another --out to keep both)")
    return metadata


class _Diverged(Exception):
    """The loss, a gradient or the held-out predictions stopped being finite numbers."""


@contextmanager
def loop_settings():
    """What the training loop runs under: numpy's overflow warnings off (a loss or gradient that
    overflows ends the run with its own message), one BLAS thread (minigrad/threads.py: the model's
    products are small, and each worker process is a core's worth already), Python's collector
    rarely (minigrad/collector.py) and malloc keeping each step's freed memory for the next
    (minigrad/heap.py)."""
    with np.errstate(over="ignore", invalid="ignore"), blas_threads(), rare_collections(), kept_heap():
        yield


def _train(config: TrainConfig, out_dir, previous: dict | None, log, progress: bool) -> dict:
    built = build(config)  # before rare_collections, which freezes the model and data out of the collector's walks
    with loop_settings():
        return _epochs(config, built, out_dir, previous, log, progress)


def _epochs(config: TrainConfig, built: tuple, out_dir, previous: dict | None, log, progress: bool) -> dict:
    task, (X, Y), (X_held, Y_held), model = built
    twin = fast(model)  # the same Parameter objects: it evaluates, and trains unless `composed`
    trained = model if config.composed else twin
    optimizer = mg.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    history = {"epochs": [], "interrupted": False, "diverged": None, "failed": None, "saved": False}
    best = previous["metrics"] if previous else None  # the metrics of the model the checkpoint holds
    kept = "the model it held before" if previous else None  # which model that is, in words
    started = time.perf_counter()
    config = replace(config, processes=config.process_count())  # so the checkpoint says how many
    try:
        with training_split(model, trained, X, Y, config.processes, config.batch_size) as split:
            for epoch in range(1, config.epochs + 1):
                losses = _steps(split, optimizer, model, rng.permutation(len(X)), config.batch_size,
                                epoch, progress)
                metrics = evaluate(twin, X_held, Y_held)
                if not math.isfinite(metrics["sharpness"]):
                    raise _Diverged(f"after epoch {epoch}, the held-out predictions became NaN")
                metrics.update(epoch=epoch, loss=float(np.mean(losses)), seconds=time.perf_counter() - started)
                history["epochs"].append(metrics)
                log(f"epoch {epoch:3d}  loss {metrics['loss']:.4f}  held-out exact {metrics['exact_match']:.2%}  "
                    f"per-position {metrics['per_position']:.2%}  sharpness {metrics['sharpness']:.3f}  "
                    f"({metrics['seconds']:.0f}s)")
                warning = uniform_attention_warning(metrics["sharpness"], task.Tx, config.score)
                if warning:
                    log("warning: " + warning)
                if best is None or _rank(metrics) >= _rank(best):
                    best, kept = metrics, f"epoch {epoch}"
                    if out_dir:
                        save_checkpoint(out_dir, model, task, config, metrics)
                        history["saved"] = True
                else:  # Adam can blow up late, once its second moments have shrunk: keep the better model
                    log(f"held-out exact match fell from {best['exact_match']:.2%} ({kept}) to "
                        f"{metrics['exact_match']:.2%}; the checkpoint keeps {kept}")
                if config.target_exact is not None and metrics["exact_match"] >= config.target_exact:
                    break
    except KeyboardInterrupt:
        history["interrupted"] = True
        done = history["epochs"][-1]["epoch"] if history["epochs"] else 0
        log(f"interrupted during epoch {done + 1}; "
            + (f"the last good checkpoint ({kept}) is in {out_dir}" if out_dir and best
               else "no checkpoint was written"))
    except _Diverged as what:
        history["diverged"] = (
            f"training diverged: {what}. "
            + (f"The checkpoint in {out_dir} keeps {kept} (held-out exact {best['exact_match']:.2%}). "
               if out_dir and best else "No checkpoint was written. ")
            + f"Try a smaller --lr (this run used {config.lr:g}; the default is {TrainConfig.lr}) "
              "or another --seed.")
        log(history["diverged"])
    except WorkerError as error:
        history["failed"] = (f"training stopped: {error}. "
                             + (f"The checkpoint in {out_dir} keeps {kept}." if out_dir and best
                                else "No checkpoint was written."))
        log(history["failed"])
    if out_dir and previous and not history["saved"] and not any(history[k] for k in ("diverged", "failed",
                                                                                     "interrupted")):
        log(f"no epoch of this run reached the model {out_dir} held before (held-out exact "
            f"{best['exact_match']:.2%}), so it is kept; train into another --out to keep this run's model")
    history["best_epoch"] = best["epoch"] if best and history["saved"] else None
    return history


def _steps(split, optimizer, model, order: np.ndarray, batch_size: int, epoch: int,
           progress: bool) -> list[float]:
    """One epoch's Adam steps over the batches of `order`; their losses."""
    batches = range(0, len(order), batch_size)
    bar = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not progress) if tqdm else batches
    losses = []
    for step, start in enumerate(bar, 1):
        optimizer.zero_grad()
        loss = split.backward(order[start:start + batch_size])  # forward, loss and backward
        if not math.isfinite(loss):
            raise _Diverged(f"in epoch {epoch}, step {step}, the loss became {loss}")
        broken = _non_finite_gradient(model)
        if broken:
            raise _Diverged(f"in epoch {epoch}, step {step}, the gradient of {broken} became NaN or infinite")
        optimizer.step()
        losses.append(loss)
        if tqdm and progress:  # drawn at tqdm's own pace: a redraw at every step costs 80 µs
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
    return losses


def _non_finite_gradient(model) -> str | None:
    """The name of the first parameter whose gradient holds a NaN or an infinity, else None."""
    for name, parameter in model.named_parameters():
        if parameter.grad is not None and not np.isfinite(parameter.grad).all():
            return name
    return None


def _rank(metrics: dict) -> tuple:
    """Which epoch's model is better on the held-out split: exact match first, then per position."""
    return metrics["exact_match"], metrics["per_position"]
