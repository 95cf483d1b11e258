"""The date translator against what a user would pick instead (dateutil, dateparser), and how well
its confidence separates its right answers from its wrong ones, in one run.

    pip install -e ".[bench]"
    python bench/bench_dates.py [--model DIR ...] [--dlai-model DIR] [--per-category 500] [--seed 7]
                                [--confidence-per-category 5000] [--validation-seed 11]

Builds a held-out set per spelling category from the broad task's own generator
(attention/data/spellings.py: every drawn string carries the tags of its spelling; a category
keeps the first --per-category strings with its tag that no model given was trained on), one
set whose strings are roughened with capitals, commas, extra spaces and a trailing full stop
(what the cleaning step removes), and one drawn exactly as the assignment drew its data. It
prints the exact match of each model, `dateutil.parser.parse` and `dateparser.parse` (each
called with its defaults on the string as written) side by side, per category.

Then the confidence, on far more strings (--confidence-per-category per category, model only):
on a *validation* set (--validation-seed) each candidate measure of confidence gets the
threshold that flags at most 0.5% of the right answers, pooled over the models, and the share
of wrong answers it flags; on the *report* set (--seed, none of its strings in the validation
set) the library's measure at its default threshold (attention/decode.py) is reported per model
and pooled, in counts, beside every candidate at its validation threshold. An output that is not
a valid date is always flagged.

Without --model it trains the default `TrainConfig()` for each --train-seeds (and without
--dlai-model, the `dlai-dates` task with the same settings, first seed).
"""
from __future__ import annotations

import argparse
import functools
import random
import tempfile
import time
import warnings
from datetime import date

import numpy as np

from attention.checkpoint import RETIRED_MODEL_FIELDS
from attention.data import DlaiDateTask
from attention.data.spellings import draw_spelling
from attention.decode import (CONFIDENCE_MEASURE, DEFAULT_MIN_CONFIDENCE, confidence, output_probabilities,
                              task_class)
from attention.train import TrainConfig, build, load_checkpoint, train

CATEGORIES = ["day month year", "month day year", "ordinal", "21th", "the day of month year",
              "month the day year", "weekday", "short month", "dotted month, sept", "m/d/y", "d.m.y",
              "iso", "compact", "two-digit year", "year outside 1970-2026"]
ROUGH = "capitals, commas, spaces, final ."
ASSIGNMENT_END = date(2026, 11, 25)  # the assignment drew up to today; a fixed day repeats the bench


def roughen(text: str, tags: set, rng: random.Random) -> str:
    """`text` as someone might type it: 'thu may 3rd 1979' → ' Thu, May 3rd,  1979.'."""
    case = rng.choice([str.title, str.upper, str.capitalize, str.lower])
    words = case(text).split(" ")
    joined = words[0]
    for position, word in enumerate(words[1:], 1):
        natural_comma = position == len(words) - 1 or (position == 1 and "weekday" in tags)
        joined += ("," if natural_comma and rng.random() < 0.6 else "") + rng.choice([" ", " ", "  "]) + word
    return rng.choice(["", " "]) + joined + rng.choice(["", ".", "."])


def held_out_sets(per_category: int, seed: int, trained: set) -> dict:
    """{category: [(human, iso), ...]} of strings no model saw in training."""
    rng = random.Random(seed)
    sets = {category: [] for category in CATEGORIES + [ROUGH]}
    while any(len(pairs) < per_category for pairs in sets.values()):
        human, iso, tags = draw_spelling(rng)
        if human in trained:
            continue
        for tag in tags & set(CATEGORIES):
            if len(sets[tag]) < per_category:
                sets[tag].append((human, iso))
        if len(sets[ROUGH]) < per_category:
            sets[ROUGH].append((roughen(human, tags, rng), iso))
    return sets


def training_sources(model_dir: str) -> set:
    """The inputs a checkpoint was trained on (and selected with), regenerated from its config."""
    settings = load_checkpoint(model_dir)[3]["train"]
    config = TrainConfig(**{key: value for key, value in settings.items() if key not in RETIRED_MODEL_FIELDS})
    task, (X, _), (X_held, _), _ = build(config)
    return {task.human_vocab.decode(row) for row in np.concatenate([X, X_held])}


# Candidate measures of confidence, each from the top two probabilities (B, Ty, 2) at each position.
CANDIDATES = {
    "product of max p": lambda top: top[..., 0].prod(axis=-1),
    "min of max p": lambda top: top[..., 0].min(axis=-1),
    "min of p1 - p2": lambda top: (top[..., 0] - top[..., 1]).min(axis=-1),
    "min of log(p1/p2)": lambda top: np.log(top[..., 0] / np.maximum(top[..., 1], 1e-300)).min(axis=-1),
}
RIGHT_FLAGGED_AT_VALIDATION = 0.005  # the target is at most 1% on the report set: leave a margin


