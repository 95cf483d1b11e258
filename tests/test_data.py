"""attention.data: the date generator against hand-written expectations, the vocabularies,
the toy tasks and the task interface the trainer relies on."""
import json
import random
import warnings
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention.data import (FORMATS, TASKS, DlaiDateTask, ReverseTask, SortTask, Vocabulary,
                            format_date, get_task, human_date, human_vocabulary, machine_vocabulary)
from attention.data.dates import human_characters, random_date

END = date(2019, 12, 31)  # a fixed last date, so the tests do not depend on today
WEEKDAYS_FROM_THURSDAY = ["thursday", "friday", "saturday", "sunday", "monday", "tuesday", "wednesday"]


def weekday_name(day: date) -> str:
    """Worked out from 1970-01-01 being a Thursday, independently of the code under test."""
    return WEEKDAYS_FROM_THURSDAY[(day - date(1970, 1, 1)).days % 7]


# --- formats --------------------------------------------------------------------------------

EXPECTED = {
    date(1979, 5, 3): {
        "short": "5/3/79", "medium": "may 3 1979", "long": "may 3 1979",
        "full": "thursday may 3 1979", "d MMM YYY": "3 may 1979", "d MMMM YYY": "3 may 1979",
        "dd MMM YYY": "03 may 1979", "d MMM, YYY": "3 may 1979", "d MMMM, YYY": "3 may 1979",
        "dd, MMM YYY": "03 may 1979", "d MM YY": "3 05 79", "MMMM d YYY": "may 3 1979",
        "MMMM d, YYY": "may 3 1979", "dd.MM.YY": "03.05.79"},
    date(2009, 4, 5): {
        "short": "4/5/09", "medium": "apr 5 2009", "long": "april 5 2009",
        "full": "sunday april 5 2009", "d MMM YYY": "5 apr 2009", "d MMMM YYY": "5 april 2009",
        "dd MMM YYY": "05 apr 2009", "d MMM, YYY": "5 apr 2009", "d MMMM, YYY": "5 april 2009",
        "dd, MMM YYY": "05 apr 2009", "d MM YY": "5 04 09", "MMMM d YYY": "april 5 2009",
        "MMMM d, YYY": "april 5 2009", "dd.MM.YY": "05.04.09"},
    date(1998, 12, 31): {
        "short": "12/31/98", "medium": "dec 31 1998", "long": "december 31 1998",
        "full": "thursday december 31 1998", "d MMM YYY": "31 dec 1998",
        "d MMMM YYY": "31 december 1998", "dd MMM YYY": "31 dec 1998", "d MMM, YYY": "31 dec 1998",
        "d MMMM, YYY": "31 december 1998", "dd, MMM YYY": "31 dec 1998", "d MM YY": "31 12 98",
        "MMMM d YYY": "december 31 1998", "MMMM d, YYY": "december 31 1998",
        "dd.MM.YY": "31.12.98"},
}


def test_formats_are_the_assignments_24_in_order():
    assert len(FORMATS) == 24
    assert FORMATS[:13] == ["short", "medium", "long"] + ["full"] * 10
    assert FORMATS.count("full") == 10 and FORMATS.count("d MMMM YYY") == 2
    assert FORMATS[-1] == "dd.MM.YY"


@pytest.mark.parametrize("day", sorted(EXPECTED))
def test_every_format_writes_the_hand_written_expectation(day):
    assert set(EXPECTED[day]) == set(FORMATS)
    for pattern, expected in EXPECTED[day].items():
        assert human_date(day, pattern) == expected, pattern
    assert human_date(day, "full").split()[0] == weekday_name(day)


def test_format_date_before_lowercasing_matches_babel_en_us():
    day = date(1979, 5, 3)
    assert format_date(day, "short") == "5/3/79"
    assert format_date(day, "medium") == "May 3, 1979"
    assert format_date(day, "long") == "May 3, 1979"
    assert format_date(day, "full") == "Thursday, May 3, 1979"
    assert format_date(day, "dd, MMM YYY") == "03, May 1979"


