"""Selective kernel blocks (Li et al. 2019), planned: a conv whose paths see different receptive fields
(3x3 convs dilated 1, 2, ...), mixed per channel by an attention over the paths. No torch.

Laid out as timm's SelectiveKernelBasic / SelectiveKernelBottleneck (conv1.paths.0.conv, conv1.attn.fc_reduce,
conv2.bn, ...), so that timm's skresnet weights load.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netspec.block_plans import bottleneck_inner, tail
from netspec.kinds import per_axis
from netspec.plan import BlockArgs, BlockPlan, Op, Style, act, conv, make_divisible, norm

CLASSES = "netspec.families.sknet_block"


class SelectiveKernelOptions(BaseModel):
    """Settings only selective kernel blocks have."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    kernels: tuple[int, ...] = Field(
        (3, 5), strict=False, min_length=1, max_length=8, description="each path's receptive field: 3, 5, 7, ..."
    )
    split_input: bool = Field(True, description="each path sees its share of the input channels (timm's skresnet)")
    reduction: float = Field(1 / 16, gt=0.0, le=1.0, description="attention channels / output channels")
    divisor: int = Field(8, ge=1, description="attention channels are rounded to a multiple of this")


def conv_norm_act(name: str, ins: int, out: int, kernel: int, style: Style, relu: bool, **kw: Any) -> Op:
    """timm's ConvNormAct: `conv`, `bn` and, unless the add follows, `act`."""
    layers = [conv("conv", ins, out, kernel, style=style, **kw), norm("bn", out, style)]
    layers += [act("act", out, style.act)] if relu else []
    return Op(name, "composite", ins, out, variant=f"{CLASSES}:ConvNormAct", children=tuple(layers))


def selective_kernel(name: str, a: BlockArgs, ins: int, out: int, groups: int) -> Op:
    """Paths of 3x3 convs dilated to each kernel's reach; their sum's pooled attention weighs them."""
    o = a.options if isinstance(a.options, SelectiveKernelOptions) else SelectiveKernelOptions()
    paths, style = len(o.kernels), a.style
    part = ins // paths if o.split_input else ins
    layers: list[Op] = []
    for i, kernel in enumerate(o.kernels):
        source = "input"
        if o.split_input:
            layers.append(Op(f"split{i}", "chunk", ins, part, source="input"))
            source = f"split{i}"
        # keeps 3x3 kernels, dilated to the kernel's reach (one dilation for every axis: netspec.checks)
        dilation = max(per_axis(a.first_dilation, 1)) * (kernel - 1) // 2
        path = conv_norm_act(f"paths.{i}", part, out, 3, style, True, stride=a.stride, dilation=dilation, groups=groups)
        layers.append(replace(path, source=source))
    wide, reduced = out * paths, make_divisible(out * o.reduction, o.divisor)
    layers.append(Op("stack", "cat", out, wide))
    attention = (
        Op("sum", "radix_sum", wide, out),
        Op("mean", "mean", out, out),
        conv("fc_reduce", out, reduced, 1),
        norm("bn", reduced, style),
        act("act", reduced, style.act),
        conv("fc_select", reduced, wide, 1),
        Op("softmax", "softmax", wide, wide),
    )
    attn = Op("attn", "composite", wide, wide, variant=f"{CLASSES}:SelectiveKernelAttention", children=attention)
    layers += [replace(attn, constants=(("paths", paths),)), Op("weigh", "radix_weigh", wide, out, source="stack")]
    split = (("split", part if o.split_input else 0),)  # 0: every path sees the whole input
    return Op(
        name, "composite", ins, out, variant=f"{CLASSES}:SelectiveKernel", children=tuple(layers), constants=split
    )


def sk_basic(a: BlockArgs) -> BlockPlan:
    """A selective kernel conv (strided), then a 3x3 conv and norm; timm's SelectiveKernelBasic."""
    s, w, out = a.style, a.width, a.out_channels
    ops = (
        selective_kernel("conv1", a, a.in_channels, w, 1),
        conv_norm_act("conv2", w, out, 3, s, False, dilation=a.dilation),
        *tail(a, "conv2", "input"),
        act("act", out, s.act),
    )
    return BlockPlan(ops, w, "conv2.bn")


def sk_bottleneck(a: BlockArgs) -> BlockPlan:
    """1x1 reduce, a grouped selective kernel conv (strided), 1x1 expand; timm's SelectiveKernelBottleneck."""
    s, width, out = a.style, bottleneck_inner(a), a.out_channels
    ops = (
        conv_norm_act("conv1", a.in_channels, width, 1, s, True),
        selective_kernel("conv2", a, width, width, min(width, a.groups)),
        conv_norm_act("conv3", width, out, 1, s, False),
        *tail(a, "conv3", "input"),
        act("act", out, s.act),
    )
    return BlockPlan(ops, width, "conv3.bn")
