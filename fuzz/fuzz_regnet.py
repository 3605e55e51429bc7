"""Coverage-guided fuzzing of RegNet designs: any design parameters (huge, tiny, negative, NaN, infinite) must
expand and pass the gate, or be refused with a located SpecError, quickly: never a hang or another exception.

    pip install atheris
    python fuzz/fuzz_regnet.py fuzz/corpus-regnet -max_total_time=600 -timeout=10 -rss_limit_mb=2048
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import instrumented, main, provider

with instrumented():
    from netspec.errors import SpecError
    from netspec.gate import admit

INTEGERS = ("depth", "w0", "group_width")
NUMBERS = ("wa", "wm", "bottleneck_ratio", "se_ratio")
EDGES = [0.0, -1.0, 1e-300, 1e300, 1e308, float("inf"), float("nan"), 1.0, 2.5, 0.25]


def design(data: bytes) -> dict[str, Any]:
    """A RegNet design read from `data`: integers anywhere in 64 bits, numbers regular or at the edges."""
    fuzz = provider(data)
    out: dict[str, Any] = {}
    for name in INTEGERS:
        out[name] = (
            fuzz.ConsumeIntInRange(-(2**63), 2**63 - 1) if fuzz.ConsumeBool() else fuzz.ConsumeIntInRange(0, 300)
        )
    for name in NUMBERS:
        out[name] = fuzz.PickValueInList(EDGES) if fuzz.ConsumeBool() else fuzz.ConsumeRegularFloat()
    out["group_rounding"] = fuzz.PickValueInList(["pycls", "torchvision", "other"])
    return out


def test_one_input(data: bytes) -> None:
    try:
        admit("regnet_x_400mf", overrides={"regnet": design(data)})
    except SpecError as exc:
        if not all(d.field.startswith(("regnet", "block", "stages")) for d in exc.diagnostics):
            raise AssertionError(f"an error at a field the design did not write: {exc}") from None


def seeds() -> list[bytes]:
    """The five torchvision RegNets' designs, and designs that once hung or raised: depth 1e9, wa 1e308, a
    bottleneck ratio of 1e-300."""

    def pack(ints: list[int], floats: list[float]) -> bytes:
        # ConsumeBool reads one byte; then the value: 8 bytes each, as the stand-in provider reads them.
        out = b""
        for value in ints:
            out += b"\0" + (value % 301).to_bytes(8, "little")
        for number in floats:
            out += b"\0" + struct.pack("<d", number)
        return out + b"\0" * 8

    return [
        pack([22, 24, 16], [24.48, 2.54, 1.0, 0.0]),
        pack([16, 48, 8], [27.89, 2.09, 1.0, 0.25]),
        pack([300, 24, 16], [1e300, 2.54, 1.0, 0.0]),
        pack([22, 24, 16], [24.48, 2.54, 1e-300, 0.0]),
        b"\x01" + (10**9).to_bytes(8, "little") * 20,
    ]


if __name__ == "__main__":
    main(test_one_input, seeds)
