"""A training epoch and an evaluation pass, run at the settings' precision and memory format.

The loop keeps the device busy: no per-step host sync (`.item()`, `.tolist()`) but for the progress bar,
which reads the totals every 10 steps and only on a terminal; loss, correct predictions and image counts
accumulate on the device and are read once per epoch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader

from netspec.errors import NetspecError, check_interrupted
from netspec.settings import TrainSettings


@dataclass(frozen=True)
class Place:
    """Where this process trains: its rank among `world` processes and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class Precision:
    """How steps run: autocast to `dtype` (None: float32 throughout), a gradient scaler for float16 (whose small
    range needs the loss scaled), and channels_last inputs for a channels_last model."""

    device_type: str
    dtype: torch.dtype | None
    scaler: torch.amp.GradScaler | None
    channels_last: bool

    @classmethod
    def of(cls, settings: TrainSettings, device: torch.device) -> Precision:
        dtype = None
        if settings.amp:  # bfloat16 on CPUs (float16 autocast there is slow), float16 on GPUs, unless told
            auto = torch.bfloat16 if device.type == "cpu" else torch.float16
            dtype = {"auto": auto, "bfloat16": torch.bfloat16, "float16": torch.float16}[settings.amp_dtype]
        elif settings.amp_dtype != "auto":
            raise NetspecError(f"--amp-dtype {settings.amp_dtype} needs --amp")
        scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None
        return cls(device.type, dtype, scaler, settings.channels_last)

    def autocast(self) -> AbstractContextManager[Any]:
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def inputs(self, images: Tensor, device: torch.device) -> Tensor:
        memory = torch.channels_last if self.channels_last else torch.preserve_format
        return images.to(device, non_blocking=True, memory_format=memory)


def train_epoch(
    model: nn.Module,
    loader: DataLoader[Any],
    optimizer: torch.optim.Optimizer,
    place: Place,
    precision: Precision,
    label: str,
) -> tuple[float, float, float]:
    """One pass over the training batches, the model in training mode: (mean loss, accuracy in %, seconds)."""
    from tqdm import tqdm

    totals = torch.zeros(3, dtype=torch.float64, device=place.device)  # loss sum, correct, images
    show = place.main and sys.stderr.isatty()
    started = time.perf_counter()
    with (
        batches(loader) as items,
        tqdm(items, f"epoch {label}", len(loader), False, unit="batch", disable=not show, dynamic_ncols=True) as bar,
    ):
        for step, (images, labels) in enumerate(bar, 1):
            images = precision.inputs(images, place.device)
            labels = labels.to(place.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with precision.autocast():
                logits = model(images)
                loss = nn.functional.cross_entropy(logits.float(), labels)
            if precision.scaler is not None:
                precision.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
                precision.scaler.step(optimizer)
                precision.scaler.update()
            else:
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
            accumulate(totals, loss, logits, labels)
            if show and (step == 1 or step % 10 == 0 or step == len(loader)):
                bar.set_postfix_str(_progress(totals, optimizer, place, started), refresh=False)
    all_reduce(totals, place)
    seconds = time.perf_counter() - started
    return (totals[0] / totals[2]).item(), (100 * totals[1] / totals[2]).item(), seconds


def _interruptible(items: Iterator[Any]) -> Iterator[Any]:
    """`items`, ending at the first batch after an interrupt whose exception Python dropped (netspec.errors)."""
    for item in items:
        check_interrupted()
        yield item


@contextmanager
def batches(loader: DataLoader[Any]) -> Iterator[Iterator[Any]]:
    """The loader's batches, its worker processes stopped as soon as the loop ends, even by an exception (a bad
    image): left to the garbage collector, torch's iterator waits 5 s on each worker before it ends them (10 s
    measured with 2 workers, 0.2 s when stopped here)."""
    iterator = iter(loader)
    try:
        yield _interruptible(iterator)
    finally:
        stop = getattr(iterator, "_shutdown_workers", None)  # torch's own, on iterators that run workers
        if stop is not None:
            stop()


def _progress(totals: Tensor, optimizer: torch.optim.Optimizer, place: Place, started: float) -> str:
    loss, correct, images = totals.tolist()
    rate = images * place.world / (time.perf_counter() - started)
    lr = optimizer.param_groups[0]["lr"]
    return f"loss {loss / images:.4f} acc {100 * correct / images:.2f}% lr {lr:.2e} {rate:,.0f} images/s"


def accumulate(totals: Tensor, loss: Tensor, logits: Tensor, labels: Tensor) -> None:
    totals[0] += loss.detach() * labels.numel()
    totals[1] += (logits.argmax(1) == labels).sum()
    totals[2] += labels.numel()


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader[Any], place: Place, precision: Precision) -> tuple[float, float]:
    """Mean loss and accuracy (%) over the whole test set, each process scoring its share."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=place.device)
    with batches(loader) as items:
        for images, labels in items:
            images, labels = precision.inputs(images, place.device), labels.to(place.device)
            with precision.autocast():
                logits = model(images)
            accumulate(totals, nn.functional.cross_entropy(logits.float(), labels), logits, labels)
    all_reduce(totals, place)
    return (totals[0] / totals[2]).item(), (100 * totals[1] / totals[2]).item()


def all_reduce(totals: Tensor, place: Place) -> None:
    if place.world > 1:
        dist.all_reduce(totals)