def test_year_is_the_calendar_year_not_the_week_based_one():
    # babel's 'YYY' gives 2019 here (the week holding 2019-01-01 starts on Sunday 2018-12-30)
    assert human_date(date(2018, 12, 31), "d MMM YYY") == "31 dec 2018"
    assert human_date(date(2018, 12, 30), "dd.MM.YY") == "30.12.18"


def test_weekday_of_every_day_of_a_leap_year():
    day = date(2000, 1, 1)
    while day.year == 2000:
        assert human_date(day, "full").split()[0] == weekday_name(day)
        day += timedelta(days=1)


def test_unsupported_pattern_letters_are_refused():
    with pytest.raises(ValueError, match="QQ"):
        format_date(date(2000, 1, 1), "d QQ y")


# --- the generator ----------------------------------------------------------------------------

def assignment_pairs(n: int, seed: int, end: date | None = END):
    """n pairs from the task's own pipeline, as training draws them."""
    return DlaiDateTask(end=end).make_pairs(n, seed=seed)


def test_labels_are_iso_and_match_their_human_string():
    for human, iso in assignment_pairs(2_000, seed=0):
        day = date.fromisoformat(iso)
        assert iso == day.isoformat() and len(iso) == 10
        assert human in {human_date(day, pattern) for pattern in FORMATS}


def test_dates_stay_in_range():
    days = [date.fromisoformat(iso) for _, iso in assignment_pairs(3_000, seed=1, end=date(1971, 2, 1))]
    assert min(days) >= date(1970, 1, 1) and max(days) <= date(1971, 2, 1)
    assert date(1970, 1, 1) in days and date(1971, 2, 1) in days  # both ends included
    today = date.today()
    assert all(date.fromisoformat(iso) <= today for _, iso in assignment_pairs(500, seed=2, end=None))
    with pytest.raises(ValueError):
        random_date(random.Random(0), end=date(1969, 12, 31))


def test_dates_are_roughly_uniform_over_the_years():
    days = [date.fromisoformat(iso) for _, iso in assignment_pairs(24_000, seed=3)]
    observed = Counter(day.year for day in days)
    years = range(1970, 2020)
    total_days = (END - date(1970, 1, 1)).days + 1
    expected = {year: len(days) * (date(year + 1, 1, 1) - date(year, 1, 1)).days / total_days
                for year in years}
    chi_square = sum((observed[year] - expected[year]) ** 2 / expected[year] for year in years)
    assert chi_square < 100  # 49 degrees of freedom: about 49 ± 10 if uniform


def test_format_frequencies_follow_the_list():
    task, rng = DlaiDateTask(end=END), random.Random(4)  # draws, repeats kept: the formats' own weights
    humans = [task.draw_pair(rng)[0] for _ in range(24_000)]
    weekdays = tuple(WEEKDAYS_FROM_THURSDAY)
    months = tuple(human_date(date(2000, month, 1), named).split()[0]  # "jan", "january", ...
                   for month in range(1, 13) for named in ("medium", "long"))
    kinds = Counter("full" if h.startswith(weekdays) else "short" if "/" in h else "dotted" if "." in h
                    else "month first" if h.startswith(months) else "day first" for h in humans)
    # full ×10; short; dd.MM.YY; medium, long, 'MMMM d YYY', 'MMMM d, YYY'; the 8 day-first patterns
    for kind, count in {"full": 10, "short": 1, "dotted": 1, "month first": 4, "day first": 8}.items():
        assert abs(kinds[kind] / len(humans) - count / 24) < 0.015, (kind, kinds)


def test_seeded_datasets_are_reproducible():
    assert assignment_pairs(300, seed=5) == assignment_pairs(300, seed=5)
    assert assignment_pairs(300, seed=5) != assignment_pairs(300, seed=6)


def test_a_small_range_still_gives_distinct_sources():
    pairs = assignment_pairs(600, seed=7, end=date(1970, 3, 31))  # 90 days: draws repeat often
    assert len({human for human, _ in pairs}) == 600
    with pytest.raises(ValueError, match="only .* different sources"):
        assignment_pairs(2_000, seed=7, end=date(1970, 1, 31))


# --- vocabularies ---------------------------------------------------------------------------

