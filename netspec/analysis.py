"""Know a network before building it: every layer's shape, parameters and MACs from the spec alone (no torch).

`analyze` walks a network's plan (netspec.network), the one the compiler builds, and counts each op
(netspec.anatomy). Conventions: 1 MAC = one multiply and one add, counted for convolutions and linear layers
only (FLOPs = 2 x MACs); norms, activations, pools, adds and attention gates count as element-wise ops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from netspec.anatomy import Layer, Shape, walk
from netspec.features import FeaturePoint
from netspec.kinds import Size, per_axis
from netspec.network import NetworkPlan

if TYPE_CHECKING:
    from netspec.spec import Spec

BYTES_PER_ELEMENT = 4  # float32


@dataclass(frozen=True)
class Totals:
    """Sums over a set of layers."""

    params: int = 0
    buffers: int = 0
    macs: int = 0
    ops: int = 0
    new: int = 0

    @classmethod
    def of(cls, layers: Iterable[Layer]) -> Totals:
        rows = list(layers)
        return cls(*(sum(getattr(layer, f) for layer in rows) for f in ("params", "buffers", "macs", "ops", "new")))


@dataclass(frozen=True)
class Part:
    """The stem, a stage or the head, with the channels a person designs with."""

    name: str
    blocks: int
    kind: str
    stride: Size | None
    width: int | None
    inner: int | None
    out: int
    shape: Shape
    totals: Totals


@dataclass(frozen=True)
class Output:
    """A feature the network returns, under its key, with its shape."""

    key: str
    point: FeaturePoint
    shape: Shape


@dataclass(frozen=True)
class Analysis:
    """Every layer of a spec's network for an input of `size` (one entry per spatial axis), in forward order."""

    spec: Spec
    size: tuple[int, ...]
    layers: tuple[Layer, ...]
    plan: NetworkPlan
    outputs: tuple[Output, ...] = ()  # the features it returns, when it is a backbone

    @property
    def totals(self) -> Totals:
        return Totals.of(self.layers)

    @property
    def output(self) -> Shape:
        return self.layers[-1].shape

    @cached_property
    def by_part(self) -> dict[str, list[Layer]]:
        """The layers of each part ('stem', 'layer1', ..., 'head'), in forward order: one pass over the layers."""
        grouped: dict[str, list[Layer]] = {}
        for layer in self.layers:
            grouped.setdefault(layer.part, []).append(layer)
        return grouped

    def parts(self) -> list[Part]:
        """Stem, stages and head, with their totals."""
        spec = self.spec
        stem = self.by_part.get("stem", [])  # none for `stem: none`: its row passes the input on
        shape = stem[-1].shape if stem else (spec.input.channels, *self.size)
        rows = [
            Part(
                "stem",
                0,
                spec.stem.preset or f"{len(spec.stem.layers())} conv" + "s" * (len(spec.stem.layers()) > 1),
                None,
                None,
                None,
                shape[0],
                shape,
                Totals.of(stem),
            )
        ]
        for stage in self.plan.stages:
            a, mine = stage.args, self.by_part[stage.args.name]
            inner, out = stage.blocks[0].inner, a.first.out_channels
            totals = Totals.of(mine)
            rows.append(
                Part(
                    a.name,
                    a.stage.depth,
                    a.block.type,
                    a.stage.stride,
                    a.stage.width,
                    inner,
                    out,
                    mine[-1].shape,
                    totals,
                )
            )
        if self.outputs:
            return rows  # a backbone has no head
        head = self.by_part.get("head", [])
        kind = "fc" if any(layer.path == "fc" for layer in head) else "mlp" if spec.head.hidden else "features"
        rows.append(Part("head", 0, kind, None, None, None, self.output[0], self.output, Totals.of(head)))
        return rows


def analyze(net: NetworkPlan, size: Size | None = None) -> Analysis:
    """Describe every layer of a planned network for an input of `size`, one number for every axis or one per
    axis (default: the spec's input.size)."""
    spec, layers = net.spec, list[Layer]()
    sizes = per_axis(size or spec.input.size, net.dims)
    x: Shape = (spec.input.channels, *sizes)
    shapes: dict[str, Shape] = {}  # the output of each of the network's children
    for op in net.stem:
        x = shapes[op.name] = walk((op,), "", x, "stem", layers)
    for stage in net.stages:
        for i, block in enumerate(stage.blocks):
            x = walk(block.ops, f"{stage.args.name}.{i}", x, stage.args.name, layers)
        shapes[stage.args.name] = x
    walk(net.head, "", x, "head", layers)
    outputs = tuple(Output(tap.key, tap.point, shapes[tap.point.module]) for tap in net.taps)
    return Analysis(spec, sizes, tuple(layers), net, outputs)
