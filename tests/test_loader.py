"""Loading specs: extends, --set, keyword overrides, and the frozen, strict models they produce."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest

import netspec
from netspec.loader import load_spec
from tests.conftest import RESNET18_STAGES

Write = Callable[..., Path]


def test_extends_deep_merges_and_lists_replace_whole(write: Write) -> None:
    write(
        """\
        netspec: 1
        description: the base
        block: {type: bottleneck, groups: 32, width_per_group: 4}
        stages:
          - {depth: 3, width: 64, stride: 1}
          - {depth: 4, width: 128, stride: 2}
        head: {classes: 1000, dropout: 0.2}
        """,
        "base.yaml",
    )
    write("""\
        netspec: 1
        extends: base.yaml
        block: {width_per_group: 8}
        stages:
          - {depth: 1, width: 32, stride: 1}
        head: {classes: 10}
        """)
    spec = load_spec("spec.yaml")
    assert (spec.block.type, spec.block.groups, spec.block.width_per_group) == ("bottleneck", 32, 8)
    assert [(s.depth, s.width) for s in spec.stages] == [(1, 32)]
    assert (spec.head.classes, spec.head.dropout) == (10, 0.2)
    # name and description describe one file: they are not inherited.
    assert (spec.name, spec.description) == ("spec", "")


def test_extends_a_builtin_by_name(write: Write) -> None:
    write("netspec: 1\nname: resnet50_cifar10\nextends: resnet50\nhead: {classes: 10}\n")
    spec = load_spec("spec.yaml")
    assert spec.name == "resnet50_cifar10"
    assert [s.depth for s in spec.stages] == [3, 4, 6, 3]
    assert spec.head.classes == 10


def test_extends_paths_are_relative_to_the_extending_file(write: Write) -> None:
    write("netspec: 1\nblock: {type: basic}\n" + RESNET18_STAGES, "family/base.yaml")
    write("netspec: 1\nextends: base.yaml\nblock: {act: silu}\n", "family/mid.yaml")
    write("netspec: 1\nextends: family/mid.yaml\nhead: {classes: 5}\n")
    spec = load_spec("spec.yaml")
    assert (spec.block.type, spec.block.act, spec.head.classes) == ("basic", "silu", 5)


def test_set_creates_missing_mappings_and_takes_yaml_values(write: Write) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    spec = load_spec("spec.yaml", ["head.hidden=[256, 128]", "head.classes=10", "stages.3.depth=5", "block.act=gelu"])
    assert (spec.head.hidden, spec.head.classes, spec.stages[3].depth, spec.block.act) == ((256, 128), 10, 5, "gelu")


def test_set_the_issue_example_turns_resnet50_into_resnet101() -> None:
    spec = load_spec("resnet50", ["stages.2.depth=23"])
    assert [s.depth for s in spec.stages] == [s.depth for s in load_spec("resnet101").stages]


def test_error_inside_a_set_value_points_at_the_set(write: Write) -> None:
    write("netspec: 1\n" + RESNET18_STAGES)
    with pytest.raises(netspec.SpecError) as info:
        load_spec("spec.yaml", ["stages.0={depth: 1, width: 64}"])
    assert str(info.value) == "--set stages.0={depth: 1, width: 64}: stages.0.stride: missing required field"


def test_stage_overrides_apply_to_that_stage_only() -> None:
    spec = load_spec("resnet50", ["stages.3.act=silu", "stages.3.groups=2"])
    assert [b.act for b in spec.stage_blocks()] == ["relu", "relu", "relu", "silu"]
    assert [b.groups for b in spec.stage_blocks()] == [1, 1, 1, 2]


def test_specs_are_frozen_and_strict() -> None:
    spec = load_spec("resnet18")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="Input should be a valid integer"):
        netspec.Spec.model_validate({"netspec": 1, "name": "x", "stages": [{"depth": "2", "width": 64, "stride": 1}]})


def test_stem_presets_spelled_out() -> None:
    widths = {
        p: [c.width for c in load_spec("resnet50", overrides={"stem": p}).stem.layers()]
        for p in ("imagenet", "cifar", "deep", "deep_tiered")
    }
    # timm: deep = stem_width 32 -> (32, 32, 64); deep_tiered -> (24, 32, 64).
    assert widths == {"imagenet": [64], "cifar": [64], "deep": [32, 32, 64], "deep_tiered": [24, 32, 64]}


def test_a_stage_can_override_every_block_setting_and_nothing_else() -> None:
    from netspec.spec import BlockSettings, Stage

    stage_only = {"depth", "width", "stride", "dilation"}
    assert set(Stage.model_fields) - stage_only == set(BlockSettings.model_fields)
    for name in BlockSettings.model_fields:
        assert Stage.model_fields[name].default is None


def test_misspelled_version_key_is_reported_as_a_misspelling(write: Write) -> None:
    write("netpsec: 1\n" + RESNET18_STAGES)
    with pytest.raises(netspec.SpecError) as info:
        load_spec("spec.yaml")
    assert str(info.value) == "spec.yaml:1:1: netpsec: unknown field 'netpsec'; did you mean 'netspec'?"
