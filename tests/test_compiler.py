"""The compiler: every spec feature builds the layers it names, checked against torchvision where it has them."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

import netspec
from netspec.blocks import BasicBlock
from netspec.layers import ZeroPadShortcut

CIFAR_PREACT = {
    "stem": {"preset": "cifar", "width": 16},
    "block": {"type": "basic", "order": "pre"},
    "stages": [{"depth": 2, "width": w, "stride": s} for w, s in ((16, 1), (32, 2), (64, 2))],
    "head": {"classes": 10},
}


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def small(**overrides: Any) -> nn.Module:
    """A small CIFAR-sized network with `overrides` deep-merged in."""
    base: dict[str, Any] = {
        "stem": {"preset": "cifar", "width": 16},
        "block": {"type": "basic"},
        "stages": [{"depth": 2, "width": w, "stride": s} for w, s in ((16, 1), (32, 2), (64, 2))],
        "head": {"classes": 10},
    }
    return netspec.build("resnet18", **(base | overrides))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("torchvision_name", "block"),
    [
        ("resnext50_32x4d", {"groups": 32, "width_per_group": 4}),
        ("resnext101_64x4d", {"groups": 64, "width_per_group": 4}),
        ("wide_resnet50_2", {"width_per_group": 128}),
    ],
)
def test_groups_and_width_per_group_match_torchvision(torchvision_name: str, block: dict[str, int]) -> None:
    reference = getattr(torchvision.models, torchvision_name)().eval()
    depths = [3, 4, 23, 3] if "101" in torchvision_name else [3, 4, 6, 3]
    stages = [
        {"depth": d, "width": w, "stride": s} for d, w, s in zip(depths, (64, 128, 256, 512), (1, 2, 2, 2), strict=True)
    ]
    model = netspec.build("resnet50", block=block, stages=stages).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-6)


def test_dilation_matches_torchvision_replace_stride_with_dilation() -> None:
    reference = torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True]).eval()
    stages = [
        {"depth": 3, "width": 64, "stride": 1},
        {"depth": 4, "width": 128, "stride": 2},
        {"depth": 6, "width": 256, "stride": 1, "dilation": 2},
        {"depth": 3, "width": 512, "stride": 1, "dilation": 4},
    ]
    model = netspec.build("resnet50", stages=stages).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-6)


def test_stride_on_the_first_1x1_as_in_the_paper() -> None:
    model = netspec.build("resnet50", block={"stride_at": "1x1"})
    first = model.get_submodule("layer2.0")
    assert (first.conv1.stride, first.conv2.stride) == ((2, 2), (1, 1))
    v15 = netspec.build("resnet50").get_submodule("layer2.0")
    assert (v15.conv1.stride, v15.conv2.stride) == ((1, 1), (2, 2))


def test_shortcut_a_is_parameter_free_zero_padding() -> None:
    model = small(block={"type": "basic", "shortcut": "A"})
    pad = model.get_submodule("layer2.0.downsample")
    assert isinstance(pad, ZeroPadShortcut)
    x = torch.randn(1, 16, 8, 8)
    out = pad(x)
    assert out.shape == (1, 32, 4, 4)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()
    # He et al. 2015, Table 6: the 20-layer CIFAR ResNet with option A has 0.27M parameters.
    assert round(count(small(block={"type": "basic", "shortcut": "A"}, stages=_cifar_stages(3))) / 1e6, 2) == 0.27


def _cifar_stages(n: int) -> list[dict[str, int]]:
    return [{"depth": n, "width": w, "stride": s} for w, s in ((16, 1), (32, 2), (64, 2))]


def test_shortcut_c_projects_every_block_and_d_pools_first() -> None:
    c = small(block={"type": "basic", "shortcut": "C"})
    assert all(
        isinstance(b.downsample, nn.Sequential) for layer in ("layer1", "layer2") for b in c.get_submodule(layer)
    )
    d = small(block={"type": "basic", "shortcut": "D"})
    pool, conv, _ = d.get_submodule("layer2.0.downsample")
    assert isinstance(pool, nn.AvgPool2d) and pool.ceil_mode and not pool.count_include_pad
    assert conv.stride == (1, 1)
    assert d.get_submodule("layer2.1").downsample is None


def test_pre_activation_layout() -> None:
    model = netspec.build("resnet18", **CIFAR_PREACT)
    names = [name for name, _ in model.named_children()]
    assert names == ["conv1", "layer1", "layer2", "layer3", "final_norm", "final_act", "avgpool", "flatten", "fc"]
    block = model.get_submodule("layer2.0")
    assert block.bn1.num_features == 16  # the norm sees the block's input
    assert list(block.downsample) == [block.downsample[0]]  # projection without a norm
    no_final = netspec.build("resnet18", **CIFAR_PREACT | {"head": {"classes": 10, "norm": False}})
    assert "final_norm" not in dict(no_final.named_children())


@pytest.mark.parametrize(("norm", "kind"), [("group", nn.GroupNorm), ("frozen_batch", FrozenBatchNorm2d)])
def test_norm_choices(norm: str, kind: type[nn.Module]) -> None:
    model = small(block={"type": "basic", "norm": norm, "norm_groups": 8})
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d | nn.GroupNorm | FrozenBatchNorm2d)]
    assert norms and all(isinstance(m, kind) for m in norms)


def test_no_norm_gives_convs_a_bias() -> None:
    model = small(block={"type": "basic", "norm": "none"})
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None for c in convs[1:])
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_squeeze_excitation_widths() -> None:
    model = netspec.build("resnet50", block={"attn": "se"})
    # 256 x 1/16 = 16 channels; 64 x 1/16 = 4 rounds up to the divisor, 8.
    assert model.get_submodule("layer1.0.se.fc1").out_channels == 16
    small_se = small(block={"type": "basic", "attn": "se"})
    assert small_se.get_submodule("layer1.0.se.fc1").out_channels == 8


def test_drop_path_rises_linearly_to_the_last_block() -> None:
    model = small(block={"type": "basic", "drop_path": 0.5})
    blocks = [b for layer in ("layer1", "layer2", "layer3") for b in model.get_submodule(layer)]
    assert blocks[0].drop_path is None
    assert [b.drop_path.p for b in blocks[1:]] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_zero_init_last_starts_each_block_as_its_shortcut() -> None:
    model = small(block={"type": "basic", "zero_init_last": True}).eval()
    block = model.get_submodule("layer1.1")
    assert isinstance(block, BasicBlock)
    x = torch.randn(2, 16, 8, 8).relu()
    with torch.no_grad():
        assert torch.equal(block(x), x)


def test_deep_stem_uses_timms_layout() -> None:
    model = netspec.build("resnet50", stem={"preset": "deep", "width": 64})
    convs = [m.out_channels for m in model.get_submodule("conv1") if isinstance(m, nn.Conv2d)]
    assert convs == [32, 32, 64]
    assert [type(m).__name__ for m in model.get_submodule("conv1")][:3] == ["Conv2d", "BatchNorm2d", "ReLU"]


def test_head_variants() -> None:
    mlp = small(head={"hidden": [24], "dropout": 0.5, "classes": 10})
    assert [type(m).__name__ for m in mlp.fc] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert "dropout" not in dict(mlp.named_children())  # the pooled features go to the first Linear as they are
    plain = small(head={"dropout": 0.2, "classes": 10})
    assert [n for n, _ in plain.named_children()][-3:] == ["flatten", "dropout", "fc"]
    features = small(head={"classes": 0})
    assert features(torch.randn(2, 3, 32, 32)).shape == (2, 64)
    maps = small(head={"classes": 0, "pool": "none"})
    assert maps(torch.randn(2, 3, 32, 32)).shape == (2, 64, 8, 8)


SHAPE_CASES = {
    "resnet50": {},
    "preact cifar": CIFAR_PREACT,
    "deep stem, shortcut D, SE": {"stem": "deep", "block": {"type": "bottleneck", "shortcut": "D", "attn": "se"}},
    "shortcut A, 1x1 stride": {"block": {"type": "bottleneck", "shortcut": "A", "stride_at": "1x1"}},
    "explicit stem, dilation": {
        "stem": {"convs": [{"width": 24, "kernel": 5, "stride": 2}, {"width": 32}], "pool": "avg"},
        "stages": [{"depth": 1, "width": 16, "stride": 1}, {"depth": 2, "width": 32, "stride": 1, "dilation": 2}],
    },
}


def test_forward_traces_with_torch_fx() -> None:
    # No Python branch on spec values in forward: the whole network traces symbolically.
    for overrides in SHAPE_CASES.values():
        traced = torch.fx.symbolic_trace(netspec.build("resnet50", **overrides).eval())
        assert any(node.op == "call_module" for node in traced.graph.nodes)


def test_overrides_on_a_spec_object_are_validated() -> None:
    spec = netspec.load_spec("resnet18")
    assert netspec.build(spec, head={"classes": 7}).fc.out_features == 7
    with pytest.raises(
        netspec.SpecError, match=r"^keyword overrides: head.classes: expected an integer, got the string 'x'$"
    ):
        netspec.build(spec, head={"classes": "x"})


def test_shortcut_act_ends_projections_only() -> None:
    model = netspec.build("resnet50", block={"shortcut_act": True})
    assert [type(m).__name__ for m in model.get_submodule("layer2.0.downsample")] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert model.get_submodule("layer2.1").downsample is None


def test_eca_kernel_grows_with_channels() -> None:
    # Wang et al. 2020: k = |log2(C) + 1| / 2 rounded up to odd: 3 for 64 channels, 5 for 256, 7 for 2048.
    model = netspec.build("resnet50", block={"attn": "eca"})
    kernels = {b.se.conv.kernel_size[0] for b in model.get_submodule("layer1")}
    assert kernels == {5}
    assert model.get_submodule("layer4.0.se.conv").kernel_size == (7,)
    assert small(block={"type": "basic", "attn": "eca"}).get_submodule("layer3.0.se.conv").kernel_size == (3,)
