"""Layers described without torch: each builtin block's description mirrors its class in blocks.py.

A Recorder collects one Layer per module (and per functional op such as the residual add) with its output
shape, parameters, buffers, multiply-accumulates and element-wise operations, in the order forward runs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]  # (C, H, W) for feature maps, (N,) for vectors

ACT_CLASSES = {"relu": "ReLU", "relu6": "ReLU6", "leaky_relu": "LeakyReLU", "elu": "ELU", "selu": "SELU"}
ACT_CLASSES |= {"gelu": "GELU", "gelu_tanh": "GELU", "silu": "SiLU", "mish": "Mish", "hardswish": "Hardswish"}
ACT_CLASSES |= {"tanh": "Tanh", "identity": "Identity"}
INPLACE_ACTS = {"relu", "relu6", "leaky_relu", "elu", "selu", "silu", "mish", "hardswish"}


@dataclass(frozen=True)
class Layer:
    """One layer: a module (named by its state_dict path) or a functional op (path ending in an op name)."""

    path: str
    kind: str
    shape: Shape
    params: int = 0
    buffers: int = 0
    macs: int = 0
    ops: int = 0  # element-wise operations of norms, activations, pools, adds and attention gates
    new: int = 0  # elements of the output tensor it allocates (0 when it works in place or returns a view)
    module: bool = True
    note: str = ""
    part: str = ""


@dataclass(frozen=True)
class Parts:
    """What a block's layers are, by name: the static counterpart of the layer types blocks take."""

    norm: str = "batch"
    norm_groups: int = 32
    act: str = "relu"
    attn: str = "none"
    attn_ratio: float = 1 / 16
    attn_divisor: int = 8
    bias: bool = False


def numel(shape: Shape) -> int:
    return math.prod(shape)


def conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output size of a conv or pool along one axis, as torch computes it."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + padding:  # the last window must start inside the input
        out -= 1
    return out


