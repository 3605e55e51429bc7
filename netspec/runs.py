"""A training run's folder: the resolved spec and settings, metrics per epoch, checkpoints, learning curves.

An epoch's files are one unit. They are staged beside their final names (NAME.next); then manifest.json,
naming the epoch and each file's SHA-256, is written in one step: that is the commit; then the staged files
are renamed into place. A new run commits its spec and settings the same way, as epoch 0. However a run ends,
even killed between two writes, the folder holds one committed epoch: opening it completes a commit that its
manifest records and discards one that it does not, and a file that matches neither is refused, never loaded.

The manifest is also what makes a file netspec's: a run replaces only files that its folder's manifest lists,
so `--out .` in a folder of a person's own files refuses to start rather than overwrite them. A lock on the
folder keeps out a second run. Only rank 0 writes; every file goes through the command's Writer, which refuses
to replace what the command reads. What a run folder holds is read as strictly as a spec: another format, a
manifest that lists less than an epoch writes, settings, metrics or optimizer state that netspec would not
have written are refused in one line.
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

from netspec.errors import NetspecError, SpecError
from netspec.files import Writer, digest, file_kind, read_input
from netspec.messages import describe
from netspec.modelfile import spec_data
from netspec.reader import dump, read_file
from netspec.records import Metrics, metrics_row
from netspec.settings import TrainSettings, load_settings
from netspec.spec import Spec

RESUMABLE = ("epochs", "workers", "device", "out", "data_dir")  # may change between a run and its resumption
CHECKPOINTS = ("last.safetensors", "last.state.pt", "best.safetensors", "best.state.pt")
RECORDS = ("spec.yaml", "settings.yaml", "metrics.jsonl", "curves.png", "manifest.json")
STARTED = ("spec.yaml", "settings.yaml")  # what epoch 0 (a run that has started) commits
FORMAT = 1  # of manifest.json
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
        return json.dumps({"format": FORMAT, "epoch": self.epoch, "files": self.files}, indent=1).encode()


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
        lock goes with the process however it ends; folders this call created (runs/ too) and left empty are removed."""
        created = [f for f in (self.folder, *self.folder.parents) if not os.path.lexists(f)]
        if not created and not self.folder.is_dir():
            kind = file_kind(self.folder)
            raise NetspecError(f"{self.folder}: {kind}, not a folder; --out names the folder of the run's files")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise NetspecError(f"{self.folder}: cannot create the run folder: {exc.strerror or exc}") from None
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
            for folder in created:  # the run's folder first, then the parents made for it
                if any(folder.iterdir()):
                    break
                folder.rmdir()

    def check(self, spec: Spec, settings: TrainSettings, resume: bool) -> int:
        """Refuse to start over an earlier run or over files netspec did not write, to resume one that is missing
        or trained something else, or to replace a file the command reads; the epoch to continue from (0 for a
        new run). Hold the lock."""
        if self.folder.is_dir():
            for name in (*CHECKPOINTS, *RECORDS):
                self.writer.check(self.folder / name)
        if not self.manifest.exists() and self.weights("last").exists():
            raise NetspecError(
                f"{self.folder}: written by a netspec without run manifests, so which epoch its files hold cannot be "
                "checked; start a new run with another --out"
            )
        epoch = self.committed()
        if not resume:
            if epoch:
                raise NetspecError(
                    f"{self.folder} already holds a run; continue it with --resume, or choose another folder with --out"
                )
            self._check_owned()
            return 0
        if not epoch:
            raise NetspecError(f"{self.folder}: no checkpoint to resume from (no epoch completed)")
        if read_file(self.spec, str(self.spec)).data != spec_data(spec):
            raise NetspecError(f"{self.spec}: the run trained a different network; resume it with the same spec")
        saved, current = self.read_settings().model_dump(mode="json"), settings.model_dump(mode="json")
        changed = sorted(k for k in current if k not in RESUMABLE and saved.get(k) != current[k])
        if changed:
            detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
            raise NetspecError(f"{self.settings}: resuming needs the same settings, but these differ: {detail}")
        return epoch

    def _check_owned(self) -> None:
        """Refuse to start if a file the run would write is there but not the manifest's: a person's own file."""
        for name in (*RECORDS, *CHECKPOINTS):
            path = self.folder / name
            if name not in self._digests and name != "manifest.json" and os.path.lexists(path):
                raise NetspecError(
                    f"{path}: not a file of a netspec run (this folder's manifest does not list it); refusing to "
                    "replace it: move it, or choose another folder with --out"
                )

    def read_settings(self) -> TrainSettings:
        """The run's settings.yaml, validated as a settings file is (errors at its line and column)."""
        try:
            return load_settings(self.settings)
        except SpecError as exc:
            first, more = exc.diagnostics[0], len(exc.diagnostics) - 1
            also = f" (and {more} more)" if more else ""
            raise NetspecError(f"{first}{also}; not the settings netspec wrote, so the run cannot be resumed") from None

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
        """The last committed epoch (0 once a run has started, with its spec and settings; 0 with no files before
        that); a manifest of another format, or one that lists other files than that epoch writes, is refused."""
        if not self.manifest.exists():
            return Manifest(0, {})
        try:
            data = json.loads(read_input(self.manifest, MANIFEST_BYTES), parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise self._not_a_manifest(str(exc)) from None
        if not isinstance(data, dict) or set(data) != {"format", "epoch", "files"}:
            raise self._not_a_manifest("expected an object of format, epoch and files")
        if data["format"] != FORMAT:
            raise NetspecError(
                f"{self.manifest}: a run manifest of format {describe(data['format'])}, written by another version of "
                f"netspec (this one reads format {FORMAT}); the run cannot be resumed here"
            )
        epoch, files = data["epoch"], data["files"]
        if type(epoch) is not int or epoch < 0:
            raise self._not_a_manifest(f"the epoch is {describe(epoch)}")
        expected = set(STARTED) if epoch == 0 else _NAMES
        if not isinstance(files, dict) or set(files) != expected:
            listed = len(files) if isinstance(files, dict) else 0
            raise self._not_a_manifest(f"epoch {epoch} lists {listed} files, not the {len(expected)} a run writes")
        if not all(isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) for v in files.values()):
            raise self._not_a_manifest("a file's SHA-256 is not 64 hexadecimal digits")
        return Manifest(epoch, files)

    def _not_a_manifest(self, why: str) -> NetspecError:
        return NetspecError(f"{self.manifest}: not a run manifest ({why}); the run cannot be resumed or replaced")

    def start(self, spec: Spec, settings: TrainSettings) -> None:
        """Record what is trained and how, committed as epoch 0 (after `check`, holding the lock)."""
        records = {"spec.yaml": _yaml(spec_data(spec)), "settings.yaml": _yaml(settings.model_dump(mode="json"))}
        self.commit(records, 0)

    def discard_unfinished(self) -> None:
        """Remove what a new run recorded (epoch 0: its spec, settings and manifest) when it ends before its first
        epoch is committed, leaving the folder as it was; a folder holding an epoch is left alone."""
        try:
            if self.read_manifest().epoch != 0:
                return
        except NetspecError:
            return
        for name in (*STARTED, "manifest.json"):
            for path in (self.folder / name, self.folder / f"{name}.next", *self.folder.glob(f".{name}*.tmp")):
                path.unlink(missing_ok=True)

    def commit(self, files: dict[str, bytes], epoch: int) -> None:
        """Make `files` the folder's state as of `epoch`, in one step (see the module's docstring)."""
        for name, data in files.items():
            self.writer.write(self.folder / f"{name}.next", data)
            self._digests[name] = hashlib.sha256(data).hexdigest()
        self.writer.write(self.manifest, Manifest(epoch, self._digests).text())
        for name in files:
            self.writer.move(self.folder / f"{name}.next", self.folder / name)

    def read_metrics(self, epochs: int) -> list[Metrics]:
        """The first `epochs` rows of metrics.jsonl: what the checkpoint had seen. Strict JSON, one object a line,
        each with every metric netspec records as a finite number."""
        lines = read_input(self.metrics, METRICS_ROW_BYTES * epochs).decode(errors="replace").splitlines()
        if len(lines) < epochs:
            raise NetspecError(f"{self.metrics}: expected {epochs} rows of metrics, one JSON object a line")
        rows = []
        for number, line in enumerate(lines[:epochs], 1):
            try:
                rows.append(metrics_row(json.loads(line, parse_constant=_refuse_constant), number))
            except (ValueError, RecursionError) as exc:
                raise NetspecError(f"{self.metrics}:{number}: not the metrics netspec wrote ({exc})") from None
        return rows


_NAMES = {*CHECKPOINTS, *RECORDS} - {"manifest.json"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _yaml(data: Any) -> bytes:
    return dump(data).encode()