class Answers:
    """A model's outputs on some strings: right or not, valid or not, and its probabilities' top two."""

    def __init__(self, model_dir: str, pairs):
        model, human, machine, metadata = load_checkpoint(model_dir)
        task = task_class(metadata)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a roughened string may hold a character out of the vocabulary
            X = np.stack([human.encode_padded(task.clean(text), model.config.Tx)[0] for text, _ in pairs])
        probabilities, _ = output_probabilities(model, X)
        self.outputs = [machine.decode(row) for row in probabilities.argmax(axis=-1)]
        self.right = np.array([output == iso for output, (_, iso) in zip(self.outputs, pairs)])
        self.valid = np.array([task.is_valid(output) for output in self.outputs])
        self.confidence = confidence(probabilities)
        self.top = -np.sort(-probabilities, axis=-1)[..., :2]

    def flagged(self, scores: np.ndarray, threshold: float) -> np.ndarray:
        return ~self.valid | (scores < threshold)


@functools.cache  # the pooled line asks again for the strings of every category
def dateutil_answer(text: str) -> str | None:
    from dateutil import parser
    try:
        return parser.parse(text).date().isoformat()
    except (ValueError, OverflowError):
        return None


@functools.cache
def dateparser_answer(text: str) -> str | None:
    import dateparser
    parsed = dateparser.parse(text)
    return None if parsed is None else parsed.date().isoformat()


def assignment_set(n: int, seed: int, trained: set) -> list:
    """n different pairs drawn as the assignment drew them, up to ASSIGNMENT_END, that no model trained on."""
    pairs = DlaiDateTask(end=ASSIGNMENT_END).make_pairs(2 * n + len(trained), seed=seed)
    return [pair for pair in pairs if pair[0] not in trained][:n]


def train_default(task: str, out: str, seed: int) -> None:
    options = {"last_date": ASSIGNMENT_END.isoformat()} if task == "dlai-dates" else {}
    started = time.perf_counter()
    history = train(TrainConfig(task=task, seed=seed, **options), out, log=lambda line: None, progress=False)
    kept = history["epochs"][history["best_epoch"] - 1]
    print(f"trained {task} (default TrainConfig, seed {seed}) in {time.perf_counter() - started:.0f}s; "
          f"the checkpoint keeps epoch {kept['epoch']} ({kept['exact_match']:.2%} on its held-out split)")


def exact(answers, pairs) -> float:
    return float(np.mean([answer == iso for answer, (_, iso) in zip(answers, pairs)]))


