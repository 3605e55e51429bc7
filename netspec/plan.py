"""Plans: a network's layers, named and sized, before torch is imported. spec -> plan -> {analysis, module}.

An `Op` is one layer (a module, named by its state_dict attribute) or one functional step of a forward pass
(the residual add, a mean). A block type's plan function turns the block's arguments (`BlockArgs`, resolved
once, in netspec.network) into its ops in forward order; netspec.anatomy counts them and netspec.compiler
builds them. What each kind of op is (its shape, cost and torch class) is in netspec.kinds; the few formulas plans share
live here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from netspec.kinds import ACTIVATIONS, Size, kind_of, per_axis


@dataclass(frozen=True, slots=True)
class Op:
    """One layer or functional step. `source` names the op whose output it takes: '' for the previous one,
    'input' for its container's input. Containers (sequential, se, eca, composite) hold theirs in `children`."""

    name: str
    kind: str
    ins: int
    out: int
    kernel: Size = 1  # kernel, stride, padding and dilation: an int for every axis, or a tuple, one per axis
    stride: Size = 1
    padding: Size | str | None = None  # None: dilation x (kernel - 1) // 2 on each axis; 'same' (stride 1 only)
    dilation: Size = 1
    groups: int = 1  # of a conv, or of a group norm
    bias: bool = False
    variant: str = ""  # the activation, norm or conv kind; a `module` or `composite` kind's class
    p: float = 0.0  # dropout and drop path rate
    inplace: bool = True  # activations that can; the residual add of post-activation blocks (`out += shortcut`)
    ceil: bool = False
    count_pad: bool = True  # average pools: count padded positions
    source: str = ""
    children: tuple[Op, ...] = ()
    args: tuple[int, ...] = ()  # a `module` kind's constructor arguments
    params: int = 0  # a `module` kind's parameters and buffer values: what the analysis cannot count without
    buffers: int = 0  # torch, declared by the plan and checked against the module when it is built
    constants: tuple[tuple[str, int], ...] = ()  # a `composite` kind's integers, set as attributes
    dims: int = 0  # spatial axes of its input, when not the network's (ECA's conv runs along the channels)

    # Kinds `module` and `composite` name their class by import path in `variant` ("package.module:Class"):
    # a module that keeps its input's shape, built as Class(*args), or a netspec.layers.Planned container,
    # built from its children. This is how a family brings its own layers without changing netspec.layers.

    @property
    def module(self) -> bool:
        return kind_of(self).module

    @property
    def pad(self) -> Size | str:
        """The padding: as planned, or dilation x (kernel - 1) // 2 on each axis (one int if kernel and
        dilation are)."""
        if self.padding is not None:
            return self.padding
        if isinstance(self.kernel, int) and isinstance(self.dilation, int):
            return self.dilation * (self.kernel - 1) // 2
        axes = len(self.kernel) if isinstance(self.kernel, tuple) else len(self.dilation)  # type: ignore[arg-type]
        kernel, dilation = per_axis(self.kernel, axes), per_axis(self.dilation, axes)
        return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))


@dataclass(frozen=True)
class Style:
    """The layer kinds a network's blocks use, by name."""

    norm: str = "batch"
    norm_groups: int = 32
    act: str = "relu"
    conv: str = "plain"  # a key of netspec.kinds.CONVS

    @property
    def bias(self) -> bool:
        """Convs get a bias where no norm follows them."""
        return self.norm == "none"


@dataclass(frozen=True)
class BlockArgs:
    """A block's arguments, resolved once (netspec.network): all that its plan function receives."""

    in_channels: int
    width: int  # base width (torchvision's planes)
    out_channels: int
    stride: Size  # per spatial axis, or one int for all
    dilation: Size  # per spatial axis, or one int for all
    first_dilation: Size  # of the block's strided conv: the previous stage's dilation in a stage's first block
    dims: int = 2  # spatial axes of the network
    kernel: Size = 3  # of the block's main convs (a basic block's two, a bottleneck's middle one)
    style: Style = field(default_factory=Style)
    groups: int = 1
    width_per_group: int = 64
    stride_in_1x1: bool = False
    preact: bool = False
    attn: str = "none"
    attn_ratio: float = 1 / 16
    attn_divisor: int = 8
    shortcut: str = "B"
    shortcut_act: bool = False
    shortcut_bias: bool = False  # of a projection shortcut's conv
    shortcut_pad: str = "both"  # where shortcut A's zero channels go: both ends, or the end
    aa: str = "none"  # blur: a blur pool strides instead of the 3x3 conv
    drop_path: float = 0.0
    options: Any = None  # the block type's own settings (a pydantic model), if it declares any


@dataclass(frozen=True)
class BlockPlan:
    """A block's ops in forward order, the channels of its middle (the summary's `inner`), the layer whose
    weight zero-init sets to zero so that the block starts as its shortcut (Goyal et al. 2017), and the
    integers its forward needs besides its layers (such as a split's width), which become attributes.

    An op named `convs.0`, `convs.1`, ... is item 0, 1, ... of a ModuleList `convs`."""

    ops: tuple[Op, ...]
    inner: int
    zero_init: str
    constants: tuple[tuple[str, int], ...] = ()


