"""Issue 16's benchmark: what a user feels, a whole epoch of `train`, minigrad against PyTorch.

    python bench/bench_epoch.py           every section (about 22 minutes on a quiet 2-core machine)
    python bench/bench_epoch.py --quick   every section on small data, to check the harness
    python bench/bench_epoch.py --sections epoch --tasks dlai-dates --rounds 5
    python bench/bench_epoch.py --contender default= --contender composed=--composed   (the default)

Sections:
  epoch     per-epoch time END TO END (steps, held-out evaluation, checkpoint) of each minigrad
            contender, `python -m attention train FLAGS`, and of PyTorch's twins (bench/twin.py):
            torch-fused (nn.LSTM encoder, nn.LSTMCell decoder), which every ratio divides by, and
            torch-composed (the composed model's primitive ops, every gate a node: what PyTorch's
            own engine makes of the graph the composed target is about), each doing the same
            epoch in this file's --torch-worker: the same task pairs, batch, Adam, shuffling, held-out evaluation of
            the same 1,000 pairs and a checkpoint written atomically after every epoch. Each is
            run in a fresh process for 1 and for 3 epochs; (t3 − t1) / 2 is one epoch, with the
            process start, imports, data generation and first-call warm-up cancelled out. (train
            logs its epochs only to the second, and timing inside it would need a hook in the
            code measured; the difference needs nothing and treats PyTorch alike.) Rounds are
            interleaved, every contender once per round, so a burst of load elsewhere hits all
            alike; the figure is the median over rounds, the ratios are of medians.
  converge  wall time of the first contender's `train --target-exact 0.99` on the default task
  memory    peak RSS and RSS after steps 1, 100 and 1,000 (bench/bench_train.py --run)
  scaling   per-epoch time (steps and held-out evaluation, on random pairs: the model's cost does
            not depend on the data) as Tx goes 10 → 30 → 100 and the batch 32 → 100 → 500,
            minigrad on its training threads (minigrad/threads.py) and processes (attention/parallel.py)
            as `train` runs it
Contenders are `NAME=FLAGS` (the flags of `python -m attention train`); the defaults are the
default `train` and `train --composed`, whose targets are ≤ 0.8 and ≤ 1.3 of PyTorch's epoch.
`--checkout NAME=PATH` runs a contender from another checkout (`git worktree add PATH COMMIT`),
to time a change against the code before it in the same rounds.
The machine may be shared: the load average is printed at both ends, and a figure is only worth
quoting from a run whose load stayed low. The last lines are a table to paste into a note.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
TASKS = ("dlai-dates", "dates")
DEFAULT_CONTENDERS = ("default=", "composed=--composed")
TARGETS = {"default": 0.8, "composed": 1.3}  # a contender's epoch ÷ PyTorch-fused's, at most
TORCH = "torch-fused"  # what every ratio divides by
TORCH_TWINS = {TORCH: True, "torch-composed": False}  # PyTorch's contenders: name → fused (bench/twin.py)
TORCH_ENV = {}  # extra environment of PyTorch's workers (--torch-threads)
CHECKOUTS = {}  # contender name → the root of the minigrad checkout it runs from (--checkout)
HELD_OUT = 1_000  # TrainConfig's held-out size: train has no flag for it
TX_STEPS, BATCH_STEPS = (10, 30, 100), (32, 100, 500)


class BenchError(Exception):
    """A contender that cannot run: a bad --contender, or a train command that failed."""


def parse_contender(spec: str) -> tuple[str, list[str]]:
    """'composed=--composed' → ('composed', ['--composed']); 'default=' → ('default', [])."""
    name, equals, flags = spec.partition("=")
    if not equals or not name.strip() or name.strip() in TORCH_TWINS:
        raise BenchError(f"--contender {spec!r}: give NAME=FLAGS (flags of `python -m attention train`, "
                         f"possibly none, as in 'default=' or 'composed=--composed'); "
                         f"{' and '.join(map(repr, TORCH_TWINS))} are taken")
    return name.strip(), shlex.split(flags)


def parse_checkout(spec: str, contenders: dict) -> tuple[str, str]:
    """'composed-before=/tmp/before' → ('composed-before', '/tmp/before'), a contender's name and a
    directory that holds minigrad and attention."""
    name, equals, path = spec.partition("=")
    if not equals or name not in contenders:
        raise BenchError(f"--checkout {spec!r}: give NAME=PATH, NAME one of the contenders "
                         f"({', '.join(map(repr, contenders))})")
    root = os.path.abspath(os.path.expanduser(path))
    missing = [package for package in ("minigrad", "attention")
               if not os.path.isfile(os.path.join(root, package, "__init__.py"))]
    if missing:
        raise BenchError(f"--checkout {spec!r}: {root} holds no {' and no '.join(missing)} package; "
                         "give the root of a checkout (git worktree add DIR COMMIT makes one)")
    return name, root


def run(command: list[str], what: str, torch: bool = False, root: str = ROOT) -> tuple[float, str]:
    """(wall seconds, stdout) of `command` in a fresh process importing minigrad from `root`;
    BenchError with its stderr if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=root,
                          env=dict(os.environ, PYTHONPATH=root, **(TORCH_ENV if torch else {})))
    seconds = time.perf_counter() - start
    if done.returncode:
        raise BenchError(f"{what} failed (exit {done.returncode}): {' '.join(map(shlex.quote, command[1:]))}\n"
                         f"{done.stderr.strip()[-2000:]}")
    return seconds, done.stdout


