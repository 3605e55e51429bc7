"""The block-type registry: Python code adds types that specs can name; names are unique."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import torch
from torch import nn

import netspec
from netspec import registry
from netspec.anatomy import PlanMismatch
from netspec.block_plans import basic
from netspec.blocks import BasicBlock, Block, Bottleneck
from netspec.fit import BlockFitError
from netspec.gate import admit
from netspec.plan import BlockArgs, BlockPlan, Op, conv


@pytest.fixture(autouse=True)
def restore_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    yield


class Scale(nn.Module):
    """A learnable scalar: a layer the analysis cannot count without torch, so its plan declares its parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def scaled_basic(a: BlockArgs) -> BlockPlan:
    """The basic block with its residual branch scaled by a learnable scalar after bn2."""
    plan = basic(a)
    at = [op.name for op in plan.ops].index("bn2") + 1
    scale = Op("scale", "module", a.out_channels, a.out_channels, variant=f"{__name__}:Scale", params=1)
    return replace(plan, ops=(*plan.ops[:at], scale, *plan.ops[at:]))


class ScaledBasic(Block):
    """A user's block: a basic block whose residual branch is scaled by a learnable scalar (ReZero-like)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.scale(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return self.act2(out + shortcut)  # type: ignore[no-any-return]


def test_a_registered_block_type_validates_and_builds() -> None:
    netspec.register_block("scaled_basic", post=(scaled_basic, ScaledBasic))
    model = netspec.build("resnet18", block={"type": "scaled_basic"})
    assert all(isinstance(b, ScaledBasic) for b in model.get_submodule("layer1"))
    baseline = netspec.build("resnet18")
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in baseline.parameters())
    assert extra == 8  # one scalar per block
    summary = admit("resnet18", overrides={"block": {"type": "scaled_basic"}}).analysis.totals
    assert summary.params == sum(p.numel() for p in model.parameters())  # the summary counts what the plan declares
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^block type 'basic' is already registered$"):
        netspec.register_block("basic", post=(basic, BasicBlock))


def test_a_type_without_a_pre_activation_form_is_refused_in_pre_order() -> None:
    netspec.register_block("scaled_basic", post=(scaled_basic, ScaledBasic))
    with pytest.raises(netspec.SpecError) as info:
        netspec.load_spec("resnet18", overrides={"block": {"type": "scaled_basic", "order": "pre"}})
    assert str(info.value) == (
        "keyword overrides: block.order: scaled_basic blocks have no pre-activation form; use order: post"
    )


class OldStyle(Block):
    """A class written for netspec before plans: it takes sizes, not the plan's layers."""

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__({})


def test_a_class_that_does_not_take_the_plans_layers_is_refused_by_name() -> None:
    with pytest.raises(BlockFitError) as info:
        netspec.register_block("old", post=(basic, OldStyle))
    assert str(info.value) == (
        "block type 'old' (post-activation): OldStyle(in_channels, width, stride) cannot be "
        "built from a plan; it must take the plan's layers, OldStyle(layers), as netspec.blocks.Block does"
    )
    assert "old" not in registry.block_names()


def test_a_class_that_is_not_a_block_is_refused() -> None:
    with pytest.raises(
        BlockFitError,
        match=r"^block type 'plain' \(post-activation\): <class 'torch.nn.modules.linear"
        r".Identity'> is not a subclass of netspec.blocks.Block$",
    ):
        netspec.register_block("plain", post=(basic, nn.Identity))


def test_a_forward_that_uses_layers_the_plan_lacks_is_refused_naming_them() -> None:
    with pytest.raises(BlockFitError) as info:
        netspec.register_block("mismatched", post=(basic, Bottleneck))
    assert str(info.value) == (
        "block type 'mismatched': Bottleneck.forward uses act3, bn3, conv3, which its plan does not give (it gives "
        "act1, act2, bn1, bn2, conv1, conv2, downsample); add them to the plan, or to Bottleneck.optional"
    )


class TwoConvs(Block):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))  # type: ignore[no-any-return]


def test_a_plan_whose_channels_do_not_chain_is_reported_at_the_layer() -> None:
    def miswired(a: BlockArgs) -> BlockPlan:
        ops = (conv("conv1", a.in_channels, a.width, 3, a.stride), conv("conv2", a.width // 2, a.out_channels))
        return BlockPlan(ops, a.width, "conv2")

    netspec.register_block("miswired", post=(miswired, TwoConvs))
    with pytest.raises(
        PlanMismatch, match=r"^layer1\.0\.conv2: the plan gives it 32 input channels, but it receives 64$"
    ):
        netspec.build("resnet18", block={"type": "miswired"})
