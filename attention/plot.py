"""Pictures of a trained model: the α heatmap, as the assignment draws it (predicted characters
down, input characters across), and the computation graph of one decoder step."""
from __future__ import annotations

import os

import numpy as np

import minigrad as mg


def attention_heatmap(alpha: np.ndarray, input_chars: list, output_chars: list, path: str,
                      title: str = "attention weights α<t,t'>") -> str:
    """Write α (Ty, Tx) as an image to `path` (the format follows its extension)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise RuntimeError("the heatmap needs matplotlib: pip install matplotlib "
                           "(or pip install -e \".[plots]\")") from error
    figure, axes = plt.subplots(figsize=(max(6, 0.35 * len(input_chars)), max(3, 0.4 * len(output_chars))))
    # A fixed 0..1 scale: a uniform (dead) map of 1/Tx must look pale, not as dark as a sharp one.
    image = axes.imshow(alpha[:len(output_chars), :len(input_chars)], cmap="Blues", vmin=0, vmax=1,
                        aspect="auto")
    axes.set_xticks(range(len(input_chars)), [c if c != " " else "␣" for c in input_chars])
    axes.set_yticks(range(len(output_chars)), list(output_chars))
    axes.set_xlabel("input t'")
    axes.set_ylabel("output t")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.03)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def draw_decoder_step(model, tokens: np.ndarray, step: int, out: str, layout: str = "auto") -> str:
    """Render decoder step `step` (1..Ty) of the composed `model` for token indices (1, Tx): the
    other steps and the encoder collapsed, the paths to α<step,·> and c<step> highlighted,
    gradients (of the loss against the model's own prediction) filled in. Returns the path
    written: `out`, or `out` + ".svg" when it has no extension."""
    if not 1 <= step <= model.config.Ty:
        raise ValueError(f"draw_decoder_step: step must be between 1 and Ty = {model.config.Ty}, got {step}")
    logits, _ = model(tokens)
    loss = mg.cross_entropy(logits, logits.data.argmax(axis=-1)).named("loss")
    loss.backward()
    tensors = mg.topological_order(loss, all_inputs=True)
    highlight = [t for t in tensors if t.name in (f"alpha<{step},·>", f"c<{step}>")]
    others = tuple(f"decoder t={t}" for t in range(1, model.config.Ty + 1) if t != step)
    extension = os.path.splitext(out)[1].lstrip(".").lower()
    drawing = mg.draw(loss, highlight=highlight, collapse=("encoder",) + others, layout=layout)
    picture = drawing.pipe(format=extension or "svg")  # no DOT source file beside it to clobber
    path = out if extension else out + ".svg"
    with open(path, "wb") as file:
        file.write(picture)
    return path
