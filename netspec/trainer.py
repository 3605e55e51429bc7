"""Training a built network: SGD with StepLR, one process or many (DistributedDataParallel through torchrun).

Under torchrun (netspec.torchrun: its whole set of variables) each process trains on its share of every global
batch; only rank 0 prints and writes. The training set is always read through a DistributedSampler (with one
replica when alone), so that one process and N processes see the same global batches, step for step.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from netspec.analysis import Analysis
from netspec.compiler import compile_plan
from netspec.data import Loaders, datasets_for, left_out
from netspec.errors import NetspecError
from netspec.finetune import check_parts, freeze, start_from, train_mode
from netspec.network import NetworkPlan
from netspec.records import Metrics, check_state, epoch_line, records
from netspec.runs import Run
from netspec.settings import TrainSettings
from netspec.spec import Spec
from netspec.steps import Place, Precision, evaluate, train_epoch
from netspec.torchrun import launched
from netspec.weights import checkpoint_cap, load_weights, read_torch, weights_bytes


@dataclass
class TrainResult:
    """What `train` returns: the metrics of every epoch, the trained model (unwrapped), and the run's folder."""

    metrics: list[Metrics]
    model: nn.Module
    out: Path


def train(
    analysis: Analysis,
    settings: TrainSettings,
    resume: bool = False,
    reads: Iterable[str | os.PathLike[str]] = (),
    files: Sequence[Path] = (),
) -> TrainResult:
    """Train the analysed network as `settings` say, writing results to settings.out (default runs/SPEC_NAME). No
    file of `reads` (the spec, its extends chain, the settings file) is ever replaced by the run's files. `files`
    are the spec's file and its extends chain, which name the published weights of settings.pretrained."""
    created = _join_process_group(settings)
    try:
        run = Run.of(analysis.spec, settings, reads)
        return _train(analysis, settings, resume, _place(settings), run, files)
    finally:
        if created:
            dist.destroy_process_group()


