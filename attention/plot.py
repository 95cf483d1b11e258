"""The α heatmap, as the assignment draws it: predicted characters down, input characters across."""
from __future__ import annotations

import numpy as np


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
