"""Output files: written atomically, and never over the spec being read."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from netspec.errors import NetspecError


def check_output(target: Path, *inputs: str | os.PathLike[str]) -> None:
    """Refuse to write `target` over one of the inputs, or into a folder that does not exist."""
    for source in inputs:
        if Path(source).is_file() and target.exists() and target.resolve() == Path(source).resolve():
            raise NetspecError(f"{target}: refusing to overwrite the spec being read")
    if not target.parent.is_dir():
        raise NetspecError(f"{target}: folder {target.parent} does not exist")


def write_atomic(target: Path, data: bytes) -> None:
    """Write to a temporary file beside `target`, then rename: readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the mode open() would
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
