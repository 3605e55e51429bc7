"""A training run's records: what an epoch writes besides the weights (settings, metrics, learning curves, the
line it prints), and what reads them back holds them to what netspec writes: every metric a finite number, and
the optimizer's state the one a run's settings make. No torch."""

from __future__ import annotations

import json
import math
from typing import Any

from netspec.messages import describe
from netspec.reader import dump
from netspec.settings import TrainSettings

Metrics = dict[str, float]
METRICS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "images_per_s", "seconds")


def metrics_row(row: Any, number: int) -> Metrics:
    """A row of metrics.jsonl as netspec writes it, or ValueError saying what differs."""
    if not isinstance(row, dict) or set(row) != set(METRICS):
        raise ValueError(f"expected an object of {', '.join(METRICS)}")
    for key in METRICS:
        value = row[key]
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ValueError(f"{key} is {describe(value)}")
    if row["epoch"] != number:
        raise ValueError(f"line {number} holds epoch {row['epoch']}")
    return {key: row[key] for key in METRICS}


def check_state(state: Any, settings: TrainSettings, epoch: int) -> None:
    """Raise ValueError unless `state` is the optimizer and scheduler state netspec saves for `epoch` of a run
    with `settings`: SGD's hyperparameters and StepLR's schedule as those settings make them, as numbers."""
    if not isinstance(state, dict) or not {"optimizer", "scheduler", "epoch"} <= set(state):
        raise ValueError("expected the optimizer, scheduler and epoch")
    if state["epoch"] != epoch:
        raise ValueError(f"it is the state of epoch {describe(state['epoch'])}, the manifest's epoch is {epoch}")
    lr = settings.lr * settings.gamma ** (epoch // settings.step_size)  # StepLR's, after `epoch` steps
    groups = state["optimizer"].get("param_groups") if isinstance(state["optimizer"], dict) else None
    if not isinstance(groups, list) or not groups:
        raise ValueError("the optimizer state has no parameter groups")
    expected = {"lr": lr, "initial_lr": settings.lr, "momentum": settings.momentum}
    expected |= {"weight_decay": settings.weight_decay, "nesterov": settings.nesterov}
    for i, group in enumerate(groups):
        for key, value in expected.items():
            _same(f"param_groups.{i}.{key}", group.get(key) if isinstance(group, dict) else None, value)
    scheduler = state["scheduler"] if isinstance(state["scheduler"], dict) else {}
    for key, value in (("last_epoch", epoch), ("step_size", settings.step_size), ("gamma", settings.gamma)):
        _same(f"scheduler.{key}", scheduler.get(key), value)
    if "scaler" in state:  # float16's loss scale: a positive number
        scale: Any = state["scaler"].get("scale") if isinstance(state["scaler"], dict) else None
        if not (type(scale) in (int, float) and 0 < scale < math.inf):
            raise ValueError(f"scaler.scale is {describe(scale)}, not a positive number")


def _same(where: str, found: Any, expected: float | bool) -> None:
    """Raise ValueError unless `found` is `expected`, a number of the same kind (floats to rounding)."""
    same_kind = isinstance(found, bool) if isinstance(expected, bool) else type(found) in (int, float)
    if not same_kind or not math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-12):
        raise ValueError(f"{where} is {describe(found)}, where this run's settings give {expected!r}")


def records(settings: TrainSettings, history: list[Metrics]) -> dict[str, bytes]:
    """An epoch's settings, metrics (strict JSON: never NaN or Infinity) and learning curves."""
    from netspec.curves import learning_curves

    metrics = "".join(json.dumps(row, allow_nan=False) + "\n" for row in history).encode()
    settings_text = dump(settings.model_dump(mode="json")).encode()
    return {"settings.yaml": settings_text, "metrics.jsonl": metrics, "curves.png": learning_curves(history)}


def epoch_line(row: Metrics) -> str:
    """An epoch's summary for the log."""
    return (
        f"epoch {row['epoch']:3.0f}  train loss {row['train_loss']:.4f} acc {row['train_acc']:6.2f}%  "
        f"test loss {row['test_loss']:.4f} acc {row['test_acc']:6.2f}%  lr {row['lr']:.2e}  "
        f"{row['images_per_s']:,.0f} images/s  {row['seconds']:.1f} s"
    )
