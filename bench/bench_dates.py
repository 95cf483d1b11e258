"""The date translator against what a user would pick instead: dateutil and dateparser.

    pip install -e ".[bench]"
    python bench/bench_dates.py [--model DIR] [--dlai-model DIR] [--per-category 500] [--seed 7]

Builds a held-out set per spelling category from the broad task's own generator
(attention/data/spellings.py: every drawn string carries the tags of its spelling; a category
keeps the first --per-category strings with its tag that the model was not trained on), one
set whose strings are roughened with capitals, commas, extra spaces and a trailing full stop
(what the cleaning step removes), and one drawn exactly as the assignment drew its data. It
prints the exact match of the model, `dateutil.parser.parse` and `dateparser.parse` (each
called with its defaults on the string as written) side by side, per category; then how well
the model's confidence separates its right answers from its wrong ones.

Without --model it trains the default `TrainConfig()` first (and without --dlai-model, the
`dlai-dates` task with the same settings); --seed picks the held-out strings, --train-seed the
training run.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
import warnings
from datetime import date

import numpy as np

from attention.data import DlaiDateTask
from attention.data.spellings import draw_spelling
from attention.decode import DEFAULT_MIN_CONFIDENCE, flag_rates, task_class, translate
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
    """{category: [(human, iso), ...]} of strings the model never saw in training."""
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
    config = TrainConfig(**load_checkpoint(model_dir)[3]["train"])
    task, (X, _), (X_held, _), _ = build(config)
    return {task.human_vocab.decode(row) for row in np.concatenate([X, X_held])}


def model_answers(model_dir: str, pairs):
    model, human, machine, metadata = load_checkpoint(model_dir)
    task = task_class(metadata)
    texts = [text for text, _ in pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = np.stack([human.encode_padded(task.clean(text), model.config.Tx)[0] for text in texts])
    translations, _ = translate(model, machine, task, texts, X)
    return translations


def dateutil_answer(text: str) -> str | None:
    from dateutil import parser
    try:
        return parser.parse(text).date().isoformat()
    except (ValueError, OverflowError):
        return None


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a `train` directory of the dates task (default: train one)")
    parser.add_argument("--dlai-model", help="a `train` directory of the dlai-dates task (default: train one)")
    parser.add_argument("--per-category", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7, help="seed of the held-out strings")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model_dir, dlai_dir = args.model, args.dlai_model
        if model_dir is None:
            model_dir = f"{scratch}/dates"
            train_default("dates", model_dir, args.train_seed)
        if dlai_dir is None:
            dlai_dir = f"{scratch}/dlai"
            train_default("dlai-dates", dlai_dir, args.train_seed)
        for directory, task in ((model_dir, "dates"), (dlai_dir, "dlai-dates")):
            trained_on = load_checkpoint(directory)[3]["task"]
            if trained_on != task:
                raise SystemExit(f"{directory} was trained on the {trained_on!r} task, not {task!r}")
        report(args, model_dir, dlai_dir)


def report(args, model_dir: str, dlai_dir: str) -> None:
    trained, dlai_trained = training_sources(model_dir), training_sources(dlai_dir)
    sets = held_out_sets(args.per_category, args.seed, trained)
    assignment = assignment_set(args.per_category, args.seed, trained | dlai_trained)
    sets["assignment (dlai-dates data)"] = assignment
    print(f"held-out strings: {args.per_category} per category, seed {args.seed}, none of them trained on")
    print(f"{'category':>33} {'model':>8} {'dateutil':>9} {'dateparser':>11}   example")
    # text → (model right, dateutil right, dateparser right, model unsure, model's output valid) and
    # text → the model's confidence: a string of two categories counts once
    pooled, confidence, totals = {}, {}, np.zeros(3)
    for category, pairs in sets.items():
        translations = model_answers(model_dir, pairs)
        answers = [[t.output for t in translations], [dateutil_answer(text) for text, _ in pairs],
                   [dateparser_answer(text) for text, _ in pairs]]
        scores = [exact(column, pairs) for column in answers]
        totals += scores
        for row, (text, iso) in enumerate(pairs):
            pooled[text] = tuple(column[row] == iso for column in answers) + (
                translations[row].unsure(args.min_confidence), translations[row].valid)
            confidence[text] = translations[row].confidence
        print(f"{category:>33} {scores[0]:>8.2%} {scores[1]:>9.2%} {scores[2]:>11.2%}   {pairs[0][0]!r}")
    means, table = totals / len(sets), np.array(list(pooled.values()))
    overall = table[:, :3].mean(axis=0)
    print(f"{'mean over categories':>33} {means[0]:>8.2%} {means[1]:>9.2%} {means[2]:>11.2%}")
    print(f"{f'all {len(pooled)} different strings':>33} {overall[0]:>8.2%} {overall[1]:>9.2%} {overall[2]:>11.2%}")
    dlai = exact([t.output for t in model_answers(dlai_dir, assignment)], assignment)
    print(f"{'dlai-dates model, assignment':>33} {dlai:>8.2%}")
    rates = flag_rates(table[:, 0], table[:, 3])
    print(f"unsure (confidence < {args.min_confidence} or not a valid date), over the {len(pooled)} "
          f"different strings: "
          f"{rates['wrong_flagged']:.1%} of the {rates['wrong']} wrong answers flagged, "
          f"{rates['right_flagged']:.2%} of the {rates['right']} right ones")
    right, confidences, valid = table[:, 0], np.array(list(confidence.values())), table[:, 4]
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        other = flag_rates(right, (confidences < threshold) | ~valid)
        print(f"  at {threshold:.2f}: {other['wrong_flagged']:.1%} of the wrong flagged, "
              f"{other['right_flagged']:.2%} of the right")


if __name__ == "__main__":
    main()
