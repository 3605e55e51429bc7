"""Published weights of the builtin specs that reproduce a network: the table (netspec/pretrained.json, generated
from torchvision's and timm's registries by scripts/gen_pretrained.py), found in the torch hub cache, downloaded
only when allowed, and verified against the hash their publisher gives before anything reads them. No torch."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from netspec.errors import NetspecError
from netspec.files import Writer, digest
from netspec.sources import builtin_name, display

OFFLINE = "NETSPEC_OFFLINE"  # set to 1: never download, use the cache only
TIMEOUT_S = 30  # per network read: a stalled server ends the download instead of hanging it
CHUNK = 1 << 20


@dataclass(frozen=True)
class Weights:
    """One row of the table: where a builtin's published weights live and how to check and use them."""

    spec: str
    source: str  # who publishes them, and under which name
    url: str
    file: str
    sha256: str  # the start of the file's SHA-256, as its publisher gives it in the file name
    licence: str
    classes: int
    top1: float | None
    input: dict[str, Any]  # size, resize, interpolation, mean, std


@cache
def table() -> dict[str, Weights]:
    rows = json.loads((Path(__file__).parent / "pretrained.json").read_text())
    return {name: Weights(spec=name, **row) for name, row in rows.items()}


def weights_for(files: Sequence[Path]) -> Weights:
    """The published weights of a spec read from `files` (the spec file, then its extends chain): those of the
    first builtin spec in the chain, so that a spec extending resnet50 starts from resnet50's weights."""
    known = table()
    builtins = [name for name in map(builtin_name, files) if name is not None]
    if builtins and builtins[0] in known:
        return known[builtins[0]]
    if builtins:
        what = f"'{builtins[0]}' has no published weights"
    elif files:
        what = f"{display(files[0])} extends no builtin spec"
    else:
        what = "a Spec object names no builtin spec"
    raise NetspecError(f"--pretrained: {what}; pretrained weights exist for the builtin specs {', '.join(known)}")


def cache_dir() -> Path:
    """torch.hub's checkpoint folder, found as torch.hub.get_dir() finds it: $TORCH_HOME/hub/checkpoints, with
    TORCH_HOME defaulting to $XDG_CACHE_HOME/torch (~/.cache/torch)."""
    cache_home = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    torch_home = os.environ.get("TORCH_HOME", os.path.join(cache_home, "torch"))
    return Path(os.path.expanduser(torch_home)) / "hub" / "checkpoints"


def fetch(weights: Weights, max_bytes: int) -> Path:
    """The verified file of `weights`: from the cache, else downloaded into it (unless NETSPEC_OFFLINE=1)."""
    folder = cache_dir()
    path = folder / weights.file
    if not path.exists():
        if os.environ.get(OFFLINE, "") not in ("", "0"):
            raise NetspecError(
                f"{weights.spec}: pretrained weights {weights.file} are not in {folder} and downloading is off "
                f"({OFFLINE}=1); download {weights.url} into that folder"
            )
        _download(weights, path, max_bytes)
    verify(path, weights)
    return path


def verify(path: Path, weights: Weights) -> None:
    found = digest(path) or ""
    if not found.startswith(weights.sha256):
        raise NetspecError(
            f"{path}: its SHA-256 starts {found[: len(weights.sha256)]}, not {weights.sha256} as the table gives for "
            f"{weights.spec}'s weights ({weights.source}); delete it to download it again"
        )


def _download(weights: Weights, path: Path, max_bytes: int) -> None:
    """Stream the URL into the cache through the writer: the file appears only whole and with the right hash."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NetspecError(f"{path.parent}: cannot create the cache folder: {exc.strerror or exc}") from None
    Writer().write_chunks(path, _verified_chunks(weights, max_bytes))


def _verified_chunks(weights: Weights, max_bytes: int) -> Iterator[bytes]:
    sha, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(weights.url, timeout=TIMEOUT_S) as response:
            length = int(response.headers.get("Content-Length") or -1)
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise NetspecError(f"{weights.url}: larger than any checkpoint of this model ({max_bytes:,} bytes)")
                sha.update(chunk)
                yield chunk
            if 0 <= length != size:  # read(amt) returns what came before the server hung up, without complaint
                raise http.client.IncompleteRead(b"", length - size)
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, refusals, a connection cut mid-way
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or repr(exc)
        raise NetspecError(
            f"{weights.spec}: cannot download {weights.url} ({reason}); put {weights.file} in {cache_dir()} by hand"
        ) from None
    if not sha.hexdigest().startswith(weights.sha256):
        raise NetspecError(
            f"{weights.url}: the download's SHA-256 starts {sha.hexdigest()[: len(weights.sha256)]}, not "
            f"{weights.sha256} as the table gives; nothing was kept"
        )