HUMAN_CHARACTERS = list(" ./0123456789abcdefghijlmnoprstuvwy")


def test_human_vocabulary_is_the_assignments():
    assert human_characters() == HUMAN_CHARACTERS  # derived from the formats and names
    vocab = human_vocabulary()
    assert len(vocab) == 37
    assert vocab.tokens == HUMAN_CHARACTERS + ["<unk>", "<pad>"]
    assert vocab.unk_index == 35 and vocab.pad_index == 36
    assert vocab.index == {token: i for i, token in enumerate(vocab.tokens)}


def test_human_characters_are_exactly_those_the_formats_write():
    written, day = set(), date(2000, 1, 1)
    while day.year == 2000:
        written.update("".join(human_date(day, pattern) for pattern in FORMATS))
        day += timedelta(days=1)
    assert sorted(written) == HUMAN_CHARACTERS


def test_machine_vocabulary_is_the_assignments():
    vocab = machine_vocabulary()
    assert len(vocab) == 11 and vocab.tokens == list("-0123456789")
    assert vocab.index["-"] == 0 and vocab.index["7"] == 8
    assert vocab.unk_index is None and vocab.pad_index is None


def test_unknown_characters_become_unk_and_are_reported():
    vocab = human_vocabulary()
    indices, truncated, unknown = vocab.encode_padded("3 may 1979!", 30)
    assert not truncated and unknown == ["!"]
    assert indices[10] == vocab.unk_index and indices[11:].tolist() == [vocab.pad_index] * 19
    assert vocab.encode("3 MAY").tolist() == [vocab.index["3"], 0] + [vocab.unk_index] * 3
    with pytest.raises(ValueError, match="no <unk>"):
        machine_vocabulary().encode("1979-05-0x")


def test_truncation_is_reported():
    vocab = human_vocabulary()
    indices, truncated, _ = vocab.encode_padded("wednesday september 30 1998 and more", 30)
    assert truncated and len(indices) == 30
    assert vocab.decode(indices) == "wednesday september 30 1998 an"
    with pytest.warns(UserWarning, match="longer than 30"):
        assert len(vocab.encode("x" * 40, 30)) == 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exactly Tx characters is not a truncation
        assert not vocab.encode_padded("1" * 30, 30)[1]
        vocab.encode("1" * 30, 30)


def test_encode_decode_round_trip_and_dtype():
    vocab = human_vocabulary()
    indices = vocab.encode("thursday may 3 1979", 30)
    assert indices.dtype == np.int64 and indices.shape == (30,)
    assert vocab.decode(indices) == "thursday may 3 1979"
    machine = machine_vocabulary()
    assert machine.decode(machine.encode("1979-05-03")) == "1979-05-03"
    with pytest.raises(ValueError, match="outside"):
        machine.decode([11])
    with pytest.raises(ValueError, match="no <pad>"):
        machine.encode("1979", 10)


def test_vocabularies_survive_json():
    for vocab in (human_vocabulary(), machine_vocabulary(), Vocabulary("ab", specials=True)):
        again = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
        assert again == vocab and again.tokens == vocab.tokens
        assert again.unk_index == vocab.unk_index and again.pad_index == vocab.pad_index
    with pytest.raises(ValueError):
        Vocabulary.from_json({"tokens": ["a", "b"], "specials": True})


def test_vocabulary_refuses_repeats_and_multi_character_entries():
    with pytest.raises(ValueError):
        Vocabulary("aba")
    with pytest.raises(ValueError):
        Vocabulary(["ab", "c"])


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(1970, 1, 1), max_value=date.today()), pattern=st.sampled_from(FORMATS))
def test_every_human_date_fits_the_model_and_round_trips(day, pattern):
    vocab = human_vocabulary()
    human = human_date(day, pattern)
    indices, truncated, unknown = vocab.encode_padded(human, 30)
    assert len(human) <= 30 and not truncated and not unknown
    assert vocab.decode(indices) == human


def test_every_format_of_every_day_of_two_years_fits_in_tx():
    longest, day = 0, date(1998, 1, 1)
    while day.year <= 2000:
        longest = max(longest, *(len(human_date(day, pattern)) for pattern in FORMATS))
        day += timedelta(days=1)
    assert longest == len("wednesday september 30 1998") <= DlaiDateTask(end=END).Tx


