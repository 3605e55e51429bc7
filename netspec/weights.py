"""Parameter counts per part of a built model, and saving its weights (.pt or .safetensors)."""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from netspec.convert import to_netspec_layout
from netspec.errors import NetspecError, did_you_mean
from netspec.files import read_input
from netspec.modelfile import metadata
from netspec.places import stage_of
from netspec.spec import Spec

FORMATS = (".pt", ".safetensors")


def parameters_by_part(model: nn.Module) -> dict[str, int]:
    """Parameters of the stem (everything before layer1), of each stage, and of the head (everything after)."""
    counts: dict[str, int] = {}
    part = "stem"
    for name, child in model.named_children():
        if stage_of(name) == name:
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
    if path.suffix == ".safetensors":
        from safetensors.torch import load

        data = _read_capped(path, max_bytes)
        try:
            return load(data)
        except Exception as exc:  # safetensors raises its own SafetensorError for a damaged file
            raise NetspecError(f"{path}: not a readable safetensors file ({exc})") from None
    return _tensors(read_torch(path, max_bytes), str(path))


def read_torch(path: Path, max_bytes: int) -> object:
    """What torch.save wrote to `path`: tensors and plain containers only (no pickled code is run), read and
    inflated within `max_bytes`. torch.save's zip archives may hold compressed members, which torch.load inflates
    to the sizes the archive declares: a small file can declare gigabytes, so those sizes are bounded first."""
    data = _read_capped(path, max_bytes)
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            inflated = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(data)).infolist())
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise NetspecError(f"{path}: not a readable torch checkpoint (a damaged zip archive: {exc})") from None
        if inflated > max_bytes:
            raise NetspecError(
                f"{path}: inflates to {inflated:,} bytes, more than any checkpoint of this model ({max_bytes:,} bytes "
                "at most)"
            )
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message suggests weights_only=False; the useful part is the global it refused.
        found = re.search(r"(unsupported GLOBAL|Unsupported global:?)\s*(?:GLOBAL\s*)?([\w.]+)", str(exc))
        what = f"it refers to {found[2]}" if found else "it holds objects other than tensors"
        raise NetspecError(f"{path}: refusing a checkpoint that needs code to load ({what})") from None
    except Exception as exc:  # a damaged or hostile file can fail anywhere in the unpickler
        raise NetspecError(
            f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {_one_line(exc)})"
        ) from None


def _read_capped(path: Path, max_bytes: int) -> bytes:
    data = read_input(path, max_bytes)
    if len(data) > max_bytes:
        raise NetspecError(f"{path}: larger than any checkpoint of this model ({max_bytes:,} bytes at most)")
    return data


def _one_line(exc: BaseException) -> str:
    """An exception's message as one line: its first, shortened (torch's can run to pages)."""
    lines = str(exc).strip().splitlines() or [""]
    return lines[0] if len(lines[0]) <= 200 else lines[0][:197] + "..."


def _tensors(data: object, name: str) -> dict[str, Tensor]:
    """The tensors of a checkpoint: a bare state_dict, or one stored under a usual key (state_dict, model)."""
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in data.items()):
        raise NetspecError(f"{name}: expected a state_dict (a mapping of names to tensors)")
    return dict(data)


@dataclass(frozen=True)
class LoadReport:
    """What loading a checkpoint did: the model's keys it loaded and skipped, and what did not match. A strict
    load raises instead of returning a report with anything missing, unexpected or mismatched."""

    source: str
    loaded: tuple[str, ...]
    skipped: tuple[str, ...]  # the model's keys under a skipped prefix: they keep the model's own values
    missing: tuple[str, ...]  # the model's keys the checkpoint lacks
    unexpected: tuple[str, ...]  # the checkpoint's keys the model lacks (or skipped: not counted here)
    mismatched: tuple[str, ...]  # 'key: checkpoint (shape), model (shape)', or the same with dtypes

    def __str__(self) -> str:
        total = len(self.loaded) + len(self.skipped) + len(self.missing) + len(self.mismatched)
        parts = [f"loaded {len(self.loaded)} of the model's {total} tensors from {self.source}"]
        for title, items in (("skipped", self.skipped), ("missing", self.missing), ("unexpected", self.unexpected)):
            if items:
                parts.append(f"{title} {len(items)}: {_first(items)}")
        if self.mismatched:
            parts.append(f"mismatched {len(self.mismatched)}: {_first(self.mismatched)}")
        return "; ".join(parts)