def train_command(flags: list[str], out: str, epochs: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "attention", "train", "--quiet", "--no-progress", "--out", out,
            "--epochs", str(epochs), *extra, *flags]


def torch_command(name: str, out: str, epochs: int, task: str, train_size: int, score: str) -> list[str]:
    return [sys.executable, os.path.join(BENCH, "bench_epoch.py"), "--torch-worker", name, "--out", out,
            "--epochs", str(epochs), "--tasks", task, "--train-size", str(train_size), "--score", score]


def timed_epochs(name: str, flags: list[str], task: str, epochs: int, train_size: int, score: str) -> float:
    """Wall seconds of a fresh process training `epochs` epochs into a fresh directory."""
    with tempfile.TemporaryDirectory() as out:
        if name in TORCH_TWINS:
            return run(torch_command(name, out, epochs, task, train_size, score), name, torch=True)[0]
        command = train_command(flags, out, epochs, "--task", task, "--train-size", str(train_size),
                                "--score", score)
        return run(command, f"contender {name}", root=CHECKOUTS.get(name, ROOT))[0]


def epoch_section(contenders: dict, tasks, rounds: int, train_size: int, score: str) -> dict:
    """{task: {contender: [seconds per epoch, one per round]}}, 1 and 3 epochs interleaved."""
    names = list(contenders) + (list(TORCH_TWINS) if torch_available() else [])
    epochs = {task: {name: [] for name in names} for task in tasks}
    for round_ in range(rounds):
        for task in tasks:
            for name in names:
                flags = contenders.get(name, [])
                one = timed_epochs(name, flags, task, 1, train_size, score)
                three = timed_epochs(name, flags, task, 3, train_size, score)
                epochs[task][name].append((three - one) / 2)
        print(f"  round {round_ + 1}/{rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"\nper epoch, end to end ({train_size} pairs, batch 100, score {score}, held-out {HELD_OUT}, "
          f"checkpoint): (3-epoch run − 1-epoch run) / 2, median of {rounds} interleaved rounds")
    print(f"{'task':11} {'contender':14} {'s/epoch':>8} {'(min–max)':>14} {'÷ torch':>8} {'target':>7}")
    for task in tasks:
        for name in names:
            runs = epochs[task][name]
            ratio = ratio_to_torch(epochs[task], name)
            target = TARGETS.get(name)
            verdict = "" if ratio is None or target is None else f"≤{target} {'met' if ratio <= target else 'NOT MET'}"
            if statistics.median(runs) <= 0:
                verdict = "noise: more load than epoch; rerun quieter"
            print(f"{task:11} {name:14} {statistics.median(runs):>8.2f} "
                  f"{f'({min(runs):.2f}–{max(runs):.2f})':>14} "
                  f"{'' if ratio is None else f'{ratio:.2f}':>8} {verdict:>7}")
    if TORCH in names:  # each round's contenders ran minutes apart: their ratio misses the slower drift of the machine
        print(f"each round's epoch ÷ that round's {TORCH} epoch (the target's ratio above is of the medians):")
        for task in tasks:
            for name in names:
                if name != TORCH:
                    by_round = [f"{mine / theirs:.2f}" if mine > 0 and theirs > 0 else "–"  # –: load outlasted an epoch
                                for mine, theirs in zip(epochs[task][name], epochs[task][TORCH])]
                    print(f"  {task:11} {name:14} {' '.join(by_round)}")
    return epochs


def ratio_to_torch(per_task: dict, name: str):
    """The median epoch of `name` ÷ PyTorch's; None without PyTorch, or when load elsewhere made
    a median difference of no time at all (the 1-epoch run outlasting the 3-epoch one)."""
    if TORCH not in per_task or name == TORCH:
        return None
    mine, theirs = statistics.median(per_task[name]), statistics.median(per_task[TORCH])
    return mine / theirs if mine > 0 and theirs > 0 else None


def time_to_target(flags: list[str], target: float, max_epochs: int, train_size: int | None = None,
                   what: str = "train to the target", root: str = ROOT) -> dict:
    """Wall time of `train FLAGS --target-exact TARGET` (default task) run from the checkout at
    `root`, from the command to its exit."""
    extra = ["--target-exact", str(target)] + (["--train-size", str(train_size)] if train_size else [])
    with tempfile.TemporaryDirectory() as out:
        seconds, stdout = run(train_command(flags, out, max_epochs, *extra), what, root=root)
    epochs = [line.split() for line in stdout.splitlines() if line.startswith("epoch ")]
    if not epochs:
        raise BenchError(f"train printed no epoch lines:\n{stdout}")
    last = epochs[-1]  # 'epoch', N, 'loss', x, 'held-out', 'exact', '99.10%', ...
    exact = float(last[last.index("exact") + 1].rstrip("%")) / 100
    return {"flags": flags, "seconds": seconds, "epochs": int(last[1]), "exact_match": exact,
            "target": target, "reached": exact >= target}


def describe_convergence(r: dict) -> str:
    label = " ".join(["train", *r["flags"]])
    reached = "reached" if r["reached"] else f"NOT reached (last {r['exact_match']:.2%})"
    return f"{label:18} {r['seconds']:6.1f} s  {r['epochs']} epochs  {r['target']:.0%} {reached}"


def memory_section(steps: int) -> dict:
    names = ["minigrad-train", "minigrad"] + (["torch-fused"] if torch_available() else [])
    rows = {}
    for name in names:
        _, stdout = run([sys.executable, os.path.join(BENCH, "bench_train.py"), "--run", name,
                         "--steps", str(steps)], f"bench_train.py --run {name}",
                        torch=name.startswith("torch"))
        rows[name] = json.loads(stdout.strip().splitlines()[-1])
    print(f"\nmemory of {steps} training steps (batch 100, Tx 30, dlai; `minigrad-train` = the default train, its "
          f"batch split over {rows['minigrad-train']['processes']} processes, RSS summed; `minigrad` = its step in one "
          "process), MB RSS")
    print(f"{'contender':15} {'before':>7} {'@1':>7} {'@100':>7} {'@1000':>7} {'peak':>7} {'step ms':>8}")
    for name, r in rows.items():
        rss = r["rss_mb"]
        cells = "".join(f"{rss[k]:>8.0f}" if k in rss else f"{'—':>8}" for k in ("before", "1", "100", "1000", "peak"))
        print(f"{name:15}{cells} {r['step_ms']:>8.1f}")
    return rows


def scaling_section(pairs: int, held_out: int) -> dict:
    paths = ["default", "composed"] + (["torch-fused"] if torch_available() else [])
    shapes = [(tx, 100) for tx in TX_STEPS] + [(30, batch) for batch in BATCH_STEPS if batch != 100]
    table = {}
    for path in paths:
        _, stdout = run([sys.executable, os.path.join(BENCH, "bench_epoch.py"), "--scaling-worker", path,
                         "--train-size", str(pairs), "--held-out", str(held_out)], f"scaling worker {path}",
                        torch=path == "torch-fused")
        table[path] = {tuple(key): seconds for key, seconds in json.loads(stdout.strip().splitlines()[-1])}
    print(f"\nper-epoch time, s ({pairs} random pairs, {held_out} held out, dlai score; one epoch after a warm-up step)")
    print(f"{'Tx':>4} {'batch':>6}" + "".join(f"{path:>13}" for path in paths))
    for shape in sorted(shapes, key=lambda s: (s[1] != 100, s)):
        print(f"{shape[0]:>4} {shape[1]:>6}" + "".join(f"{table[path][shape]:>13.2f}" for path in paths))
    return table


def scaling_worker(path: str, pairs: int, held_out: int) -> list:
    """[[[tx, batch], seconds]]: one epoch of `path` for each shape, after one warm-up step."""
    from twin import as_train_runs, minigrad_model, synthetic_pairs, torch_model
    shapes = [(tx, 100) for tx in TX_STEPS] + [(30, batch) for batch in BATCH_STEPS if batch != 100]
    results = []
    for tx, batch in shapes:
        X, Y = synthetic_pairs(pairs + held_out, tx)
        if path == "torch-fused":
            model = torch_model(True, tx)
            epoch = torch_epoch(model, X[held_out:], Y[held_out:], X[:held_out], Y[:held_out], batch)
        else:
            epoch = minigrad_epoch(minigrad_model("composed", tx), path == "composed", X[held_out:], Y[held_out:],
                                   X[:held_out], Y[:held_out], batch)
        with nullcontext() if path == "torch-fused" else as_train_runs():
            epoch(warm_up=True)
            start = time.perf_counter()
            epoch()
        results.append([[tx, batch], time.perf_counter() - start])
    return results


def minigrad_epoch(model, composed: bool, X, Y, X_held, Y_held, batch: int):
    """One epoch of train's inner loop, of `model` if `composed` else of its fast twin, split over
    train's default processes as train splits it (attention/parallel.py), and its evaluation on the
    twin (attention.train.evaluate), on arrays."""
    import numpy as np
    import minigrad as mg
    from attention.fast import fast
    from attention.parallel import default_processes, training_split
    from attention.train import evaluate
    twin = fast(model)
    optimizer = mg.optim.Adam(model.parameters(), lr=0.005)

    def epoch(warm_up: bool = False):
        with training_split(model, model if composed else twin, X, Y, default_processes(), batch) as split:
            for start in range(0, batch if warm_up else len(X), batch):
                optimizer.zero_grad()
                split.backward(np.arange(start, min(start + batch, len(X))))
                optimizer.step()
        if not warm_up:
            evaluate(twin, X_held, Y_held)
    return epoch


def torch_epoch(model, X, Y, X_held, Y_held, batch: int):
    """One epoch of the PyTorch twin (torch_steps, then torch_evaluate), on arrays."""
    import torch
    X, Y, X_held = (torch.from_numpy(a) for a in (X, Y, X_held))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

    def epoch(warm_up: bool = False):
        torch_steps(model, optimizer, X[:batch] if warm_up else X, Y, torch.arange(len(X)), batch)
        if not warm_up:
            torch_evaluate(model, X_held, Y_held)
    return epoch


def torch_steps(model, optimizer, X, Y, order, batch: int) -> list:
    """Adam steps over the batches of X in `order`; the losses, read out as train reads them."""
    import torch
    losses = []
    for start in range(0, len(X), batch):
        rows = order[start:start + batch]
        logits, _ = model(X[rows])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), Y[rows].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def torch_evaluate(model, X_held, Y_held) -> dict:
    """attention.train.evaluate for the twin: greedy decoding in batches of 500 under no_grad."""
    import torch
    with torch.no_grad():
        outputs = [model(X_held[s:s + 500]) for s in range(0, len(X_held), 500)]
    predicted = torch.cat([logits.argmax(-1) for logits, _ in outputs]).numpy()
    alpha = torch.cat([alpha for _, alpha in outputs]).numpy()
    correct = predicted == Y_held
    return {"exact_match": float(correct.all(axis=1).mean()), "per_position": float(correct.mean()),
            "sharpness": float(alpha.max(axis=-1).mean())}


