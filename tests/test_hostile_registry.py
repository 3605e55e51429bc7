"""Round 3, register_block: names, counts and flags are checked when a type is registered, its plan is tried with
its options' defaults, and what a block holds is what its plan says, so that summaries count every parameter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

import netspec
from netspec import registry
from netspec.anatomy import PlanMismatch
from netspec.block_plans import bottleneck
from netspec.blocks import Bottleneck
from netspec.fit import BlockFitError
from netspec.gate import admit
from netspec.plan import BlockArgs, BlockPlan, Op

NAME_RULE = "is not one a spec can write in block.type: a letter, then up to 63 letters, digits, '_', '-' or '.'"


@pytest.fixture(autouse=True)
def restore_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    yield


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (None, "None"),
        (3, "3"),
        ("", "''"),
        ("red\x1b[31m", "'red\\x1b[31m'"),
        (" padded ", "' padded '"),
        ("x" * 65, repr("x" * 65)),
        ("2fast", "'2fast'"),
    ],
    ids=["none", "int", "empty", "escape", "spaces", "long", "digit-first"],
)
def test_a_name_a_spec_could_not_write_is_refused_and_nothing_breaks(name: Any, shown: str) -> None:
    with pytest.raises(netspec.NetspecError) as raised:
        netspec.register_block(name, post=(bottleneck, Bottleneck))
    assert str(raised.value) == f"register_block: the name {shown} {NAME_RULE}"
    assert isinstance(raised.value, ValueError)  # what Python code catches for a bad argument
    assert registry.block_names() == sorted(registry.block_names())  # every name still a string
    assert netspec.load_spec("resnet18").block.type == "basic"  # later validation is not broken


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("expansion", 0, "expansion must be a whole number of at least 1, got 0"),
        ("expansion", -4, "expansion must be a whole number of at least 1, got -4"),
        ("expansion", 2.0, "expansion must be a whole number of at least 1, got 2.0"),
        ("expansion", True, "expansion must be a whole number of at least 1, got True"),
        ("grouped", "yes", "grouped must be True or False, got 'yes'"),
        ("options", dict, "options must be a pydantic model class, got <class 'dict'>"),
    ],
)
def test_counts_flags_and_options_are_checked(field: str, value: object, message: str) -> None:
    with pytest.raises(netspec.NetspecError, match=rf"^register_block: {message}$"):
        netspec.register_block("mine", post=(bottleneck, Bottleneck), **{field: value})  # type: ignore[arg-type]
    assert "mine" not in registry.block_names()


def test_a_form_that_is_not_a_pair_is_refused() -> None:
    with pytest.raises(
        netspec.NetspecError, match=r"^register_block: post must be a \(plan function, block class\) pair$"
    ):
        netspec.register_block("mine", post=bottleneck)  # type: ignore[arg-type]


class Widening(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    factor: int = Field(1, ge=1)


def widened(a: BlockArgs) -> BlockPlan:
    """A plan that reads its option: it must be planned with the options' defaults when registered."""
    return bottleneck(replace(a, width=a.width * a.options.factor))


def test_a_plan_that_reads_an_option_registers_and_builds() -> None:
    netspec.register_block("widened", post=(widened, Bottleneck), expansion=4, grouped=True, options=Widening)
    block = {"type": "widened", "options": {"factor": 2}}
    model = netspec.build("resnet50", block=block)
    wide = model.get_submodule("layer1.0.conv1")
    assert isinstance(wide, nn.Conv2d) and wide.out_channels == 128


def test_a_plan_that_fails_on_a_sample_is_one_line() -> None:
    def broken(a: BlockArgs) -> BlockPlan:
        return bottleneck(replace(a, width=a.options.missing))

    with pytest.raises(BlockFitError) as raised:
        netspec.register_block("broken", post=(broken, Bottleneck), options=Widening)
    assert str(raised.value) == (
        "block type 'broken' (post-activation): its plan function fails on a sample block: AttributeError: "
        "'Widening' object has no attribute 'missing'"
    )


class CBAM(nn.Module):
    """Convolutional block attention (Woo et al. 2018): channel attention from a shared MLP over the average and
    maximum of each channel, then spatial attention from a 7x7 conv over the channels' mean and maximum."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(x.amax((2, 3), keepdim=True))
        x = x * pooled.sigmoid()
        maps = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        return x * self.spatial(maps).sigmoid()


def _cbam_plan(declared: bool) -> Any:
    def plan(a: BlockArgs) -> BlockPlan:
        """A bottleneck with CBAM where squeeze-excitation would be (the Bottleneck class calls `se`)."""
        base, c = bottleneck(a), a.out_channels
        hidden = c // 16
        params = (c * hidden + hidden) + (hidden * c + c) + (2 * 49 + 1) if declared else 0
        cbam = Op("se", "module", c, c, variant=f"{__name__}:CBAM", args=(c,), params=params)
        at = [op.name for op in base.ops].index("bn3") + 1
        return replace(base, ops=(*base.ops[:at], cbam, *base.ops[at:]))

    return plan


def test_a_module_layer_that_holds_parameters_its_plan_does_not_declare_is_refused() -> None:
    with pytest.raises(PlanMismatch) as raised:
        netspec.register_block("cbam", post=(_cbam_plan(False), Bottleneck), expansion=4, grouped=True)
    held = 256 * 16 + 16 + 16 * 256 + 256 + 2 * 7 * 7 + 1  # the sample block's: 256 channels, a 16-wide MLP
    assert str(raised.value) == (
        f"se (CBAM): holds {held:,} parameters and 0 buffer values, but its plan declares 0 and 0; give the counts in "
        "its Op (params=, buffers=), so that summaries, limits and diagrams count them"
    )
    assert "cbam" not in registry.block_names()


def test_a_module_layer_declaring_its_parameters_is_counted_by_the_summary() -> None:
    netspec.register_block("cbam", post=(_cbam_plan(True), Bottleneck), expansion=4, grouped=True)
    model = netspec.build("resnet50", block={"type": "cbam"})
    built = sum(p.numel() for p in model.parameters())
    assert built > 25_557_032  # torchvision's resnet50, and the CBAM layers besides
    assert admit("resnet50", overrides={"block": {"type": "cbam"}}).analysis.totals.params == built
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


class Extra(Bottleneck):
    """A block that makes a layer of its own, which its plan does not list."""

    def __init__(self, layers: dict[str, nn.Module]) -> None:
        super().__init__(layers)
        self.gain = nn.Parameter(torch.ones(()))


def test_a_block_that_holds_more_than_its_plan_is_refused() -> None:
    with pytest.raises(BlockFitError) as raised:
        netspec.register_block("extra", post=(bottleneck, Extra), expansion=4, grouped=True)
    assert str(raised.value) == (
        "block type 'extra': Extra holds gain, which its plan does not give; make each a layer of the plan (a module "
        "op declaring its parameters), so that summaries count it"
    )
