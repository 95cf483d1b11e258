"""ONNX export of the date translator: export time, and translation throughput in ONNX Runtime
against minigrad, on one and two threads (each contender in its own process).

    python bench/bench_onnx.py                 trains a small model first (a minute), then measures
    python bench/bench_onnx.py --model DIR     a model `python -m attention train` wrote

Throughput is dates per second through the model on held-out dates in batches of 500, from
token indices to the predicted indices (the argmax of the logits): the reading and writing of the
text cost the same for every contender. Graphs: "fused" is what `python -m attention export`
writes (the fast twin: the fused LSTM steps, unrolled), "composed" every gate a node (--composed).
The machine may be shared: the load average is printed at the start and at the end.
Workers (one line of JSON each): --worker minigrad|onnxruntime --graph fused|composed --threads N.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BATCH, REPEATS = 500, 5


def held_out_dates(model_dir: str, count: int):
    """`count` dates the model was not trained on, as token indices (count, Tx)."""
    import numpy as np
    from attention.data import get_task
    from attention.train import load_checkpoint
    _, human, _, metadata = load_checkpoint(model_dir)
    task = get_task(metadata["task"])
    pairs = task.make_pairs(count, seed=12345)
    rows = [human.encode_padded(task.clean(text), metadata["model"]["Tx"])[0] for text, _ in pairs]
    return np.stack(rows)


def load_model(model_dir: str, graph: str):
    from attention.fast import fast
    from attention.train import load_checkpoint
    model = load_checkpoint(model_dir)[0]
    return fast(model) if graph == "fused" else model


def measure(predict, X) -> dict:
    """Dates per second: the median over REPEATS passes over X, after one pass of warm-up."""
    def one_pass():
        started = time.perf_counter()
        for start in range(0, len(X), BATCH):
            predict(X[start:start + BATCH])
        return time.perf_counter() - started
    one_pass()
    seconds = statistics.median(one_pass() for _ in range(REPEATS))
    return {"dates_per_second": len(X) / seconds}


def run_worker(args) -> dict:
    X = held_out_dates(args.model, args.dates)
    if args.worker == "minigrad":
        model = load_model(args.model, args.graph)
        return measure(lambda x: model.predict(x)[0], X)
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
    return measure(lambda x: session.run(["logits"], {"x": x})[0].argmax(axis=-1), X)


def worker(*args, threads: int) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    result = subprocess.run([sys.executable, __file__, *args, "--threads", str(threads)], env=env,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def train_small_model(out: str) -> None:
    from attention.train import TrainConfig, train
    print(f"training a small model into {out} (2 epochs of 5,000 dates) …", flush=True)
    train(TrainConfig(epochs=2, train_size=5000), out,
          log=lambda line: print("  " + line, flush=True), progress=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a trained model directory (default: train a small one)")
    parser.add_argument("--dates", type=int, default=2000)
    parser.add_argument("--worker", choices=["minigrad", "onnxruntime"])
    parser.add_argument("--graph", choices=["fused", "composed"], default="fused")
    parser.add_argument("--onnx")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    sys.path.insert(0, ROOT)
    print("load average at the start: %.2f %.2f %.2f" % os.getloadavg(), f"({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model or os.path.join(scratch, "model")
        if not args.model:
            train_small_model(model_dir)
        from attention.__main__ import DEMO_DATES, encode_inputs
        from attention.train import load_checkpoint
        from minigrad.onnx import export
        human = load_checkpoint(model_dir)[1]
        rows = []
        for graph in ("fused", "composed"):
            model = load_model(model_dir, graph)
            path = os.path.join(scratch, f"{graph}.onnx")
            started = time.perf_counter()
            exported = export(model, encode_inputs(DEMO_DATES[:2], human, model.config.Tx), path,
                              input_names=["x"], output_names=["logits", "alpha"])
            seconds = time.perf_counter() - started
            print(f"export of the {graph} graph: {seconds:.2f} s (two traces, onnx.checker and the ONNX "
                  f"Runtime check included), {len(exported.graph.node)} nodes, {os.path.getsize(path) / 1e3:.0f} kB")
            for threads in (1, 2):
                common = ["--model", model_dir, "--dates", str(args.dates), "--graph", graph]
                mine = worker("--worker", "minigrad", *common, threads=threads)
                theirs = worker("--worker", "onnxruntime", "--onnx", path, *common, threads=threads)
                rows.append((graph, threads, mine["dates_per_second"], theirs["dates_per_second"]))
    print(f"\ntranslation throughput, dates/s ({args.dates} held-out dates, batches of {BATCH}, "
          f"median of {REPEATS} passes)")
    print(f"{'graph':<10}{'threads':>8}{'minigrad':>12}{'onnxruntime':>14}{'ratio':>8}")
    for graph, threads, mine, theirs in rows:
        print(f"{graph:<10}{threads:>8}{mine:>12.0f}{theirs:>14.0f}{theirs / mine:>7.1f}×")
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
