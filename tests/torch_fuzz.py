"""Differential fuzzing of minigrad against PyTorch: random programs, the same numbers from both.

A program is 1-8 statements over float64 leaves of random broadcastable shapes (rank 0-4),
each statement one op the engine offers (arithmetic with broadcasting, powers, the activations,
reductions, matmul, reshapes, every index kind, joins and splits, softmax, cross-entropy),
reduced to a scalar by a random weighted sum of the values nothing else used. It is written
out twice as Python source, once for minigrad and once for PyTorch, and both are run: every
forward value, every leaf's gradient and every intermediate `.grad` (`retain_grad` in PyTorch)
must agree to rtol 1e-7. On a mismatch the program is shrunk to the fewest statements that
still disagree and printed as a script that runs on its own.

It lives beside the tests, which run a fixed budget of it (test_fuzz_torch.py);
`python bench/fuzz_torch.py [--programs 5000] [--seed 0]` runs thousands.

Choices where the two libraries differ on purpose, so the programs avoid or map them:
  * max: minigrad shares the gradient equally among tied maxima, which is torch.amax's rule
    (torch.max(dim) gives it all to one index); programs call amax on the PyTorch side.
  * sum/mean/max with axis=(): numpy reduces nothing, PyTorch reduces everything; not generated.
  * slices with a negative step: PyTorch has none; not generated.
  * cross_entropy's class axis: minigrad takes `axis=`, PyTorch wants classes on axis 1, so the
    PyTorch side moves the axis there first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import minigrad as mg

RTOL = 1e-7
MAX_STATEMENTS = 8


class GenerationError(Exception):
    """minigrad raised something other than its own errors while a program was being made."""


@dataclass
class Statement:
    target: str
    minigrad: str   # source of the right-hand side, with minigrad (as mg) and numpy (as np)
    torch: str      # the same with torch
    uses: tuple     # the names it reads


@dataclass
class Program:
    leaves: dict = field(default_factory=dict)       # name -> (array, requires_grad)
    statements: list = field(default_factory=list)
    weights: dict = field(default_factory=dict)      # sink name -> weight array of its shape

    def source(self, library: str) -> str:
        """A function `run()` returning {name: (value, grad)} for every leaf and statement."""
        lines = ["def run():"]
        for name, (array, requires_grad) in self.leaves.items():
            literal = _literal(array)
            if library == "minigrad":
                lines.append(f"    {name} = mg.Tensor({literal}, requires_grad={requires_grad})")
            else:
                lines.append(f"    {name} = torch.tensor({literal}, requires_grad={requires_grad})")
        for s in self.statements:
            lines.append(f"    {s.target} = {s.minigrad if library == 'minigrad' else s.torch}")
            if library == "torch":
                lines.append(f"    if {s.target}.requires_grad: {s.target}.retain_grad()")
        terms = []
        for name, weight in self.weights.items():
            literal = _literal(weight)
            terms.append(f"({name} * {literal if library == 'minigrad' else f'torch.tensor({literal})'}).sum()")
        lines.append(f"    loss = {' + '.join(terms)}")
        lines.append("    if loss.requires_grad: loss.backward()")
        names = list(self.leaves) + [s.target for s in self.statements]
        if library == "minigrad":
            lines.append(f"    return {{n: (t.data, t.grad) for n, t in zip({names!r}, [{', '.join(names)}])}}")
        else:
            lines.append(f"    return {{n: (t.detach().numpy(), None if t.grad is None else t.grad.numpy()) "
                         f"for n, t in zip({names!r}, [{', '.join(names)}])}}")
        return "\n".join(lines) + "\n"

    def reproducer(self) -> str:
        """A script that runs both sides and prints where they disagree."""
        return ("import numpy as np\nimport torch\nimport minigrad as mg\n\n\n"
                "# minigrad\n" + self.source("minigrad").replace("def run():", "def run_minigrad():")
                + "\n\n# PyTorch\n" + self.source("torch").replace("def run():", "def run_torch():")
                + "\n\nmine, theirs = run_minigrad(), run_torch()\n"
                  "for name in mine:\n"
                  "    for k, what in enumerate(('value', 'grad')):\n"
                  "        a, b = mine[name][k], theirs[name][k]\n"
                  "        if (a is None) != (b is None) or (a is not None and not np.allclose(a, b, "
                  f"rtol={RTOL}, atol=0, equal_nan=True)):\n"
                  "            print(name, what, 'minigrad', a, 'torch', b)\n")


def _literal(array: np.ndarray) -> str:
    """numpy source that rebuilds `array` exactly (repr of a float is exact), empty shapes too."""
    return f"np.array({array.tolist()!r}, dtype=np.float64).reshape({array.shape!r})"


# --- making a random program ------------------------------------------------------------------
class Generator:
    """Builds a program statement by statement, running minigrad as it goes to know the values."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.program = Program()
        self.values = {}  # name -> minigrad Tensor (shape, and the values that decide domains)

    def choice(self, options):
        return options[self.rng.integers(len(options))]

    def shape(self, rank=None) -> tuple:
        rank = self.rng.integers(0, 5) if rank is None else rank
        return tuple(int(n) for n in self.rng.integers(1, 5, rank))

    def leaf(self, shape, positive=False) -> str:
        kind = self.rng.random()
        if positive:
            array = self.rng.uniform(0.5, 2.0, shape)
        elif kind < 0.2:  # small integers: ties for max, exact zeros for relu and powers
            array = self.rng.integers(-2, 3, shape).astype(np.float64)
        else:
            array = self.rng.uniform(-2.0, 2.0, shape)
        name = f"x{len(self.program.leaves)}"
        requires_grad = bool(self.rng.random() < 0.85)
        self.program.leaves[name] = (np.asarray(array, dtype=np.float64), requires_grad)
        self.values[name] = mg.Tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)
        return name

    def pick(self, condition=lambda t: True) -> str | None:
        names = [n for n, t in self.values.items() if t.size and condition(t)]  # empties only end a program
        return self.choice(names) if names else None

    def broadcastable(self, shape) -> tuple:
        """A shape that broadcasts with `shape`: leading axes dropped, some axes set to 1."""
        start = self.rng.integers(0, len(shape) + 1)
        return tuple(1 if self.rng.random() < 0.3 else n for n in shape[start:])

    def add(self, minigrad_src: str, torch_src: str, uses) -> bool:
        namespace = {"mg": mg, "np": np, **self.values}
        try:
            value = eval(minigrad_src, namespace)
        except mg.MinigradError:
            return False  # the generator asked for something invalid: try another op
        except Exception as error:  # anything else escaping minigrad is a finding
            raise GenerationError(f"{minigrad_src}: {type(error).__name__}: {error}") from error
        name = f"v{len(self.program.statements)}"
        self.program.statements.append(Statement(name, minigrad_src, torch_src, tuple(uses)))
        self.values[name] = value
        return True

    def step(self) -> None:
        for _ in range(20):
            op = self.choice(OPS)
            if op(self):
                return

    def finish(self) -> Program:
        used = {u for s in self.program.statements for u in s.uses}
        sinks = [s.target for s in self.program.statements if s.target not in used]
        for name in sinks or list(self.values)[-1:]:
            self.program.weights[name] = self.rng.uniform(-1, 1, self.values[name].shape)
        return self.program


