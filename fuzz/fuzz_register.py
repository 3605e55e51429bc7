"""Coverage-guided fuzzing of register_block's arguments: any name, expansion, flags and forms must register or be
refused with netspec's own error; either way every later validation still works.

    pip install atheris
    python fuzz/fuzz_register.py fuzz/corpus-register -max_total_time=600 -rss_limit_mb=2048
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import instrumented, main, provider

with instrumented():
    from netspec import registry
    from netspec.block_plans import bottleneck
    from netspec.blocks import BasicBlock, Bottleneck
    from netspec.errors import NetspecError
    from netspec.loader import load_spec

ORIGINAL = dict(registry._REGISTRY)
VALUES: list[Any] = [None, 0, 1, 4, -1, True, False, 2.0, "4", "", b"x", (), [], {}]


def _value(fuzz: Any, kind: str) -> Any:
    if fuzz.ConsumeBool():
        return fuzz.PickValueInList(VALUES)
    if kind == "name":
        return fuzz.ConsumeUnicodeNoSurrogates(fuzz.ConsumeIntInRange(0, 70))
    if kind == "int":
        return fuzz.ConsumeIntInRange(-10, 10)
    return fuzz.ConsumeBool()


def test_one_input(data: bytes) -> None:
    fuzz = provider(data)
    form = fuzz.PickValueInList([(bottleneck, Bottleneck), (bottleneck, BasicBlock), (bottleneck,), "x", None])
    arguments = {
        "expansion": _value(fuzz, "int"),
        "grouped": _value(fuzz, "bool"),
        "has_1x1_stride": _value(fuzz, "bool"),
        "options": fuzz.PickValueInList([None, dict, int]),
    }
    try:
        registry.register_block(_value(fuzz, "name"), post=form, **arguments)
    except NetspecError:
        pass
    finally:
        names = registry.block_names()  # a name that is not a string would make this raise TypeError
        registry._REGISTRY.clear()
        registry._REGISTRY.update(ORIGINAL)
    assert names == sorted(names)
    load_spec("resnet18")


def seeds() -> list[bytes]:
    return [b"", b"\x00" * 64, b"\x01" * 64, bytes(range(256)), b"\x00\x05" + b"cbam_bottleneck" * 4]


if __name__ == "__main__":
    main(test_one_input, seeds)
