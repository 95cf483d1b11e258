"""Two small tasks that train in seconds.

- reverse: "20571148" → "84117502". Output t must look at input Tx + 1 − t: attention by position.
- sort:    "20571148" → "01124578". Output t must find the t-th smallest digit wherever it
  sits: attention by content.
"""
from __future__ import annotations

import random
import string

from attention.data.task import SequenceTask
from attention.data.vocab import Vocabulary


class DigitsTask(SequenceTask):
    """A random string of `length` digits in, the same number of digits out."""

    def __init__(self, length: int = 8):
        if length < 1:
            raise ValueError(f"length must be at least 1, got {length}")
        self.length = self.Tx = self.Ty = length
        self.human_vocab = Vocabulary(string.digits, specials=True)
        self.machine_vocab = Vocabulary(string.digits, specials=False)

    def target(self, source: str) -> str:
        raise NotImplementedError

    def draw_pair(self, rng: random.Random) -> tuple[str, str]:
        source = "".join(rng.choice(string.digits) for _ in range(self.length))
        return source, self.target(source)


class ReverseTask(DigitsTask):
    """The digits backwards."""

    name = "reverse"

    def target(self, source: str) -> str:
        return source[::-1]


class SortTask(DigitsTask):
    """The digits in ascending order."""

    name = "sort"

    def target(self, source: str) -> str:
        return "".join(sorted(source))
