"""Parameter counts per part of a built model, and saving its weights (.pt or .safetensors)."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from netspec.errors import NetspecError
from netspec.files import write_atomic

FORMATS = (".pt", ".safetensors")


def parameters_by_part(model: nn.Module) -> dict[str, int]:
    """Parameters of the stem (everything before layer1), of each stage, and of the head (everything after)."""
    counts: dict[str, int] = {}
    part = "stem"
    for name, child in model.named_children():
        if name.startswith("layer") and name[5:].isdigit():
            part = name
        elif part != "stem":
            part = "head"
        counts[part] = counts.get(part, 0) + sum(p.numel() for p in child.parameters())
    return counts


def check_format(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise NetspecError(f"{path}: unsupported weights format '{path.suffix}'; use {' or '.join(FORMATS)}")


def save_weights(model: nn.Module, path: Path) -> None:
    """The state_dict, written atomically: torch.save for .pt, safetensors for .safetensors."""
    check_format(path)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save

        data = save(state)
    else:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        data = buffer.getvalue()
    write_atomic(path, data)
