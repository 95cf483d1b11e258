"""backward_frames: the whole backward pass as numbered pictures, one per step, for a lecture."""
from __future__ import annotations

import os

from minigrad.autograd import backward_schedule, backward_steps
from minigrad.order import topological_order
from minigrad.viz.draw import draw


def backward_frames(loss, directory, format: str = "svg", steps=None, **draw_options) -> list[str]:
    """Run backward on `loss` step by step, writing `step_000.svg`, `step_001.svg`, … into `directory`.

    Each frame is `draw(loss, step=record)`, drawn from the BackwardStep of step k while backward
    is paused after it, so its gradients are exactly those one pass has filled in so far. Drawing
    never changes the
    gradients you hold: every `.grad` of the graph is set aside before that pass (so a frame
    never shows them added to those of an earlier `loss.backward()`) and put back after it.
    Hooks run during the pass, as in any backward.

    steps: the step numbers to draw (a range or a list, e.g. `range(0, 1283, 100)`); every
    step by default. Returns the files' paths in order.
    """
    tensors = topological_order(loss)
    wanted = _chosen_steps(steps, sum(1 for completed in backward_schedule(loss) if completed[0].grad_fn))
    os.makedirs(directory, exist_ok=True)
    held = {t: t.grad for t in tensors}
    paths = []
    try:
        for t in tensors:
            t.grad = None
        for step in backward_steps(loss) if wanted else ():
            if step.index in wanted:
                drawing = draw(loss, step=step, **draw_options)
                stem = os.path.join(directory, f"step_{step.index:03d}")
                paths.append(drawing.render(stem, format=format, cleanup=True))
            if step.index == max(wanted):
                break
    finally:
        for t, grad in held.items():
            t.grad = grad
    return paths


def _chosen_steps(steps, count: int) -> set:
    if steps is None:
        return set(range(count))
    chosen = set()
    for step in steps:
        if not isinstance(step, int) or not 0 <= step < count:
            raise ValueError(f"backward_frames(steps=...): {step!r} is not a step of this backward "
                             f"pass, which has steps 0..{count - 1}")
        chosen.add(step)
    return chosen
