"""The fuzz targets (fuzz/*.py, run with atheris by hand) hold on their seeds and on random inputs here, in every
`make test`, so that a target cannot rot between fuzzing campaigns."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
TARGETS = sorted(p.stem for p in FUZZ.glob("fuzz_*.py"))


def _target(name: str) -> ModuleType:
    sys.path.insert(0, str(FUZZ))
    try:
        spec = importlib.util.spec_from_file_location(name, FUZZ / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(FUZZ))


def test_every_surface_of_round_3_has_a_target() -> None:
    assert TARGETS == ["fuzz_loader", "fuzz_modelfile", "fuzz_register", "fuzz_regnet"]


@pytest.mark.parametrize("name", TARGETS)
def test_a_target_holds_on_its_seeds_and_on_random_inputs(name: str) -> None:
    target = _target(name)
    seeds = target.seeds()
    assert seeds
    generator = random.Random(name)
    mutated = [bytes(generator.randrange(256) for _ in range(generator.randrange(1, 200))) for _ in range(60)]
    for seed in seeds[:8]:  # a few bytes of each seed changed, as a fuzzer's first mutations do
        data = bytearray(seed)
        for _ in range(3):
            if data:
                data[generator.randrange(len(data))] = generator.randrange(256)
        mutated.append(bytes(data))
    for data in [*seeds, *mutated]:
        target.test_one_input(data)  # raises on anything but netspec's own errors
