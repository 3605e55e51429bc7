"""Published weights of the builtin specs that reproduce a network: the table (netspec/pretrained.json, generated
from torchvision's and timm's registries by scripts/gen_pretrained.py), found in the torch hub cache, downloaded
only when allowed, and verified against the hash their publisher gives before anything reads them. No torch."""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from netspec.errors import NetspecError, printable
from netspec.files import Writer, digest
from netspec.sources import builtin_name, display

OFFLINE = "NETSPEC_OFFLINE"  # set to 1: never download, use the cache only
STALL = "NETSPEC_DOWNLOAD_STALL"  # seconds: a download that receives less than MIN_BYTES in as long is given up
STALL_S = 30.0
MIN_BYTES = 64 << 10  # per stall window: a server that trickles a byte at a time is a stalled one
DEADLINE_WINDOWS = 60  # a whole download may take 60 windows (30 minutes by default)
MAX_REDIRECTS = 3  # publishers redirect once or twice (GitHub releases to their storage)
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
    """Stream the URL into the cache through the writer: the file appears only whole and with the right hash,
    and a download given up, failed or killed (SIGTERM ends netspec as an exception: netspec.cli) leaves no
    temporary file. One that was killed harder leaves one that the next download clears once it is stale."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NetspecError(f"{path.parent}: cannot create the cache folder: {exc.strerror or exc}") from None
    _clear_stale(path, _stall_seconds())
    Writer().write_chunks(path, _verified_chunks(weights, max_bytes))


def _stall_seconds() -> float:
    text = os.environ.get(STALL, "")
    try:
        seconds = float(text) if text else STALL_S
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < math.inf:
        raise NetspecError(f"environment variable {STALL}={text!r}: expected a number of seconds above 0")
    return seconds


def _clear_stale(path: Path, stall: float) -> None:
    """Remove temporary files of earlier downloads of `path` that nothing has written to for two stall windows:
    a live download writes more often than that, or gives up."""
    for stray in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - stray.stat().st_mtime > 2 * stall:
                stray.unlink()
        except OSError:
            pass  # another download's, just finished or removed


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows at most MAX_REDIRECTS redirects, to http(s) only, never from https down to http."""

    max_redirections = MAX_REDIRECTS
    inf_msg = f"more than {MAX_REDIRECTS} redirects (a loop?); the last was "

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https") or (req.full_url.lower().startswith("https:") and scheme != "https"):
            raise urllib.error.URLError(f"a redirect to {printable(newurl[:200])}, which is not https")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _verified_chunks(weights: Weights, max_bytes: int) -> Iterator[bytes]:
    sha, size, stall = hashlib.sha256(), 0, _stall_seconds()
    opener = urllib.request.build_opener(_Redirects)
    try:
        with opener.open(weights.url, timeout=stall) as response:
            length = int(response.headers.get("Content-Length") or -1)
            for chunk in _paced(response, stall, weights.url):
                size += len(chunk)
                if size > max_bytes:
                    raise NetspecError(f"{weights.url}: larger than any checkpoint of this model ({max_bytes:,} bytes)")
                sha.update(chunk)
                yield chunk
            if 0 <= length != size:  # read(amt) returns what came before the server hung up, without complaint
                raise http.client.IncompleteRead(b"", length - size)
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, refusals, a connection cut mid-way
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or repr(exc)
        reason = " ".join(str(reason).split())  # urllib's messages run over several lines
        raise NetspecError(
            f"{weights.spec}: cannot download {weights.url} ({reason}); put {weights.file} in {cache_dir()} by hand"
        ) from None
    if not sha.hexdigest().startswith(weights.sha256):
        raise NetspecError(
            f"{weights.url}: the download's SHA-256 starts {sha.hexdigest()[: len(weights.sha256)]}, not "
            f"{weights.sha256} as the table gives; nothing was kept"
        )


def _paced(response: Any, stall: float, url: str) -> Iterator[bytes]:
    """The response's bytes as they arrive; given up when a window of `stall` seconds brings less than MIN_BYTES
    (a trickle), or when the whole download runs past DEADLINE_WINDOWS windows."""
    started = window = time.monotonic()
    got = 0
    while chunk := response.read1(CHUNK):
        now = time.monotonic()
        got += len(chunk)
        if now - started > DEADLINE_WINDOWS * stall:
            raise TimeoutError(f"not done after {DEADLINE_WINDOWS * stall:.0f} s")
        if now - window > stall:
            if got < MIN_BYTES:
                raise TimeoutError(f"{got} bytes in the last {now - window:.0f} s: the server stalled")
            window, got = now, 0
        yield chunk
