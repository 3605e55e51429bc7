"""A training run's folder: the resolved spec and settings, metrics per epoch, checkpoints, learning curves.

Only rank 0 calls the writers. Every file is written atomically, so a run killed at any moment leaves the
previous epoch's files whole, and `--resume` starts from them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from netspec.errors import NetspecError
from netspec.files import write_atomic
from netspec.settings import TrainSettings
from netspec.spec import Spec

Metrics = dict[str, float]
RESUMABLE = ("epochs", "workers", "device", "out", "data_dir")  # may change between a run and its resumption


class Run:
    """The files of one training run in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec = folder / "spec.yaml"
        self.settings = folder / "settings.yaml"
        self.metrics = folder / "metrics.jsonl"
        self.curves = folder / "curves.png"

    @classmethod
    def of(cls, spec: Spec, settings: TrainSettings) -> Run:
        """The folder of a run: settings.out, or runs/SPEC_NAME."""
        return cls(Path(settings.out or f"runs/{spec.name}"))

    def weights(self, which: str) -> Path:
        return self.folder / f"{which}.safetensors"

    def state(self, which: str) -> Path:
        return self.folder / f"{which}.state.pt"

    def check(self, spec: Spec, settings: TrainSettings, resume: bool) -> None:
        """Refuse to start over an earlier run, or to resume one that is missing or trained something else."""
        if resume:
            self.check_resumable(spec, settings)
        elif self.weights("last").exists():
            raise NetspecError(
                f"{self.folder} already holds a run; continue it with --resume, or choose another folder with --out"
            )

    def start(self, spec: Spec, settings: TrainSettings) -> None:
        """Create the folder and record what is trained and how (after `check`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.spec, _yaml(spec.model_dump(mode="json", exclude_unset=True)))
        write_atomic(self.settings, _yaml(settings.model_dump(mode="json")))
        write_atomic(self.metrics, b"")

    def check_resumable(self, spec: Spec, settings: TrainSettings) -> None:
        """Resuming must continue the same training: the same network and recipe (more epochs are fine)."""
        if not self.weights("last").exists():
            raise NetspecError(f"{self.folder}: no checkpoint to resume from (last.safetensors is missing)")
        if yaml.safe_load(self.spec.read_text()) != spec.model_dump(mode="json", exclude_unset=True):
            raise NetspecError(f"{self.spec}: the run trained a different network; resume it with the same spec")
        saved = yaml.safe_load(self.settings.read_text())
        current = settings.model_dump(mode="json")
        changed = sorted(k for k in current if k not in RESUMABLE and saved.get(k) != current[k])
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
            raise NetspecError(f"{self.settings}: resuming needs the same settings, but these differ: {detail}")

    def resume(self, settings: TrainSettings) -> None:
        """Record the settings of the resumed run (it may train for more epochs)."""
        write_atomic(self.settings, _yaml(settings.model_dump(mode="json")))

    def save(self, which: str, model: nn.Module, state: dict[str, Any]) -> None:
        """Weights as safetensors, optimizer and scheduler state (plain tensors and numbers) as a torch file."""
        from safetensors.torch import save

        write_atomic(self.weights(which), save({k: v.contiguous() for k, v in model.state_dict().items()}))
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_atomic(self.state(which), buffer.getvalue())

    def load(self, which: str, model: nn.Module) -> dict[str, Any]:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(self.weights(which)), strict=True)
        state: dict[str, Any] = torch.load(self.state(which), weights_only=True)  # refuses pickled code
        return state

    def read_metrics(self, epochs: int) -> list[Metrics]:
        """The first `epochs` lines of metrics.jsonl: what the checkpoint had seen."""
        lines = self.metrics.read_text().splitlines()[:epochs]
        return [json.loads(line) for line in lines]

    def write_metrics(self, history: list[Metrics]) -> None:
        write_atomic(self.metrics, "".join(json.dumps(row) + "\n" for row in history).encode())
        write_atomic(self.curves, learning_curves(history))


def _yaml(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


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
