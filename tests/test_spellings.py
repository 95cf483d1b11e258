"""attention.data.spellings: the broad dates task, its conventions, its cleaning and its tags.

The labels are checked against a small reader written here from the module docstring's
conventions alone, so a spelling whose label disagrees with the documented rules fails."""
import random
import re
from collections import Counter
from datetime import date

import pytest

from attention.data import TASKS, BroadDateTask, DlaiDateTask, get_task, two_digit_year
from attention.data.spellings import (ORDERS, TWO_DIGIT_YEARS, clean, draw_spelling, spell)

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def read_by_the_documented_rules(text: str) -> date:
    """The day `text` means under the conventions of docs/training.md, independently of the generator."""
    words = [w for w in re.split(r"[ \-/.]+", text) if w and w not in ("the", "of")]
    if words and words[0][:3] in WEEKDAYS:
        weekday, words = words[0][:3], words[1:]
    else:
        weekday = None

    def year(word):
        word = word.lstrip("'")
        return 1900 + int(word) if len(word) == 2 and int(word) >= 69 else \
            2000 + int(word) if len(word) == 2 else int(word)

    if len(words) == 1:                                   # 19790503
        word = words[0]
        result = date(int(word[:4]), int(word[4:6]), int(word[6:]))
    elif any(w[:3] in MONTHS for w in words):             # a month name says which number is the day
        month_at = next(i for i, w in enumerate(words) if w[:3] in MONTHS)
        month = MONTHS.index(words[month_at][:3]) + 1
        day_word = words[1 - month_at] if month_at < 2 else words[0]
        result = date(year(words[2]), month, int(re.match(r"\d+", day_word).group()))
    elif len(words[0]) == 4:                              # a leading four-digit year: year-month-day
        result = date(int(words[0]), int(words[1]), int(words[2]))
    elif "/" in text:                                     # '/' is month-first
        result = date(year(words[2]), int(words[0]), int(words[1]))
    else:                                                 # '.', '-' and ' ' are day-first
        result = date(year(words[2]), int(words[1]), int(words[0]))
    if weekday is not None:
        assert WEEKDAYS[result.weekday()] == weekday, text
    return result


def test_every_drawn_spelling_means_its_label_by_the_documented_rules():
    rng = random.Random(0)
    for _ in range(5_000):
        human, iso, _ = draw_spelling(rng)
        assert read_by_the_documented_rules(human).isoformat() == iso, human


@pytest.mark.parametrize("text, iso", [
    ("03/04/05", "2005-03-04"), ("03.04.05", "2005-04-03"), ("03-04-05", "2005-04-03"),
    ("3 4 05", "2005-04-03"), ("2005-04-03", "2005-04-03"), ("20050403", "2005-04-03"),
    ("21th of august 2016", "2016-08-21"), ("tue 10 jul 2007", "2007-07-10"),
    ("may the 3rd '79", "1979-05-03"), ("sept. 30 1968", "1968-09-30")])
def test_the_reference_reader_on_the_documented_examples(text, iso):
    assert read_by_the_documented_rules(text).isoformat() == iso


def test_the_two_digit_year_pivot():
    assert [two_digit_year(y) for y in (0, 5, 68, 69, 79, 99)] == [2000, 2005, 2068, 1969, 1979, 1999]
    assert TWO_DIGIT_YEARS == range(1969, 2069)
    with pytest.raises(ValueError, match="0..99"):
        two_digit_year(100)


def test_two_digit_years_are_only_written_for_years_the_pivot_reaches():
    rng = random.Random(1)
    for _ in range(3_000):
        human, iso, tags = draw_spelling(rng)
        if "two-digit year" in tags:
            assert int(iso[:4]) in TWO_DIGIT_YEARS, human


