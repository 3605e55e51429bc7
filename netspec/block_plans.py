"""The builtin blocks' plans (basic and bottleneck, post- and pre-activation) and the parts every block shares:
shortcut, attention and the residual tail. No torch; the classes that run them are in netspec.blocks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netspec.kinds import Size, per_axis
from netspec.plan import (
    BlockArgs,
    BlockPlan,
    Op,
    PlanError,
    act,
    conv,
    eca_kernel,
    make_divisible,
    norm,
    same_if_even,
    strides,
)


class BasicOptions(BaseModel):
    """Settings only basic blocks have."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="dropout between the two convs (Wide ResNets, Zagoruyko & Komodakis 2016)"
    )


def _blur(a: BlockArgs, channels: int) -> tuple[Size, tuple[Op, ...]]:
    """(stride of the 3x3 conv, the blur pool after its activation): anti-aliased blocks (Zhang 2019) move a
    block's stride from its 3x3 conv to a blur pool, as timm's aa_layer does."""
    if a.aa == "none" or not strides(a.stride):
        return a.stride, ()
    if a.preact:
        raise PlanError("aa", "blur pooling is planned for post-activation blocks only; use order: post")
    return 1, (Op("aa", "blur", channels, channels, 3, a.stride),)


def _main(a: BlockArgs, name: str, ins: int, out: int, stride: Size, **kw: Any) -> Op:
    """One of the block's main convs: of block.kernel, in the block's style, padded 'same' when the kernel is even."""
    return conv(
        name, ins, out, a.kernel, stride, a.style, padding=same_if_even(a.kernel, stride, a.dims, "kernel"), **kw
    )


def _dropout(a: BlockArgs, channels: int) -> tuple[Op, ...]:
    p = a.options.dropout if isinstance(a.options, BasicOptions) else 0.0
    return (Op("dropout", "dropout", channels, channels, p=p),) if p > 0 else ()


def shortcut(a: BlockArgs, source: str) -> Op | None:
    """The shortcut `downsample`, taking the output of `source`; None for an identity shortcut."""
    ins, out, stride = a.in_channels, a.out_channels, a.stride
    changes = strides(stride) or ins != out
    if a.shortcut == "A":  # He et al. 2015: subsample and pad the new channels with zeros; no parameters
        subsample = per_axis(stride, a.dims)  # one entry per axis: the module slices each axis
        pad = Op("downsample", "zero_pad", ins, out, stride=subsample, variant=a.shortcut_pad, source=source)
        return pad if changes else None
    bias = a.style.bias or a.shortcut_bias
    if a.shortcut in ("B", "C") and (changes or a.shortcut == "C"):
        layers = [conv("0", ins, out, 1, stride, style=a.style, bias=bias)]
    elif a.shortcut == "D" and changes:
        # ResNet-D: average-pool first so that the projection sees every input position (Bag of Tricks, 2019).
        window = 2 if isinstance(stride, int) else tuple(2 if s > 1 else 1 for s in stride)  # only where it strides
        pool = Op("0", "avgpool", ins, ins, window, stride, 0, ceil=True, count_pad=False)
        project = conv("1", ins, out, 1, style=a.style, bias=bias)
        layers = [pool if strides(stride) else Op("0", "identity", ins, ins), project]
    else:
        return None
    if not a.preact:  # pre-activation projections see a normalised input and have no norm of their own
        layers.append(norm(str(len(layers)), out, a.style))
    if a.shortcut_act:
        layers.append(act(str(len(layers)), out, a.style.act))
    return Op("downsample", "sequential", ins, out, source=source, children=tuple(layers))


def attention(a: BlockArgs, channels: int) -> Op | None:
    """Squeeze-excitation (Hu et al. 2018) or ECA (Wang et al. 2020) with timm's layer names, or None."""
    c = channels
    gate, scale = Op("gate", "sigmoid", c, c), Op("mul", "mul", c, c, source="input")
    if a.attn == "se":
        reduced = make_divisible(c * a.attn_ratio, a.attn_divisor)
        fc1, fc2 = conv("fc1", c, reduced, 1, bias=True), conv("fc2", reduced, c, 1, bias=True)
        layers = (Op("mean", "mean", c, c), fc1, act("act", reduced, "relu"), fc2, gate, scale)
        return Op("se", "se", c, c, children=layers, constants=(("dims", a.dims),))
    if a.attn == "eca":  # a 1-D conv along the pooled channels, its kernel set by the channel count
        pooled = Op("mean", "mean_1d", c, 1)
        eca = Op("conv", "conv", 1, 1, eca_kernel(c), dims=1)
        return Op("se", "eca", c, c, children=(pooled, eca, gate, scale), constants=(("dims", a.dims),))
    return None


def tail(a: BlockArgs, main: str, shortcut_source: str) -> list[Op]:
    """The end of every block's forward, after the residual branch's last op `main`: attention, stochastic
    depth, the shortcut (from `shortcut_source`), then the add."""
    c, ops = a.out_channels, []
    se = attention(a, c)
    if se is not None:
        ops.append(se)
    if a.drop_path > 0:
        ops.append(Op("drop_path", "drop_path", c, c, p=a.drop_path))
    add_source = ops[-1].name if ops else main
    downsample = shortcut(a, shortcut_source)
    if downsample is not None:
        ops.append(downsample)
    # Post-activation blocks add in place (`out += shortcut`), pre-activation ones make a new tensor.
    return [*ops, Op("add", "add", c, c, inplace=not a.preact, source=add_source)]