@dataclass
class Recorder:
    """Collects layers in forward order; each method returns the shape its layer outputs."""

    layers: list[Layer] = field(default_factory=list)
    part: str = "stem"  # the stem, a stage (layer1, ...) or the head: set by the network's description

    def _record(self, path: str, kind: str, shape: Shape, **counts: Any) -> Shape:
        self.layers.append(Layer(path, kind, shape, part=self.part, **counts))
        return shape

    def conv(self, path: str, x: Shape, out: int, kernel: int, stride: int = 1, **kw: int) -> Shape:
        """A Conv2d (input C, H, W) or Conv1d (input C, L), padded by dilation x (kernel - 1) // 2 by default."""
        groups, dilation, bias = kw.get("groups", 1), kw.get("dilation", 1), kw.get("bias", 0)
        padding = kw.get("padding", dilation * (kernel - 1) // 2)
        spatial = tuple(conv_size(s, kernel, stride, padding, dilation) for s in x[1:])
        weights = out * (x[0] // groups) * kernel ** len(spatial)
        note = f"{kernel}x{kernel}/{stride}" if len(spatial) == 2 else f"{kernel}"
        note += f", {x[0]} -> {out}" + (f", groups {groups}" if groups > 1 else "")
        note += f", dilation {dilation}" if dilation > 1 else ""
        kind = "Conv2d" if len(spatial) == 2 else "Conv1d"
        macs = weights * numel(spatial)
        params = weights + (out if bias else 0)
        return self._record(path, kind, (out, *spatial), params=params, macs=macs, new=out * numel(spatial), note=note)

    def norm(self, path: str, x: Shape, parts: Parts) -> Shape:
        c, size = x[0], numel(x)
        kind, params, buffers = {
            "batch": ("BatchNorm2d", 2 * c, 2 * c + 1),  # running mean and variance, num_batches_tracked
            "frozen_batch": ("FrozenBatchNorm2d", 0, 4 * c),
            "group": ("GroupNorm", 2 * c, 0),
            "none": ("Identity", 0, 0),
        }[parts.norm]
        real = parts.norm != "none"
        return self._record(path, kind, x, params=params, buffers=buffers, ops=size * real, new=size * real)

    def act(self, path: str, x: Shape, name: str, inplace: bool = True) -> Shape:
        allocates = name != "identity" and not (inplace and name in INPLACE_ACTS)
        ops = numel(x) if name != "identity" else 0
        return self._record(path, ACT_CLASSES[name], x, ops=ops, new=numel(x) * allocates)

    def pool(self, path: str, x: Shape, kind: str, kernel: int, stride: int, padding: int, ceil: bool = False) -> Shape:
        shape = (x[0], *(conv_size(s, kernel, stride, padding, ceil=ceil) for s in x[1:]))
        ops = numel(shape) * kernel * kernel
        return self._record(path, kind, shape, ops=ops, new=numel(shape), note=f"{kernel}x{kernel}/{stride}")

    def op(self, path: str, kind: str, shape: Shape, ops: int, new: int, module: bool = False) -> Shape:
        """A functional op (residual add, mean, multiply), or a parameter-free module such as Flatten."""
        return self._record(path, kind, shape, ops=ops, new=new, module=module)

    def linear(self, path: str, x: Shape, out: int) -> Shape:
        params, macs = x[0] * out + out, x[0] * out
        return self._record(path, "Linear", (out,), params=params, macs=macs, new=out, note=f"{x[0]} -> {out}")


ShortcutDescription = Callable[["Recorder", str, Shape], Shape]


def bottleneck_plan(
    width: int, width_per_group: int, groups: int, stride: int, stride_in_1x1: bool
) -> tuple[int, int, int]:
    """(inner channels, stride of the first 1x1, stride of the 3x3) of a bottleneck, as in torchvision.

    The 2015 paper (and Caffe) stride in the first 1x1 conv; torchvision's "v1.5" strides in the 3x3, which
    costs a little speed and gains about 0.5% top-1 (see torchvision's resnet.py)."""
    inner = width * width_per_group // 64 * groups
    return (inner, stride, 1) if stride_in_1x1 else (inner, 1, stride)


def make_divisible(value: float, divisor: int) -> int:
    """Mirror of layers.make_divisible (timm's rule with round_limit 0)."""
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def eca_kernel(channels: int, gamma: int = 2, beta: int = 1) -> int:
    t = int(abs(math.log2(channels) + beta) / gamma)
    return max(t if t % 2 else t + 1, 3)


def shortcut(
    kind: str, in_ch: int, out_ch: int, stride: int, parts: Parts, preact: bool, act: bool
) -> ShortcutDescription | None:
    """Mirror of layers.shortcut: None for an identity shortcut."""
    if stride == 1 and in_ch == out_ch and kind != "C":
        return None

    def describe(r: Recorder, path: str, x: Shape) -> Shape:
        if kind == "A":
            shape = (out_ch, *(-(-s // stride) for s in x[1:]))
            return r.op(path, "ZeroPadShortcut", shape, 0, numel(shape), module=True)
        index = 0
        if kind == "D":
            pooled = stride > 1
            x = (
                r.pool(f"{path}.0", x, "AvgPool2d", 2, stride, 0, ceil=True)
                if pooled
                else r.op(f"{path}.0", "Identity", x, 0, 0, True)
            )
            index = 1
        x = r.conv(f"{path}.{index}", x, out_ch, 1, 1 if kind == "D" else stride, bias=parts.bias)
        if not preact:
            index += 1
            x = r.norm(f"{path}.{index}", x, parts)
        return r.act(f"{path}.{index + 1}", x, parts.act) if act else x

    return describe


def attention(r: Recorder, path: str, x: Shape, parts: Parts) -> Shape:
    """Mirror of layers.SqueezeExcite and layers.EfficientChannelAttention."""
    c, size = x[0], numel(x)
    if parts.attn == "none":
        return x
    if parts.attn == "se":
        r.op(f"{path}.mean", "Mean", (c, 1, 1), size, c)
        reduced = make_divisible(c * parts.attn_ratio, parts.attn_divisor)
        y = r.conv(f"{path}.fc1", (c, 1, 1), reduced, 1, bias=1)
        y = r.act(f"{path}.act", y, "relu")
        gate = r.conv(f"{path}.fc2", y, c, 1, bias=1)
    else:  # ECA runs a 1-D conv along the pooled channels
        r.op(f"{path}.mean", "Mean", (1, c), size, c)
        gate = r.conv(f"{path}.conv", (1, c), 1, eca_kernel(c))
    r.op(f"{path}.gate", "Sigmoid", gate, c, c, module=True)
    return r.op(f"{path}.mul", "Mul", x, size, size)


def _tail(
    r: Recorder,
    path: str,
    y: Shape,
    x: Shape,
    short: ShortcutDescription | None,
    parts: Parts,
    drop: float,
    preact: bool,
) -> Shape:
    """Mirror of the end of every block's forward: attention, drop path, shortcut, add."""
    y = attention(r, f"{path}.se", y, parts)
    if drop > 0:
        r.op(f"{path}.drop_path", "DropPath", y, numel(y), numel(y), module=True)
    if short is not None:
        short(r, f"{path}.downsample", x)
    # Post-activation blocks add in place (`out += shortcut`), pre-activation ones make a new tensor.
    return r.op(f"{path}.add", "Add", y, numel(y), numel(y) if preact else 0)


def basic(
    r: Recorder, path: str, x: Shape, width: int, stride: int, short: ShortcutDescription | None, **kw: int
) -> Shape:
    """Mirror of blocks.BasicBlock."""
    parts: Parts = kw["parts"]  # type: ignore[assignment]
    dilation, first = kw["dilation"], kw["first_dilation"] or kw["dilation"]
    y = r.conv(f"{path}.conv1", x, width, 3, stride, dilation=first, bias=parts.bias)
    y = r.act(f"{path}.act1", r.norm(f"{path}.bn1", y, parts), parts.act)
    y = r.conv(f"{path}.conv2", y, width * kw["expansion"], 3, dilation=dilation, bias=parts.bias)
    y = _tail(r, path, r.norm(f"{path}.bn2", y, parts), x, short, parts, kw["drop_path"], False)
    return r.act(f"{path}.act2", y, parts.act)


def bottleneck(
    r: Recorder, path: str, x: Shape, width: int, stride: int, short: ShortcutDescription | None, **kw: int
) -> Shape:
    """Mirror of blocks.Bottleneck."""
    parts: Parts = kw["parts"]  # type: ignore[assignment]
    inner, s1, s3 = bottleneck_plan(width, kw["width_per_group"], kw["groups"], stride, bool(kw["stride_in_1x1"]))
    y = r.conv(f"{path}.conv1", x, inner, 1, s1, bias=parts.bias)
    y = r.act(f"{path}.act1", r.norm(f"{path}.bn1", y, parts), parts.act)
    y = _grouped_3x3(r, f"{path}.conv2", y, inner, s3, parts, kw)
    y = r.act(f"{path}.act2", r.norm(f"{path}.bn2", y, parts), parts.act)
    y = r.conv(f"{path}.conv3", y, width * kw["expansion"], 1, bias=parts.bias)
    y = _tail(r, path, r.norm(f"{path}.bn3", y, parts), x, short, parts, kw["drop_path"], False)
    return r.act(f"{path}.act3", y, parts.act)


def _grouped_3x3(r: Recorder, path: str, x: Shape, inner: int, stride: int, parts: Parts, kw: dict[str, int]) -> Shape:
    """A bottleneck's middle conv: 3x3, grouped, dilated as the block's first conv is."""
    dilation = kw["first_dilation"] or kw["dilation"]
    return r.conv(path, x, inner, 3, stride, groups=kw["groups"], dilation=dilation, bias=parts.bias)


def _preact(r: Recorder, path: str, x: Shape, parts: Parts) -> Shape:
    y = r.norm(f"{path}.bn1", x, parts)
    return r.act(f"{path}.act1", y, parts.act, inplace=parts.norm != "none")


def preact_basic(
    r: Recorder, path: str, x: Shape, width: int, stride: int, short: ShortcutDescription | None, **kw: int
) -> Shape:
    """Mirror of blocks.PreActBasicBlock."""
    parts: Parts = kw["parts"]  # type: ignore[assignment]
    dilation, first = kw["dilation"], kw["first_dilation"] or kw["dilation"]
    y = r.conv(f"{path}.conv1", _preact(r, path, x, parts), width, 3, stride, dilation=first, bias=parts.bias)
    y = r.act(f"{path}.act2", r.norm(f"{path}.bn2", y, parts), parts.act)
    y = r.conv(f"{path}.conv2", y, width * kw["expansion"], 3, dilation=dilation, bias=parts.bias)
    return _tail(r, path, y, x, short, parts, kw["drop_path"], True)


def preact_bottleneck(
    r: Recorder, path: str, x: Shape, width: int, stride: int, short: ShortcutDescription | None, **kw: int
) -> Shape:
    """Mirror of blocks.PreActBottleneck."""
    parts: Parts = kw["parts"]  # type: ignore[assignment]
    inner, s1, s3 = bottleneck_plan(width, kw["width_per_group"], kw["groups"], stride, bool(kw["stride_in_1x1"]))
    y = r.conv(f"{path}.conv1", _preact(r, path, x, parts), inner, 1, s1, bias=parts.bias)
    y = r.act(f"{path}.act2", r.norm(f"{path}.bn2", y, parts), parts.act)
    y = _grouped_3x3(r, f"{path}.conv2", y, inner, s3, parts, kw)
    y = r.act(f"{path}.act3", r.norm(f"{path}.bn3", y, parts), parts.act)
    y = r.conv(f"{path}.conv3", y, width * kw["expansion"], 1, bias=parts.bias)
    return _tail(r, path, y, x, short, parts, kw["drop_path"], True)