def load_weights(
    model: nn.Module, source: Path | Mapping[str, Tensor], skip: Sequence[str] = (), strict: bool = True
) -> LoadReport:
    """Load a checkpoint (a file, or a state_dict in memory) into `model`, after renaming a timm or torchvision
    layout. Keys under a `skip` prefix (a module path: "fc", "layer4.2") are left out on both sides. Strict: any
    other key missing, unexpected or mismatched raises, listing each; otherwise they are reported and not loaded."""
    target = model.state_dict()
    name = str(source) if isinstance(source, Path) else "state_dict"
    raw = read_state_dict(source, checkpoint_cap(model)) if isinstance(source, Path) else dict(source)
    state = to_netspec_layout(_tensors(raw, name), target, name)
    _check_skips(skip, target, state, name)
    skipped = tuple(k for k in target if _under(k, skip))
    state = {k: v for k, v in state.items() if not _under(k, skip)}
    both = [k for k in target if k in state and not _under(k, skip)]
    mismatched = [_mismatch(k, state[k], target[k]) for k in both]
    report = LoadReport(
        name,
        tuple(k for k, m in zip(both, mismatched, strict=True) if not m),
        skipped,
        tuple(k for k in target if k not in state and k not in skipped),
        tuple(k for k in state if k not in target),
        tuple(m for m in mismatched if m),
    )
    lines = _listing(name, "missing (in the model, not in the checkpoint)", list(report.missing))
    lines += _listing(name, "unexpected (in the checkpoint, not in the model)", list(report.unexpected))
    lines += _listing(name, "shape mismatch", [m for m in report.mismatched if m.endswith(")")])
    lines += _listing(name, "type mismatch", [m for m in report.mismatched if not m.endswith(")")])
    if lines and strict:  # one line per kind of problem, each naming the file, as spec errors do
        raise NetspecError("\n".join(lines))
    loaded = {k: state[k] for k in report.loaded}
    # float() first: isfinite has no kernel for every float type (float8), and any float widens exactly.
    bad = [k for k, v in loaded.items() if v.is_floating_point() and not bool(torch.isfinite(v.float()).all())]
    if bad:
        raise NetspecError("\n".join(_listing(name, "NaN or infinite values", bad, strictly=False)))
    model.load_state_dict(loaded, strict=not (skipped or report.missing))
    return report


def load_pretrained(model: nn.Module, files: Sequence[Path], spec: Spec, skip: Sequence[str] = ()) -> LoadReport:
    """The published weights of the builtin spec among `files` (the spec's file and its extends chain:
    netspec.pretrained), cached or downloaded and hash-verified, loaded into `model`, built from `spec`. A head
    other than theirs (another class count, or none) keeps its own values, as timm's create_model(pretrained=True,
    num_classes=N) does."""
    from netspec.pretrained import fetch, weights_for

    weights = weights_for(files)
    path = fetch(weights, checkpoint_cap(model))
    own_head = spec.features is not None or spec.head.classes != weights.classes
    return load_weights(model, path, (*skip, "fc") if own_head and "fc" not in skip else skip)


def _under(key: str, prefixes: Sequence[str]) -> bool:
    """Whether `key` is a prefix's module or lies inside it: 'fc' covers fc.weight, not fc2.weight."""
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _check_skips(skip: Sequence[str], target: Mapping[str, Tensor], state: Mapping[str, Tensor], name: str) -> None:
    """A skip prefix that names nothing is a mistake (a typo would silently load what was meant to be skipped)."""
    modules = sorted({k.rsplit(".", 1)[0] for k in (*target, *state)})
    for prefix in skip:
        if not any(_under(k, (prefix,)) for k in (*target, *state)):
            hint = did_you_mean(prefix, modules)
            raise NetspecError(f"{name}: --skip {prefix}: neither the model nor the checkpoint has it{hint}")


def _mismatch(key: str, value: Tensor, target: Tensor) -> str:
    """'' when `value` loads into `target` keeping its meaning, else what differs."""
    if value.shape != target.shape:
        return f"{key}: checkpoint {tuple(value.shape)}, model {tuple(target.shape)}"
    if not _fits(value, target):
        return f"{key}: checkpoint {_kind(value)}, model {_kind(target)}"
    return ""


def _first(items: Sequence[str], shown: int = 8) -> str:
    more = f", and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _fits(value: Tensor, target: Tensor) -> bool:
    """Whether loading would keep `value`'s meaning: floats into floats (any precision), integers into integers;
    never bool, complex, quantized or sparse values, which load_state_dict would silently convert."""
    if value.layout != torch.strided or value.is_complex() or value.is_quantized or value.dtype == torch.bool:
        return False
    return value.is_floating_point() == target.is_floating_point()


def _kind(value: Tensor) -> str:
    layout = "" if value.layout == torch.strided else " " + str(value.layout).removeprefix("torch.")
    return str(value.dtype).removeprefix("torch.") + layout


def _listing(name: str, title: str, items: list[str], strictly: bool = True) -> list[str]:
    """'w.pt: mismatch (loading is strict): 2: a, b', or nothing when there are no items."""
    if not items:
        return []
    return [f"{name}: {title}{' (loading is strict)' if strictly else ''}: {len(items)}: {_first(items)}"]


def check_format(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise NetspecError(f"{path}: unsupported weights format '{path.suffix}'; use {' or '.join(FORMATS)}")


def weights_bytes(model: nn.Module, suffix: str, spec: Spec | None = None) -> bytes:
    """The state_dict as a file: torch.save's format for .pt, safetensors for .safetensors; a safetensors file
    of a spec's model is a model file, carrying the spec (netspec.modelfile)."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if suffix == ".safetensors":
        from safetensors.torch import save

        return save(state, metadata(spec) if spec is not None else None)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
