"""Coverage-guided fuzzing of the spec loader with atheris: any bytes must either load or raise netspec's own
error (SpecError with a line, or NetspecError), never anything else, and never hang.

    pip install atheris
    python fuzz/fuzz_loader.py fuzz/corpus -max_total_time=600   # seeds: the builtin specs and tests/data/bad

Crashes are written as crash-* files; replay one with `python fuzz/fuzz_loader.py crash-...`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from netspec.errors import NetspecError, SpecError
    from netspec.gate import admit

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="netspec-fuzz-"))


def test_one_input(data: bytes) -> None:
    path = WORK / "input.yaml"
    path.write_bytes(data)
    try:
        admit(path)
    except SpecError as exc:
        if not exc.diagnostics or any(d.mark.line < 1 for d in exc.diagnostics):
            raise AssertionError(f"an error without a line: {exc}") from None
    except NetspecError:
        pass


def seed(corpus: Path) -> None:
    """Start from every builtin spec and every hostile file of the test suite."""
    corpus.mkdir(parents=True, exist_ok=True)
    for source in [*(ROOT / "specs").rglob("*.yaml"), *(ROOT / "tests" / "data" / "bad").glob("*.yaml")]:
        shutil.copy(source, corpus / f"{source.parent.name}_{source.name}")


if __name__ == "__main__":
    corpora = [Path(a) for a in sys.argv[1:] if not a.startswith("-") and not Path(a).is_file()]
    for corpus in corpora:
        seed(corpus)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
