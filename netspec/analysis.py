"""Know a network before building it: every layer's shape, parameters and MACs from the spec alone (no torch).

`analyze` walks the spec as compiler.py does, asking each block type's static description (netspec.anatomy)
for its layers. Conventions: 1 MAC = one multiply and one add, counted for convolutions and linear layers
only (FLOPs = 2 x MACs); norms, activations, pools, adds and attention gates count as element-wise ops.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from netspec import anatomy
from netspec.anatomy import Layer, Parts, Recorder, Shape
from netspec.errors import NetspecError
from netspec.registry import block_type
from netspec.spec import BlockSettings, Spec, Stage

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
    stride: int | None
    width: int | None
    inner: int | None
    out: int
    shape: Shape
    totals: Totals


@dataclass(frozen=True)
class Analysis:
    """Every layer of a spec's network for a square input of `size`, in forward order."""

    spec: Spec
    size: int
    layers: tuple[Layer, ...]

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
        stem = self.by_part["stem"]
        rows = [
            Part(
                "stem",
                0,
                spec.stem.preset or f"{len(spec.stem.layers())} convs",
                None,
                None,
                None,
                stem[-1].shape[0],
                stem[-1].shape,
                Totals.of(stem),
            )
        ]
        for i, (stage, block) in enumerate(zip(spec.stages, spec.stage_blocks(), strict=True)):
            mine = self.by_part[f"layer{i + 1}"]
            inner, out = block.inner_channels(stage.width), block.out_channels(stage.width)
            rows.append(
                Part(
                    f"layer{i + 1}",
                    stage.depth,
                    block.type,
                    stage.stride,
                    stage.width,
                    inner,
                    out,
                    mine[-1].shape,
                    Totals.of(mine),
                )
            )
        head = self.by_part.get("head", [])
        kind = "fc" if any(layer.path == "fc" for layer in head) else "mlp" if spec.head.hidden else "features"
        rows.append(Part("head", 0, kind, None, None, None, self.output[0], self.output, Totals.of(head)))
        return rows


class NoDescription(NetspecError):
    """A block type registered without a static description cannot be analysed."""


def analyze(spec: Spec, size: int | None = None) -> Analysis:
    """Describe every layer of `spec`'s network for a square input of `size` (default: input.size)."""
    size = size or spec.input.size
    r = Recorder()
    x = _stem(r, spec, (spec.input.channels, size, size))
    dilation = 1
    for i, (stage, block, rates) in enumerate(
        zip(spec.stages, spec.stage_blocks(), spec.drop_path_rates(), strict=True)
    ):
        r.part = f"layer{i + 1}"
        x = _stage(r, x, i, stage, block, dilation, rates)
        dilation = stage.dilation
    r.part = "head"
    _head(r, spec, x)
    return Analysis(spec, size, tuple(r.layers))


def _parts(block: BlockSettings) -> Parts:
    return Parts(
        block.norm, block.norm_groups, block.act, block.attn, block.attn_ratio, block.attn_divisor, block.norm == "none"
    )


def _stem(r: Recorder, spec: Spec, x: Shape) -> Shape:
    """Mirror of compiler._stem."""
    parts, convs = _parts(spec.block), spec.stem.layers()
    for i, conv in enumerate(convs):
        if i > 0:
            x = r.act(f"conv1.{3 * i - 1}", r.norm(f"conv1.{3 * i - 2}", x, parts), parts.act)
        path = f"conv1.{3 * i}" if len(convs) > 1 else "conv1"
        x = r.conv(path, x, conv.width, conv.kernel, conv.stride, padding=conv.kernel // 2, bias=conv.bias)
    if spec.stem_norm():
        x = r.act("act1", r.norm("bn1", x, parts), parts.act)
    pool = spec.stem.pool_kind()
    if pool != "none":
        x = r.pool(
            "maxpool" if pool == "max" else "avgpool_stem", x, "MaxPool2d" if pool == "max" else "AvgPool2d", 3, 2, 1
        )
    return x


def _stage(
    r: Recorder, x: Shape, index: int, stage: Stage, block: BlockSettings, prev_dilation: int, rates: list[float]
) -> Shape:
    """Mirror of compiler._stage."""
    kind = block_type(block.type)
    describe = kind.description(block.order)
    if describe is None:
        raise NoDescription(
            f"block type '{block.type}' was registered without a static description (describe_{block.order})"
        )
    parts, out_ch = _parts(block), block.out_channels(stage.width)
    for i in range(stage.depth):
        stride = stage.stride if i == 0 else 1
        short = anatomy.shortcut(block.shortcut, x[0], out_ch, stride, parts, block.order == "pre", block.shortcut_act)
        x = describe(
            r,
            f"layer{index + 1}.{i}",
            x,
            stage.width,
            stride,
            short,
            groups=block.groups,
            width_per_group=block.width_per_group,
            expansion=block.expansion or kind.expansion,
            dilation=stage.dilation,
            first_dilation=prev_dilation if i == 0 else stage.dilation,
            stride_in_1x1=block.stride_at == "1x1",
            parts=parts,
            drop_path=rates[i],
        )
    return x


def _head(r: Recorder, spec: Spec, x: Shape) -> None:
    """Mirror of compiler._head and compiler._classifier."""
    head, parts = spec.head, _parts(spec.block)
    if spec.final_norm():
        x = r.act("final_act", r.norm("final_norm", x, parts), parts.act)
    if head.pool == "none":
        return
    name, kind = ("avgpool", "AdaptiveAvgPool2d") if head.pool == "avg" else ("global_maxpool", "AdaptiveMaxPool2d")
    x = r.op(name, kind, (x[0], 1, 1), anatomy.numel(x), x[0], module=True)
    x = r.op("flatten", "Flatten", (x[0],), 0, 0, module=True)
    if not (head.classes or head.hidden):
        return
    if not head.hidden:
        if head.dropout:
            r.op("dropout", "Dropout", x, x[0], x[0], module=True)
        r.linear("fc", x, head.classes)
        return
    for i, width in enumerate(head.hidden):
        x = r.act(f"fc.{3 * i + 1}", r.linear(f"fc.{3 * i}", x, width), head.act)
        r.op(f"fc.{3 * i + 2}", "Dropout", x, x[0], x[0], module=True)
    if head.classes:
        r.linear(f"fc.{3 * len(head.hidden)}", x, head.classes)
