"""Learning curves of a training run as a PNG, in memory (matplotlib's Agg backend: no display, no files)."""

from __future__ import annotations

import io

Metrics = dict[str, float]


def learning_curves(history: list[Metrics]) -> bytes:
    """A PNG of loss and accuracy against epoch, training and test."""
    import matplotlib

    matplotlib.use("Agg")  # no display: draw into memory
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), layout="constrained")
    epochs = [row["epoch"] for row in history]
    for axes, key, label in zip(figure.subplots(1, 2), ("loss", "acc"), ("loss", "accuracy (%)"), strict=True):
        for split, style in (("train", "-o"), ("test", "-s")):
            axes.plot(epochs, [row[f"{split}_{key}"] for row in history], style, markersize=3, label=split)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
