"""A network is planned once, every block of it is checked, and what cannot be planned is reported at the field
that made it so, from every command."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import torchvision

import netspec
from netspec import registry
from netspec.block_plans import basic
from netspec.plan import BlockArgs, BlockPlan, PlanError
from netspec.registry import BlockType
from netspec.sources import builtin_names

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[..., Path]
TWO_STAGES = "stages:\n  - {depth: 2, width: 64, stride: 1}\n  - {depth: 2, width: %d, stride: 2}\n"
GROUPS = "group norm with 32 groups cannot split the 48 channels of stage 1"
FRACTION = "width 100 x width_per_group 4 / 64 is not a whole number of channels per group"
# Per block type: the block line, the second stage's width, then the field and message of the third block, the
# first that cannot be planned (the first two, in a stage of width 64, can).
THIRD_BLOCK = {
    "basic": ("{type: basic, norm: group, norm_groups: 32}", 48, "block.norm_groups", GROUPS),
    "preact basic": (
        "{type: basic, order: pre, aa: blur}",
        128,
        "block.aa",
        "blur pooling is planned for post-activation blocks only; use order: post",
    ),
    "bottleneck": ("{type: bottleneck, groups: 32, width_per_group: 4}", 100, "stages.1.width", FRACTION),
    "preact bottleneck": (
        "{type: bottleneck, order: pre, norm: group, norm_groups: 32}",
        48,
        "block.norm_groups",
        GROUPS,
    ),
    "res2net": ("{type: res2net, groups: 32, width_per_group: 4}", 100, "stages.1.width", FRACTION),
    "resnest": ("{type: resnest, groups: 32, width_per_group: 4}", 100, "stages.1.width", FRACTION),
    "sk_basic": (  # its attention's 8-channel norm takes at most 8 groups
        "{type: sk_basic, norm: group, norm_groups: 8}",
        36,
        "block.norm_groups",
        "group norm with 8 groups cannot split the 36 channels of stage 1",
    ),
    "sk_bottleneck": ("{type: sk_bottleneck, groups: 32, width_per_group: 4}", 100, "stages.1.width", FRACTION),
    "tsc": (  # an even kernel pads 'same', which cannot stride: stage 1's first block is the third
        "{type: tsc, options: {kernels: [8, 5, 3]}}",
        128,
        "block.options",
        "an even kernel (8) pads 'same', which needs stride 1; give the strided conv an odd kernel",
    ),
    "regnet": (
        "{type: regnet, options: {group_width: 16}}",
        100,
        "stages.1.width",
        "the inner width 100 is not a multiple of group_width 16",
    ),
}


def test_every_builtin_block_type_has_a_third_block_case() -> None:
    assert {case.split()[-1] for case in THIRD_BLOCK} == set(registry.block_names())


def _place(text: str, line: int, value: str) -> str:
    """'line:col' of `value` on `line` (from 1) of `text`."""
    return f"{line}:{text.splitlines()[line - 1].index(value) + 1}"


def _field_value(text: str, field: str) -> tuple[int, str]:
    """The line of `field` and the text of its value, read off the spec as written."""
    if field == "stages.1.width":
        return 5, "100"
    key = field.split(".")[-1]
    block = text.splitlines()[1]
    return 2, block.split(f"{key}: ")[1].split(",")[0].split("}")[0]


@pytest.mark.parametrize("case", THIRD_BLOCK)
@pytest.mark.parametrize("command", ["validate", "build", "summary"])
def test_a_third_block_that_cannot_be_planned_is_located(case: str, command: str, write: Write, cli: Cli) -> None:
    block, width, field, message = THIRD_BLOCK[case]
    text = f"netspec: 1\nblock: {block}\n" + TWO_STAGES % width
    write(text)
    line, value = _field_value(text, field)
    code, out, err = cli(command, "spec.yaml")
    assert (code, out, err) == (1, "", f"spec.yaml:{_place(text, line, value)}: {field}: {message}\n")


def _later_blocks_fail(a: BlockArgs) -> BlockPlan:
    """A basic block whose plan refuses a stochastic depth rate over 0.2: only a stage's later blocks reach it."""
    if a.drop_path > 0.2:
        raise PlanError("drop_path", f"a drop path rate of {a.drop_path:.2f} is more than this block takes")
    return basic(a)


def test_a_plan_error_in_a_stages_third_block_is_located(
    write: Write, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    netspec.register_block("fragile", post=(_later_blocks_fail, "netspec.blocks:BasicBlock"))
    # One stage of three blocks: drop path rates 0, 0.15 and 0.3, so the third block alone cannot be planned.
    text = "netspec: 1\nblock: {type: fragile, drop_path: 0.3}\nstages:\n  - {depth: 3, width: 64, stride: 1}\n"
    write(text)
    for command in ("validate", "build", "summary"):
        message = "a drop path rate of 0.30 is more than this block takes"
        assert cli(command, "spec.yaml") == (1, "", f"spec.yaml:{_place(text, 2, '0.3')}: block.drop_path: {message}\n")


@pytest.mark.slow
def test_building_plans_each_block_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: Counter[str] = Counter()
    resolve = BlockType.plan

    def counted(self: BlockType, order: str) -> Callable[[BlockArgs], BlockPlan]:
        function = resolve(self, order)

        def plan(a: BlockArgs) -> BlockPlan:
            calls[current] += 1
            return function(a)

        return plan

    monkeypatch.setattr(BlockType, "plan", counted)
    for current in builtin_names():
        netspec.build(current, device="meta")
        blocks = sum(stage.depth for stage in netspec.load_spec(current).stages)
        assert calls[current] == blocks, current


def test_a_cost_limit_on_a_backbone_names_the_spec_field(write: Write, cli: Cli) -> None:
    # torchvision's ResNet-50 without its classifier (2048 x 1000 weights and 1000 biases): the backbone's count.
    reference = torchvision.models.resnet50()
    params = sum(p.numel() for p in reference.parameters()) - 2048 * 1000 - 1000
    text = "netspec: 1\nextends: resnet50\nfeatures: [layer2, layer3, layer4]\n"
    write(text)
    code, out, err = cli("validate", "spec.yaml", "--limit", "params=1000")
    message = f"{params:,} parameters exceeds the limit of 1,000; raise it with --limit params={params}"
    # Placed where the fourth stage is written: in the builtin spec this one extends.
    written = (Path(netspec.__file__).parent / "specs" / "resnet50.yaml").read_text().splitlines()
    line = [i for i, text in enumerate(written, 1) if text.startswith("  - {")][3]
    assert (code, out) == (1, "")
    assert err.endswith(f"/specs/resnet50.yaml:{line}:5: stages.3: {message}\n")
