"""Learning curves of a training run as a PNG, in memory (matplotlib's Agg backend: no display, no files)."""

from __future__ import annotations

import io

Metrics = dict[str, float]


def learning_curves(history: list[Metrics]) -> bytes:
    """A PNG of loss and accuracy against epoch, training and test."""
    import matplotlib

    matplotlib.use("Agg")  # no display: draw into memory
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    # Fixed margins rather than a layout engine: the constrained layout measured every label on each call and took
    # 40% of the time of a small run's epoch; these margins fit the labels, which are the same whatever the run.
    figure = Figure(figsize=(9, 3.6))
    figure.subplots_adjust(left=0.07, right=0.985, bottom=0.14, top=0.96, wspace=0.22)
    epochs = [row["epoch"] for row in history]
    for axes, key, label in zip(figure.subplots(1, 2), ("loss", "acc"), ("loss", "accuracy (%)"), strict=True):
        for split, style in (("train", "-o"), ("test", "-s")):
            axes.plot(epochs, [row[f"{split}_{key}"] for row in history], style, markersize=3, label=split)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers (not 1.0, 1.5, ...)
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
