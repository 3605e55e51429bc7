"""Coverage-guided fuzzing of the spec loader with atheris: any bytes must either load or raise netspec's own
error (SpecError with a line, or NetspecError), never anything else, and never hang.

    pip install atheris
    python fuzz/fuzz_loader.py fuzz/corpus -max_total_time=600   # seeds: the builtin specs and tests/data/bad

Crashes are written as crash-* files; replay one with `python fuzz/fuzz_loader.py crash-...`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import instrumented, main, refused_or_done

with instrumented():
    from netspec.gate import admit

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.mkdtemp(prefix="netspec-fuzz-"))


def test_one_input(data: bytes) -> None:
    path = WORK / "input.yaml"
    path.write_bytes(data)
    refused_or_done(lambda: admit(path))


def seeds() -> list[bytes]:
    """Every builtin spec and every hostile file of the test suite."""
    sources = [*(ROOT / "specs").rglob("*.yaml"), *(ROOT / "tests" / "data" / "bad").glob("*.yaml")]
    return [source.read_bytes() for source in sorted(sources)]


if __name__ == "__main__":
    main(test_one_input, seeds)
