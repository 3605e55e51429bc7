"""What running a network needs that its spec alone does not say, known before anything is allocated: the memory a
batch takes, against the memory free here, and batches that batch norm can train on. No torch.

The memory a command plans is an estimate from the static analysis, made to err high: the weights (with their
gradients and SGD's momentum when training), and per image: for training, every tensor a training forward pass
allocates, twice over for the backward pass; for tracing (an ONNX export), every tensor once, as the tracer keeps
them all; for inference, the most that one block has alive at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from netspec.analysis import BYTES_PER_ELEMENT, Analysis
from netspec.anatomy import numel
from netspec.errors import NetspecError
from netspec.kinds import batch_statistics, size_text
from netspec.limits import Limits

MODES = ("weights", "inference", "tracing", "training")
_COPIES = {"weights": 1, "inference": 1, "tracing": 1, "training": 4}  # + gradients, momentum and a spare


def free_memory() -> int | None:
    """Bytes this process may still allocate: the system's available memory, or less under a cgroup's limit (a
    container); None where neither can be read."""
    found = [_meminfo_available(), _cgroup_room()]
    known = [value for value in found if value is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def _cgroup_room() -> int | None:
    """cgroup v2's memory.max less memory.current, for this process's cgroup; None without a limit."""
    try:
        where = Path("/proc/self/cgroup").read_text().strip().splitlines()[0].split(":", 2)[2]
        folder = Path("/sys/fs/cgroup") / where.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((folder / "memory.current").read_text()))
    except (OSError, ValueError, IndexError):
        return None


def planned_bytes(analysis: Analysis, batch: int, mode: str) -> int:
    """The estimate above, in bytes, for `batch` images at the analysis' input size."""
    totals = analysis.totals
    weights = (totals.params + totals.buffers) * _COPIES[mode]
    if mode == "weights":
        per_image = 0
    elif mode == "training":
        per_image = 2 * totals.new
    elif mode == "tracing":
        per_image = totals.new
    else:
        per_image = inference_peak(analysis)
    return (weights + batch * per_image) * BYTES_PER_ELEMENT


def inference_peak(analysis: Analysis) -> int:
    """Elements alive at once in an inference forward pass, at most: a block's input and everything it allocates
    (eager mode frees each tensor once the next layer has it; a block's input stays for its shortcut)."""
    blocks: dict[str, list[int]] = {}
    for layer in analysis.layers:
        parts = layer.path.split(".")
        key = ".".join(parts[:2]) if layer.part not in ("stem", "head") else parts[0]
        blocks.setdefault(key, []).append(layer.new or numel(layer.shape))
    return max(sum(sizes) + max(sizes) for sizes in blocks.values())


def check_memory(analysis: Analysis, limits: Limits, batch: int, mode: str, what: str) -> None:
    """Refuse, naming `what` (the command and its batch), a run whose planned memory exceeds limits.memory, or by
    default the memory free here."""
    need = planned_bytes(analysis, batch, mode)
    room = limits.memory if limits.memory is not None else free_memory()
    if room is None or need <= room:
        return
    whose = f"the limit of {_size(room)}" if limits.memory is not None else f"the {_size(room)} free here"
    raise NetspecError(
        f"{what}: {analysis.spec.name} at batch {batch:,} ({size_text(analysis.size)}) would need about "
        f"{_size(need)} for {mode}, more than {whose}; lower the batch or input size, or raise it with "
        f"--limit memory={need}"
    )


def single_value_norm(analysis: Analysis, batch: int) -> str | None:
    """The first batch norm layer that a training batch of `batch` images would give one value per channel (a 1 x 1
    map of one image), where it cannot compute a variance; None when there is none."""
    for layer in analysis.layers:
        if batch_statistics(layer.kind) and batch * numel(layer.shape[1:]) == 1:
            return layer.path
    return None


def check_batch_norm(analysis: Analysis, batch: int, what: str) -> None:
    """Refuse a training batch that batch norm cannot train on."""
    where = single_value_norm(analysis, batch)
    if where is not None:
        raise NetspecError(
            f"{what}: batch norm at {where} would see one value per channel (a 1 x 1 map of {batch} image) and "
            "cannot train on it; use a batch of at least 2"
        )


def check_training(analysis: Analysis, limits: Limits, batch_size: int, processes: int) -> None:
    """Refuse, before a run folder is touched, a training run that cannot run: a network without a classifier, a
    batch (each process's share of `batch_size`) over the memory, or one that batch norm cannot train on."""
    spec = analysis.spec
    if spec.features is not None:
        raise NetspecError(
            f"train: {spec.name} is a backbone (its spec has features), and netspec train trains classifiers; train "
            "the spec without features"
        )
    if spec.head.classes == 0:
        raise NetspecError(
            f"train: {spec.name} has no classifier (head.classes: 0), and netspec train trains classifiers; set "
            "head.classes to the number of classes"
        )
    share = max(1, batch_size // processes)
    check_memory(analysis, limits, share, "training", f"train --batch-size {batch_size}")
    check_batch_norm(analysis, share, f"train --batch-size {batch_size}")


def _size(count: int) -> str:
    return f"{count / 1e9:,.1f} GB" if count >= 1e8 else f"{count / 1e6:,.1f} MB"
