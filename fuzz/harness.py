"""What the fuzz targets share: atheris when it is installed (coverage-guided, `python fuzz/fuzz_X.py corpus/`),
and otherwise nothing, so that tests/test_fuzz_targets.py can run each target's seeds under pytest without it.

A target is a module with `test_one_input(data: bytes)`, which must return or raise netspec's own errors only,
and `seeds()`, the inputs it starts from."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import atheris
except ImportError:  # the fuzz extra is not installed: seeds still run, under pytest
    atheris = None


@contextlib.contextmanager
def instrumented() -> Iterator[None]:
    """Instrument netspec's modules imported inside, for coverage feedback, when atheris is there."""
    with atheris.instrument_imports() if atheris is not None else contextlib.nullcontext():
        yield


def refused_or_done(call: Callable[[], object]) -> bool:
    """Run `call`: True when it returns, False when it raises netspec's own error, a SpecError with every problem
    at a line; anything else is a finding, raised."""
    from netspec.errors import NetspecError, SpecError

    try:
        call()
    except SpecError as exc:
        if not exc.diagnostics or any(d.mark.line < 1 for d in exc.diagnostics):
            raise AssertionError(f"an error without a line: {exc}") from None
        return False
    except NetspecError:
        return False
    return True


def provider(data: bytes) -> Any:
    """atheris's FuzzedDataProvider over `data` (or a small stand-in with the same methods)."""
    if atheris is not None:
        return atheris.FuzzedDataProvider(data)
    return _Provider(data)


class _Provider:
    """The few FuzzedDataProvider methods the targets use, reading `data` from the front."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _take(self, count: int) -> bytes:
        taken, self.data = self.data[:count], self.data[count:]
        return taken.ljust(count, b"\0")

    def ConsumeIntInRange(self, low: int, high: int) -> int:  # atheris's names
        return low + int.from_bytes(self._take(8), "little") % (high - low + 1)

    def ConsumeRegularFloat(self) -> float:
        import struct

        value = struct.unpack("<d", self._take(8))[0]
        return value if value == value and abs(value) != float("inf") else 0.0

    def ConsumeFloat(self) -> float:
        import struct

        return float(struct.unpack("<d", self._take(8))[0])

    def ConsumeUnicodeNoSurrogates(self, count: int) -> str:
        return self._take(count).decode("latin-1")

    def ConsumeBool(self) -> bool:
        return bool(self._take(1)[0] & 1)

    def PickValueInList(self, items: list[Any]) -> Any:
        return items[self.ConsumeIntInRange(0, len(items) - 1)]


def main(test_one_input: Callable[[bytes], None], seeds: Callable[[], list[bytes]]) -> None:
    """Fuzz with atheris, seeding every corpus folder named on the command line first."""
    if atheris is None:
        raise SystemExit("pip install atheris (the fuzz extra: pip install -e '.[fuzz]')")
    for folder in (Path(a) for a in sys.argv[1:] if not a.startswith("-") and not Path(a).is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds()):
            (folder / f"seed-{i:03d}").write_bytes(seed)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