def _axis(g, t, allow_none=True):
    if t.ndim == 0:
        return None
    options = list(range(-t.ndim, t.ndim)) + ([None] if allow_none else [])
    if t.ndim >= 2:
        options.append(tuple(sorted(g.rng.choice(t.ndim, 2, replace=False).tolist())))
    return g.choice(options)


def op_binary(g):
    a = g.pick()
    b = g.pick(lambda t: _broadcasts(t.shape, g.values[a].shape)) if g.rng.random() < 0.5 else None
    symbol = g.choice(["+", "-", "*", "/"])
    if b is None or (symbol == "/" and np.min(np.abs(g.values[b].data), initial=1.0) < 0.2):
        b = g.leaf(g.broadcastable(g.values[a].shape), positive=symbol == "/")
    if g.rng.random() < 0.5:
        a, b = (b, a) if symbol != "/" else (a, b)
    return g.add(f"{a} {symbol} {b}", f"{a} {symbol} {b}", (a, b))


def op_constant(g):
    a = g.pick()
    c = g.choice([2.0, -0.5, 3.0])
    form = g.choice(["{a} * {c}", "{c} - {a}", "{a} + {c}", "{c} / ({a} * {a} + 1.0)"])
    src = form.format(a=a, c=c)
    return g.add(src, src, (a,))


def _broadcasts(s1, s2):
    try:
        np.broadcast_shapes(s1, s2)
        return True
    except ValueError:
        return False


def op_unary(g):
    a = g.pick()
    t = g.values[a].data
    method = g.choice(["exp", "log", "tanh", "sigmoid", "relu", "neg"])
    if method == "exp" and np.max(np.abs(t), initial=0) > 5:
        return False
    if method == "log" and np.min(t, initial=1) <= 0.05:
        return False
    src = f"-{a}" if method == "neg" else f"{a}.{method}()"
    return g.add(src, src, (a,))


