"""Where specs come from: a path, or the name of a builtin spec shipped in netspec/specs."""

from __future__ import annotations

import os
import re
from pathlib import Path

from netspec.errors import Mark, NetspecError, SpecError, did_you_mean

SUFFIXES = (".yaml", ".yml")


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent / "specs"


def builtin_names() -> list[str]:
    """Names of the builtin specs: 'resnet50', ..., then those in folders: 'cifar/resnet56', ..."""
    root = builtin_dir()
    names = (p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml"))
    return sorted(names, key=lambda name: (name.count("/"), _natural(name)))  # top-level specs first


def builtin_name(path: Path) -> str | None:
    """The builtin name of a spec file shipped in the package ('.../netspec/specs/timm/resnet50d.yaml' is
    'timm/resnet50d'), or None for any other file."""
    if path.suffix not in SUFFIXES:
        return None
    try:
        return path.resolve().relative_to(builtin_dir().resolve()).with_suffix("").as_posix()
    except ValueError:
        return None


def _natural(name: str) -> list[tuple[int, str | int]]:
    """Sort key that puts resnet18 before resnet101: digit runs compare as numbers."""
    return [(1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", name)]


def display(path: Path) -> str:
    """How a path is shown in messages: relative to the working directory when it lies inside it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:  # another drive on Windows
        return str(path)


def resolve(ref: str | os.PathLike[str], relative_to: Path | None = None, mark: Mark | None = None) -> Path:
    """The file a spec reference names: an existing path, else a builtin name, else an error."""
    text = os.fspath(ref)
    path = (relative_to / text) if relative_to is not None else Path(text)
    if path.exists() and not path.is_dir():
        return path  # a FIFO or a device too: the reader refuses it by name, without waiting on it
    looks_like_path = text.endswith((*SUFFIXES, ".safetensors"))  # a spec file, or a model file holding one
    builtin = builtin_dir() / f"{text}.yaml"
    if not looks_like_path and builtin.is_file():
        return builtin
    if path.is_dir():
        message = f"'{text}' is a directory, not a spec file"
    else:
        hint = did_you_mean(text, builtin_names()) if not looks_like_path else ""
        message = f"no spec file or builtin spec named '{text}'{hint}"
    if mark is not None:
        raise SpecError.at(mark, "extends", message)
    raise NetspecError(message)
