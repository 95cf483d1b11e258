"""python -m attention {train, translate, evaluate, graph, export}: the date translator from the command line.

`train`, `translate`, `evaluate` and `export` run the composed model's fast twin (attention/fast.py:
the same parameters, fewer nodes); `graph` and `explore` draw the composed model, each α<t,t'>,
e<t,t'>, c<t> and gate a node, and `train --composed` and `export --composed` use it too.
Every option is checked before any work (attention/cli_checks.py). User mistakes (a missing
or damaged model, an empty input, a file that is not UTF-8, an image format nothing can write)
print one plain line and exit with status 2; a run that fails (training that diverges) exits
with 1; Ctrl-C exits with 130. None of them prints a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import graphviz
import numpy as np

import minigrad as mg
from attention.additive import SCORES
from attention.cells import CELLS
from attention.cli_checks import (UsageError, check_output_file, check_texts, heatmap_formats, option_error,
                                  read_text_lines)
from attention.data import TASKS
from attention.data.spellings import clean as clean_date
from attention.decode import DEFAULT_MIN_CONFIDENCE, check_min_confidence, flag_rates, translate, task_class
from attention.fast import fast
from attention.plot import draw_decoder_step
from attention.train import CheckpointError, TrainConfig, evaluate, load_checkpoint, train
from minigrad.threads import blas_threads
from minigrad.viz.draw import LAYOUTS

DEMO_DATES = ["3 may 1979", "5 april 09", "21th of august 2016", "tue 10 jul 2007",
              "saturday may 9 2018", "march 3 2001", "march 3rd 2001", "1 march 2001"]


DESCRIPTION = """\
The date translator of minigrad's course: an encoder-decoder with attention, built on minigrad,
that turns human dates ("3 may 1979") into ISO dates ("1979-05-03"), and draws what it computes.

  python -m attention train --out runs/dates         train (under a minute), then translate a few
                                                      dates, write the attention heatmap and the
                                                      graph of decoder step 1 into runs/dates/
  python -m attention translate --model runs/dates "3 may 1979"

Each command has its own --help (python -m attention train --help)."""


def encode_inputs(texts, vocab, tx: int, clean=clean_date) -> np.ndarray:
    """Token indices (n, Tx) for `texts` after `clean`, warning about truncation and unknown characters."""
    check_texts(texts, clean)
    rows = []
    for text in texts:
        cleaned = clean(text)
        indices, truncated, unknown = vocab.encode_padded(cleaned, tx)
        if truncated:
            warnings.warn(f"{text!r} is longer than {tx} characters; only the first {tx} are read")
        if unknown:
            warnings.warn(f"{text!r} has characters the model never saw ({''.join(sorted(set(unknown)))!r}); "
                          "they are read as <unk>")
        rows.append(indices)
    return np.stack(rows)


def translate_texts(model, human, machine, texts, task):
    """(Translation per text, α) with the cleaning of the checkpoint's task class, on the fast twin."""
    return translate(fast(model), machine, task, texts, encode_inputs(texts, human, model.config.Tx, task.clean))


def command_train(args) -> int:
    try:
        config = TrainConfig(task=args.task, cell=args.cell, score=args.score, epochs=args.epochs,
                             seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                             train_size=args.train_size, target_exact=args.target_exact,
                             composed=args.composed, last_date=args.last_date, processes=args.processes)
    except ValueError as error:  # the config checks its own settings
        raise option_error(error) from None
    processes = config.process_count()
    print(f"training {config.cell} encoder–decoder with {config.score} attention on {config.task}: "
          f"{config.train_size} pairs, {config.epochs} epochs, seed {config.seed}, "
          f"{processes} process{'es' if processes > 1 else ''} → {args.out}")
    history = train(config, args.out, progress=not args.no_progress)
    if history["interrupted"]:
        return 130
    if history["failed"]:  # a worker process failed: train said so, and where the checkpoint is
        return 1
    if not history["saved"]:  # it diverged, or never beat the model already there: train said why
        return 1
    if config.task in ("dates", "dlai-dates") and not args.quiet:
        model, human, machine, metadata = load_checkpoint(args.out)
        translations, alphas = translate_texts(model, human, machine, DEMO_DATES, task_class(metadata))
        for translation in translations:
            print(f"  {translation.text:>22} → {translation.describe(DEFAULT_MIN_CONFIDENCE)}")
        _write_pictures(model, human, machine, DEMO_DATES[0], translations[0].output, alphas[0], args.out)
    return 0


