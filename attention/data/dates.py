"""Human-readable dates and their ISO form: the data of the seed's date translator.

This reproduces the generator of the deeplearning.ai assignment "Neural machine translation
with attention", without its two libraries. The assignment drew a date uniformly from
1970-01-01 to today (Faker's `date_object()`), wrote it with babel's
`format_date(day, format=random.choice(FORMATS), locale='en_US')`, then lowercased it and
removed commas; the label was `day.isoformat()`. Here a small formatter reads the same
CLDR patterns: a run of one letter is a field ('d' day, 'dd' two-digit day, 'M'/'MM' month
number, 'MMM' "May", 'MMMM' "May"/"January", 'EEEE' "Thursday", 'y' year, 'YY' two-digit
year, 'YYY' year of at least 3 digits); any other character is copied as it is. The named
formats are babel's en_US ones: short 'M/d/yy', medium 'MMM d, y', long 'MMMM d, y',
full 'EEEE, MMMM d, y'.

One deliberate difference: in CLDR, 'Y' is the *week-based* year. In en_US a week starts on
Sunday and week 1 is the one holding January 1, so babel wrote the last days of some
Decembers with the next year (2018-12-31 as "31 dec 2019", labelled 2018-12-31). Here 'Y'
is the calendar year, as the assignment evidently meant.
"""
from __future__ import annotations

import itertools
import random
import string
from datetime import date, timedelta

import numpy as np

from attention.data.vocab import Vocabulary, human_vocabulary, machine_vocabulary

FORMATS = ["short", "medium", "long", "full", "full", "full", "full", "full", "full", "full",
           "full", "full", "full", "d MMM YYY", "d MMMM YYY", "dd MMM YYY", "d MMM, YYY",
           "d MMMM, YYY", "dd, MMM YYY", "d MM YY", "d MMMM YYY", "MMMM d YYY", "MMMM d, YYY",
           "dd.MM.YY"]

NAMED_PATTERNS = {"short": "M/d/yy", "medium": "MMM d, y", "long": "MMMM d, y",
                  "full": "EEEE, MMMM d, y"}

MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
MONTH_ABBREVIATIONS = [name[:3] for name in MONTH_NAMES]
WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

FIRST_DATE = date(1970, 1, 1)


def pattern_fields(pattern: str) -> list[str]:
    """A pattern cut into runs of one character: 'd MMM, YYY' → ['d', ' ', 'MMM', ',', ' ', 'YYY']."""
    pattern = NAMED_PATTERNS.get(pattern, pattern)
    return ["".join(run) for _, run in itertools.groupby(pattern)]


def format_field(day: date, field: str) -> str:
    """One field of a pattern, such as 'MMM', written for `day`; non-letters are copied."""
    letter, width = field[0], len(field)
    if not letter.isalpha():
        return field
    if letter == "d" and width <= 2:
        return f"{day.day:0{width}d}"
    if letter == "M" and width <= 2:
        return f"{day.month:0{width}d}"
    if letter == "M" and width == 3:
        return MONTH_ABBREVIATIONS[day.month - 1]
    if letter == "M" and width == 4:
        return MONTH_NAMES[day.month - 1]
    if letter == "E" and width == 4:
        return WEEKDAY_NAMES[day.weekday()]
    if letter in "yY":  # both the calendar year: see the module docstring
        return f"{day.year % 100:02d}" if width == 2 else f"{day.year:0{width}d}"
    raise ValueError(f"the date pattern field {field!r} is not supported")


def format_date(day: date, pattern: str) -> str:
    """`day` written with a CLDR pattern or a named format: (1979-05-03, 'full') → 'Thursday, May 3, 1979'."""
    return "".join(format_field(day, field) for field in pattern_fields(pattern))


def clean(text: str) -> str:
    """What the assignment did to every formatted date, and what the translator does to its input."""
    return text.lower().replace(",", "")


