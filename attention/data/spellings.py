"""The broad `dates` task: the full English dates people write, 1900-01-01 to 2099-12-31.

Every spelling is drawn from a few parts (day, month, year, weekday) and an order. The
conventions the labels follow, and so the model learns:

- **Names** say which number is the day: "3 may 1979", "may 3rd, 1979", "the 3rd of may 1979",
  "may the 3rd 1979", "thu, 3 may 1979", "03-may-79".
- **Numbers only**: a leading four-digit year means year-month-day ("1979-05-03", "1979/5/3",
  "1979.05.03", and compact "19790503"). Otherwise the separator decides the order: `/` is
  month-first, as in the US ("5/3/1979" is May 3; the assignment's short format), while `.`,
  `-` and a space are day-first, as in most of Europe ("3.5.1979", "03-05-79", "3 05 79" are
  3 May). So an ambiguous "03/04/05" is 2005-03-04 and "03.04.05" is 2005-04-03.
- **Two-digit years** follow one pivot, POSIX's and Python's `%y`: 69–99 are 1969–1999 and
  00–68 are 2000–2068. "'79" (with an apostrophe) is the same as "79".
- **Ordinals**: 1st 2nd 3rd 4th … 21st 22nd 23rd 31st, and the common misspelling with "th"
  for every day ("21th", "2th").
- **Months**: full ("september"), short ("sep"), dotted ("sep."), and "sept"/"sept.".
  **Weekdays**: full ("thursday"), short ("thu", "thu."), and "tues", "wed", "thur", "thurs".

Case, commas and spacing are not learned: `clean` lowercases, turns commas into spaces,
squeezes runs of whitespace to one space and strips the ends and a trailing `.`, `!`, `?`, `;`
or `:`, both for the training data and for whatever a user types. The data is drawn already
clean, so "Thursday,  May 3rd, 1979." and "thursday may 3rd 1979" are the same input.

`draw_spelling` also returns the spelling's *tags* (which of the categories above it uses), so a
benchmark can hold out a set per category from the same generator.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from attention.data.dates import (FORMATS, MONTH_NAMES, WEEKDAY_NAMES, human_date, is_calendar_date,
                                  machine_vocabulary)
from attention.data.task import SequenceTask
from attention.data.vocab import Vocabulary

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2099, 12, 31)
PIVOT = 69  # two-digit years 69..99 are 19xx, 00..68 are 20xx
TWO_DIGIT_YEARS = range(1900 + PIVOT, 2000 + PIVOT)  # the years a two-digit year can stand for

ORDINAL_SUFFIXES = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}
EXTRA_WEEKDAY_SHORTS = {"tuesday": ["tues"], "thursday": ["thur", "thurs"]}

# The spellings and how often each is drawn; the assignment's own formats are one of them.
ORDERS = {"day month year": 3, "month day year": 3, "the day of month year": 2,
          "month the day year": 1, "m/d/y": 2, "d.m.y": 2, "iso": 2, "compact": 1, "assignment": 3}
TWO_DIGIT_FORMATS = ("short", "d MM YY", "dd.MM.YY")  # the assignment's formats with a two-digit year
WEEKDAY_ORDERS = ("day month year", "month day year", "the day of month year", "month the day year")


def clean(text: str) -> str:
    """The cleaning every input goes through: 'Thursday,  May 3rd, 1979.' → 'thursday may 3rd 1979'."""
    text = " ".join(text.lower().replace(",", " ").split())
    return text.rstrip(".!?;:").rstrip()


def two_digit_year(year: int) -> int:
    """The year a two-digit year stands for: 79 → 1979, 5 → 2005, 68 → 2068, 69 → 1969."""
    if not 0 <= year <= 99:
        raise ValueError(f"a two-digit year is 0..99, got {year}")
    return (1900 if year >= PIVOT else 2000) + year


def ordinal(day: int, rng: random.Random, tags: set) -> str:
    """'3rd', or now and then the misspelling '3th' (tagged '21th')."""
    suffix = ORDINAL_SUFFIXES.get(day, "th")
    if suffix != "th" and rng.random() < 0.3:
        suffix = "th"
        tags.add("21th")
    tags.add("ordinal")
    return f"{day}{suffix}"


def month_name(month: int, rng: random.Random, tags: set) -> str:
    full = MONTH_NAMES[month - 1].lower()
    if full == full[:3]:  # may: no shorter form
        return full
    forms = [full, full[:3], full[:3] + "."] + (["sept", "sept."] if month == 9 else [])
    form = rng.choice(forms)
    if form != full:
        tags.add("short month")
    if form.endswith(".") or form.startswith("sept") and form != full:
        tags.add("dotted month, sept")
    return form


def weekday_name(day: date, rng: random.Random, tags: set) -> str:
    full = WEEKDAY_NAMES[day.weekday()].lower()
    form = rng.choice([full, full, full[:3], full[:3] + "."] + EXTRA_WEEKDAY_SHORTS.get(full, []))
    tags.add("weekday")
    return form


def year_text(year: int, rng: random.Random, tags: set, two_digit: float) -> str:
    """'1979', or with probability `two_digit` (for years the pivot reaches) '79' or "'79"."""
    if year in TWO_DIGIT_YEARS and rng.random() < two_digit:
        tags.add("two-digit year")
        return ("'" if rng.random() < 0.15 else "") + f"{year % 100:02d}"
    return str(year)


def number(value: int, rng: random.Random) -> str:
    return str(value) if rng.random() < 0.5 else f"{value:02d}"


def spell(day: date, order: str, rng: random.Random, two_digit: float = 0.25,
          weekday: float = 0.3) -> tuple[str, set]:
    """`day` written in `order` (a key of ORDERS), and the tags of the spelling; `two_digit` and
    `weekday` are how often a year the pivot reaches is written with two digits, and how often a
    named spelling starts with the weekday."""
    tags = {order}
    if order == "assignment":
        formats = FORMATS if day.year in TWO_DIGIT_YEARS else [f for f in FORMATS
                                                                if f not in TWO_DIGIT_FORMATS]
        pattern = rng.choice(formats)
        if pattern in TWO_DIGIT_FORMATS:
            tags.add("two-digit year")
        return human_date(day, pattern), tags
    if order == "iso":
        separator = rng.choice("-/.")  # month and day padded or not each on its own: '2093.11.2'
        return separator.join([str(day.year), number(day.month, rng), number(day.day, rng)]), tags
    if order == "compact":
        return day.strftime("%Y%m%d"), tags
    year = year_text(day.year, rng, tags, two_digit)
    if order == "m/d/y":
        return f"{number(day.month, rng)}/{number(day.day, rng)}/{year}", tags
    if order == "d.m.y":
        separator = rng.choice(".- ")
        return separator.join([number(day.day, rng), number(day.month, rng), year]), tags
    month = month_name(day.month, rng, tags)
    if order == "day month year":
        if rng.random() < 0.15:  # '03-may-1979', the dashed form
            return f"{number(day.day, rng)}-{month}-{year}", tags
        written = ordinal(day.day, rng, tags) if rng.random() < 0.3 else number(day.day, rng)
        text = f"{written} {month} {year}"
    elif order == "month day year":
        written = ordinal(day.day, rng, tags) if rng.random() < 0.3 else number(day.day, rng)
        text = f"{month} {written} {year}"
    elif order == "the day of month year":
        tags.add("the, of")
        text = rng.choice(["the {o} of {m} {y}", "{o} of {m} {y}", "the {o} {m} {y}"]).format(
            o=ordinal(day.day, rng, tags), m=month, y=year)
    elif order == "month the day year":
        tags.add("the, of")
        text = f"{month} the {ordinal(day.day, rng, tags)} {year}"
    else:
        raise ValueError(f"unknown spelling order {order!r}; the orders are {', '.join(ORDERS)}")
    if order in WEEKDAY_ORDERS and rng.random() < weekday:
        text = f"{weekday_name(day, rng, tags)} {text}"
    return text, tags


def is_broad_date(text: str) -> bool:
    """Whether `text` is a day of the calendar from 1900-01-01 to 2099-12-31, written YYYY-MM-DD."""
    return is_calendar_date(text) and FIRST_DAY.isoformat() <= text <= LAST_DAY.isoformat()


def random_day(rng: random.Random, start: date = FIRST_DAY, end: date = LAST_DAY) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def draw_spelling(rng: random.Random) -> tuple[str, str, set]:
    """(human, iso, tags): a random day of 1900..2099 in a random spelling."""
    day = random_day(rng)
    order = rng.choices(list(ORDERS), weights=list(ORDERS.values()))[0]
    text, tags = spell(day, order, rng)
    if not date(1970, 1, 1) <= day <= date(2026, 12, 31):  # beyond the assignment's years
        tags.add("year outside 1970-2026")
    return text, day.isoformat(), tags


def human_characters() -> list[str]:
    """Every character a spelling can contain, sorted."""
    words = MONTH_NAMES + WEEKDAY_NAMES + ["the", "of", "st", "nd", "rd", "th"]
    return sorted(set("".join(words).lower()) | set("0123456789 /-.'"))


class BroadDateTask(SequenceTask):
    """Dates as people write them (Tx = 36 characters, after `clean`) → ISO dates (Ty = 10)."""

    name = "dates"
    clean = staticmethod(clean)
    is_valid = staticmethod(is_broad_date)

    def __init__(self):
        self.human_vocab = Vocabulary(human_characters(), specials=True)
        self.machine_vocab = machine_vocabulary()
        self.Tx = 36  # 'wednesday the 21st of september 2003' is the longest spelling
        self.Ty = 10

    def draw_pair(self, rng: random.Random) -> tuple[str, str]:
        human, iso, _ = draw_spelling(rng)
        return human, iso
