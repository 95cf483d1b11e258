"""Per-op overhead of minigrad: forward + backward of add, mul, matmul and tanh, against bare
numpy doing the same arithmetic by hand, and against PyTorch when it is installed.

What is measured. x is a (100, 64) float32 leaf and w a float32 leaf, both requiring grad
(w is (100, 64), or (64, 64) for matmul; tanh has no w). Two cases per op:

  chain   y = op(y, w) applied N = 200 times from y = x, then one backward from y with a given
          gradient of ones; time / N. The fixed cost of starting backward (topological sort,
          seeding) is spread over N ops, so this is the cost of one op in a real graph.
  single  one op, then backward; the fixed cost of backward is all paid by that one op.

Why the comparison is fair. The numpy baseline does exactly the arithmetic minigrad does, no
more and no less: the forward ufunc / matmul; the backward formulas (add: ga = gb = g, no
arithmetic; mul: ga = g*w, gb = g*y; matmul: ga = g @ w.T, gb = y.T @ g; tanh: ga = g*(1-c*c));
the sum of w's gradients over its N uses (`gw + gb`, as minigrad's pending sum and torch's
input buffer do); and the copy minigrad makes of each leaf's finished gradient (`np.array`).
What it leaves out is what an autograd library adds: Python bookkeeping (Tensor and Function
objects, dispatch, the graph sort) and memory held longer than the arithmetic needs (minigrad
keeps every intermediate output and every intermediate .grad). That is the overhead measured.

How it is timed. PyTorch runs the same graphs with its default thread count (printed); numpy's
BLAS threads are left at their defaults too (OMP_NUM_THREADS is not set here). Every run starts
from fresh leaf gradients (`.grad = None`), so nothing accumulates across runs. Each
implementation is timed on its own (see time_all) with time.perf_counter and the garbage
collector paused (as timeit does); a repetition loops until it lasts long enough to time, and
the table shows the median of the repetitions. The timing runs inside minigrad.heap.kept_heap(),
which stops glibc handing freed memory back to the OS (and page-faulting it in again on the next
run): whether that struck depended on heap layout, not on the code timed, and it made runs
differ up to 3x.
Before timing, the gradients of the three implementations are checked against each other.

    python bench/bench_ops.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import gc
import json
import operator
import os
import statistics
import sys
import time

import numpy as np

import minigrad as mg
from minigrad.heap import glibc_malloc, kept_heap

try:
    import torch
except ImportError:
    torch = None

N = 200                    # ops per chain
SHAPE, W_MATMUL = (100, 64), (64, 64)
TARGET = 3.0               # elementwise ops should cost at most 3x bare numpy per op (chain case)
ELEMENTWISE = ("add", "mul", "tanh")


# --- bare numpy: forward, then the backward formulas by hand; returns (grad x, grad w) ---------
def numpy_add(x, w, g, n):
    y = x
    for _ in range(n):
        y = y + w
    gw = g                               # ga = gb = g: the only arithmetic is summing w's grads
    for _ in range(n - 1):
        gw = gw + g
    return np.array(g), np.array(gw)


def numpy_mul(x, w, g, n):
    ys = [x]
    for _ in range(n):
        ys.append(ys[-1] * w)
    gw = None
    for y in reversed(ys[:-1]):
        ga, gb = g * w, g * y
        gw = gb if gw is None else gw + gb
        g = ga
    return np.array(g), np.array(gw)


def numpy_matmul(x, w, g, n):
    ys = [x]
    for _ in range(n):
        ys.append(ys[-1] @ w)
    gw = None
    for y in reversed(ys[:-1]):
        ga, gb = g @ w.T, y.T @ g
        gw = gb if gw is None else gw + gb
        g = ga
    return np.array(g), np.array(gw)


def numpy_tanh(x, w, g, n):
    cs = [x]
    for _ in range(n):
        cs.append(np.tanh(cs[-1]))
    for c in reversed(cs[1:]):
        g = g * (1 - c * c)
    return np.array(g), None


# --- minigrad and torch: the same graph through the library's operators -----------------------
def autograd_run(op, x, w, g, n):
    """Build y = op(y, w) n times from x, backward from y with gradient g; works for both libraries."""
    x.grad = None
    if w is not None:
        w.grad = None
    y = x
    for _ in range(n):
        y = op(y) if w is None else op(y, w)
    y.backward(g)
    return x.grad, (None if w is None else w.grad)


OPS = {  # name: (numpy baseline, the op on minigrad or torch tensors)
    "add": (numpy_add, operator.add),
    "mul": (numpy_mul, operator.mul),
    "matmul": (numpy_matmul, operator.matmul),
    "tanh": (numpy_tanh, operator.methodcaller("tanh")),
}


def make_inputs(name, rng):
    x = rng.standard_normal(SHAPE).astype(np.float32)
    if name == "add":
        w = rng.uniform(-0.1, 0.1, SHAPE)
    elif name == "mul":
        w = rng.uniform(0.9, 1.1, SHAPE)           # the product of 200 stays finite and normal
    elif name == "matmul":
        w = np.linalg.qr(rng.standard_normal(W_MATMUL))[0]   # orthogonal: norms stay put
    else:
        w = None
    return x, (None if w is None else w.astype(np.float32)), np.ones(SHAPE, np.float32)


def runners(name, n, rng):
    """{implementation: zero-argument callable returning (grad x, grad w)} for one op and case."""
    baseline, op = OPS[name]
    x, w, g = make_inputs(name, rng)
    mx = mg.Tensor(x, requires_grad=True)
    mw = None if w is None else mg.Tensor(w, requires_grad=True)
    out = {"numpy": lambda: baseline(x, w, g, n),
           "minigrad": lambda: autograd_run(op, mx, mw, g, n)}
    if torch is not None:
        tx = torch.from_numpy(x.copy()).requires_grad_()
        tw = None if w is None else torch.from_numpy(w.copy()).requires_grad_()
        tg = torch.from_numpy(g.copy())
        out["torch"] = lambda: autograd_run(op, tx, tw, tg, n)
    return out


def check_same(name, results):
    """The three implementations must agree, or the timing compares different work."""
    reference = results["numpy"]
    for impl, grads in results.items():
        for got, want in zip(grads, reference):
            got = None if got is None else np.asarray(got.detach() if hasattr(got, "detach") else got)
            if (got is None) != (want is None) or (want is not None and
                                                   not np.allclose(got, want, rtol=1e-3, atol=1e-3)):
                sys.exit(f"{name}: {impl} gradients differ from the numpy baseline")


def time_all(fns, reps, min_seconds):
    """Median seconds per call of each callable.

    One implementation at a time, not interleaved: numpy's BLAS threads and torch's OpenMP
    threads spin for a while after each call, and on few cores they steal each other's CPUs.
    """
    medians = {}
    for impl, fn in fns.items():
        fn()                                         # warm up, and see how long a call takes
        start = time.perf_counter()
        fn()
        loops = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-9)))
        times = []
        gc.collect()
        gc.disable()
        try:
            for _ in range(reps):
                start = time.perf_counter()
                for _ in range(loops):
                    fn()
                times.append((time.perf_counter() - start) / loops)
        finally:
            gc.enable()
        medians[impl] = statistics.median(times)
    return medians


def fmt(value, spec):
    return "—" if value is None else format(value, spec)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 short repetitions instead of 7")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    reps, min_seconds = (3, 0.005) if args.quick else (7, 0.05)

    threads = torch.get_num_threads() if torch is not None else None
    heap_kept = glibc_malloc() is not None
    torch_info = f"torch {torch.__version__} with {threads} intra-op threads" if torch else "torch not installed"
    print(f"minigrad per-op cost: float32 {SHAPE}, numpy {np.__version__}, {torch_info}")
    print(f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.2f} (other work running makes numbers noisy), "
          f"{'glibc malloc keeping freed memory (kept_heap)' if heap_kept else 'malloc as it is (not glibc)'}")
    print(f"median of {reps} repetitions; chain = {N} ops then one backward, per op; "
          "single = one op + backward\n")

    rows = []
    rng = np.random.default_rng(0)
    with kept_heap():
        for case, n in (("chain", N), ("single", 1)):
            for name in OPS:
                fns = runners(name, n, rng)
                check_same(name, {impl: fn() for impl, fn in fns.items()})
                t = {impl: s / n * 1e6 for impl, s in time_all(fns, reps, min_seconds).items()}
                torch_us = t.get("torch")
                rows.append({"op": name, "case": case, "n_ops": n, "numpy_us": t["numpy"],
                             "minigrad_us": t["minigrad"], "minigrad_over_numpy": t["minigrad"] / t["numpy"],
                             "torch_us": torch_us,
                             "minigrad_over_torch": t["minigrad"] / torch_us if torch_us else None})

    header = f"{'op':<16}{'numpy µs/op':>12}{'minigrad µs/op':>16}{'mg/numpy':>10}" \
             f"{'torch µs/op':>13}{'mg/torch':>10}"
    print(header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['op'] + ' (' + r['case'] + ')':<16}{r['numpy_us']:>12.2f}{r['minigrad_us']:>16.2f}"
              f"{r['minigrad_over_numpy']:>9.2f}x{fmt(r['torch_us'], '.2f'):>13}"
              f"{fmt(r['minigrad_over_torch'], '.2f') + ('x' if r['torch_us'] else ''):>10}")

    verdict = {r["op"]: r["minigrad_over_numpy"] <= TARGET
               for r in rows if r["case"] == "chain" and r["op"] in ELEMENTWISE}
    print(f"\ntarget: elementwise ops ≤ {TARGET:g}× bare numpy per op (chain case): "
          + ", ".join(f"{op} {'meets it' if ok else 'MISSES it'}" for op, ok in verdict.items()))

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": SHAPE, "chain_ops": N, "repetitions": reps,
                       "numpy": np.__version__, "torch": torch.__version__ if torch else None,
                       "torch_threads": threads, "cpus": os.cpu_count(),
                       "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "heap_kept": heap_kept,
                       "target_ratio": TARGET, "meets_target": verdict, "results": rows}, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
