"""The one place netspec reads the files a person names and writes its outputs. No torch.

Inputs are read only from regular files and only up to a cap: a FIFO, a device or a huge file is refused
at once instead of hanging netspec or filling its memory. Outputs go through `Writer`: atomically (a
temporary file in the same folder, flushed to disk, then renamed), never over a file the command reads,
never over anything that is not a regular file, keeping the mode of the file replaced, and naming the
target in every error.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from netspec.errors import NetspecError

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def file_kind(path: str | os.PathLike[str]) -> str:
    """'a named pipe (FIFO)', 'a directory', ... for what is at `path` (not following a symbolic link)."""
    try:
        return _kind(os.lstat(path).st_mode) if not os.path.isdir(path) else "a directory"
    except OSError:
        return "nothing"


def os_error(target: str | os.PathLike[str], exc: OSError, doing: str) -> NetspecError:
    """A one-line error for a failed read or write that names the file a person gave, not a temporary one."""
    return NetspecError(f"{os.fspath(target)}: cannot {doing} it: {exc.strerror or exc}")


def _open_regular(path: str | os.PathLike[str], name: str) -> int:
    """A descriptor of a regular file, opened without blocking, so that a FIFO with no writer is refused
    instead of waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NetspecError(f"{name}: no such file") from None
    except OSError as exc:
        raise os_error(name, exc, "read") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NetspecError(f"{name}: {_kind(mode)}, not a regular file")
    return fd


def open_regular(path: str | os.PathLike[str], shown: str | None = None) -> BinaryIO:
    """A regular file opened for reading (a FIFO, a device or a folder is refused, not waited on)."""
    return os.fdopen(_open_regular(path, shown or os.fspath(path)), "rb")


def read_input(path: str | os.PathLike[str], max_bytes: int, shown: str | None = None) -> bytes:
    """At most `max_bytes + 1` bytes of a regular file (one more than allowed, so that callers see excess)."""
    name = shown or os.fspath(path)
    with os.fdopen(_open_regular(path, name), "rb") as handle:
        try:
            return handle.read(max_bytes + 1)
        except OSError as exc:
            raise os_error(name, exc, "read") from None


def digest(path: Path) -> str | None:
    """The SHA-256 of a regular file, read in chunks; None when there is no such file."""
    if not path.exists():
        return None
    sha = hashlib.sha256()
    with os.fdopen(_open_regular(path, str(path)), "rb") as handle:
        try:
            while chunk := handle.read(1 << 20):
                sha.update(chunk)
        except OSError as exc:
            raise os_error(path, exc, "read") from None
    return sha.hexdigest()


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class Writer:
    """Writes outputs; refuses to replace any of `reads` (by identity: hard and symbolic links count)."""

    def __init__(self, reads: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.reads = {ident for ident in map(_identity, reads) if ident is not None}

    def check(self, target: Path) -> None:
        """Refuse now, before any work, what `write` would refuse later."""
        self._mode_to_keep(target)

    def write(self, target: Path, data: bytes) -> None:
        """Replace `target` with `data` in one step: readers see the old file or the new one, never a part."""
        self.write_chunks(target, (data,))

    def write_chunks(self, target: Path, chunks: Iterable[bytes]) -> None:
        """`write` for data that arrives in parts (a download): an error raised while they arrive leaves
        `target` as it was, with no temporary file behind."""
        mode = self._mode_to_keep(target)
        try:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            raise os_error(target, exc, "write") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())  # a full disk fails here, before the old file is replaced
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise os_error(target, exc, "write") from None
            raise

    def move(self, source: Path, target: Path) -> None:
        """Put `source`, a file this writer wrote beside `target`, in its place, with the same refusals as `write`
        and the replaced file's mode."""
        mode = self._mode_to_keep(target)
        try:
            os.chmod(source, mode)
            os.replace(source, target)
        except OSError as exc:
            raise os_error(target, exc, "write") from None

    def _mode_to_keep(self, target: Path) -> int:
        """The mode the new file gets: the replaced file's, or what open() would give a new one."""
        if not target.parent.is_dir():
            raise NetspecError(f"{target}: folder {target.parent} does not exist")
        try:
            info = os.lstat(target)
        except FileNotFoundError:
            return 0o666 & ~_umask()
        if not stat.S_ISREG(info.st_mode):
            raise NetspecError(
                f"{target}: refusing to replace {_kind(info.st_mode)}; outputs replace regular files only"
            )
        if (info.st_dev, info.st_ino) in self.reads:
            raise NetspecError(f"{target}: refusing to replace a file this command reads")
        return stat.S_IMODE(info.st_mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