def _middle(a: BlockArgs, inner: int, stride: Size) -> Op:
    """A bottleneck's middle conv, grouped; a (2+1)-D one's middle width from the block's in and width, as
    torchvision's video bottleneck reckons it."""
    mid_of = (a.in_channels, a.width)
    return _main(a, "conv2", inner, inner, stride, mid_of=mid_of, groups=a.groups, dilation=a.first_dilation)


def bottleneck_strides(a: BlockArgs) -> tuple[Size, Size]:
    """Strides of a bottleneck's first 1x1 and of its 3x3 conv.

    The 2015 paper (and Caffe) stride in the first 1x1 conv; torchvision's "v1.5" strides in the 3x3, which
    costs a little speed and gains about 0.5% top-1 (see torchvision's resnet.py)."""
    return (a.stride, 1) if a.stride_in_1x1 else (1, a.stride)


def bottleneck_inner(a: BlockArgs) -> int:
    """Channels of a bottleneck's 3x3 conv: width x width_per_group / 64 x groups, as in torchvision."""
    if a.width * a.width_per_group % 64:
        per_group = f"width {a.width} x width_per_group {a.width_per_group} / 64"
        raise PlanError("width", f"{per_group} is not a whole number of channels per group")
    return a.width * a.width_per_group // 64 * a.groups


def basic(a: BlockArgs) -> BlockPlan:
    """Two 3x3 convs, norm and activation after each (ResNet v1, He et al. 2015)."""
    s, w, out = a.style, a.width, a.out_channels
    stride, blur = _blur(a, w)
    ops = (
        _main(a, "conv1", a.in_channels, w, stride, dilation=a.first_dilation),
        norm("bn1", w, s),
        act("act1", w, s.act),
        *blur,
        *_dropout(a, w),
        # a (2+1)-D conv2 keeps the middle width of conv1, as torchvision's video blocks do
        _main(a, "conv2", w, out, 1, dilation=a.dilation, mid_of=(a.in_channels, w)),
        norm("bn2", out, s),
        *tail(a, "bn2", "input"),
        act("act2", out, s.act),
    )
    return BlockPlan(ops, w, "bn2")


def bottleneck(a: BlockArgs) -> BlockPlan:
    """1x1 reduce, 3x3 (grouped), 1x1 expand, norm and activation after each (ResNet v1 / v1.5, ResNeXt)."""
    s, inner, out = a.style, bottleneck_inner(a), a.out_channels
    s1, s3 = bottleneck_strides(a)
    s3, blur = _blur(a, inner) if strides(s3) else (s3, ())
    ops = (
        conv("conv1", a.in_channels, inner, 1, s1, style=s),
        norm("bn1", inner, s),
        act("act1", inner, s.act),
        _middle(a, inner, s3),
        norm("bn2", inner, s),
        act("act2", inner, s.act),
        *blur,
        conv("conv3", inner, out, 1, style=s),
        norm("bn3", out, s),
        *tail(a, "bn3", "input"),
        act("act3", out, s.act),
    )
    return BlockPlan(ops, inner, "bn3")


def _preact(a: BlockArgs) -> tuple[Op, Op]:
    _blur(a, a.in_channels)  # refuses anti-aliasing, which the pre-activation forms do not plan
    # Without a norm, an in-place activation would overwrite the input that the identity shortcut adds back.
    s = a.style
    return norm("bn1", a.in_channels, s), act("act1", a.in_channels, s.act, inplace=s.norm != "none")


def preact_basic(a: BlockArgs) -> BlockPlan:
    """Norm and activation before each of two 3x3 convs; nothing after the add (He et al. 2016)."""
    s, w = a.style, a.width
    ops = (
        *_preact(a),
        _main(a, "conv1", a.in_channels, w, a.stride, dilation=a.first_dilation),
        norm("bn2", w, s),
        act("act2", w, s.act),
        *_dropout(a, w),
        _main(a, "conv2", w, a.out_channels, 1, dilation=a.dilation, mid_of=(a.in_channels, w)),
        *tail(a, "conv2", "act1"),  # a projection sees the pre-activated input, as in He et al. 2016
    )
    return BlockPlan(ops, w, "conv2")


def preact_bottleneck(a: BlockArgs) -> BlockPlan:
    """Norm and activation before each of 1x1, 3x3, 1x1 convs; nothing after the add (He et al. 2016)."""
    s, inner = a.style, bottleneck_inner(a)
    s1, s3 = bottleneck_strides(a)
    ops = (
        *_preact(a),
        conv("conv1", a.in_channels, inner, 1, s1, style=s),
        norm("bn2", inner, s),
        act("act2", inner, s.act),
        _middle(a, inner, s3),
        norm("bn3", inner, s),
        act("act3", inner, s.act),
        conv("conv3", inner, a.out_channels, 1, style=s),
        *tail(a, "conv3", "act1"),
    )
    return BlockPlan(ops, inner, "conv3")
