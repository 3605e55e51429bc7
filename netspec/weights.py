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
from netspec.files import read_input

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


# A checkpoint may hold more than the weights (optimizer state, float64 copies), but not without bound: at most
# this many bytes per value of the model's state, plus a fixed allowance for headers and small extras.
BYTES_PER_VALUE = 32
ALLOWANCE = 64 << 20


def checkpoint_cap(model: nn.Module) -> int:
    """The largest checkpoint file read for `model`: reading one is bounded by the model, not by the file."""
    return BYTES_PER_VALUE * sum(int(t.numel()) for t in model.state_dict().values()) + ALLOWANCE


def read_state_dict(path: Path, max_bytes: int) -> dict[str, Tensor]:
    """A state_dict from .safetensors or a torch checkpoint, read without running any pickled code."""
    data = read_input(path, max_bytes)
    if len(data) > max_bytes:
        raise NetspecError(f"{path}: larger than any checkpoint of this model ({max_bytes:,} bytes at most)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load

        try:
            return load(data)
        except Exception as exc:  # safetensors raises its own SafetensorError for a damaged file
            raise NetspecError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False; the useful part is the global it refused.
        found = re.search(r"(unsupported GLOBAL|Unsupported global:?)\s*(?:GLOBAL\s*)?([\w.]+)", str(exc))
        what = f"it refers to {found[2]}" if found else "it holds objects other than tensors"
        raise NetspecError(f"{path}: refusing a checkpoint that needs code to load ({what})") from None
    except Exception as exc:  # a damaged or hostile file can fail anywhere in the unpickler
        raise NetspecError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None
    return _unwrap(loaded, path)


def _unwrap(data: object, path: Path) -> dict[str, Tensor]:
    """The tensors of a checkpoint: a bare state_dict, or one stored under a usual key (state_dict, model)."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in data.items()):
        raise NetspecError(f"{path}: expected a state_dict (a mapping of names to tensors)")
    return data


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a checkpoint strictly, after renaming a timm ResNetV2 layout; explain any mismatch."""
    target = model.state_dict()
    state = to_netspec_layout(read_state_dict(path, checkpoint_cap(model)), target, path)
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    both = [k for k in target if k in state]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(target[k].shape)}"
        for k in both
        if state[k].shape != target[k].shape
    ]
    kinds = [
        f"{k}: checkpoint {_kind(state[k])}, model {_kind(target[k])}" for k in both if not _fits(state[k], target[k])
    ]
    lines = _listing(path, "missing (in the model, not in the checkpoint)", missing)
    lines += _listing(path, "unexpected (in the checkpoint, not in the model)", unexpected)
    lines += _listing(path, "shape mismatch", shapes)
    lines += _listing(path, "type mismatch", kinds)
    if not lines:
        bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        lines = _listing(path, "NaN or infinite values", bad)
    if lines:  # one line per kind of problem, each naming the file, as spec errors do
        raise NetspecError("\n".join(lines))
    model.load_state_dict(state, strict=True)


def _fits(value: Tensor, target: Tensor) -> bool:
    """Whether loading would keep `value`'s meaning: floats into floats (any precision), integers into integers;
    never bool, complex, quantized or sparse values, which load_state_dict would silently convert."""
    if value.layout != torch.strided or value.is_complex() or value.is_quantized or value.dtype == torch.bool:
        return False
    return value.is_floating_point() == target.is_floating_point()


def _kind(value: Tensor) -> str:
    layout = "" if value.layout == torch.strided else " " + str(value.layout).removeprefix("torch.")
    return str(value.dtype).removeprefix("torch.") + layout


def _listing(path: Path, title: str, items: list[str], shown: int = 8) -> list[str]:
    """'w.pt: shape mismatch (loading is strict): 2: a, b', or nothing when there are no items."""
    if not items:
        return []
    more = f", and {len(items) - shown} more" if len(items) > shown else ""
    return [f"{path}: {title} (loading is strict): {len(items)}: {', '.join(items[:shown])}{more}"]


def check_format(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise NetspecError(f"{path}: unsupported weights format '{path.suffix}'; use {' or '.join(FORMATS)}")


def weights_bytes(model: nn.Module, suffix: str) -> bytes:
    """The state_dict as a file: torch.save's format for .pt, safetensors for .safetensors."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if suffix == ".safetensors":
        from safetensors.torch import save

        return save(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
