"""Coverage-guided fuzzing of model files: any bytes named m.safetensors must be read as a spec (the header's
embedded spec, through the gate) and as weights, or be refused with netspec's own error, never anything else.

    pip install atheris
    python fuzz/fuzz_modelfile.py fuzz/corpus-modelfile -max_total_time=600 -rss_limit_mb=2048
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import instrumented, main, refused_or_done

with instrumented():
    from netspec.gate import admit
    from netspec.modelfile import read_metadata

WORK = Path(tempfile.mkdtemp(prefix="netspec-fuzz-"))
TINY = "netspec: 1\ninput: {size: 8}\nstem: {preset: cifar, width: 4}\nstages: [{depth: 1, width: 4, stride: 1}]\n"


def test_one_input(data: bytes) -> None:
    path = WORK / "m.safetensors"
    path.write_bytes(data)
    if refused_or_done(lambda: (read_metadata(path, path.name), admit(path))):
        from netspec.weights import read_state_dict  # the tensors too, once the header reads

        refused_or_done(lambda: read_state_dict(path, 1 << 20))


def _file(meta: dict[str, str], tensors: dict[str, object] | None = None, body: bytes = b"\0" * 16) -> bytes:
    header = json.dumps({"__metadata__": meta, **(tensors or {})}).encode()
    return struct.pack("<Q", len(header)) + header + body


def seeds() -> list[bytes]:
    """Model files netspec writes, and their near misses: no spec, an empty one, a lone surrogate, bad lengths."""
    tensor = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    return [
        _file({"netspec.spec": TINY, "netspec.version": "0.1.0"}, tensor),
        _file({"netspec.spec": TINY + "extends: resnet18\n"}, tensor),
        _file({"netspec.spec": ""}, tensor),
        _file({}, tensor),
        _file({"netspec.spec": TINY}, {"w": {"dtype": "F8_E4M3", "shape": [16], "data_offsets": [0, 16]}}),
        _file({"netspec.spec": "x"}).replace(b'"x"', b'"\\ud800"'),
        struct.pack("<Q", 1 << 60) + b"{}",
        b"abc",
    ]


if __name__ == "__main__":
    main(test_one_input, seeds)