# --- tasks ------------------------------------------------------------------------------------

def test_the_date_task():
    task = DlaiDateTask(end=END)
    assert (task.name, task.Tx, task.Ty) == ("dlai-dates", 30, 10)
    assert task.human_vocab == human_vocabulary() and task.machine_vocab == machine_vocabulary()
    pairs = task.make_pairs(500, seed=0)
    assert pairs == task.make_pairs(500, seed=0)
    assert len({source for source, _ in pairs}) == 500  # distinct sources: any split is disjoint
    assert all(date.fromisoformat(iso) <= END for _, iso in pairs)
    assert DlaiDateTask().end == date.today()


def test_the_assignment_task_cleans_as_the_assignment_did_and_checks_the_calendar():
    task = DlaiDateTask(end=END)
    assert task.clean("Thursday, May 3, 1979") == "thursday may 3 1979"
    assert task.clean("3 may  1979") == "3 may  1979"  # the assignment did not squeeze spaces
    assert task.is_valid("1979-05-03") and task.is_valid("2000-02-29")
    for output in ("1975-00-09", "2001-02-29", "1979-13-01", "1979-04-31", "19790503", "1979-5-03",
                   "1979/05/03", "-979-05-03"):
        assert not task.is_valid(output), output
    assert ReverseTask().is_valid("1975-00-09")  # only the date tasks check their outputs


@pytest.mark.parametrize("task", [ReverseTask(), SortTask(), ReverseTask(length=5)])
def test_toy_targets(task):
    pairs = task.make_pairs(300, seed=1)
    assert len({source for source, _ in pairs}) == 300
    for source, target in pairs:
        assert len(source) == len(target) == task.Tx == task.Ty and source.isdigit()
        if task.name == "reverse":
            assert target == source[::-1]
        else:
            assert target == "".join(sorted(source))
    assert len(task.human_vocab) == 12 and len(task.machine_vocab) == 10


def test_toy_task_refuses_more_pairs_than_it_has_sources():
    with pytest.raises(ValueError, match="only 10 different sources"):
        ReverseTask(length=1).make_pairs(11, seed=0)


@pytest.mark.parametrize("task", [DlaiDateTask(end=END), ReverseTask(), SortTask(length=4)])
def test_encode_shapes_and_contents(task):
    pairs = task.make_pairs(40, seed=2)
    X, Y = task.encode(pairs)
    assert X.shape == (40, task.Tx) and Y.shape == (40, task.Ty)
    assert X.dtype == np.int64 and Y.dtype == np.int64
    for (source, target), x, y in zip(pairs, X, Y):
        assert task.human_vocab.decode(x) == source and task.machine_vocab.decode(y) == target
    X_empty, Y_empty = task.encode([])
    assert X_empty.shape == (0, task.Tx) and Y_empty.shape == (0, task.Ty)


def test_encode_refuses_wrong_lengths():
    task = DlaiDateTask(end=END)
    X, _ = task.encode([("3 may 1979", "1979-05-03")])
    assert X[0, 10:].tolist() == [task.human_vocab.pad_index] * 20
    with pytest.raises(ValueError, match="Ty = 10"):
        task.encode([("3 may 1979", "1979-5-3")])
    with pytest.raises(ValueError, match="Tx = 30"):
        task.encode([("thursday may 3 1979 " * 2, "1979-05-03")])


def test_task_registry():
    assert set(TASKS) == {"dates", "dlai-dates", "reverse", "sort"}
    assert isinstance(get_task("dlai-dates"), DlaiDateTask)
    assert get_task("reverse", length=5).Tx == 5
    assert get_task("dlai-dates", end=END).end == END
    with pytest.raises(ValueError, match="unknown task 'french'.*dates, dlai-dates, reverse, sort"):
        get_task("french")
    with pytest.raises(ValueError, match="two task classes are named 'sort': SortTask and Another"):
        type("Another", (SortTask,), {"name": "sort"})
    assert TASKS["sort"] is SortTask
