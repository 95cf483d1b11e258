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

from attention.data.task import SequenceTask
from attention.data.vocab import Vocabulary

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


def human_vocabulary() -> Vocabulary:
    """The assignment's 37-entry input vocabulary: every character a generated date can
    contain (35, sorted), then `<unk>` (35) and `<pad>` (36)."""
    return Vocabulary(human_characters(), specials=True)


def machine_vocabulary() -> Vocabulary:
    """The 11 characters of an ISO date YYYY-MM-DD, sorted: '-' then '0'..'9'."""
    return Vocabulary(sorted("-0123456789"), specials=False)


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