PlanFunction = Callable[[BlockArgs], BlockPlan]


class PlanError(ValueError):
    """A plan function cannot plan a block from these arguments: `field` names the block setting to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def same_if_even(kernel: Size, stride: Size, dims: int, field: str) -> str | None:
    """A conv's padding for `kernel`: 'same' where it is even on some axis, so that the output keeps the input's
    size as an odd kernel's centred padding does (stride 1 only: a PlanError at `field` otherwise); else None, the
    centred default."""
    if isinstance(kernel, tuple) and len(kernel) != dims:
        raise PlanError(field, f"a kernel of {len(kernel)} sizes in a network of {dims} spatial axes")
    if all(k % 2 for k in per_axis(kernel, dims)):
        return None
    if strides(stride):
        message = f"an even kernel ({kernel}) pads 'same', which needs stride 1; give the strided conv an odd kernel"
        raise PlanError(field, message)
    return "same"


def strides(stride: Size) -> bool:
    """Whether `stride` reduces the feature map on some axis."""
    return any(s != 1 for s in (stride if isinstance(stride, tuple) else (stride,)))


def conv(
    name: str,
    ins: int,
    out: int,
    kernel: Size = 3,
    stride: Size = 1,
    style: Style | None = None,
    mid_of: tuple[int, int] | None = None,
    **kw: Any,
) -> Op:
    """A conv; one of a block's main convs takes its kind and bias from the block's `style` (attention's
    convs, which do not, have a bias and are plain). A (2+1)-D style factorises a conv over time and space;
    `mid_of` gives the (in, out) channels its middle width is reckoned from (default: this conv's)."""
    if style is not None and style.conv == FACTORISED and _factorises(kernel):
        return factorised(name, ins, out, kernel, stride, style, mid_of or (ins, out), **kw)
    if style is not None:  # a kernel with no extent in time or none in space is a plain conv in a (2+1)-D style
        kw = {"bias": style.bias, "variant": "plain" if style.conv == FACTORISED else style.conv, **kw}
    return Op(name, "conv", ins, out, kernel, stride, **kw)


FACTORISED = "2plus1d"


def _factorises(kernel: Size) -> bool:
    """A 3-D kernel with extent in time and in space (not 1 x k x k, k x 1 x 1 or 1)."""
    time, *space = per_axis(kernel, 3)
    return time > 1 and max(space) > 1


def factorised(
    name: str, ins: int, out: int, kernel: Size, stride: Size, style: Style, mid_of: tuple[int, int], **kw: Any
) -> Op:
    """R(2+1)D's conv (Tran et al. 2018, torchvision's Conv2Plus1D): a spatial 1 x k x k conv to `mid` channels,
    norm, activation, then a temporal t x 1 x 1 conv; `mid` keeps the parameters of the t x k x k conv it
    replaces: in x out x t x k x k // (in x k x k + t x out), from `mid_of`'s (in, out)."""
    if kw.get("groups", 1) != 1 or strides(kw.get("dilation", 1)):  # a dilation other than 1 on some axis
        raise PlanError("conv", "2plus1d convs have groups 1 and dilation 1 (as torchvision's); use conv: plain")
    (time, *space), (step, *move) = per_axis(kernel, 3), per_axis(stride, 3)
    a, b = mid_of
    mid = a * b * time * math.prod(space) // (a * math.prod(space) + time * b)
    plain = Style(style.norm, style.norm_groups, style.act, "plain")
    layers = (
        conv("0", ins, mid, (1, *space), (1, *move), plain),
        norm("1", mid, style),
        act("2", mid, style.act),
        conv("3", mid, out, (time, 1, 1), (step, 1, 1), plain),
    )
    return Op(name, "sequential", ins, out, children=layers)


def norm(name: str, channels: int, style: Style, source: str = "") -> Op:
    return Op(name, "norm", channels, channels, variant=style.norm, groups=style.norm_groups, source=source)


def act(name: str, channels: int, variant: str, inplace: bool = True) -> Op:
    """An activation; in place where the activation can be."""
    return Op(name, "act", channels, channels, variant=variant, inplace=inplace and ACTIVATIONS[variant].inplace)


def make_divisible(value: float, divisor: int, min_value: int | None = None, round_limit: float = 0.0) -> int:
    """Round to the nearest multiple of `divisor`, at least `min_value` (default `divisor`), and up once more
    if that lost more than 1 - round_limit of the value (timm's rule; its SE layers use round_limit 0)."""
    rounded = max(min_value or divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def eca_kernel(channels: int, gamma: int = 2, beta: int = 1) -> int:
    """ECA's 1-D kernel size: odd, about log2(channels) / 2 (Wang et al. 2020)."""
    t = int(abs(math.log2(channels) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


def leaves(ops: tuple[Op, ...]) -> Iterator[Op]:
    """Every op that is not a container, in forward order, children included."""
    for op in ops:
        if op.children:
            yield from leaves(op.children)
        else:
            yield op
