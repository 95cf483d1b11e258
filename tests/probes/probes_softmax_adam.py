"""Probes of assignment 2: softmax, log-softmax and cross-entropy, Adam."""
import numpy as np

from coursework.probe import functions_used, probe, reaches
from probes_engine import backward


# --- 2.1 -------------------------------------------------------------------------------------
@probe("2.1")
def composed_softmax_values(rng):
    """The composed softmax's values, also for large logits"""
    import minigrad as mg
    cases = [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 1, 6), -1)]
    values = [mg.composed_softmax(mg.Tensor(rng.standard_normal(s), dtype=np.float64), axis=a).data
              for s, a in cases]
    large = mg.composed_softmax(mg.Tensor([[1000.0, 1000.0, 990.0]], dtype=np.float64)).data
    return {"values": values, "large logits": large}


@probe("2.1")
def composed_softmax_graph(rng):
    """The composed softmax is built from Exp, Sum and Div and reaches its input"""
    import minigrad as mg
    e = mg.Tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    alpha = mg.composed_softmax(e)
    used = functions_used(alpha)
    return {"Exp, Sum, Div": all(f in used for f in ("Exp", "Sum", "Div")), "no fused Softmax": "Softmax" not in used,
            "reaches e": reaches(alpha, e)}


@probe("2.1")
def fused_softmax_backward(rng):
    """The fused Softmax op's backward"""
    from minigrad import ops
    cases = [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)]
    return [backward(ops.Softmax, rng.standard_normal(s), axis=a) for s, a in cases]


# --- 2.2 -------------------------------------------------------------------------------------
@probe("2.2")
def log_softmax_values_and_backward(rng):
    """Log-softmax's values (also of large logits) and LogSoftmax's backward"""
    import minigrad as mg
    from minigrad import ops
    cases = [((4, 5), -1), ((2, 3, 5), -1), ((3, 4), 0)]
    xs = [rng.standard_normal(s) for s, _ in cases]
    return {"values": [mg.log_softmax(mg.Tensor(x, dtype=np.float64), axis=a).data for x, (_, a) in zip(xs, cases)],
            "backward": [backward(ops.LogSoftmax, x, axis=a) for x, (_, a) in zip(xs, cases)],
            "large": mg.log_softmax(mg.Tensor([[1000.0, 0.0, -1000.0]], dtype=np.float64)).data}


@probe("2.2")
def cross_entropy_reductions(rng):
    """Cross-entropy with mean, sum and no reduction"""
    import minigrad as mg
    logits, target = rng.standard_normal((6, 11)), rng.integers(0, 11, 6)
    return [mg.cross_entropy(mg.Tensor(logits, dtype=np.float64), target, reduction=r).data
            for r in ("mean", "sum", "none")]


@probe("2.2")
def cross_entropy_over_a_sequence(rng):
    """Cross-entropy over (batch, time, classes) and with the classes on axis 1"""
    import minigrad as mg
    logits, target = rng.standard_normal((4, 10, 11)), rng.integers(0, 11, (4, 10))
    return [mg.cross_entropy(mg.Tensor(logits, dtype=np.float64), target).data,
            mg.cross_entropy(mg.Tensor(np.moveaxis(logits, -1, 1), dtype=np.float64), target, axis=1).data]


@probe("2.2")
def cross_entropy_graph(rng):
    """Cross-entropy is stable, in the graph, through LogSoftmax"""
    import minigrad as mg
    logits = mg.Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True, dtype=np.float64)
    loss = mg.cross_entropy(logits, [2])
    return {"loss": loss.data, "reaches logits": reaches(loss, logits),
            "through LogSoftmax": "LogSoftmax" in functions_used(loss)}


# --- 2.3 -------------------------------------------------------------------------------------
def adam_steps(rng, steps=4, **options):
    import minigrad as mg
    p = mg.nn.Parameter(rng.standard_normal((3, 4)))
    optimizer = mg.optim.Adam([p], **options)
    for _ in range(steps):
        p.grad = rng.standard_normal((3, 4))
        optimizer.step()
    return np.asarray(p.data)


@probe("2.3")
def adam_default_steps(rng):
    """Adam's steps with its defaults and lr 0.005"""
    return adam_steps(rng, lr=0.005)


@probe("2.3")
def adam_with_other_betas_and_weight_decay(rng):
    """Adam's steps with other betas and eps, and with weight decay"""
    return [adam_steps(rng, lr=0.1, betas=(0.8, 0.99), eps=1e-6),
            adam_steps(rng, lr=0.01, weight_decay=0.1)]


@probe("2.3")
def adam_first_step(rng):
    """Adam's first step moves each weight by about lr"""
    import minigrad as mg
    p = mg.nn.Parameter(np.zeros(3))
    optimizer = mg.optim.Adam([p], lr=0.01)
    p.grad = np.array([1e-3, -5.0, 200.0])
    optimizer.step()
    return np.asarray(p.data)


@probe("2.3")
def adam_skips_a_parameter_without_gradient(rng):
    """Adam skips a parameter without gradient and counts its own steps"""
    import minigrad as mg
    a, b = mg.nn.Parameter(rng.standard_normal(2)), mg.nn.Parameter(rng.standard_normal(2))
    optimizer = mg.optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = np.ones(2), None
    optimizer.step()
    untouched = np.asarray(b.data).copy()
    b.grad = np.array([2.0, -1.0])
    optimizer.step()
    return [untouched, np.asarray(b.data), np.asarray(a.data)]
