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

from netspec.kinds import ACTIVATIONS, kind_of


@dataclass(frozen=True, slots=True)
class Op:
    """One layer or functional step. `source` names the op whose output it takes: '' for the previous one,
    'input' for its container's input. Containers (sequential, se, eca, composite) hold theirs in `children`."""

    name: str
    kind: str
    ins: int
    out: int
    kernel: int = 1
    stride: int = 1
    padding: int | None = None  # None: dilation x (kernel - 1) // 2, which keeps the size at stride 1
    dilation: int = 1
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
    def pad(self) -> int:
        return self.dilation * (self.kernel - 1) // 2 if self.padding is None else self.padding


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
    stride: int
    dilation: int
    first_dilation: int  # of the block's strided conv: the previous stage's dilation in a stage's first block
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


def conv(name: str, ins: int, out: int, kernel: int = 3, stride: int = 1, style: Style | None = None, **kw: Any) -> Op:
    """A conv; one of a block's main convs takes its kind and bias from the block's `style` (attention's
    convs, which do not, have a bias and are plain)."""
    if style is not None:
        kw = {"bias": style.bias, "variant": style.conv, **kw}
    return Op(name, "conv", ins, out, kernel, stride, **kw)


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