def _train(
    analysis: Analysis, settings: TrainSettings, resume: bool, place: Place, run: Run, files: Sequence[Path]
) -> TrainResult:
    spec = analysis.spec
    if settings.batch_size % place.world:
        raise NetspecError(f"batch size {settings.batch_size} does not split evenly across {place.world} processes")
    check_parts(analysis, settings.freeze)
    torch.manual_seed(settings.seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
    model = _model(analysis.plan, settings, place)
    # Before the run folder is touched: a checkpoint that does not fit, or freezing all there is, ends the run.
    report = start_from(model, spec, settings, files) if not resume else None
    if report is not None and place.main:
        print(report, flush=True)
    recipe = _Recipe(model, settings, place.device)
    with run.locked() if place.main else nullcontext():
        loaders = _loaders(spec, settings, resume, place, run)
        try:
            history = _epochs(model, loaders, recipe, place, run, spec, resume)
        except BaseException:
            if place.main:
                _settle(run, resume)
            raise
    return TrainResult(history, model, run.folder)


def _settle(run: Run, resume: bool) -> None:
    """A run that ends early (Ctrl-C, a failed write, divergence) leaves its folder as of its last committed epoch,
    still holding the lock: a new run that ends before its first epoch leaves the folder as it was, and a commit
    under way is finished or undone here rather than by the next --resume (a kill -9 leaves that to it)."""
    if not resume:
        run.discard_unfinished()
    with suppress(NetspecError):  # a folder changed under the run: --resume says what is wrong with it
        run.committed()


def _loaders(spec: Spec, settings: TrainSettings, resume: bool, place: Place, run: Run) -> Loaders:
    """The data, read once the run folder is checked (and, for a new run, its spec and settings recorded)."""
    if place.main:  # first: data problems end the run before anything is written, and one process downloads
        data = _datasets(spec, settings)
        left_out(data[0], settings, place.world)  # a set too small to train on ends the run here
        if not run.check(spec, settings, resume):
            run.start(spec, settings)
    _barrier(place)  # the others read the data and the checkpoint once rank 0 has them in place
    if not place.main:
        data = _datasets(spec, settings)
    loaders = Loaders(*data, settings, place.rank, place.world, pin=place.device.type == "cuda")
    if loaders.dropped and place.main:
        note = f"{loaders.images:,} images train an epoch, of {len(loaders.seeded):,}"
        print(f"note: each epoch's last batch would hold one image; it is left out ({note})", flush=True)
    return loaders


def _epochs(
    model: nn.Module, loaders: Loaders, recipe: _Recipe, place: Place, run: Run, spec: Spec, resume: bool
) -> list[Metrics]:
    """Every epoch still to train, each committed as it ends (by rank 0); the metrics of all of them."""
    history = recipe.resume(run, run.read_manifest().epoch) if resume else []
    wrapped: nn.Module = DistributedDataParallel(model) if place.world > 1 else model
    if recipe.settings.compile:
        wrapped = cast(nn.Module, torch.compile(wrapped))
    for epoch in range(len(history) + 1, recipe.settings.epochs + 1):
        history.append(_epoch(wrapped, loaders, recipe, place, epoch))
        _check_finite(history[-1], model, run)
        if place.main:
            recipe.record(run, history, spec)
            print(epoch_line(history[-1]), flush=True)
    return history


def _check_finite(row: Metrics, model: nn.Module, run: Run) -> None:
    """Stop a run that diverged before it is saved: the folder keeps the last epoch whose numbers are finite."""
    bad = [k for k in ("train_loss", "test_loss") if not math.isfinite(row[k])]
    if not bad and all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point()):
        return
    what = f"the {bad[0].replace('_', ' ')} is {row[bad[0]]}" if bad else "the weights hold NaN or infinite values"
    kept = (
        f"{run.folder} holds epoch {row['epoch'] - 1:.0f}, the last good one"
        if row["epoch"] > 1
        else "no epoch was saved"
    )
    raise NetspecError(f"epoch {row['epoch']:.0f}: {what}: the run diverged (try a lower --lr); {kept}")


def _datasets(spec: Spec, settings: TrainSettings) -> tuple[Dataset[Any], Dataset[Any]]:
    return datasets_for(settings, spec.input, spec.head.classes, spec.dims)


class _Recipe:
    """SGD with (Nesterov) momentum and weight decay; the learning rate times `gamma` every `step_size` epochs."""

    def __init__(self, model: nn.Module, settings: TrainSettings, device: torch.device) -> None:
        self.model, self.settings, self.epochs = model, settings, settings.epochs
        self.precision = Precision.of(settings, device)
        self.held = freeze(model, settings.freeze, settings.freeze_norms)  # norms kept in eval mode
        trained = [p for p in model.parameters() if p.requires_grad]
        if not trained:
            raise NetspecError("--freeze and --freeze-norms leave nothing to train")
        self.optimizer = torch.optim.SGD(
            trained,
            settings.lr,
            settings.momentum,
            weight_decay=settings.weight_decay,
            nesterov=settings.nesterov,
        )
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, settings.step_size, settings.gamma)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def resume(self, run: Run, epoch: int) -> list[Metrics]:
        """Weights, optimizer and scheduler from the checkpoint of `epoch` (committed, its files verified against
        the manifest); the metrics of the epochs it had done."""
        load_weights(self.model, run.weights("last"))
        try:
            state: Any = read_torch(run.state("last"), 4 * checkpoint_cap(self.model))  # no pickled code, bounded
            check_state(state, self.settings, epoch)
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            if self.precision.scaler is not None and "scaler" in state:
                self.precision.scaler.load_state_dict(state["scaler"])
        except NetspecError:
            raise
        except Exception as exc:  # a file that passed the manifest yet is not this run's state
            raise NetspecError(
                f"{run.state('last')}: not this run's optimizer state ({type(exc).__name__}: {exc})"
            ) from None
        return run.read_metrics(epoch)

    def record(self, run: Run, history: list[Metrics], spec: Spec) -> None:
        """Commit the epoch: checkpoint (last, and best by test accuracy; model files that carry `spec`),
        settings, metrics, learning curves."""
        epoch = len(history)
        buffer = io.BytesIO()
        state = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(), "epoch": epoch}
        if self.precision.scaler is not None:  # float16's loss scale: a resumed run continues with it
            state["scaler"] = self.precision.scaler.state_dict()
        torch.save(state, buffer)
        weights = weights_bytes(self.model, ".safetensors", spec)
        files = {"last.safetensors": weights, "last.state.pt": buffer.getvalue()}
        if history[-1]["test_acc"] >= max(row["test_acc"] for row in history):
            files |= {"best.safetensors": files["last.safetensors"], "best.state.pt": files["last.state.pt"]}
        run.commit(files | records(self.settings, history), epoch)