def pooled(sets: dict) -> list:
    """The different strings of all the sets, once each (a string may carry several categories)."""
    return list({text: (text, iso) for pairs in sets.values() for text, iso in pairs}.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", help="`train` directories of the dates task (default: train them)")
    parser.add_argument("--dlai-model", help="a `train` directory of the dlai-dates task (default: train one)")
    parser.add_argument("--per-category", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7, help="seed of the reported held-out strings")
    parser.add_argument("--confidence-per-category", type=int, default=5000)
    parser.add_argument("--validation-seed", type=int, default=11,
                        help="seed of the strings the confidence thresholds are chosen on")
    parser.add_argument("--train-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model_dirs, dlai_dir = args.model, args.dlai_model
        if model_dirs is None:
            model_dirs = [f"{scratch}/dates{seed}" for seed in args.train_seeds]
            for seed, directory in zip(args.train_seeds, model_dirs):
                train_default("dates", directory, seed)
        if dlai_dir is None:
            dlai_dir = f"{scratch}/dlai"
            train_default("dlai-dates", dlai_dir, args.train_seeds[0])
        for directory, task in [(d, "dates") for d in model_dirs] + [(dlai_dir, "dlai-dates")]:
            trained_on = load_checkpoint(directory)[3]["task"]
            if trained_on != task:
                raise SystemExit(f"{directory} was trained on the {trained_on!r} task, not {task!r}")
        compare(args, model_dirs, dlai_dir)
        separate(args, model_dirs)


def compare(args, model_dirs: list, dlai_dir: str) -> None:
    trained = set().union(*(training_sources(d) for d in model_dirs))
    sets = held_out_sets(args.per_category, args.seed, trained)
    sets["assignment (dlai-dates data)"] = assignment_set(args.per_category, args.seed,
                                                          trained | training_sources(dlai_dir))
    print(f"held-out strings: {args.per_category} per category, seed {args.seed}, none of them trained on")
    names = [f"model {i}" for i in range(len(model_dirs))]
    for name, directory in zip(names, model_dirs):
        print(f"  {name}: {directory}")
    print(f"{'category':>33} " + " ".join(f"{n:>8}" for n in names) + f" {'dateutil':>9} {'dateparser':>11}   example")
    columns = len(model_dirs) + 2
    totals = np.zeros(columns)
    for category, pairs in sets.items():
        answers = [Answers(d, pairs).outputs for d in model_dirs]
        answers += [[dateutil_answer(text) for text, _ in pairs], [dateparser_answer(text) for text, _ in pairs]]
        scores = [exact(column, pairs) for column in answers]
        totals += scores
        print(f"{category:>33} " + " ".join(f"{s:>8.2%}" for s in scores[:-2])
              + f" {scores[-2]:>9.2%} {scores[-1]:>11.2%}   {pairs[0][0]!r}")
    means = totals / len(sets)
    print(f"{'mean over categories':>33} " + " ".join(f"{m:>8.2%}" for m in means[:-2])
          + f" {means[-2]:>9.2%} {means[-1]:>11.2%}")
    everything = pooled(sets)
    overall = [exact(Answers(d, everything).outputs, everything) for d in model_dirs]
    overall += [exact([dateutil_answer(t) for t, _ in everything], everything),
                exact([dateparser_answer(t) for t, _ in everything], everything)]
    print(f"{f'all {len(everything)} different strings':>33} " + " ".join(f"{o:>8.2%}" for o in overall[:-2])
          + f" {overall[-2]:>9.2%} {overall[-1]:>11.2%}")
    assignment = sets["assignment (dlai-dates data)"]
    print(f"{'dlai-dates model, assignment':>33} {exact(Answers(dlai_dir, assignment).outputs, assignment):>8.2%}")


def counts(flagged: np.ndarray, right: np.ndarray) -> str:
    wrong = ~right
    return (f"{flagged[wrong].sum()}/{wrong.sum()} wrong flagged ({flagged[wrong].mean() if wrong.any() else 0:.1%}), "
            f"{flagged[right].sum()}/{right.sum()} right flagged ({flagged[right].mean():.2%})")


def separate(args, model_dirs: list) -> None:
    trained = set().union(*(training_sources(d) for d in model_dirs))
    validation = pooled(held_out_sets(args.confidence_per_category, args.validation_seed, trained))
    chosen_on = {text for text, _ in validation}
    report = [pair for pair in pooled(held_out_sets(args.confidence_per_category, args.seed, trained))
              if pair[0] not in chosen_on]
    on_validation = [Answers(d, validation) for d in model_dirs]
    on_report = [Answers(d, report) for d in model_dirs]
    right = np.concatenate([a.right for a in on_validation])
    print(f"\nconfidence: validation strings (seed {args.validation_seed}): {len(validation)} different, "
          f"report strings (seed {args.seed}): {len(report)} different, none in both, none trained on; "
          f"{len(model_dirs)} models pooled: {right.size} validation answers of which {(~right).sum()} wrong")
    thresholds = {}
    print(f"{'measure':>20}  threshold flagging ≤ {RIGHT_FLAGGED_AT_VALIDATION:.1%} of right (validation)")
    for name, measure in CANDIDATES.items():
        scores = np.concatenate([measure(a.top) for a in on_validation])
        valid = np.concatenate([a.valid for a in on_validation])
        right_scores = np.sort(scores[right & valid])
        thresholds[name] = right_scores[int(RIGHT_FLAGGED_AT_VALIDATION * right.sum())]
        flagged = ~valid | (scores < thresholds[name])
        print(f"{name:>20}  {thresholds[name]:.4g}: {counts(flagged, right)}")
    print(f"on the report strings, every candidate at its validation threshold, pooled:")
    report_right = np.concatenate([a.right for a in on_report])
    for name, measure in CANDIDATES.items():
        flagged = np.concatenate([a.flagged(measure(a.top), thresholds[name]) for a in on_report])
        print(f"{name:>20}  {thresholds[name]:.4g}: {counts(flagged, report_right)}")
    print(f"the library's measure ({CONFIDENCE_MEASURE}) at --min-confidence {args.min_confidence}, "
          f"validation strings:")
    for index, answers in enumerate(on_validation):
        print(f"  model {index}: {counts(answers.flagged(answers.confidence, args.min_confidence), answers.right)}")
    print("and report strings:")
    for index, answers in enumerate(on_report):
        print(f"  model {index}: {counts(answers.flagged(answers.confidence, args.min_confidence), answers.right)}")
    flagged = np.concatenate([a.flagged(a.confidence, args.min_confidence) for a in on_report])
    print(f"  pooled: {counts(flagged, report_right)}")
    for index, answers in enumerate(on_report):
        for row in np.flatnonzero(~answers.right & ~answers.flagged(answers.confidence, args.min_confidence)):
            print(f"  missed by model {index}: {report[row][0]!r} → {answers.outputs[row]} "
                  f"(not {report[row][1]}), confidence {answers.confidence[row]:.3f}")


if __name__ == "__main__":
    main()
