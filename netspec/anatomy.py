"""What each planned op costs, without torch: its output shape, parameters, buffers, multiply-accumulates,
element-wise operations and the memory it allocates. netspec.analysis walks the plan and asks this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from netspec.errors import NetspecError
from netspec.plan import NORMS, Op

Shape = tuple[int, ...]  # (C, H, W) for feature maps, (N,) for vectors, (1, C) for ECA's pooled channels
CHANNEL_CHECKED = {"conv", "conv1d", "linear", "norm"}


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


class PlanMismatch(NetspecError):
    """A plan whose layers do not fit together: an op is given other channels than it receives."""


def numel(shape: Shape) -> int:
    return math.prod(shape)


def conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output size of a conv or pool along one axis, as torch computes it."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + padding:  # the last window must start inside the input
        out -= 1
    return out


def output_shape(op: Op, x: Shape) -> Shape:
    """The shape `op` outputs for an input of shape `x`."""
    kind = op.kind
    if kind in ("conv", "conv1d", "blur"):
        return (op.out, *(conv_size(s, op.kernel, op.stride, op.pad, op.dilation) for s in x[1:]))
    if kind in ("maxpool", "avgpool"):
        return (x[0], *(conv_size(s, op.kernel, op.stride, op.pad, ceil=op.ceil) for s in x[1:]))
    if kind == "zero_pad":
        return (op.out, *(-(-s // op.stride) for s in x[1:]))
    if kind == "pad":
        return (x[0], *(s + 2 * op.pad for s in x[1:]))
    if kind in ("chunk", "cat", "radix_sum", "radix_weigh"):  # `out` channels of the same map
        return (op.out, *x[1:])
    if kind in ("global_avgpool", "global_maxpool", "mean"):
        return (x[0], 1, 1)
    if kind == "mean_1d":
        return (1, x[0])
    if kind == "flatten":
        return (x[0],)
    if kind == "linear":
        return (op.out,)
    return x


def layer(op: Op, path: str, x: Shape, y: Shape, part: str) -> Layer:
    """The record of `op` at `path`, from its input shape `x` and output shape `y`."""
    if op.kind in CHANNEL_CHECKED and x[0] != op.ins:
        raise PlanMismatch(f"{path}: the plan gives it {op.ins} input channels, but it receives {x[0]}")
    size, kind = numel(y), op.kind
    if kind in ("conv", "conv1d"):
        return _conv(op, path, x, y, part)
    if kind == "linear":
        params, note = x[0] * op.out + op.out, f"{x[0]} -> {op.out}"
        return Layer(path, op.cls, y, params, macs=x[0] * op.out, new=op.out, note=note, part=part)
    if kind == "norm":
        norm, real = NORMS[op.variant], op.variant != "none"
        params, buffers = norm.params * y[0], norm.buffers * y[0] + norm.extra_buffers
        return Layer(path, op.cls, y, params, buffers, ops=size * real, new=size * real, part=part)
    if kind == "act":
        real = op.variant != "identity"
        return Layer(path, op.cls, y, ops=size * real, new=size * (real and not op.inplace), part=part)
    note = f"{op.kernel}x{op.kernel}/{op.stride}"
    if kind == "blur":  # a fixed depthwise filter (a buffer) after reflection padding
        area = op.kernel**2
        return Layer(path, op.cls, y, 0, y[0] * area, macs=size * area, new=size, note=note, part=part)
    if kind in ("maxpool", "avgpool"):
        return Layer(path, op.cls, y, ops=size * op.kernel**2, new=size, note=note, part=part)
    ops, new = _elementwise(op, numel(x), size)
    return Layer(path, op.cls, y, op.params, op.buffers, ops=ops, new=new, module=op.module, part=part)


def _conv(op: Op, path: str, x: Shape, y: Shape, part: str) -> Layer:
    """A Conv2d (input C, H, W) or Conv1d (input C, L)."""
    spatial = y[1:]
    weights = op.out * (x[0] // op.groups) * op.kernel ** len(spatial)
    note = f"{op.kernel}x{op.kernel}/{op.stride}" if len(spatial) == 2 else f"{op.kernel}"
    note += f", {x[0]} -> {op.out}" + (f", groups {op.groups}" if op.groups > 1 else "")
    note += f", dilation {op.dilation}" if op.dilation > 1 else ""
    params = weights + (op.out if op.bias else 0)
    return Layer(path, op.cls, y, params, macs=weights * numel(spatial), new=numel(y), note=note, part=part)


def _elementwise(op: Op, ins: int, outs: int) -> tuple[int, int]:
    """(operations, elements allocated) of a parameter-free op with `ins` input and `outs` output elements."""
    kind = op.kind
    if kind in ("identity", "flatten", "chunk"):  # views
        return 0, 0
    if kind in ("zero_pad", "cat", "pad"):
        return 0, outs
    if kind in ("global_avgpool", "global_maxpool", "mean", "mean_1d", "radix_sum"):
        return ins, outs
    if kind == "add":
        return outs, 0 if op.inplace else outs
    return outs, outs  # dropout, drop path, sigmoid, mul


def walk(ops: Sequence[Op], prefix: str, x: Shape, part: str, out: list[Layer]) -> Shape:
    """Record `ops` (paths under `prefix`) for an input of shape `x`, in forward order; return the output."""
    shapes, y = {"input": x}, x
    for op in ops:
        source = shapes[op.source] if op.source else y
        path = f"{prefix}.{op.name}" if prefix else op.name
        if op.children:
            y = walk(op.children, path, source, part, out)
        else:
            y = output_shape(op, source)
            out.append(layer(op, path, source, y, part))
        shapes[op.name] = y
    return y
