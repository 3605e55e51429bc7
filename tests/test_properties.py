"""Property-based tests (hypothesis).

1. Random valid small specs validate and build, and a forward pass gives exactly the output shape and the
   parameter count that the static analysis predicts.
2. Random mutations of real spec files (deleted, duplicated or retyped lines, truncation, random bytes)
   either load or raise netspec's own error with a line number; never any other exception.

`make test` runs the default profile (200 examples each); the long one runs at least 2,000:
    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_properties.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import netspec
from netspec.analysis import analyze
from netspec.errors import NetspecError, SpecError
from netspec.gate import admit
from netspec.network import plan_network
from netspec.sources import builtin_dir

settings.register_profile("default", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ACTS = ["relu", "silu", "gelu", "identity", "hardswish"]
SPEC_TEXTS = [p.read_text() for p in sorted(builtin_dir().rglob("*.yaml"))]


@st.composite
def small_specs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["basic", "bottleneck"]))
    norm = draw(st.sampled_from(["batch", "group", "frozen_batch", "none"]))
    block: dict[str, Any] = {
        "type": kind,
        "order": draw(st.sampled_from(["post", "pre"])),
        "shortcut": draw(st.sampled_from(["A", "B", "C", "D"])),
        "shortcut_act": draw(st.booleans()),
        "norm": norm,
        "norm_groups": 2,
        "act": draw(st.sampled_from(ACTS)),
        "attn": draw(st.sampled_from(["none", "se", "eca"])),
        "zero_init_last": draw(st.booleans()),
    }
    if kind == "bottleneck":
        block |= {"groups": draw(st.sampled_from([1, 2, 4])), "stride_at": draw(st.sampled_from(["3x3", "1x1"]))}
    widths = sorted(draw(st.lists(st.sampled_from([8, 16, 32]), min_size=1, max_size=3)))  # A never shrinks
    stages = [
        {
            "depth": draw(st.integers(1, 2)),
            "width": w,
            "stride": draw(st.sampled_from([1, 2])),
            "dilation": draw(st.sampled_from([1, 1, 2])),
        }
        for w in widths
    ]
    stem = draw(st.sampled_from(["cifar", "imagenet", "deep", "deep_tiered"]))
    head = {"pool": draw(st.sampled_from(["avg", "max"])), "classes": draw(st.integers(0, 12))}
    head["hidden"] = draw(st.lists(st.sampled_from([4, 8]), max_size=2))
    return {
        "netspec": 1,
        "name": "random",
        "input": {"channels": draw(st.integers(1, 3)), "size": draw(st.integers(8, 40))},
        "stem": {"preset": stem, "width": draw(st.sampled_from([16, 32]))},
        "block": block,
        "stages": stages,
        "head": head,
    }


@pytest.mark.slow
@given(small_specs())
def test_random_valid_specs_build_as_analysed(data: dict[str, Any]) -> None:
    try:
        spec = netspec.Spec.model_validate(data)
    except ValueError:
        assume(False)  # the rare combination a cross-field rule refuses
        raise
    analysis = analyze(plan_network(spec))
    model = netspec.build(spec).eval()
    with torch.no_grad():
        out = model(torch.randn(2, spec.input.channels, spec.input.size, spec.input.size))
    assert tuple(out.shape[1:]) == analysis.output
    assert sum(p.numel() for p in model.parameters()) == analysis.totals.params
    assert sum(b.numel() for b in model.buffers()) == analysis.totals.buffers


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(SPEC_TEXTS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        action = draw(st.sampled_from(["delete", "duplicate", "retype", "insert"]))
        if action == "delete" and lines:
            del lines[i]
        elif action == "duplicate" and lines:
            lines.insert(i, lines[i])
        elif action == "retype" and lines:
            key, sep, _ = lines[i].partition(":")
            junk = draw(st.sampled_from(["", "no", "-1", "1e9", "[", "{}", "&a x", "*a", "!!str 3", "~", "0x1F", '"']))
            lines[i] = f"{key}{sep or ':'} {junk}\n"
        else:
            lines.insert(i, draw(st.text(max_size=20)) + "\n")
    raw = "".join(lines).encode()
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=8)) + raw[at:]
    return raw


@pytest.mark.slow
@given(mutated_texts())
def test_mutated_spec_files_load_or_fail_with_a_located_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_bytes(raw)
        try:
            admit(path)
        except SpecError as exc:
            assert exc.diagnostics
            assert all(d.mark.line >= 1 for d in exc.diagnostics), str(exc)
        except NetspecError as exc:  # only for a file that names nothing loadable, outside any spec text
            assert "no spec file or builtin spec" in str(exc) or "is a directory" in str(exc), str(exc)