def torch_worker(name: str, out: str, epochs: int, task: str, train_size: int, score: str) -> None:
    """`train` for a PyTorch twin: the same pairs, epochs, evaluation and checkpoint, no output."""
    import numpy as np
    import torch
    from attention.train import TrainConfig, build
    from twin import torch_model
    config = TrainConfig(task=task, train_size=train_size, score=score)
    task_, (X, Y), (X_held, Y_held), _ = build(config)
    model = torch_model(TORCH_TWINS[name], task_.Tx, score, len(task_.human_vocab), len(task_.machine_vocab), task_.Ty)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = np.random.default_rng(config.seed)
    X, Y, X_held = (torch.from_numpy(a) for a in (X, Y, X_held))
    os.makedirs(out, exist_ok=True)
    for _ in range(epochs):
        losses = torch_steps(model, optimizer, X, Y, torch.from_numpy(rng.permutation(len(X))), config.batch_size)
        metrics = {**torch_evaluate(model, X_held, Y_held), "loss": float(np.mean(losses))}
        weights = {name: p.detach().numpy() for name, p in model.state_dict().items()}
        partial = os.path.join(out, "model.partial.npz")
        np.savez(partial, config=np.array(json.dumps({**vars(config), **metrics})), **weights)
        os.replace(partial, os.path.join(out, "model.npz"))


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def summary(epochs: dict | None, convergence: dict | None, memory: dict | None, scaling: dict | None) -> None:
    """A table to paste into a note."""
    print("\n| figure | value | target |\n|---|---|---|")
    for task, per_task in (epochs or {}).items():
        for name in per_task:
            ratio = ratio_to_torch(per_task, name)
            if ratio is not None:
                target = TARGETS.get(name)
                verdict = ("PyTorch's engine on the composed graph" if name == "torch-composed" else ""
                           ) if target is None else f"≤ {target} ({'met' if ratio <= target else 'NOT MET'})"
                print(f"| {task}: {name} epoch ÷ {TORCH} | {ratio:.2f} "
                      f"({statistics.median(per_task[name]):.2f} s ÷ {statistics.median(per_task[TORCH]):.2f} s) "
                      f"| {verdict} |")
    if convergence:
        verdict = "met" if convergence["reached"] and convergence["seconds"] < 60 else "NOT MET"
        print(f"| time to {convergence['target']:.0%} held-out exact match, `{' '.join(['train', *convergence['flags']])}` "
              f"| {convergence['seconds']:.1f} s, {convergence['epochs']} epochs, {convergence['exact_match']:.2%} "
              f"| < 60 s ({verdict}) |")
    for name, r in (memory or {}).items():
        rss = r["rss_mb"]
        steps = [k for k in ("1", "100", "1000") if k in rss]
        print(f"| {name} RSS MB after steps {', '.join(steps)}; peak | "
              f"{', '.join(f'{rss[k]:.0f}' for k in steps)}; {rss['peak']:.0f} | flat |")
    for path, table in (scaling or {}).items():
        print(f"| {path} s/epoch, Tx {' → '.join(map(str, TX_STEPS))} (batch 100) | "
              f"{' → '.join(f'{table[(tx, 100)]:.2f}' for tx in TX_STEPS)} | linear in Tx |")
        print(f"| {path} s/epoch, batch {' → '.join(map(str, BATCH_STEPS))} (Tx 30) | "
              f"{' → '.join(f'{table[(30, batch)]:.2f}' for batch in BATCH_STEPS)} | |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every section on small data (checks the harness)")
    parser.add_argument("--sections", nargs="+", choices=("epoch", "converge", "memory", "scaling"),
                        default=("epoch", "converge", "memory", "scaling"))
    parser.add_argument("--contender", action="append", metavar="NAME=FLAGS",
                        help="a minigrad contender: a name and the flags of `python -m attention train` "
                             f"(repeatable; default {' '.join(map(repr, DEFAULT_CONTENDERS))}); the first "
                             "is the one timed to 99%%")
    parser.add_argument("--checkout", action="append", default=[], metavar="NAME=PATH",
                        help="run contender NAME from the checkout at PATH (repeatable): a change timed "
                             "against the code before it, in the same rounds (its epochs, and its time to "
                             "99%% if it is the first contender; memory and scaling use this checkout)")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=TASKS)
    parser.add_argument("--rounds", type=int, help="interleaved rounds of the epoch section (default 3, quick 1)")
    parser.add_argument("--train-size", type=int, help="pairs per epoch (default train's 20,000; quick 200)")
    parser.add_argument("--score", choices=("dlai", "bahdanau"), default="bahdanau",
                        help="the attention score of every contender (default: train's)")
    parser.add_argument("--torch-threads", type=int,
                        help="PyTorch's intra-op threads (default: its own, one per core); on a shared "
                             "machine its default threads can slow it tenfold")
    parser.add_argument("--torch-worker", choices=TORCH_TWINS, help=argparse.SUPPRESS)
    parser.add_argument("--scaling-worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--held-out", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for option in ("rounds", "train_size", "torch_threads"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if args.torch_threads:  # OpenBLAS reads OMP_NUM_THREADS too, so only PyTorch's workers get it
        TORCH_ENV["OMP_NUM_THREADS"] = str(args.torch_threads)
    if args.torch_worker:
        torch_worker(args.torch_worker, args.out, args.epochs, args.tasks[0], args.train_size, args.score)
        return 0
    if args.scaling_worker:
        print(json.dumps(scaling_worker(args.scaling_worker, args.train_size, args.held_out)))
        return 0
    try:
        contenders = dict(parse_contender(spec) for spec in args.contender or DEFAULT_CONTENDERS)
        CHECKOUTS.update(parse_checkout(spec, contenders) for spec in args.checkout)
        return report(args, contenders)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def report(args, contenders: dict) -> int:
    quick = args.quick
    train_size = args.train_size if args.train_size is not None else 200 if quick else 20_000
    rounds = args.rounds if args.rounds is not None else 1 if quick else 3
    print(f"command: python bench/bench_epoch.py {' '.join(map(shlex.quote, sys.argv[1:]))}".rstrip())
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start; {os.cpu_count()} CPUs; "
          f"contenders {', '.join(n + '=' + ' '.join(f) + (' from ' + CHECKOUTS[n] if n in CHECKOUTS else '') for n, f in contenders.items())}"
          f"{', ' + ', '.join(TORCH_TWINS) if torch_available() else ' (torch not installed: minigrad alone)'}; "
          f"PyTorch threads {TORCH_ENV.get('OMP_NUM_THREADS', 'its default')}", flush=True)
    started = time.perf_counter()
    epochs = convergence = memory = scaling = None
    if "epoch" in args.sections:
        epochs = epoch_section(contenders, args.tasks, rounds, train_size, args.score)
    if "converge" in args.sections:
        name, flags = next(iter(contenders.items()))
        convergence = time_to_target(flags, 0.99, max_epochs=1 if quick else 12,
                                     train_size=train_size if quick else None,
                                     what=f"contender {name}, trained to 99%,", root=CHECKOUTS.get(name, ROOT))
        print("\nwall time to 99% held-out exact match (default task and score, seed 0, checkpoint "
              f"included{', quick: one epoch of ' + str(train_size) + ' pairs' if quick else ''})\n  "
              + describe_convergence(convergence))
    if "memory" in args.sections:
        memory = memory_section(100 if quick else 1000)
    if "scaling" in args.sections:
        scaling = scaling_section(*((100, 50) if quick else (2000, 500)))
    summary(epochs, convergence, memory, scaling)
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; "
          f"{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