def _write_pictures(model, human, machine, text, output, alpha, out_dir) -> None:
    """The demo's closing lines: where its two pictures are (or why one is missing)."""
    from attention.plot import attention_heatmap
    try:
        path = attention_heatmap(alpha, list(text), list(output), os.path.join(out_dir, "attention.png"),
                                 title=f"α for {text!r} → {output}")
        print(f"attention heatmap of {text!r}: {path}")
    except RuntimeError as error:
        print(f"(no heatmap: {error})")
    try:
        path = draw_decoder_step(model, encode_inputs([text], human, model.config.Tx), 1,
                                 os.path.join(out_dir, "decoder_step_1.svg"))
        print(f"computation graph of decoder step 1: {path}")
    except mg.viz.GraphvizNotInstalledError as error:
        print(f"(no graph: {error})")


def command_translate(args) -> int:
    min_confidence = _min_confidence(args)
    if args.heatmap:
        check_output_file(args.heatmap, "--heatmap", heatmap_formats())
    model, human, machine, metadata = load_checkpoint(args.model)
    task = task_class(metadata)
    translations, alphas = translate_texts(model, human, machine, args.texts, task)
    for translation in translations:
        print(translation.describe(min_confidence))
    if args.heatmap:
        from attention.plot import attention_heatmap
        text, output = task.clean(args.texts[0])[:model.config.Tx], translations[0].output
        attention_heatmap(alphas[0], list(text), list(output), args.heatmap,
                          title=f"α for {args.texts[0]!r} → {output}")
        print(f"heatmap: {args.heatmap}", file=sys.stderr)
    return 0


