"""ResNeSt's bottleneck (Zhang et al. 2020), planned: the 3x3 conv becomes split attention over `radix`
groups of its output, and a strided block strides by average-pooling (timm's avd). No torch.

Laid out as timm's ResNestBottleneck and SplitAttn (conv2.conv, conv2.fc1, ...), so that its weights load.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from netspec.block_plans import bottleneck_inner, tail
from netspec.kinds import Size
from netspec.plan import BlockArgs, BlockPlan, Op, act, conv, make_divisible, norm, strides

CLASSES = "netspec.families.resnest_block"


class ResNeStOptions(BaseModel):
    """Settings only ResNeSt blocks have."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    radix: int = Field(2, ge=1, le=16, description="splits the attention chooses between (ResNeSt's R)")
    avd: bool = Field(True, description="a strided block strides in a 3x3 average pool instead of its 3x3 conv")
    avd_first: bool = Field(False, description="that pool comes before the split attention instead of after")


def split_attention(a: BlockArgs, channels: int, stride: Size, radix: int) -> Op:
    """A grouped 3x3 conv to radix x channels, then a softmax over the radix splits of a channel attention
    computed from their sum (timm's SplitAttn, as conv2)."""
    s, c, wide, groups = a.style, channels, channels * radix, a.groups
    attn = make_divisible(c * radix * 0.25, 8, min_value=32, round_limit=0.9)
    layers = (
        conv("conv", c, wide, 3, stride, style=s, groups=groups * radix, dilation=a.first_dilation),
        norm("bn0", wide, s),
        act("act0", wide, s.act),
        *([Op("sum", "radix_sum", wide, c)] if radix > 1 else []),
        Op("mean", "mean", c, c),
        conv("fc1", c, attn, 1, groups=groups, bias=True),
        norm("bn1", attn, s),
        act("act1", attn, s.act),
        conv("fc2", attn, wide, 1, groups=groups, bias=True),
        Op("rsoftmax", "module", wide, wide, variant=f"{CLASSES}:RadixSoftmax", args=(radix, groups)),
        Op("weigh", "radix_weigh", wide, c, source="act0"),
    )
    return Op("conv2", "composite", c, c, variant=f"{CLASSES}:SplitAttention", children=layers)


def resnest(a: BlockArgs) -> BlockPlan:
    """1x1 reduce, split attention (strided, or followed by a strided 3x3 average pool), 1x1 expand."""
    o = a.options if isinstance(a.options, ResNeStOptions) else ResNeStOptions()
    s, width, out = a.style, bottleneck_inner(a), a.out_channels
    pooled = o.avd and strides(a.stride)
    pool = Op("avd_first" if o.avd_first else "avd_last", "avgpool", width, width, 3, a.stride, 1)
    ops = [conv("conv1", a.in_channels, width, 1, style=s), norm("bn1", width, s), act("act1", width, s.act)]
    ops += [pool] if pooled and o.avd_first else []
    ops.append(split_attention(a, width, 1 if pooled else a.stride, o.radix))
    ops += [pool] if pooled and not o.avd_first else []
    ops += [conv("conv3", width, out, 1, style=s), norm("bn3", out, s)]
    return BlockPlan((*ops, *tail(a, "bn3", "input"), act("act3", out, s.act)), width, "bn3")
