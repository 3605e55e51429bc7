"""Parameter counts per part of a built model, and saving its weights (.pt or .safetensors)."""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from netspec.convert import to_netspec_layout
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


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """A state_dict from .safetensors or a torch checkpoint, read without running any pickled code."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as exc:  # safetensors raises its own SafetensorError for a damaged file
            raise NetspecError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False; the useful part is the global it refused.
        found = re.search(r"(unsupported GLOBAL|Unsupported global:?)\s*(?:GLOBAL\s*)?([\w.]+)", str(exc))
        what = f"it refers to {found[2]}" if found else "it holds objects other than tensors"
        raise NetspecError(f"{path}: refusing a checkpoint that needs code to load ({what})") from None
    except (RuntimeError, EOFError, ValueError) as exc:
        raise NetspecError(f"{path}: not a readable torch checkpoint ({exc})") from None
    return _unwrap(data, path)


def _unwrap(data: object, path: Path) -> dict[str, Tensor]:
    """The tensors of a checkpoint: a bare state_dict, or one stored under a usual key (state_dict, model)."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(v, Tensor) for v in data.values()):
        raise NetspecError(f"{path}: expected a state_dict (a mapping of names to tensors)")
    return data


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a checkpoint strictly, after renaming a timm ResNetV2 layout; explain any mismatch."""
    target = model.state_dict()
    state = to_netspec_layout(read_state_dict(path), target)
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(target[k].shape)}"
        for k in target
        if k in state and state[k].shape != target[k].shape
    ]
    if missing or unexpected or shapes:
        lines = [f"{path}: the checkpoint does not fit the model (loading is strict):"]
        lines += _listing("missing (in the model, not in the checkpoint)", missing)
        lines += _listing("unexpected (in the checkpoint, not in the model)", unexpected)
        lines += _listing("shape mismatch", shapes)
        raise NetspecError("\n".join(lines))
    model.load_state_dict(state, strict=True)


def _listing(title: str, items: list[str], shown: int = 8) -> list[str]:
    if not items:
        return []
    more = f", and {len(items) - shown} more" if len(items) > shown else ""
    return [f"  {title}: {len(items)}: {', '.join(items[:shown])}{more}"]


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