def _epoch(model: nn.Module, loaders: Loaders, recipe: _Recipe, place: Place, epoch: int) -> Metrics:
    """Train one epoch, score the test set, step the schedule: the epoch's row of metrics."""
    lr, started = recipe.lr, time.perf_counter()
    label = f"{epoch}/{recipe.epochs}"
    train_mode(model, recipe.held)
    loss, acc, seconds = train_epoch(model, loaders.train(epoch), recipe.optimizer, place, recipe.precision, label)
    test_loss, test_acc = evaluate(model, loaders.test, place, recipe.precision)
    recipe.scheduler.step()
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": loss,
        "train_acc": acc,
        "test_loss": test_loss,
        "test_acc": test_acc,
        "images_per_s": loaders.images / max(seconds, 1e-9),
        "seconds": time.perf_counter() - started,
    }


def _model(net: NetworkPlan, settings: TrainSettings, place: Place) -> nn.Module:
    if settings.channels_last and net.dims != 2:
        raise NetspecError(f"--channels-last lays out images (dims: 2); this network has dims {net.dims}")
    model = compile_plan(net)
    if settings.sync_bn and place.world > 1:
        if place.device.type == "cpu":
            raise NetspecError(
                "--sync-bn needs GPUs: torch's SyncBatchNorm runs on CUDA devices only; on CPUs use 'norm: group', "
                "which does not depend on the batch"
            )
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # type: ignore[no-untyped-call]
    model = model.to(place.device)
    # channels_last: convolutions read NHWC, which oneDNN and cuDNN run faster; weights are saved unchanged.
    return model.to(memory_format=torch.channels_last) if settings.channels_last else model


def _barrier(place: Place) -> None:
    if place.world > 1:
        dist.barrier()


def _join_process_group(settings: TrainSettings) -> bool:
    """Join torchrun's process group (gloo on CPUs, nccl on GPUs); True when this call created it."""
    launch = launched()
    if launch is None or launch.world <= 1 or dist.is_initialized():
        return False
    backend = "nccl" if _device_type(settings) == "cuda" else "gloo"
    dist.init_process_group(backend)
    return True


def _place(settings: TrainSettings) -> Place:
    rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
    kind = _device_type(settings)
    if kind == "cpu":
        return Place(rank, world, torch.device("cpu"))
    if settings.device.startswith("cuda:"):
        device = torch.device(settings.device)
    else:  # one GPU per process: torchrun's LOCAL_RANK picks it
        launch = launched()
        device = torch.device("cuda", launch.local_rank if launch is not None else 0)
    torch.cuda.set_device(device)
    return Place(rank, world, device)


def _device_type(settings: TrainSettings) -> str:
    if settings.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if settings.device != "cpu" and not torch.cuda.is_available():
        raise NetspecError(f"device {settings.device}: torch sees no CUDA device here; use --device cpu")
    return settings.device.split(":")[0]
