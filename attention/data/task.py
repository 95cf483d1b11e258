"""What every translation task is, and the registry of the tasks by name.

A task says how to draw one (source, target) pair; the base class turns that into distinct
pairs and index arrays. Each concrete task (one with a `name`) enters `TASKS` when its class is
defined: the assignment's dates (dates.py), the broad dates (spellings.py), the toy tasks (toy.py).
"""
from __future__ import annotations

import random

import numpy as np

from attention.data.vocab import Vocabulary

TASKS: dict[str, type] = {}  # name → task class, filled as each task class is defined


class SequenceTask:
    """What the trainer needs to know about a translation task; a task only says how to draw one pair.

    Every task has a `name`, an input vocabulary `human_vocab`, an output vocabulary
    `machine_vocab`, the input length `Tx` and the output length `Ty`. `make_pairs(n, seed)`
    gives n (source, target) strings and `encode(pairs)` turns them into the index arrays
    X (n, Tx) and Y (n, Ty).
    """

    name: str
    clean = staticmethod(str)  # what every input goes through first, in training and in use
    human_vocab: Vocabulary
    machine_vocab: Vocabulary
    Tx: int
    Ty: int

    def __init_subclass__(cls, **options):
        super().__init_subclass__(**options)
        if "name" in vars(cls):
            if cls.name in TASKS:
                raise ValueError(f"two task classes are named {cls.name!r}: {TASKS[cls.name].__name__} "
                                 f"and {cls.__name__}")
            TASKS[cls.name] = cls

    @staticmethod
    def is_valid(output: str) -> bool:
        """Whether an output is one this task can have; the date tasks check the calendar."""
        return True

    def draw_pair(self, rng: random.Random) -> tuple[str, str]:
        """One random (source, target) pair."""
        raise NotImplementedError

    def make_pairs(self, n: int, seed: int) -> list[tuple[str, str]]:
        """n pairs with n different sources, the same for the same seed.

        Sources never repeat, so however the list is split, no held-out input was trained on.
        """
        rng = random.Random(seed)
        pairs, seen = [], set()
        draws_left = 100 * n + 1000  # a small task may have fewer distinct sources than asked for
        while len(pairs) < n:
            if draws_left == 0:
                raise ValueError(f"the {self.name} task found only {len(pairs)} different sources, "
                                 f"{n} were asked for")
            draws_left -= 1
            source, target = self.draw_pair(rng)
            if source not in seen:
                seen.add(source)
                pairs.append((source, target))
        return pairs

    def encode(self, pairs) -> tuple[np.ndarray, np.ndarray]:
        """X (n, Tx) int64, padded with `<pad>`, and Y (n, Ty) int64."""
        X = np.empty((len(pairs), self.Tx), dtype=np.int64)
        Y = np.empty((len(pairs), self.Ty), dtype=np.int64)
        for row, (source, target) in enumerate(pairs):
            if len(target) != self.Ty:
                raise ValueError(f"target {target!r} has {len(target)} characters, the {self.name} "
                                 f"task's outputs have Ty = {self.Ty}")
            X[row], truncated, _ = self.human_vocab.encode_padded(source, self.Tx)
            if truncated:
                raise ValueError(f"source {source!r} is longer than the {self.name} task's Tx = {self.Tx}")
            Y[row] = self.machine_vocab.encode(target)
        return X, Y

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, Tx={self.Tx}, Ty={self.Ty})"


def get_task(name: str, **options) -> SequenceTask:
    """A task by name, made with `options` (such as length=6 or end=date(2020, 1, 1))."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; the known tasks are {', '.join(sorted(TASKS))}")
    return TASKS[name](**options)
