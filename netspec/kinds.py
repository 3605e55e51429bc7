"""The table of layer kinds: everything netspec knows about each kind of op, declared once. No torch.

A kind gives an op's output shape from its input shape, what it costs (parameters, buffers, multiply-accumulates,
element-wise operations, the elements it allocates), its torch class and constructor arguments, its note and
colour in a diagram, and its role in the rest of netspec (strided, initialised, folded). The plan names kinds,
netspec.anatomy counts them, netspec.layers builds them, netspec.structure reads built modules back through
them; none of those branches on a kind itself.

Shapes are (channels, *spatial) with one entry per spatial axis, and torch classes are named for the number of
spatial axes (`Conv{d}d`): a dimensionality is a parameter of this table, not a fork of the code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netspec.plan import Op

Shape = tuple[int, ...]  # (C, *spatial) for feature maps, (N,) for vectors
Size = int | tuple[int, ...]  # a kernel, stride, padding or dilation: one entry per spatial axis, or one for all
Args = tuple[tuple[Any, ...], dict[str, Any]]


@dataclass(frozen=True)
class Cost:
    """What one op costs for one image: parameters, buffer values, multiply-accumulates, element-wise
    operations, and the elements of the new tensor it allocates (0 in place or for a view)."""

    params: int = 0
    buffers: int = 0
    macs: int = 0
    ops: int = 0
    new: int = 0


def numel(shape: Shape) -> int:
    return math.prod(shape)


def size_text(sizes: tuple[int, ...]) -> str:
    """'64 x 56 x 56': a shape or size as summaries print it."""
    return " x ".join(map(str, sizes))


def per_axis(size: Size, axes: int) -> tuple[int, ...]:
    """`size` with one entry per spatial axis (an int is the same on every axis)."""
    return size if isinstance(size, tuple) else (size,) * axes


def same_padding(kernel: Size, dilation: Size, axes: int) -> tuple[tuple[int, int], ...]:
    """(before, after) on each axis that keeps a stride-1 output the input's size: the odd one out after, as
    torch's padding='same' and Keras pad (a kernel of 8 pads 3 before and 4 after)."""
    total = [d * (k - 1) for k, d in zip(per_axis(kernel, axes), per_axis(dilation, axes), strict=True)]
    return tuple((t // 2, t - t // 2) for t in total)


def conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output size of a conv or pool along one axis, as torch computes it."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + padding:  # the last window must start inside the input
        out -= 1
    return out


def _same(op: Op, x: Shape) -> Shape:
    return x


def _windowed(op: Op, x: Shape) -> Shape:
    """A conv or pool: `out` channels (a pool keeps its input's), each axis by conv_size ('same' padding keeps
    the size: it is planned at stride 1 only, as torch allows)."""
    channels, axes, padding = (op.out if op.kind in ("conv", "blur") else x[0]), len(x) - 1, op.pad
    if isinstance(padding, str):  # 'same'
        return (channels, *x[1:])
    dilation = per_axis(op.dilation if op.kind == "conv" else 1, axes)
    kernel, stride, pad = per_axis(op.kernel, axes), per_axis(op.stride, axes), per_axis(padding, axes)
    sizes = zip(x[1:], kernel, stride, pad, dilation, strict=True)
    return (channels, *(conv_size(s, k, st, p, d, op.ceil) for s, k, st, p, d in sizes))


def window(op: Op, axes: int) -> int:
    """The positions a conv's or pool's window covers (its kernel's product over the axes)."""
    return math.prod(per_axis(op.kernel, axes))


def _channels(op: Op, x: Shape) -> Shape:
    return (op.out, *x[1:])


def _elementwise(op: Op, x: Shape, y: Shape) -> Cost:
    """An op that reads each output element once (an activation, dropout, a gate, a product)."""
    size = numel(y) * (op.variant != "identity")
    return Cost(ops=size, new=0 if op.inplace and op.kind == "act" else size)


def _reduction(op: Op, x: Shape, y: Shape) -> Cost:
    """A mean or sum over inputs: one operation per input element."""
    return Cost(ops=numel(x), new=numel(y))


def _view(op: Op, x: Shape, y: Shape) -> Cost:
    return Cost()


def _copy(op: Op, x: Shape, y: Shape) -> Cost:
    """A new tensor, no arithmetic: padding and concatenation."""
    return Cost(new=numel(y))


def _conv_cost(op: Op, x: Shape, y: Shape) -> Cost:
    weights = op.out * (x[0] // op.groups) * window(op, len(y) - 1)
    return Cost(weights + (op.out if op.bias else 0), macs=weights * numel(y[1:]), new=numel(y))


def _norm_cost(params: int, buffers: int, extra: int = 0) -> Callable[[Op, Shape, Shape], Cost]:
    """A norm with `params` and `buffers` per channel, `extra` buffer values per layer."""

    def cost(op: Op, x: Shape, y: Shape) -> Cost:
        size = numel(y) * (params + buffers > 0)
        return Cost(params * y[0], buffers * y[0] + extra, ops=size, new=size)

    return cost


def _pool_cost(op: Op, x: Shape, y: Shape) -> Cost:
    return Cost(ops=numel(y) * window(op, len(y) - 1), new=numel(y))


def _blur_cost(op: Op, x: Shape, y: Shape) -> Cost:
    """A fixed depthwise filter (a buffer) after reflection padding."""
    area = window(op, len(y) - 1)
    return Cost(0, y[0] * area, macs=numel(y) * area, new=numel(y))


def _linear_cost(op: Op, x: Shape, y: Shape) -> Cost:
    return Cost(x[0] * op.out + op.out, macs=x[0] * op.out, new=op.out)


def _add_cost(op: Op, x: Shape, y: Shape) -> Cost:
    return Cost(ops=numel(y), new=0 if op.inplace else numel(y))


def _declared_cost(op: Op, x: Shape, y: Shape) -> Cost:
    """A family's own module: the counts its plan declares (checked against the module when it is built)."""
    return Cost(op.params, op.buffers, ops=numel(y), new=numel(y))


def _axes(size: Size, axes: int) -> str:
    """'3x3' for 3 on two axes, '1x3x3' per axis; a stride of one number on every axis stays one ('/2')."""
    return "x".join(map(str, per_axis(size, axes)))


def _window_note(op: Op, x: Shape, y: Shape) -> str:
    stride = str(op.stride) if isinstance(op.stride, int) else _axes(op.stride, len(y) - 1)
    return _axes(op.kernel, len(y) - 1) + f"/{stride}"


def _conv_note(op: Op, x: Shape, y: Shape) -> str:
    if len(y) > 2:
        note = _window_note(op, x, y)
    else:  # along one axis (ECA's conv across channels, or a 1-D network's): the kernel, and a stride that strides
        note = str(op.kernel) + (f"/{op.stride}" if op.stride not in (1, (1,)) else "")
    note += f", {x[0]} -> {op.out}" + (f", groups {op.groups}" if op.groups > 1 else "")
    return note + (f", dilation {_axes(op.dilation, len(y) - 1)}" if max(per_axis(op.dilation, 1)) > 1 else "")


def _none(op: Op) -> Args:
    return (), {}


def _size(value: Any) -> Size:
    """A torch module's per-axis attribute as a plan writes it: one int when every axis has the same."""
    if isinstance(value, int):
        return value
    entries = tuple(int(v) for v in value)
    return entries[0] if len(set(entries)) == 1 else entries


def _read_nothing(module: Any) -> dict[str, Any]:
    return {}


def _read_conv(module: Any) -> dict[str, Any]:
    """A built conv's op fields, read off torch's attributes (the first entry of each per-axis tuple)."""
    return {
        "ins": module.in_channels,
        "out": module.out_channels,
        "kernel": _size(module.kernel_size),
        "stride": _size(module.stride),
        "padding": module.padding if isinstance(module.padding, str) else _size(module.padding),
        "dilation": _size(module.dilation),
        "groups": module.groups,
        "bias": module.bias is not None,
    }


def _read_linear(module: Any) -> dict[str, Any]:
    return {"ins": module.in_features, "out": module.out_features}


def _read_pool(module: Any) -> dict[str, Any]:
    return {"kernel": _size(module.kernel_size), "stride": _size(module.stride or module.kernel_size)}


@dataclass(frozen=True)
class Kind:
    """One kind of op. `torch` is its class as "module:Class", `{d}` standing for the number of spatial axes;
    empty for a functional step, whose `label` names it. `args` gives its constructor's arguments."""

    torch: str = ""
    args: Callable[[Op], Args] = _none
    shape: Callable[[Op, Shape], Shape] = _same
    cost: Callable[[Op, Shape, Shape], Cost] = _elementwise
    note: Callable[[Op, Shape, Shape], str] = lambda op, x, y: ""
    label: str = ""
    fill: str = "#ffffff"  # its colour in a layer-detail diagram
    inplace: bool = False  # it can work in place (activations)
    strided: bool = False  # its stride reduces the feature map (features' reductions)
    checked: bool = False  # it is given its input channels, which the analysis checks
    init: str = ""  # how the compiler initialises it: "he" (fan-out normal, zero bias) or "unit" (1 and 0)
    batch_stats: bool = False  # it normalises with the batch's statistics while training
    container: bool = False  # built from the op's children
    read: Callable[[Any], dict[str, Any]] = _read_nothing  # a built module's op fields (for any torch model)
    dims: tuple[int, ...] = (1, 2, 3)  # the numbers of spatial axes it exists for

    @property
    def module(self) -> bool:
        """A module of the network (not a functional step, which only a label names)."""
        return not self.label

    def class_name(self, dims: int) -> str:
        return self.torch.rpartition(":")[2].format(d=dims) if self.torch else self.label


CONV_FILL, NORM_FILL, POOL_FILL, ATTN_FILL, LINEAR_FILL = "#dbe9f6", "#eeeeee", "#e2f0d9", "#f3dcef", "#fbe0c8"


def _conv_args(op: Op) -> Args:
    return (op.ins, op.out, op.kernel, op.stride, op.pad, op.dilation, op.groups, op.bias), {}


def _conv(torch: str) -> Kind:
    return Kind(
        torch,
        _conv_args,
        _windowed,
        _conv_cost,
        _conv_note,
        fill=CONV_FILL,
        strided=True,
        checked=True,
        init="he",
        read=_read_conv,
    )


def _pool(torch: str, args: Callable[[Op], Args]) -> Kind:
    return Kind(torch, args, _windowed, _pool_cost, _window_note, fill=POOL_FILL, strided=True, read=_read_pool)


def _pooled(op: Op, x: Shape) -> Shape:
    """A global pool or mean: one value per channel, every axis kept at size 1."""
    return (x[0],) + (1,) * (len(x) - 1)


def _padded(op: Op, x: Shape) -> Shape:
    """Zeros on both sides of each axis (a pad op's padding is a number per axis, or one for all)."""
    pads = per_axis(op.padding if isinstance(op.padding, int | tuple) else 0, len(x) - 1)
    return (x[0], *(s + 2 * p for s, p in zip(x[1:], pads, strict=True)))


def _subsampled(op: Op, x: Shape) -> Shape:
    """Every stride-th position of each axis, and the op's channels (option A's shortcut)."""
    return (op.out, *(-(-s // st) for s, st in zip(x[1:], per_axis(op.stride, len(x) - 1), strict=True)))


def _act(cls: str, inplace: bool = True, **kwargs: Any) -> Kind:
    args: Callable[[Op], Args] = (lambda op: ((), {"inplace": op.inplace})) if inplace else (lambda op: ((), kwargs))
    return Kind(f"torch.nn:{cls}", args, inplace=inplace)


def _norm(torch: str, args: Callable[[Op], Args], cost: Callable[[Op, Shape, Shape], Cost], **kw: Any) -> Kind:
    return Kind(torch, args, cost=cost, fill=NORM_FILL, checked=True, **kw)


# Conv variants: plain, or with weight standardization (Qiao et al. 2019) as BiT uses it (timm's, eps 1e-8).
CONVS: dict[str, Kind] = {"plain": _conv("torch.nn:Conv{d}d"), "std": _conv("netspec.layers:StdConv{d}d")}
ACTIVATIONS: dict[str, Kind] = {
    "relu": _act("ReLU"),
    "relu6": _act("ReLU6"),
    "leaky_relu": _act("LeakyReLU"),
    "elu": _act("ELU"),
    "selu": _act("SELU"),
    "gelu": _act("GELU", False),
    "gelu_tanh": _act("GELU", False, approximate="tanh"),
    "silu": _act("SiLU"),
    "mish": _act("Mish"),
    "hardswish": _act("Hardswish"),
    "tanh": _act("Tanh", False),
    "identity": _act("Identity", False),
}
NORMS: dict[str, Kind] = {
    # running mean and variance, and num_batches_tracked
    "batch": _norm(
        "torch.nn:BatchNorm{d}d", lambda op: ((op.out,), {}), _norm_cost(2, 2, 1), init="unit", batch_stats=True
    ),
    "group": _norm("torch.nn:GroupNorm", lambda op: ((op.groups, op.out), {}), _norm_cost(2, 0), init="unit"),
    # torchvision's frozen norm, imported only when used: torchvision takes over a second to import
    "frozen_batch": _norm("torchvision.ops:FrozenBatchNorm2d", lambda op: ((op.out,), {}), _norm_cost(0, 4), dims=(2,)),
    "none": _norm("torch.nn:Identity", _none, _norm_cost(0, 0)),  # convs then get a bias
}
KINDS: dict[str, Kind] = {
    "linear": Kind(
        "torch.nn:Linear",
        lambda op: ((op.ins, op.out), {}),
        lambda op, x: (op.out,),
        _linear_cost,
        lambda op, x, y: f"{x[0]} -> {op.out}",
        fill=LINEAR_FILL,
        checked=True,
        read=_read_linear,
    ),
    "maxpool": _pool("torch.nn:MaxPool{d}d", lambda op: ((op.kernel, op.stride, op.pad), {"ceil_mode": op.ceil})),
    "avgpool": _pool("torch.nn:AvgPool{d}d", lambda op: ((op.kernel, op.stride, op.pad, op.ceil, op.count_pad), {})),
    "global_avgpool": Kind("torch.nn:AdaptiveAvgPool{d}d", lambda op: ((1,), {}), _pooled, _reduction, fill=POOL_FILL),
    "global_maxpool": Kind("torch.nn:AdaptiveMaxPool{d}d", lambda op: ((1,), {}), _pooled, _reduction, fill=POOL_FILL),
    "blur": Kind(
        "netspec.layers:BlurPool2d",
        lambda op: ((op.out, op.kernel, op.stride), {}),
        _windowed,
        _blur_cost,
        _window_note,
        fill=POOL_FILL,
        strided=True,
        dims=(2,),
    ),
    "flatten": Kind("torch.nn:Flatten", lambda op: ((1,), {}), lambda op, x: (x[0],), _view),
    "identity": Kind("torch.nn:Identity", cost=_view),
    "dropout": Kind("torch.nn:Dropout", lambda op: ((op.p,), {})),
    "sigmoid": Kind("torch.nn:Sigmoid"),
    "pad": Kind(
        "torch.nn:ConstantPad{d}d",
        lambda op: ((op.pad, 0.0), {}),
        _padded,
        _copy,
    ),
    "drop_path": Kind("netspec.layers:DropPath", lambda op: ((op.p,), {})),
    "zero_pad": Kind(
        "netspec.layers:ZeroPadShortcut",
        lambda op: ((op.ins, op.out, op.stride, op.variant), {}),
        _subsampled,
        _copy,
        fill=ATTN_FILL,
    ),
    "sequential": Kind("torch.nn:Sequential", container=True),
    "se": Kind("netspec.layers:SqueezeExcite", fill=ATTN_FILL, container=True),
    "eca": Kind("netspec.layers:EfficientChannelAttention", fill=ATTN_FILL, container=True),
    "module": Kind(cost=_declared_cost, fill=ATTN_FILL),  # a family's own layer: class and arguments in the op
    "composite": Kind(fill=ATTN_FILL, container=True),  # a family's own container, built from its children
    # Steps of forward that are not modules: the residual add, attention's mean and product, a split and its
    # concatenation, the sum over a split attention's radix splits, their weighed sum and softmax.
    "add": Kind(label="Add", cost=_add_cost),
    "mul": Kind(label="Mul"),
    "mean": Kind(label="Mean", shape=_pooled, cost=_reduction),
    "mean_1d": Kind(label="Mean", shape=lambda op, x: (1, x[0]), cost=_reduction),
    "chunk": Kind(label="Split", shape=_channels, cost=_view),
    "cat": Kind(label="Cat", shape=_channels, cost=_copy),
    "radix_sum": Kind(label="Sum", shape=_channels, cost=_reduction),
    "radix_weigh": Kind(label="WeighedSum", shape=_channels),
    "softmax": Kind(label="Softmax"),
}
VARIANTS: dict[str, dict[str, Kind]] = {"conv": CONVS, "act": ACTIVATIONS, "norm": NORMS}


def kind_of(op: Op) -> Kind:
    """The kind of `op`: of its variant for convs, activations and norms."""
    variants = VARIANTS.get(op.kind)
    if variants is not None:
        return variants[op.variant or "plain"]
    return KINDS[op.kind]


def torch_path(op: Op, dims: int) -> str:
    """ "module:Class" of the class `op` builds in a network of `dims` spatial axes (`module` and `composite`
    ops name theirs)."""
    path = op.variant if op.kind in ("module", "composite") else kind_of(op).torch
    return path.format(d=op.dims or dims)


def class_name(op: Op, dims: int) -> str:
    """The name of the class `op` builds, or of its functional step."""
    return torch_path(op, dims).rpartition(":")[2] or kind_of(op).label


@dataclass(frozen=True)
class _Known:
    """A torch class this table builds: its kind and variant, and its number of spatial axes."""

    kind: str
    variant: str
    dims: int  # 0: the class is the same whatever the number of axes
    known: Kind


def _by_class() -> dict[str, _Known]:
    """Class name -> what builds it, for every dimensionality."""
    table: dict[str, _Known] = {}
    entries = [(k, "", kind) for k, kind in KINDS.items()]
    entries += [(k, v, kind) for k, variants in VARIANTS.items() for v, kind in variants.items()]
    for name, variant, kind in entries:  # the first entry of a class wins (Identity: the identity op, not a norm)
        for dims in (1, 2, 3):
            cls = kind.class_name(dims)
            if cls:
                table.setdefault(cls, _Known(name, variant, dims if "{d}" in kind.torch else 0, kind))
    return table


BY_CLASS = _by_class()


def known(cls: type) -> _Known | None:
    """What this table knows of a torch class: its own entry or that of the nearest base class it has one for."""
    return next((BY_CLASS[base.__name__] for base in cls.__mro__ if base.__name__ in BY_CLASS), None)


def exact(cls: type) -> _Known | None:
    """This table's entry for exactly this class (not a subclass of one), if any."""
    return BY_CLASS.get(cls.__name__)


def read(module: Any) -> dict[str, Any] | None:
    """The fields of the op a built torch module stands for (kind, variant, dims and what its kind reads off its
    attributes), for models netspec did not build; None for a class this table does not know."""
    entry = known(type(module))
    if entry is None:
        return None
    return {"kind": entry.kind, "variant": entry.variant, "dims": entry.dims} | entry.known.read(module)


def initialised(module: Any, dims: int) -> str:
    """How the compiler initialises `module` in a network of `dims` spatial axes: 'he', 'unit' or ''. Convs of
    other axes (ECA's 1-D conv across channels) keep torch's own initialisation, as torchvision and timm do."""
    entry = known(type(module))
    return entry.known.init if entry is not None and entry.dims in (0, dims) else ""


def foldable(conv: Any, norm: Any) -> bool:
    """A norm with running statistics that folds into the plain conv before it (not one whose weights are
    standardized before use)."""
    a, b = exact(type(conv)), exact(type(norm))
    return a is not None and a.known is CONVS["plain"] and b is not None and b.known.batch_stats


def batch_statistics(class_name: str) -> bool:
    """Whether the layer class named `class_name` normalises with the batch's statistics while training."""
    entry = BY_CLASS.get(class_name)
    return entry is not None and entry.known.batch_stats


def fill(class_name: str) -> str:
    """The colour of a layer of the class named `class_name` in a diagram (white for one this table lacks)."""
    entry = BY_CLASS.get(class_name)
    return entry.known.fill if entry is not None else "#ffffff"
