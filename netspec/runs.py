"""A training run's folder: the resolved spec and settings, metrics per epoch, checkpoints, learning curves.

An epoch's files are one unit. They are staged beside their final names (NAME.next); then manifest.json,
naming the epoch and each file's SHA-256, is written in one step: that is the commit; then the staged files
are renamed into place. However a run ends, even killed between two writes, the folder holds one committed
epoch: opening it completes a commit that its manifest records and discards one that it does not, and a
file that matches neither is refused, never loaded. A lock on the folder keeps out a second run. Only rank 0
writes; every file goes through the command's Writer, which refuses to replace what the command reads.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netspec.errors import NetspecError
from netspec.files import Writer, digest, read_input
from netspec.modelfile import spec_data
from netspec.reader import dump, read_file
from netspec.settings import TrainSettings
from netspec.spec import Spec

Metrics = dict[str, float]
RESUMABLE = ("epochs", "workers", "device", "out", "data_dir")  # may change between a run and its resumption
CHECKPOINTS = ("last.safetensors", "last.state.pt", "best.safetensors", "best.state.pt")
RECORDS = ("spec.yaml", "settings.yaml", "metrics.jsonl", "curves.png", "manifest.json")
MANIFEST_BYTES = 1 << 16
METRICS_ROW_BYTES = 1000  # a row of metrics.jsonl is about 200 bytes


def folder_name(name: str) -> str:
    """A spec's name as one folder inside runs/: a name such as '../../x' cannot lead anywhere else."""
    return re.sub(r"[^\w.+-]", "_", name, flags=re.ASCII).lstrip(".") or "run"


@dataclass(frozen=True)
class Manifest:
    """A committed epoch: its number and the SHA-256 of every file of the run as of that epoch."""

    epoch: int
    files: dict[str, str]

    def text(self) -> bytes:
        return json.dumps({"format": 1, "epoch": self.epoch, "files": self.files}, indent=1).encode()


