"""python -m attention {train, translate, evaluate, graph}: the date translator from the command line.

Every command uses the composed model (each α<t,t'>, e<t,t'>, c<t> a node of the graph), except
`train --fused`, which trains on the fast path (attention/fused_lstm.py); checkpoints of either
load as the composed model.
User mistakes (a missing model, an empty or unknown input, a malformed file) print a plain
message and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

import numpy as np

import minigrad as mg
from attention.train import CheckpointError, TrainConfig, evaluate, load_checkpoint, train

DEMO_DATES = ["3 may 1979", "5 april 09", "21th of august 2016", "tue 10 jul 2007",
              "saturday may 9 2018", "march 3 2001", "march 3rd 2001", "1 march 2001"]


class UsageError(Exception):
    """A mistake in what the user typed or pointed at: reported in one line, no traceback."""


def encode_inputs(texts, vocab, tx: int) -> np.ndarray:
    """Token indices (n, Tx) for `texts`, warning about truncation and unknown characters."""
    rows = []
    for text in texts:
        if not text.strip():
            raise UsageError("cannot translate an empty string")
        cleaned = text.lower().replace(",", "")
        indices, truncated, unknown = vocab.encode_padded(cleaned, tx)
        if truncated:
            warnings.warn(f"{text!r} is longer than {tx} characters; only the first {tx} are read")
        if unknown:
            warnings.warn(f"{text!r} has characters the model never saw ({''.join(sorted(set(unknown)))!r}); "
                          "they are read as <unk>")
        rows.append(indices)
    return np.stack(rows)


def translate_texts(model, human, machine, texts):
    X = encode_inputs(texts, human, model.config.Tx)
    predicted, alphas = model.predict(X)
    return [machine.decode(row) for row in predicted], alphas


def command_train(args) -> int:
    try:
        config = TrainConfig(task=args.task, cell=args.cell, score=args.score, epochs=args.epochs,
                             seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                             train_size=args.train_size, target_exact=args.target_exact,
                             fused_cells=args.fused, last_date=args.last_date)
    except ValueError as error:  # the config checks its own settings
        raise UsageError(str(error)) from None
    print(f"training {config.cell} encoder–decoder with {config.score} attention on {config.task}: "
          f"{config.train_size} pairs, {config.epochs} epochs, seed {config.seed} → {args.out}")
    history = train(config, args.out, progress=not args.no_progress)
    if history["interrupted"] or not history["epochs"]:
        return 130
    if config.task == "dates" and not args.quiet:
        model, human, machine, _ = load_checkpoint(args.out)
        outputs, alphas = translate_texts(model, human, machine, DEMO_DATES)
        for text, output in zip(DEMO_DATES, outputs):
            print(f"  {text:>22} → {output}")
        _write_pictures(model, human, machine, DEMO_DATES[0], outputs[0], alphas[0], args.out)
    return 0


def _write_pictures(model, human, machine, text, output, alpha, out_dir) -> None:
    from attention.plot import attention_heatmap
    try:
        path = attention_heatmap(alpha, list(text), list(output), os.path.join(out_dir, "attention.png"),
                                 title=f"α for {text!r} → {output}")
        print(f"heatmap: {path}")
    except RuntimeError as error:
        print(f"(no heatmap: {error})")
    try:
        path = draw_decoder_step(model, human, text, 1, os.path.join(out_dir, "decoder_step_1.svg"))
        print(f"graph of decoder step 1: {path}")
    except mg.viz.GraphvizNotInstalledError as error:
        print(f"(no graph: {error})")


def command_translate(args) -> int:
    model, human, machine, _ = load_checkpoint(args.model)
    outputs, alphas = translate_texts(model, human, machine, args.texts)
    for output in outputs:
        print(output)
    if args.heatmap:
        from attention.plot import attention_heatmap
        text = args.texts[0].lower().replace(",", "")[:model.config.Tx]
        attention_heatmap(alphas[0], list(text), list(outputs[0]), args.heatmap,
                          title=f"α for {args.texts[0]!r} → {outputs[0]}")
        print(f"heatmap: {args.heatmap}", file=sys.stderr)
    return 0


def read_pairs(path: str, ty: int, machine):
    """(humans, targets, problems) from a tab-separated file; malformed lines become problems."""
    if not os.path.exists(path):
        raise UsageError(f"no file at {path}")
    humans, targets, problems = [], [], []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                problems.append(f"line {number}: expected 'human<TAB>iso', found {len(fields)} field(s)")
            elif not fields[0].strip():
                problems.append(f"line {number}: empty human text")
            elif len(fields[1]) != ty or any(c not in machine.index for c in fields[1]):
                problems.append(f"line {number}: target {fields[1]!r} is not {ty} characters of "
                                f"{''.join(machine.tokens)!r}")
            else:
                humans.append(fields[0])
                targets.append(fields[1])
    return humans, targets, problems


def command_evaluate(args) -> int:
    model, human, machine, _ = load_checkpoint(args.model)
    humans, targets, problems = read_pairs(args.file, model.config.Ty, machine)
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
    if not humans:
        raise UsageError(f"{args.file} has no well-formed pairs to evaluate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation and <unk> are part of what is measured here
        X = encode_inputs(humans, human, model.config.Tx)
    Y = np.stack([np.array([machine.index[c] for c in target]) for target in targets])
    metrics = evaluate(model, X, Y)
    print(f"{len(humans)} pairs ({len(problems)} malformed lines skipped)")
    print(f"exact match   {metrics['exact_match']:.2%}")
    print(f"per position  {metrics['per_position']:.2%}")
    print(f"sharpness     {metrics['sharpness']:.3f}")
    return 0


def draw_decoder_step(model, human, text: str, step: int, out: str) -> str:
    """Render decoder step `step` for `text`: the other steps and the encoder collapsed, the
    paths to α<step,·> and c<step> highlighted, gradients (of the loss against the model's own
    prediction) filled in."""
    if not 1 <= step <= model.config.Ty:
        raise UsageError(f"--step must be between 1 and Ty = {model.config.Ty}")
    X = encode_inputs([text], human, model.config.Tx)
    logits, _ = model(X)
    loss = mg.cross_entropy(logits, logits.data.argmax(axis=-1)).named("loss")
    loss.backward()
    tensors = mg.topological_order(loss, all_inputs=True)
    highlight = [t for t in tensors if t.name in (f"alpha<{step},·>", f"c<{step}>")]
    others = tuple(f"decoder t={t}" for t in range(1, model.config.Ty + 1) if t != step)
    stem, extension = os.path.splitext(out)
    drawing = mg.draw(loss, highlight=highlight, collapse=("encoder",) + others)
    return drawing.render(stem, format=extension.lstrip(".") or "svg", cleanup=True)


def command_graph(args) -> int:
    model, human, _, _ = load_checkpoint(args.model)
    print(draw_decoder_step(model, human, args.text, args.step, args.out))
    return 0


def command_explore(args) -> int:
    """The explorer page of decoder step --step (0: every decoder step) for one text, its loss
    taken against the model's own prediction. The encoder is laid out collapsed: its ~2,000
    nodes take Graphviz minutes."""
    model, human, _, _ = load_checkpoint(args.model)
    ty = model.config.Ty
    if not 0 <= args.step <= ty:
        raise UsageError(f"--step must be between 1 and Ty = {ty}, or 0 for every decoder step")
    logits, _ = model(encode_inputs([args.text], human, model.config.Tx))
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
    root = argparse.ArgumentParser(prog="python -m attention", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train a model and write DIR/model.npz + DIR/config.json")
    p.add_argument("--task", default="dates", choices=["dates", "reverse", "sort"])
    p.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"])
    p.add_argument("--score", default="bahdanau", choices=["dlai", "bahdanau"],
                   help="attention scorer; dlai is the assignment's Dense(10,tanh)→Dense(1,relu)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--train-size", type=int, default=TrainConfig.train_size)
    p.add_argument("--target-exact", type=float, default=None,
                   help="stop once held-out exact match reaches this fraction (e.g. 0.99)")
    p.add_argument("--last-date", metavar="YYYY-MM-DD",
                   help="the latest date the dates task draws (default: today, as the assignment); "
                        "fix it to repeat a run exactly on another day")
    p.add_argument("--fused", action="store_true",
                   help="train on the fast path: one LSTMSequence node per encoder direction, one LSTMStep "
                        "per decoder step, the dlai score's a-half once per sequence (faster; gates not drawn)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--quiet", action="store_true", help="skip the demo translations and pictures")
    p.add_argument("--out", default="runs/dates")
    p.set_defaults(run=command_train)

    p = commands.add_parser("translate", help="translate human dates to ISO")
    p.add_argument("--model", required=True)
    p.add_argument("texts", nargs="+")
    p.add_argument("--heatmap", help="write the α heatmap of the first text to this image")
    p.set_defaults(run=command_translate)

    p = commands.add_parser("evaluate", help="accuracy on a file of human<TAB>iso lines")
    p.add_argument("--model", required=True)
    p.add_argument("--file", required=True)
    p.set_defaults(run=command_evaluate)

    p = commands.add_parser("graph", help="draw decoder step t's computation graph")
    p.add_argument("--model", required=True)
    p.add_argument("--step", type=int, default=1)
    p.add_argument("--out", default="decoder_step.svg")
    p.add_argument("text")
    p.set_defaults(run=command_graph)

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
        return args.run(args)
    except (UsageError, CheckpointError, mg.viz.GraphvizNotInstalledError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