def op_pow(g):
    a = g.pick()
    t = g.values[a].data
    p = g.choice([0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 0.0])
    if (isinstance(p, float) and p != int(p)) and np.min(t, initial=1) <= 0.05:
        return False
    if p < 0 and np.min(np.abs(t), initial=1) < 0.2:
        return False
    return g.add(f"{a} ** {p!r}", f"{a} ** {p!r}", (a,))


def op_tensor_pow(g):
    if g.rng.random() < 0.5:  # a number to a tensor power: 2.0 ** x
        a = g.pick(lambda t: np.max(np.abs(t.data), initial=0) < 5)
        if a is None:
            return False
        return g.add(f"2.0 ** {a}", f"2.0 ** {a}", (a,))
    base = g.pick(lambda t: np.min(t.data, initial=1) > 0.1 and np.max(t.data, initial=0) < 5)
    if base is None:
        base = g.leaf(g.shape(), positive=True)
    exponent = g.pick(lambda t: _broadcasts(t.shape, g.values[base].shape)
                      and np.max(np.abs(t.data), initial=0) < 3)
    if exponent is None:
        exponent = g.leaf(g.broadcastable(g.values[base].shape))
    return g.add(f"{base} ** {exponent}", f"{base} ** {exponent}", (base, exponent))


def op_reduce(g):
    a = g.pick()
    t = g.values[a]
    axis = _axis(g, t)
    keepdims = bool(g.rng.random() < 0.5)
    kind = g.choice(["sum", "mean", "max"])
    torch_kind = "amax" if kind == "max" else kind
    torch_axis = () if axis is None and kind == "max" else axis
    return g.add(f"{a}.{kind}(axis={axis!r}, keepdims={keepdims})",
                 f"{a}.{torch_kind}(dim={torch_axis!r}, keepdim={keepdims})", (a,))


def op_matmul(g):
    a = g.pick(lambda t: t.ndim >= 1)
    if a is None:
        return False
    t = g.values[a]
    k = t.shape[-1]
    form = g.rng.integers(3)
    if form == 0:
        shape = (k,)
    elif form == 1:
        shape = (k, int(g.rng.integers(1, 4)))
    else:
        batch = g.broadcastable(t.shape[:-2]) if t.ndim > 2 else tuple(g.shape(1))
        shape = batch + (k, int(g.rng.integers(1, 4)))
    b = g.pick(lambda u: u.shape == shape) if g.rng.random() < 0.3 else None
    b = b or g.leaf(shape)
    return g.add(f"{a} @ {b}", f"{a} @ {b}", (a, b))


def op_shape(g):
    a = g.pick()
    t = g.values[a]
    kind = g.choice(["reshape", "broadcast_to", "permute", "transpose", "T"])
    if kind == "reshape":
        sizes = _factorise(g, t.size)
        if t.size and g.rng.random() < 0.3:
            sizes[g.rng.integers(len(sizes))] = -1
        return g.add(f"{a}.reshape({tuple(sizes)!r})", f"{a}.reshape({tuple(sizes)!r})", (a,))
    if kind == "broadcast_to":
        shape = tuple(g.shape(int(g.rng.integers(0, 2)))) + tuple(
            int(g.rng.integers(1, 4)) if n == 1 else n for n in t.shape)
        return g.add(f"{a}.broadcast_to({shape!r})", f"{a}.broadcast_to({shape!r})", (a,))
    if t.ndim == 0:
        return False
    if kind == "permute":
        axes = tuple(int(i) - (t.ndim if g.rng.random() < 0.3 else 0) for i in g.rng.permutation(t.ndim))
        return g.add(f"{a}.permute({axes!r})", f"{a}.permute({axes!r})", (a,))
    if kind == "transpose":
        d0, d1 = (int(i) for i in g.rng.integers(-t.ndim, t.ndim, 2))
        return g.add(f"{a}.transpose({d0}, {d1})", f"{a}.transpose({d0}, {d1})", (a,))
    reverse = tuple(reversed(range(t.ndim)))
    return g.add(f"{a}.T", f"{a}.permute({reverse!r})", (a,))


def _factorise(g, size: int) -> list:
    if size == 0:
        return [0, int(g.rng.integers(1, 3))]
    sizes, rest = [], size
    for _ in range(int(g.rng.integers(0, 4))):
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = g.choice(divisors)
        sizes.append(d)
        rest //= d
    return sizes + [rest] if rest != 1 or not sizes else sizes


