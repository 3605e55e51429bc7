"""Model files: safetensors files that carry their network's resolved spec, netspec's version and the input
settings in the header's metadata, so that the file alone rebuilds the model (as a Hugging Face folder's config
and weights do). Reading the spec back parses the header only, bounded, without torch.

The header is JSON after an 8-byte little-endian length (the safetensors format); its "__metadata__" maps
strings to strings. The embedded spec is YAML text and is read exactly as a spec file is: the same caps, the
same validation and limits, with errors placed in that text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from netspec.errors import Mark, NetspecError, SpecError, printable
from netspec.files import read_input
from netspec.reader import Document, read_document
from netspec.spec import Spec
from netspec.yaml12 import dump

SUFFIX = ".safetensors"
SPEC, VERSION, INPUT = "netspec.spec", "netspec.version", "netspec.input"
MAX_HEADER = 16 << 20  # bytes of JSON header: resnet152's is ~60 KB; safetensors itself allows 100 MB


def spec_data(spec: Spec) -> Any:
    """A spec as plain data: the fields it was given (the rest are defaults), with its extends chain merged."""
    return spec.model_dump(mode="json", exclude_unset=True)


def metadata(spec: Spec) -> dict[str, str]:
    """What a model file says about itself: the resolved spec, netspec's version, and how inputs are prepared
    (size, channels, mean and std, as timm's pretrained_cfg gives them)."""
    from netspec.version import __version__

    mean, std = spec.input.normalization
    settings = {"size": spec.input.size, "channels": spec.input.channels, "mean": list(mean), "std": list(std)}
    return {SPEC: dump(spec_data(spec)), VERSION: __version__, INPUT: json.dumps(settings)}


def is_model_file(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).endswith(SUFFIX)


def read_metadata(path: Path, source: str) -> dict[str, str]:
    """The "__metadata__" of a safetensors file's header, reading the header only (at most MAX_HEADER bytes)."""
    start = read_input(path, 7, source)
    if len(start) < 8:
        raise NetspecError(f"{source}: not a safetensors file (shorter than its 8-byte header length)")
    size = int.from_bytes(start, "little")
    if size > MAX_HEADER:
        raise NetspecError(f"{source}: not a safetensors file netspec reads (a header of {size:,} bytes)")
    raw = read_input(path, 8 + size - 1, source)[8:]
    try:
        header = json.loads(raw) if len(raw) == size else None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        header = None
    if not isinstance(header, dict):
        raise NetspecError(f"{source}: not a safetensors file (its header is not a JSON object)")
    found = header.get("__metadata__", {})
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise NetspecError(f"{source}: not a safetensors file (its __metadata__ is not a mapping of strings)")
    for key, value in found.items():
        try:  # JSON's \ud800 escapes decode to lone surrogates, which are not text and cannot be encoded
            key.encode(), value.encode()
        except UnicodeEncodeError as exc:
            bad = f"U+{ord(exc.object[exc.start]):04X}"
            raise NetspecError(
                f"{source}: its header's {printable(key)!r} holds {bad}, a lone surrogate, not text"
            ) from None
    return found


def read_spec(path: Path, source: str) -> Document:
    """The document of the spec embedded in a model file, placed in that text: 'm.safetensors (spec):3:5'."""
    text = read_metadata(path, source).get(SPEC)
    if text is None:
        raise NetspecError(
            f"{source}: holds weights but no spec; give the spec it was built from, and this file as --weights"
        )
    where = f"{source} (spec)"
    doc = read_document(text.encode(), where)
    if doc.data is None and not doc.values:
        raise SpecError.at(Mark(where, 1, 1), "", "empty document: the file's netspec.spec metadata holds no spec")
    if isinstance(doc.data, dict) and "extends" in doc.data:  # a model file must not make netspec read other files
        raise SpecError.at(doc.keys[("extends",)], "extends", "a model file's spec is whole: it cannot extend")
    doc.files = (path.resolve(),)
    return doc
