"""Res2Net's bottleneck (Gao et al. 2019), planned: the 3x3 conv becomes `scale` branches of `width`
channels, each taking its split of the input plus the previous branch's output. No torch.

Laid out as timm's Bottle2neck (convs.i, bns.i), so that timm's res2net weights load.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netspec.block_plans import bottleneck_inner, shortcut, tail
from netspec.plan import BlockArgs, BlockPlan, Op, act, conv, norm, strides


class Res2NetOptions(BaseModel):
    """Settings only Res2Net blocks have."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    scale: int = Field(4, ge=1, le=64, description="branches of the middle stage (Res2Net's s; 1: a bottleneck)")


def res2net(a: BlockArgs) -> BlockPlan:
    """1x1 to width x scale channels; `scale - 1` 3x3 branches (the last split passes through, pooled in a
    stage's first block); concatenate; 1x1 expand. width = width x width_per_group / 64 x groups, as timm."""
    scale = a.options.scale if isinstance(a.options, Res2NetOptions) else 4
    s, width, out = a.style, bottleneck_inner(a), a.out_channels
    # A block that strides or projects has no hierarchy: each branch sees only its own split (timm's is_first).
    first = strides(a.stride) or shortcut(a, "input") is not None
    ops = [conv("conv1", a.in_channels, width * scale, 1, style=s), norm("bn1", width * scale, s)]
    ops.append(act("act1", width * scale, s.act))
    branches = max(1, scale - 1)
    for i in range(branches):
        ops.append(Op(f"split{i}", "chunk", width * scale, width, source="act1"))
        if i > 0 and not first:
            ops.append(Op(f"sum{i}", "add", width, width, inplace=False))  # + the previous branch's output
        ops.append(conv(f"convs.{i}", width, width, 3, a.stride, style=s, groups=a.groups, dilation=a.first_dilation))
        ops += [norm(f"bns.{i}", width, s), act(f"acts.{i}", width, s.act)]
    if scale > 1:
        ops.append(Op(f"split{scale - 1}", "chunk", width * scale, width, source="act1"))
        if first:  # timm keeps count_include_pad, as the original weights were trained with it
            ops.append(Op("pool", "avgpool", width, width, 3, a.stride, 1))
    ops.append(Op("cat", "cat", width * scale, width * scale))
    ops += [conv("conv3", width * scale, out, 1, style=s), norm("bn3", out, s)]
    ops += [*tail(a, "bn3", "input"), act("act3", out, s.act)]
    return BlockPlan(tuple(ops), width * scale, "bn3", (("width", width), ("scale", scale)))