def _index(g, shape):
    """(minigrad source, torch source) of a random index into an array of `shape`."""
    n = shape[0]
    kind = g.choice(["int", "slice", "ints", "mask", "tuple", "none_ellipsis", "zero_d"])
    if kind == "int":
        i = int(g.rng.integers(-n, n))
        return repr(i), repr(i)
    if kind == "slice":
        start, stop = sorted(int(v) for v in g.rng.integers(-n, n + 1, 2))
        step = int(g.rng.integers(1, 3))
        return f"{start}:{stop}:{step}", f"{start}:{stop}:{step}"
    if kind == "ints":  # repeats and negative aliases of the same row
        rows = g.rng.integers(-n, n, int(g.rng.integers(0, 2 * n + 2))).tolist()
        return f"np.array({rows!r}, dtype=np.int64)", f"torch.tensor({rows!r}, dtype=torch.long)"
    if kind == "mask":
        mask = (g.rng.random(n) < 0.5).tolist()
        return f"np.array({mask!r})", f"torch.tensor({mask!r})"
    if kind == "zero_d":
        i = int(g.rng.integers(-n, n))
        return f"np.array({i})", f"torch.tensor({i})"
    if kind == "none_ellipsis":
        return g.choice([("None", "None"), ("..., None", "..., None"), ("None, ...", "None, ..."),
                         ("...", "...")])
    if len(shape) < 2:
        return _index(g, shape)
    m = shape[1]
    rows = g.rng.integers(-n, n, 3).tolist()
    cols = g.rng.integers(-m, m, 3).tolist()
    form = g.choice(["rows_cols", "slice_cols", "rows_slice"])
    if form == "rows_cols":
        return (f"np.array({rows!r}), np.array({cols!r})",
                f"torch.tensor({rows!r}), torch.tensor({cols!r})")
    if form == "slice_cols":
        return f":, np.array({cols!r})", f":, torch.tensor({cols!r})"
    return f"np.array({rows!r}), 1:", f"torch.tensor({rows!r}), 1:"


def op_index(g):
    a = g.pick(lambda t: t.ndim >= 1)
    if a is None:
        return False
    mine, theirs = _index(g, g.values[a].shape)
    return g.add(f"{a}[{mine}]", f"{a}[{theirs}]", (a,))


def op_join(g):
    a = g.pick(lambda t: t.ndim >= 1)
    if a is None:
        return False
    t = g.values[a]
    if g.rng.random() < 0.5:
        axis = int(g.rng.integers(-t.ndim, t.ndim))
        shape = list(t.shape)
        shape[axis] = int(g.rng.integers(1, 4))
        b = g.pick(lambda u: u.shape == tuple(shape)) or g.leaf(tuple(shape))
        return g.add(f"mg.concat([{a}, {b}], axis={axis})", f"torch.cat([{a}, {b}], dim={axis})", (a, b))
    axis = int(g.rng.integers(-t.ndim - 1, t.ndim + 1))
    b = g.pick(lambda u: u.shape == t.shape and u is not t) or g.leaf(t.shape)
    return g.add(f"mg.stack([{a}, {b}, {a}], axis={axis})", f"torch.stack([{a}, {b}, {a}], dim={axis})", (a, b))