@pytest.mark.parametrize("order", list(ORDERS))
def test_each_order_spells_a_day_in_its_own_way(order):
    rng = random.Random(2)
    day = date(2003, 9, 21)
    texts = {spell(day, order, rng)[0] for _ in range(300)}
    assert all(read_by_the_documented_rules(t) == day for t in texts)
    expected = {"day month year": "21 sept 2003", "month day year": "september 21st 2003",
                "the day of month year": "the 21st of sep. 2003", "month the day year": "sep the 21th 03",
                "m/d/y": "09/21/2003", "d.m.y": "21.09.03", "iso": "2003-09-21", "compact": "20030921",
                "assignment": "sunday september 21 2003"}
    assert expected[order] in texts, sorted(texts)[:20]


def test_year_first_numbers_are_padded_or_not_field_by_field():
    rng = random.Random(5)
    texts = {spell(date(2093, 11, 2), "iso", rng)[0] for _ in range(200)}
    assert {"2093-11-2", "2093.11.02", "2093/11/2"} <= texts  # the misread '2093.11.2' is drawn
    shapes = {tuple(len(field) for field in re.split(r"[-/.]", text))
              for text in {spell(date(2003, 1, 5), "iso", rng)[0] for _ in range(200)}}
    assert shapes == {(4, 1, 1), (4, 1, 2), (4, 2, 1), (4, 2, 2)}


def test_ordinals_and_the_th_misspelling():
    rng = random.Random(3)
    seen = Counter()
    for day_of_month in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31):
        for _ in range(60):
            text, tags = spell(date(2001, 1, day_of_month), "the day of month year", rng)
            seen[re.search(r"\d+(st|nd|rd|th)", text).group()] += 1
            assert "ordinal" in tags and ("21th" in tags) == (re.search(r"(1|2|3)th", text) is not None
                                                              and day_of_month not in (11, 12, 13))
    assert {"1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"} <= set(seen)
    assert {"1th", "21th", "23th"} <= set(seen)
    assert not {"11st", "12nd", "13rd"} & set(seen)


def test_the_spellings_cover_every_category_of_the_issue():
    rng = random.Random(4)
    tags, texts = Counter(), []
    for _ in range(20_000):
        human, _, drawn = draw_spelling(rng)
        tags.update(drawn)
        texts.append(human)
    for tag in ["day month year", "month day year", "ordinal", "21th", "the, of", "weekday",
                "short month", "dotted month, sept", "m/d/y", "d.m.y", "iso", "compact",
                "two-digit year", "year outside 1970-2026", "assignment"]:
        assert tags[tag] >= 100, tag
    joined = "\n".join(texts)
    for piece in ["sept ", "sept. ", "sep. ", "thurs ", "tues ", "wed. ", "'9", "-may-", "/0", "the 1"]:
        assert piece in joined, piece
    years = [int(re.findall(r"\d{4}", t)[0][:4]) for t in texts if re.search(r"\b(19|20)\d\d\b", t)]
    assert min(years) < 1905 and max(years) > 2095


def test_cleaning_normalises_case_commas_spaces_and_final_punctuation():
    assert clean("  Thursday,  May 3rd, 1979. ") == "thursday may 3rd 1979"
    assert clean("MAY 3,1979!") == "may 3 1979"
    assert clean("Sep. 3 2003?") == "sep. 3 2003"
    assert clean("3\tmay\n1979") == "3 may 1979"
    rng = random.Random(5)
    for _ in range(500):
        human, _, _ = draw_spelling(rng)
        assert clean(human) == human  # the data is drawn clean


def test_the_broad_task():
    task = get_task("dates")
    assert isinstance(task, BroadDateTask) and (task.name, task.Tx, task.Ty) == ("dates", 36, 10)
    assert TASKS["dlai-dates"] is DlaiDateTask
    pairs = task.make_pairs(3_000, seed=0)
    assert pairs == task.make_pairs(3_000, seed=0)
    X, Y = task.encode(pairs)  # every spelling fits Tx and uses only known characters
    assert (X != task.human_vocab.unk_index).all()
    assert len(max((h for h, _ in pairs), key=len)) <= task.Tx
    assert len(task.clean("wednesday the 21st of september 2003")) == task.Tx
    assert task.is_valid("2099-12-31") and task.is_valid("1900-01-01")
    for output in ("1975-00-09", "2969-03-02", "1899-12-31", "2100-01-01"):  # not a day of the task's years
        assert not task.is_valid(output), output