def read_pairs(lines, ty: int, machine, clean=clean_date):
    """(humans, targets, problems) from tab-separated lines; malformed lines become problems."""
    humans, targets, problems = [], [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            problems.append(f"line {number}: expected 'human<TAB>iso', found {len(fields)} field(s)")
        elif not clean(fields[0]).strip():
            problems.append(f"line {number}: empty human text")
        elif len(fields[1]) != ty or any(c not in machine.index for c in fields[1]):
            problems.append(f"line {number}: target {fields[1]!r} is not {ty} characters of "
                            f"{''.join(machine.tokens)!r}")
        else:
            humans.append(fields[0])
            targets.append(fields[1])
    return humans, targets, problems


def _min_confidence(args) -> float:
    try:
        return check_min_confidence(args.min_confidence)
    except ValueError as error:
        raise UsageError(str(error)) from None


def command_evaluate(args) -> int:
    min_confidence = _min_confidence(args)
    lines = read_text_lines(args.file, "--file")
    model, human, machine, metadata = load_checkpoint(args.model)
    task = task_class(metadata)
    humans, targets, problems = read_pairs(lines, model.config.Ty, machine, task.clean)
    if not humans:
        found = f" ({len(problems)} malformed lines; {problems[0]})" if problems else " (it is empty)"
        raise UsageError(f"--file {args.file} has no well-formed pairs to evaluate{found}; give one "
                         f"'human<TAB>iso' pair a line, such as '3 may 1979<TAB>1979-05-03'")
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation and <unk> are part of what is measured here
        X = encode_inputs(humans, human, model.config.Tx, task.clean)
    Y = np.stack([np.array([machine.index[c] for c in target]) for target in targets])
    model = fast(model)
    metrics = evaluate(model, X, Y)
    print(f"{len(humans)} pairs ({len(problems)} malformed lines skipped)")
    print(f"exact match   {metrics['exact_match']:.2%}")
    print(f"per position  {metrics['per_position']:.2%}")
    print(f"sharpness     {metrics['sharpness']:.3f}")
    translations, _ = translate(model, machine, task, humans, X)
    unsure = np.array([t.unsure(min_confidence) for t in translations])
    rates = flag_rates(np.array([t.output == y for t, y in zip(translations, targets)]), unsure)
    invalid = sum(not t.valid for t in translations)
    print(f"unsure        {unsure.mean():.2%} (confidence below {min_confidence}, or not a valid output: "
          f"{invalid} pairs)")
    print(f"flagged       {rates['wrong_flagged']:.2%} of the {rates['wrong']} wrong answers, "
          f"{rates['right_flagged']:.2%} of the {rates['right']} right ones")
    return 0


def command_graph(args) -> int:
    check_texts([args.text])
    check_output_file(args.out, "--out", graphviz.FORMATS, default="svg")
    if args.step < 1:
        raise UsageError(f"--step must be at least 1 (the first decoder step), got {args.step}")
    model, human, _, metadata = load_checkpoint(args.model)
    if args.step > model.config.Ty:
        raise UsageError(f"--step must be between 1 and Ty = {model.config.Ty}")
    tokens = encode_inputs([args.text], human, model.config.Tx, task_class(metadata).clean)
    print(draw_decoder_step(model, tokens, args.step, args.out, layout=args.layout))
    return 0


class Parser(argparse.ArgumentParser):
    """argparse, reporting a mistyped command line in one line (and exit status 2) like every other mistake."""

    def error(self, message):
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def command_export(args) -> int:
    """The translator as one ONNX model, x (batch, Tx) token indices → logits (batch, Ty, V) and
    alpha (batch, Ty, Tx), and its vocabularies beside it as JSON (OUT without .onnx + .vocab.json)."""
    from minigrad.onnx import export
    check_output_file(args.out, "--out", ("onnx",))
    model, human, machine, metadata = load_checkpoint(args.model)
    clean = task_class(metadata).clean
    if not args.composed:
        model = fast(model)
    started = time.perf_counter()
    try:
        exported = export(model, encode_inputs(DEMO_DATES[:2], human, model.config.Tx, clean), args.out,
                          input_names=["x"], output_names=["logits", "alpha"])
    except ImportError as error:
        raise UsageError(str(error)) from None
    seconds = time.perf_counter() - started
    vocabularies = os.path.splitext(args.out)[0] + ".vocab.json"
    with open(vocabularies, "w", encoding="utf-8") as file:
        json.dump({"Tx": model.config.Tx, "Ty": model.config.Ty, "human": human.to_json(),
                   "machine": machine.to_json(),
                   "reading": f"{(clean.__doc__ or 'as typed').strip()} Then the first Tx characters, padded "
                              "with <pad>; a character not in human.tokens is <unk>"}, file, indent=2)
    print(f"{args.out}: x (batch, {model.config.Tx}) → logits (batch, {model.config.Ty}, {len(machine)}), "
          f"alpha (batch, {model.config.Ty}, {model.config.Tx}); {len(exported.graph.node)} nodes, "
          f"exported and checked against ONNX Runtime in {seconds:.1f}s")
    print(f"vocabularies: {vocabularies}")
    return 0


def command_explore(args) -> int:
    """The explorer page of decoder step --step (0: every decoder step) for one text, its loss
    taken against the model's own prediction. The encoder is laid out collapsed: its ~2,000
    nodes take Graphviz minutes."""
    check_texts([args.text])
    check_output_file(args.out, "--out", ("html",), default="html")
    model, human, _, metadata = load_checkpoint(args.model)
    ty = model.config.Ty
    if not 0 <= args.step <= ty:
        raise UsageError(f"--step must be between 1 and Ty = {ty}, or 0 for every decoder step")
    logits, _ = model(encode_inputs([args.text], human, model.config.Tx, task_class(metadata).clean))
    loss = mg.cross_entropy(logits, logits.data.argmax(axis=-1)).named("loss")
    steps = [args.step] if args.step else range(1, ty + 1)
    others = tuple(f"decoder t={t}" for t in range(1, ty + 1) if t not in steps)
    highlight = [name for t in steps[:1] for name in (f"alpha<{t},·>", f"c<{t}>")]
    explorer = mg.explore(loss, highlight=highlight, collapse=("encoder",) + others, path=args.out,
                          title=f"backward of the loss for {args.text!r}" +
                                (f", decoder step {args.step}" if args.step else ""))
    print(f"{args.out}: {explorer.tensors} tensors, {explorer.steps} backward steps, "
          f"{os.path.getsize(args.out) / 1e6:.1f} MB")
    return 0


def parser() -> argparse.ArgumentParser:
    root = Parser(prog="python -m attention", description=DESCRIPTION,
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train a model and write DIR/model.npz (weights and config, one file)")
    p.add_argument("--task", default=TrainConfig.task, choices=list(TASKS),
                   help="dates: the broad task (default); dlai-dates: the assignment's, exactly")
    p.add_argument("--cell", default=TrainConfig.cell, choices=list(CELLS))
    p.add_argument("--score", default=TrainConfig.score, choices=list(SCORES),
                   help="attention scorer; dlai is the assignment's Dense(10,tanh)→Dense(1,relu)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--train-size", type=int, default=TrainConfig.train_size)
    p.add_argument("--target-exact", type=float, default=None,
                   help="stop once held-out exact match reaches this fraction (e.g. 0.99)")
    p.add_argument("--last-date", metavar="YYYY-MM-DD",
                   help="the latest date the dlai-dates task draws (default: today, as the assignment); "
                        "fix it to repeat a run exactly on another day")
    p.add_argument("--composed", action="store_true",
                   help="train the teaching model, every gate, e, α and c a node of the graph (slower); by "
                        "default the fast twin trains the same parameters with fewer nodes (attention/fast.py)")
    p.add_argument("--processes", type=int, metavar="N",
                   help="split each step over N processes (default: 2 on a machine with two or more cores, "
                        "else 1): the batch's rows, or with --composed and 2 the encoder's two directions "
                        "and the decoder's rows; 1 is faster on a machine busy with other work")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--quiet", action="store_true", help="skip the demo translations and pictures")
    p.add_argument("--out", default="runs/dates")
    p.set_defaults(run=command_train)

    p = commands.add_parser("translate", help="translate human dates to ISO")
    p.add_argument("--model", required=True)
    p.add_argument("texts", nargs="+")
    p.add_argument("--heatmap", help="write the α heatmap of the first text to this image")
    p.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                   help="below this confidence (0..1) print 'unsure' instead of the guess")
    p.set_defaults(run=command_translate)

    p = commands.add_parser("evaluate", help="accuracy on a file of human<TAB>iso lines")
    p.add_argument("--model", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                   help="answers below this confidence (0..1) count as 'unsure'")
    p.set_defaults(run=command_evaluate)

    p = commands.add_parser("graph", help="draw decoder step t's computation graph")
    p.add_argument("--model", required=True)
    p.add_argument("--step", type=int, default=1)
    p.add_argument("--out", default="decoder_step.svg",
                   help="svg, png, jpeg, …: the extension picks the format (pdf needs Graphviz's `dot`)")
    p.add_argument("--layout", default="auto", choices=LAYOUTS,
                   help="TB: top to bottom, LR: left to right; auto (default) picks TB for a graph "
                        "longer than wide")
    p.add_argument("text")
    p.set_defaults(run=command_graph)

    p = commands.add_parser("export", help="write the model as ONNX (pip install 'minigrad[onnx]')")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True, help="the .onnx file; the vocabularies go beside it")
    p.add_argument("--composed", action="store_true",
                   help="export the composed model, every gate its own node (default: the fast twin)")
    p.set_defaults(run=command_export)

    p = commands.add_parser("explore", help="write decoder step t's backward as a page to click through")
    p.add_argument("--model", required=True)
    p.add_argument("--step", type=int, default=1, help="decoder step to open (0: all of them)")
    p.add_argument("--out", default="explore.html")
    p.add_argument("text")
    p.set_defaults(run=command_explore)
    return root


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    warnings.formatwarning = lambda message, *rest, **kw: f"warning: {message}\n"
    try:
        with blas_threads():  # every command multiplies the date model's small matrices (minigrad/threads.py)
            return args.run(args)
    except (UsageError, CheckpointError, mg.viz.GraphvizNotInstalledError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except graphviz.CalledProcessError as error:  # dot refused a format this build of it lacks
        print(f"error: Graphviz could not write {args.out}: {_first_line(error.stderr)}", file=sys.stderr)
        return 1
    except OSError as error:  # a disk that filled up, a file that vanished while it was written
        print(f"error: {error.filename or 'a file'} could not be written or read: {error.strerror or error}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _first_line(text) -> str:
    """The first line of a tool's stderr, which may be bytes, text or nothing."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else "it gave no reason"


if __name__ == "__main__":
    sys.exit(main())
