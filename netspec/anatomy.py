"""What each planned op costs, without torch: its output shape, parameters, buffers, multiply-accumulates,
element-wise operations and the memory it allocates, as the table of layer kinds (netspec.kinds) says.
netspec.analysis walks the plan and asks this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netspec.errors import NetspecError
from netspec.kinds import Shape, class_name, kind_of, numel
from netspec.plan import Op

__all__ = ["Layer", "PlanMismatch", "Shape", "layer", "numel", "walk"]


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


def layer(op: Op, path: str, x: Shape, part: str) -> Layer:
    """The record of `op` at `path` for an input of shape `x`."""
    kind = kind_of(op)
    if kind.checked and x[0] != op.ins:
        raise PlanMismatch(f"{path}: the plan gives it {op.ins} input channels, but it receives {x[0]}")
    y = kind.shape(op, x)
    c, note, cls = kind.cost(op, x, y), kind.note(op, x, y), class_name(op, len(x) - 1)
    return Layer(path, cls, y, c.params, c.buffers, c.macs, c.ops, c.new, kind.module, note, part)


def walk(ops: Sequence[Op], prefix: str, x: Shape, part: str, out: list[Layer]) -> Shape:
    """Record `ops` (paths under `prefix`) for an input of shape `x`, in forward order; return the output."""
    shapes, y = {"input": x}, x
    for op in ops:
        source = shapes[op.source] if op.source else y
        path = f"{prefix}.{op.name}" if prefix else op.name
        if op.children:
            y = walk(op.children, path, source, part, out)
        else:
            record = layer(op, path, source, part)
            out.append(record)
            y = record.shape
        shapes[op.name] = y
    return y