class Run:
    """The files of one training run in `folder`."""

    def __init__(self, folder: Path, writer: Writer | None = None) -> None:
        self.folder, self.writer = folder, writer or Writer()
        self.spec, self.settings = folder / "spec.yaml", folder / "settings.yaml"
        self.metrics, self.curves = folder / "metrics.jsonl", folder / "curves.png"
        self.manifest = folder / "manifest.json"
        self._digests: dict[str, str] = {}

    @classmethod
    def of(cls, spec: Spec, settings: TrainSettings, reads: Iterable[str | os.PathLike[str]] = ()) -> Run:
        """The folder of a run: settings.out, or runs/NAME; its writer refuses to replace any of `reads` or the
        weights it starts from."""
        reads = [*reads, *([settings.weights] if settings.weights else [])]
        return cls(Path(settings.out) if settings.out else Path("runs") / folder_name(spec.name), Writer(reads))

    def weights(self, which: str) -> Path:
        return self.folder / f"{which}.safetensors"

    def state(self, which: str) -> Path:
        return self.folder / f"{which}.state.pt"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock on the folder itself (no lock file), or refuse: one run writes a folder at a time. The
        lock goes with the process however it ends; a folder this call created and left empty is removed."""
        created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise NetspecError(
                    f"{self.folder}: another netspec train is writing this run folder; wait for it to end, or "
                    "choose another folder with --out"
                ) from None
            yield
        finally:
            os.close(fd)
            if created and not any(self.folder.iterdir()):
                self.folder.rmdir()

    def check(self, spec: Spec, settings: TrainSettings, resume: bool) -> int:
        """Refuse to start over an earlier run, to resume one that is missing or trained something else, or to
        replace a file the command reads; the epoch to continue from (0 for a new run). Hold the lock."""
        if self.folder.is_dir():
            for name in (*CHECKPOINTS, *RECORDS):
                self.writer.check(self.folder / name)
        epoch = self.committed()
        if not resume:
            if epoch or self.weights("last").exists():
                raise NetspecError(
                    f"{self.folder} already holds a run; continue it with --resume, or choose another folder with --out"
                )
            return 0
        if not epoch and self.weights("last").exists():
            raise NetspecError(
                f"{self.folder}: written by a netspec without run manifests, so which epoch its files hold cannot be "
                "checked; start a new run with another --out"
            )
        if not epoch:
            raise NetspecError(f"{self.folder}: no checkpoint to resume from (no epoch completed)")
        if read_file(self.spec, str(self.spec)).data != spec_data(spec):
            raise NetspecError(f"{self.spec}: the run trained a different network; resume it with the same spec")
        saved, current = read_file(self.settings, str(self.settings)).data, settings.model_dump(mode="json")
        changed = sorted(k for k in current if k not in RESUMABLE and saved.get(k) != current[k])
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
            raise NetspecError(f"{self.settings}: resuming needs the same settings, but these differ: {detail}")
        return epoch

    def committed(self) -> int:
        """The epoch the folder holds (0 before the first), once an interrupted commit is completed or discarded.
        Hold the lock: this renames and removes files."""
        manifest = self.read_manifest()
        for name, expected in manifest.files.items():
            final, staged = self.folder / name, self.folder / f"{name}.next"
            if digest(final) == expected:
                staged.unlink(missing_ok=True)
            elif digest(staged) == expected:
                self.writer.move(staged, final)  # the commit was recorded before this file was put in place
            else:
                raise NetspecError(
                    f"{final}: does not match the run's manifest (epoch {manifest.epoch}): changed or damaged "
                    "since netspec wrote it; the run cannot be resumed"
                )
        for name in (*CHECKPOINTS, *RECORDS):  # an epoch never committed, or a write that never finished
            for stray in [self.folder / f"{name}.next", *self.folder.glob(f".{name}*.tmp")]:
                stray.unlink(missing_ok=True)
        self._digests = dict(manifest.files)
        return manifest.epoch

    def read_manifest(self) -> Manifest:
        """The last committed epoch (0, with no files, when there is none); a damaged manifest is refused."""
        if not self.manifest.exists():
            return Manifest(0, {})
        try:
            data = json.loads(read_input(self.manifest, MANIFEST_BYTES), parse_constant=_refuse_constant)
            epoch, files = data["epoch"], data["files"]
            valid = type(epoch) is int and epoch > 0 and isinstance(files, dict) and set(files) <= _NAMES
            if not (valid and all(isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) for v in files.values())):
                raise ValueError("unexpected contents")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise NetspecError(f"{self.manifest}: not a run manifest ({exc}); the run cannot be resumed") from None
        return Manifest(epoch, files)

    def start(self, spec: Spec, settings: TrainSettings) -> None:
        """Record what is trained and how (after `check`, holding the lock)."""
        self._write(self.spec, _yaml(spec_data(spec)))
        self._write(self.settings, _yaml(settings.model_dump(mode="json")))

    def commit(self, files: dict[str, bytes], epoch: int) -> None:
        """Make `files` the folder's state as of `epoch`, in one step (see the module's docstring)."""
        for name, data in files.items():
            self.writer.write(self.folder / f"{name}.next", data)
            self._digests[name] = hashlib.sha256(data).hexdigest()
        self.writer.write(self.manifest, Manifest(epoch, self._digests).text())
        for name in files:
            self.writer.move(self.folder / f"{name}.next", self.folder / name)

    def _write(self, path: Path, data: bytes) -> None:
        self.writer.write(path, data)
        self._digests[path.name] = hashlib.sha256(data).hexdigest()

    def read_metrics(self, epochs: int) -> list[Metrics]:
        """The first `epochs` rows of metrics.jsonl: what the checkpoint had seen. Strict JSON, one object a line."""
        lines = read_input(self.metrics, METRICS_ROW_BYTES * epochs).decode(errors="replace").splitlines()
        try:
            rows = [json.loads(line, parse_constant=_refuse_constant) for line in lines[:epochs]]
        except ValueError as exc:
            raise NetspecError(f"{self.metrics}: not the metrics netspec wrote ({exc})") from None
        if len(rows) < epochs or not all(isinstance(row, dict) for row in rows):
            raise NetspecError(f"{self.metrics}: expected {epochs} rows of metrics, one JSON object a line")
        return rows


_NAMES = {*CHECKPOINTS, *RECORDS} - {"manifest.json"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _yaml(data: Any) -> bytes:
    return dump(data).encode()


def records(settings: TrainSettings, history: list[Metrics]) -> dict[str, bytes]:
    """An epoch's settings, metrics (strict JSON: never NaN or Infinity) and learning curves."""
    from netspec.curves import learning_curves

    metrics = "".join(json.dumps(row, allow_nan=False) + "\n" for row in history).encode()
    settings_text = _yaml(settings.model_dump(mode="json"))
    return {"settings.yaml": settings_text, "metrics.jsonl": metrics, "curves.png": learning_curves(history)}


def epoch_line(row: Metrics) -> str:
    """An epoch's summary for the log."""
    return (
        f"epoch {row['epoch']:3.0f}  train loss {row['train_loss']:.4f} acc {row['train_acc']:6.2f}%  "
        f"test loss {row['test_loss']:.4f} acc {row['test_acc']:6.2f}%  lr {row['lr']:.2e}  "
        f"{row['images_per_s']:,.0f} images/s  {row['seconds']:.1f} s"
    )