def is_calendar_date(text: str) -> bool:
    """Whether `text` is a day of the calendar written YYYY-MM-DD: '1975-00-09' and '2001-02-29' are not."""
    if not (len(text) == 10 and text[4] == text[7] == "-" and (text[:4] + text[5:7] + text[8:]).isdigit()):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def human_date(day: date, pattern: str) -> str:
    """`day` as the training data writes it: (1979-05-03, 'full') → 'thursday may 3 1979'."""
    return clean(format_date(day, pattern))


def human_characters() -> list[str]:
    """Every character a generated date can contain, sorted: the assignment's vocabulary."""
    # Number fields write digits, name fields write month or weekday names, the rest is literal.
    written = string.digits + "".join(MONTH_NAMES + MONTH_ABBREVIATIONS + WEEKDAY_NAMES)
    literals = "".join(field for pattern in FORMATS for field in pattern_fields(pattern)
                       if not field[0].isalpha())
    return sorted(set(clean(written + literals)))


def random_date(rng: random.Random, start: date = FIRST_DATE, end: date | None = None) -> date:
    """A date drawn uniformly from start to end, both included; end defaults to today."""
    end = date.today() if end is None else end
    if end < start:
        raise ValueError(f"the last date {end} is before the first {start}")
    return start + timedelta(days=rng.randint(0, (end - start).days))


def make_pair(rng: random.Random, end: date | None = None) -> tuple[str, str]:
    """One (human, iso) pair, such as ('thursday may 3 1979', '1979-05-03')."""
    day = random_date(rng, end=end)
    return human_date(day, rng.choice(FORMATS)), day.isoformat()


def make_dataset(n: int, seed: int, end: date | None = None) -> list[tuple[str, str]]:
    """n (human, iso) pairs as the assignment drew them (repeats possible); same seed, same list.

    `end` defaults to today, so only an explicit `end` gives the same list on another day.
    """
    rng = random.Random(seed)
    end = date.today() if end is None else end
    return [make_pair(rng, end) for _ in range(n)]


def split_dataset(pairs, held_out_fraction: float = 0.1, seed: int = 0):
    """(train, held_out) from `pairs`, first keeping one pair per human string, so that no
    human string is in both."""
    if not 0 <= held_out_fraction <= 1:
        raise ValueError(f"held_out_fraction must be between 0 and 1, got {held_out_fraction}")
    unique = list({human: (human, iso) for human, iso in reversed(pairs)}.values())[::-1]
    random.Random(seed).shuffle(unique)
    held = round(held_out_fraction * len(unique))
    return unique[held:], unique[:held]


class SequenceTask:
    """What the trainer needs to know about a translation task; a task only says how to draw one pair.

    Every task has a `name`, an input vocabulary `human_vocab`, an output vocabulary
    `machine_vocab`, the input length `Tx` and the output length `Ty`. `make_pairs(n, seed)`
    gives n (source, target) strings and `encode(pairs)` turns them into the index arrays
    X (n, Tx) and Y (n, Ty). The toy tasks in toy.py follow the same pattern.
    """

    name: str
    clean = staticmethod(str)  # what every input goes through first, in training and in use
    human_vocab: Vocabulary
    machine_vocab: Vocabulary
    Tx: int
    Ty: int

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


class DlaiDateTask(SequenceTask):
    """The assignment's task, exactly: its 24 formats of a day from 1970-01-01 to `end`
    (Tx = 30 characters) → ISO dates (Ty = 10).

    `end` defaults to the day the task is made; pass one to get the same pairs on any day.
    """

    name = "dlai-dates"
    clean = staticmethod(clean)
    is_valid = staticmethod(is_calendar_date)

    def __init__(self, end: date | None = None):
        self.end = date.today() if end is None else end
        if self.end < FIRST_DATE:
            raise ValueError(f"end {self.end} is before the first date, {FIRST_DATE}")
        self.human_vocab = human_vocabulary()
        self.machine_vocab = machine_vocabulary()
        self.Tx = 30
        self.Ty = 10

    def draw_pair(self, rng: random.Random) -> tuple[str, str]:
        return make_pair(rng, self.end)
