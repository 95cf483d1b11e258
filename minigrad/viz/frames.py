"""backward_frames: the whole backward pass as numbered pictures, one per step, for a lecture."""
from __future__ import annotations

import os

from minigrad.autograd import backward_steps
from minigrad.viz.draw import draw


def backward_frames(loss, directory, format: str = "svg", **draw_options) -> list[str]:
    """Run backward on `loss` step by step, writing `step_000.svg`, `step_001.svg`, … into `directory`.

    Each frame is `draw(loss, step=k)` taken while backward is paused after step k, so its
    gradients are exactly those filled in so far. Returns the files' paths in order.
    """
    os.makedirs(directory, exist_ok=True)
    paths = []
    for step in backward_steps(loss):
        drawing = draw(loss, step=step.index, **draw_options)
        stem = os.path.join(directory, f"step_{step.index:03d}")
        paths.append(drawing.render(stem, format=format, cleanup=True))
    return paths
