"""`python -m minigrad`: the smallest demo. Build a graph, run backward, print every gradient."""
import argparse
import sys

import numpy as np

import minigrad as mg

DESCRIPTION = """\
The smallest minigrad demo: one input row x (1×3) through a dense layer (W 3×2, b 2), tanh and
a cross-entropy loss; backward; then every tensor of the graph with the op that made it, its
shape and its gradient, in backward's topological order (inputs first). It is seeded: the same
numbers on every run.

The course is in docs/ (docs/index.md). The date translator built on minigrad is
`python -m attention --help`."""


def main(argv=()) -> int:
    argparse.ArgumentParser(prog="python -m minigrad", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    mg.manual_seed(0)
    x = mg.Tensor([[1.0, 2.0, 3.0]], name="x")                       # (1×3) input row
    layer = mg.nn.Linear(3, 2)                                         # W (3×2), b (2,)
    h = layer(x).tanh().named("h")
    loss = mg.cross_entropy(h, [1]).named("loss")
    loss.backward()
    print("loss =", loss.item())
    print(f"{'tensor':>8} {'made by':>10}  {'shape':8} gradient of the loss")
    for tensor in mg.topological_order(loss):
        made_by = type(tensor.grad_fn).__name__ if tensor.grad_fn is not None else "leaf"
        grad = np.array2string(tensor.grad, precision=4, separator=", ").replace("\n", "")
        print(f"{tensor.name or '':>8} {made_by:>10}  {str(tensor.shape):8} {grad}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