def op_split(g):
    a = g.pick(lambda t: t.ndim >= 1)
    if a is None:
        return False
    t = g.values[a]
    axis = int(g.rng.integers(-t.ndim, t.ndim))
    length = t.shape[axis]
    if length == 0:
        return False
    if g.rng.random() < 0.5:
        chunks = int(g.rng.integers(1, 4))
        pieces = len(range(0, length, -(-length // chunks)))
        k = int(g.rng.integers(pieces))
        return g.add(f"mg.chunk({a}, {chunks}, axis={axis})[{k}]",
                     f"torch.chunk({a}, {chunks}, dim={axis})[{k}]", (a,))
    size = int(g.rng.integers(1, length + 1))
    k = int(g.rng.integers(len(range(0, length, size))))
    return g.add(f"mg.split({a}, {size}, axis={axis})[{k}]", f"torch.split({a}, {size}, dim={axis})[{k}]", (a,))


def op_softmax(g):
    a = g.pick(lambda t: t.ndim >= 1 and t.size > 0)
    if a is None:
        return False
    t = g.values[a]
    axis = int(g.rng.integers(-t.ndim, t.ndim))
    kind = g.choice(["softmax", "composed", "log_softmax", "cross_entropy"])
    if kind == "softmax":
        return g.add(f"mg.softmax({a}, axis={axis})", f"torch.softmax({a}, dim={axis})", (a,))
    if kind == "composed":
        return g.add(f"mg.composed_softmax({a}, axis={axis})", f"torch.softmax({a}, dim={axis})", (a,))
    if kind == "log_softmax":
        return g.add(f"mg.log_softmax({a}, axis={axis})", f"torch.log_softmax({a}, dim={axis})", (a,))
    rest = t.shape[:axis % t.ndim] + t.shape[axis % t.ndim + 1:]
    target = g.rng.integers(0, t.shape[axis], rest).tolist()
    reduction = g.choice(["mean", "sum", "none"])
    moved = f"{a}.movedim({axis}, 1)" if t.ndim >= 2 else a
    return g.add(f"mg.cross_entropy({a}, np.array({target!r}), axis={axis}, reduction={reduction!r})",
                 f"torch.nn.functional.cross_entropy({moved}, torch.tensor({target!r}), "
                 f"reduction={reduction!r})", (a,))


OPS = [op_binary, op_binary, op_constant, op_unary, op_unary, op_pow, op_tensor_pow, op_reduce,
       op_reduce, op_matmul, op_shape, op_shape, op_index, op_index, op_join, op_split, op_softmax]


def generate(seed: int) -> Program:
    g = Generator(np.random.default_rng(seed))
    for _ in range(int(g.rng.integers(1, 3))):
        g.leaf(g.shape())
    for _ in range(int(g.rng.integers(1, MAX_STATEMENTS + 1))):
        g.step()
    return g.finish()


# --- running both sides and comparing -------------------------------------------------------
def run(program: Program, library: str) -> dict:
    import torch
    namespace = {"mg": mg, "np": np, "torch": torch}
    exec(compile(program.source(library), f"<{library} program>", "exec"), namespace)
    return namespace["run"]()


def mismatches(program: Program) -> list[str]:
    """What differs between minigrad and PyTorch on `program` (an empty list: they agree)."""
    import warnings
    problems = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            mine = run(program, "minigrad")
        except Exception as error:  # a crash is a finding too: report it, with the program
            return [f"minigrad raised {type(error).__name__}: {error}"]
        theirs = run(program, "torch")
    for name, (value, grad) in mine.items():
        for what, a, b in (("value", value, theirs[name][0]), ("grad", grad, theirs[name][1])):
            if (a is None) != (b is None):
                problems.append(f"{name}.{what}: minigrad {a!r}, torch {b!r}")
            elif a is not None and not close(np.asarray(a), np.asarray(b)):
                problems.append(f"{name}.{what}: minigrad {np.asarray(a).tolist()}, torch {np.asarray(b).tolist()}")
    return problems


def close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    scale = np.max(np.abs(b[np.isfinite(b)]), initial=0.0)
    # atol: a value that should be 0 comes out as rounding noise, in either library
    return bool(np.allclose(a, b, rtol=RTOL, atol=1e-11 * max(1.0, scale), equal_nan=True))


def shrink(program: Program) -> Program:
    """The smallest part of `program` that still disagrees: the statements one value needs."""
    for target in [s.target for s in program.statements] + list(program.leaves):
        smaller = _slice_for(program, target)
        if mismatches(smaller):
            return smaller
    return program


def _slice_for(program: Program, target: str) -> Program:
    """The statements `target` needs, with `target` alone summed into the loss."""
    needed, statements = {target}, []
    for s in reversed(program.statements):
        if s.target in needed:
            needed |= set(s.uses)
            statements.insert(0, s)
    leaves = {n: v for n, v in program.leaves.items() if n in needed}
    namespace = {"mg": mg, "np": np}
    namespace.update({n: mg.Tensor(array) for n, (array, _) in leaves.items()})
    for s in statements:
        namespace[s.target] = eval(s.minigrad, namespace)
    return Program(leaves, statements, {target: np.ones(namespace[target].shape)})


def fuzz(programs: int, seed: int, log=print) -> tuple[int, list]:
    """Run `programs` programs from `seed` on; returns (how many ran, [(seed, shrunk program, problems)])."""
    found = []
    for k in range(programs):
        try:
            program = generate(seed + k)
        except GenerationError as error:
            found.append((seed + k, None, [str(error)]))
            log(f"seed {seed + k}: minigrad raised a raw error: {error}")
            continue
        problems = mismatches(program)
        if problems:
            small = shrink(program)
            found.append((seed + k, small, mismatches(small) or problems))
            log(f"seed {seed + k}: minigrad and PyTorch disagree\n" + "\n".join(found[-1][2])
                + "\nreproducer:\n" + small.reproducer())
    return programs, found
