"""The modes every op reads: recording on or off, anomaly checks, and the open scopes.

`scope` is for reading the graph (drawn boxes, names by timestep); the others change what
forward and backward do. Each thread has its own, as torch's grad mode is per thread: a
`no_grad` block (a held-out evaluation) in one thread does not stop another from recording.
Anomaly mode is per thread too (torch's is one flag for the process), so one training's checks
neither slow nor stop another's.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from functools import lru_cache


class Modes(threading.local):
    """Switches read on every op, one set per thread (a new thread starts from the defaults).
    One object, so the hot path pays one global lookup."""

    def __init__(self):
        self.grad_enabled = True
        self.detect_anomaly = False
        self.scope = ()  # the names of the open `scope` blocks, outermost first
        self.step = None  # the timestep of the innermost `scope(..., step=)` block, if any
        # whether an op's backward may return a FactoredGradient (gradients.py): only while the
        # backward loop runs it, which multiplies them out; called by hand, backward gives arrays
        self.factored_gradients = False


MODES = Modes()


@contextmanager
def _switched(**values):
    """Set some of MODES for the duration of a `with` block, restoring them even on error."""
    previous = {mode: getattr(MODES, mode) for mode in values}
    for mode, value in values.items():
        setattr(MODES, mode, value)
    try:
        yield
    finally:
        for mode, value in previous.items():
            setattr(MODES, mode, value)


def no_grad():
    """Ops inside record no graph and their results do not require grad (as torch.no_grad)."""
    return _switched(grad_enabled=False)


def enable_grad():
    """Turn recording back on inside a no_grad block."""
    return _switched(grad_enabled=True)


def detect_anomaly():
    """Raise AnomalyError at the first NaN or inf made in forward or in backward."""
    return _switched(detect_anomaly=True)


def scope(name: str, step: int | None = None):
    """Group the tensors made inside into a named box of the drawn graph.

    With `step=t` the box is "name t=<t>" and t is the current timestep: inside it,
    `tensor.named("s<t-1>")` names the tensor "s<2>" when t is 3 (see `step_name`).
    Scopes nest; one without `step=` keeps the step of the scope around it. A tensor
    remembers the tuple of open scope names in its `.scope`.
    """
    if step is None:
        return _switched(scope=MODES.scope + (str(name),))
    step = int(step)
    return _switched(scope=MODES.scope + (f"{name} t={step}",), step=step)


_ANGLES = re.compile(r"<([^<>]*)>")
_TIMESTEP = re.compile(r"(?<![\w'])t'?(?:([+-])(\d+))?(?![\w'])")


def step_name(name: str) -> str:
    """`name` with the symbolic timesteps inside its angle brackets made numbers.

    In `<...>`, the tokens `t` and `t'`, optionally followed by `+k` or `-k`, become the
    current step (plus or minus k): at step 3, "e<t,·>" is "e<3,·>" and "[a; s<t-1>]" is
    "[a; s<2>]". Outside every `scope(..., step=)` the name is kept as written.
    """
    step = MODES.step
    if step is None or "<" not in name:
        return name
    return _at_step(name, step)


@lru_cache(maxsize=4096)  # a model names the same few tensors at every step of every batch
def _at_step(name: str, step: int) -> str:
    def number(token: re.Match) -> str:
        sign, k = token.groups()
        return str(step + int(k) if sign == "+" else step - int(k) if sign else step)

    return _ANGLES.sub(lambda angles: f"<{_TIMESTEP.sub(number, angles.group(1))}>", name)
