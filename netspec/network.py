"""A spec's network as a plan: stem, stages of blocks, head. The one walk over a spec, which the checks, the
analysis and the compiler all read. No torch.

Each block's arguments are resolved here, once: the stride and the previous stage's dilation of a stage's
first block, the default expansion, the norm and activation, the stochastic depth rate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from netspec.features import FeaturePoint, Tap, chosen, stride, times
from netspec.kinds import Size
from netspec.places import setting_field, stage_index, stage_name
from netspec.plan import BlockArgs, BlockPlan, Op, PlanError, Style, act, conv, norm
from netspec.registry import BlockType, block_type

if TYPE_CHECKING:
    from netspec.spec import BlockSettings, Spec, Stage


@dataclass(frozen=True)
class StageArgs:
    """A stage, its block settings, and its first block's arguments; the other blocks' follow from them."""

    index: int
    stage: Stage
    block: BlockSettings
    first: BlockArgs
    kind: BlockType
    start: int  # blocks before this stage
    total: int  # blocks in the whole network

    @property
    def name(self) -> str:
        return stage_name(self.index)

    def args(self, i: int) -> BlockArgs:
        """Block `i`'s arguments: later blocks keep the width and dilation and take their own drop path rate."""
        # Stochastic depth rises linearly from 0 at the network's first block to `drop_path` at its last (timm).
        rate = self.block.drop_path * (self.start + i) / max(self.total - 1, 1)
        if i == 0:
            return replace(self.first, drop_path=rate)
        dilation = self.stage.dilation
        return replace(
            self.first, in_channels=self.first.out_channels, stride=1, first_dilation=dilation, drop_path=rate
        )

    def plan(self, i: int) -> BlockPlan:
        return self.kind.plan(self.block.order)(self.args(i))

    def field(self, name: str) -> str:
        """Where this stage's block setting `name` is written (stages.i.name or block.name)."""
        return setting_field(self.index, self.stage.model_fields_set, name)


@dataclass(frozen=True)
class StagePlan:
    args: StageArgs
    blocks: tuple[BlockPlan, ...]


@dataclass(frozen=True)
class NetworkPlan:
    """Every layer of a spec's network: the stem's and head's ops, and each stage's block plans; the features it
    offers (stem, layer1..N), and those it returns when the spec asks for features (then up to the last one only,
    without a head)."""

    spec: Spec
    stem: tuple[Op, ...]
    stages: tuple[StagePlan, ...]
    head: tuple[Op, ...]
    points: tuple[FeaturePoint, ...] = ()
    taps: tuple[Tap, ...] = ()
    keyed: bool = False  # the taps are returned as a dict under their keys, not as a list

    @property
    def dims(self) -> int:
        """Spatial axes of the network's feature maps: 1 (signals), 2 (images) or 3 (video, volumes)."""
        return self.spec.dims


NOT_PASSED = ("options", "drop_path")


def passed(block: BlockSettings) -> list[str]:
    """The block settings a plan function receives as they are, by name: the fields BlockArgs shares with
    BlockSettings, but `options` (validated by the block type) and `drop_path` (a rate per block)."""
    return [f.name for f in fields(BlockArgs) if f.name in type(block).model_fields and f.name not in NOT_PASSED]


def style(block: BlockSettings) -> Style:
    return Style(block.norm, block.norm_groups, block.act, block.conv)


def stages(spec: Spec) -> Iterator[StageArgs]:
    """Each stage with its first block's arguments, in order: cheap, whatever the depths."""
    total = sum(stage.depth for stage in spec.stages)
    channels, start = spec.stem_width(), 0
    dilation: Size = 1
    for i, (stage, block) in enumerate(zip(spec.stages, spec.stage_blocks(), strict=True)):
        kind = block_type(block.type)
        first = BlockArgs(
            in_channels=channels,
            width=stage.width,
            out_channels=stage.width * (block.expansion or kind.expansion),
            stride=stage.stride,
            dilation=stage.dilation,
            # torchvision and timm keep the previous stage's dilation in the first block's strided conv.
            first_dilation=dilation,
            style=style(block),
            stride_in_1x1=block.stride_at == "1x1",
            dims=spec.dims,
            preact=block.order == "pre",
            options=kind.options.model_validate(block.options) if kind.options is not None else None,
            # Every other block setting that a plan reads reaches it under its own name.
            **{name: getattr(block, name) for name in passed(block)},
        )
        yield StageArgs(i, stage, block, first, kind, start, total)
        channels, dilation, start = first.out_channels, stage.dilation, start + stage.depth


class PlanProblems(Exception):
    """Blocks that cannot be planned: (spec field, message) for the first such block of each stage."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


def plan_stages(spec: Spec) -> tuple[StagePlan, ...]:
    """Every block of every stage, each planned once; raises PlanProblems at the fields to change."""
    planned, found = [], list[tuple[str, str]]()
    for s in stages(spec):
        try:
            planned.append(StagePlan(s, tuple(s.plan(i) for i in range(s.stage.depth))))
        except PlanError as problem:
            found.append((s.field(problem.field), problem.message))
    if found:
        raise PlanProblems(found)
    return tuple(planned)


def plan_network(spec: Spec) -> NetworkPlan:
    """The plan of every layer of `spec`'s network: up to its last feature, when it returns features."""
    planned = plan_stages(spec)
    body, pool = stem_body(spec), stem_pool(spec)
    points = feature_points(body, pool, planned)
    taps = chosen(spec.features, points)
    if not taps:
        return NetworkPlan(spec, (*body, *pool), planned, head(spec, channels_after(spec, planned)), points)
    last = stage_index(taps[-1].point.feature)
    ops = body if last is None else (*body, *pool)
    return NetworkPlan(
        spec, ops, planned[: 0 if last is None else last + 1], (), points, taps, isinstance(spec.features, dict)
    )


def channels_after(spec: Spec, planned: Sequence[StagePlan]) -> int:
    """Channels out of the last of `planned` stages: the stem's (or the input's) when there are none."""
    return planned[-1].blocks[-1].ops[-1].out if planned else spec.stem_width()


def feature_points(body: Sequence[Op], pool: Sequence[Op], planned: Sequence[StagePlan]) -> tuple[FeaturePoint, ...]:
    """The stem's output (before its pool) and each stage's, with their channels and reductions."""
    axes = planned[0].args.first.dims
    reduction = stride(body, axes)
    points = [FeaturePoint("stem", body[-1].name, body[-1].out, reduction)] if body else []  # stem: none has none
    reduction = times(reduction, stride(pool, axes))
    for stage in planned:
        reduction = times(reduction, stage.args.stage.stride)
        points.append(FeaturePoint(stage.args.name, stage.args.name, stage.args.first.out_channels, reduction))
    return tuple(points)


def stem(spec: Spec) -> tuple[Op, ...]:
    """The whole stem: its convs, norm and activation, then its pool."""
    return (*stem_body(spec), *stem_pool(spec))


def stem_body(spec: Spec) -> tuple[Op, ...]:
    """conv1 (a Sequential for multi-conv stems, as in timm), bn1, act1."""
    s, channels, convs = style(spec.block), spec.input.channels, []
    for i, layer in enumerate(spec.stem.layers()):
        if i > 0:
            convs += [norm(f"{3 * i - 2}", channels, s), act(f"{3 * i - 1}", channels, s.act)]
        kernel, stride, padding = layer.kernel, layer.stride, layer.padding
        convs.append(conv(f"{3 * i}", channels, layer.width, kernel, stride, s, bias=layer.bias, padding=padding))
        channels = layer.width
    if not convs:
        return ()
    first = replace(convs[0], name="conv1")
    ops = [first if len(convs) == 1 else Op("conv1", "sequential", first.ins, channels, children=tuple(convs))]
    if spec.stem_norm():
        ops += [norm("bn1", channels, s), act("act1", channels, s.act)]
    return tuple(ops)


def stem_pool(spec: Spec) -> tuple[Op, ...]:
    """The stem's pool (none, a pool, or ResNet-RS's strided conv), after its body."""
    s, channels, ops = style(spec.block), spec.stem_width(), list[Op]()
    pool = spec.stem.pool_kind()
    if pool == "max":
        ops.append(Op("maxpool", "maxpool", channels, channels, 3, 2))
    elif pool == "avg":
        ops.append(Op("avgpool_stem", "avgpool", channels, channels, 3, 2))
    elif pool == "conv":  # ResNet-RS replaces the pool by a strided conv; timm keeps the name maxpool
        layers = (conv("0", channels, channels, 3, 2), norm("1", channels, s), act("2", channels, s.act))
        ops.append(Op("maxpool", "sequential", channels, channels, children=layers))
    elif pool == "max_blur":  # anti-aliased: the max pool keeps the size, a blur pool strides (Zhang 2019)
        blur = (Op("0", "maxpool", channels, channels, 3, 1), Op("1", "blur", channels, channels, 3, 2))
        ops.append(Op("maxpool", "sequential", channels, channels, children=blur))
    elif pool == "max_zero_pad":  # BiT's "fixed" padding: zeros, which a max can pick, unlike the pool's own
        ops += [Op("pad", "pad", channels, channels, padding=1), Op("maxpool", "maxpool", channels, channels, 3, 2, 0)]
    return tuple(ops)


def head(spec: Spec, channels: int) -> tuple[Op, ...]:
    """Final norm (pre-activation), global pool, flatten, dropout and the classifier `fc`."""
    h, s, ops = spec.head, style(spec.block), []
    if spec.final_norm():
        ops += [norm("final_norm", channels, s), act("final_act", channels, s.act)]
    if h.pool == "none":
        return tuple(ops)
    name = "avgpool" if h.pool == "avg" else "global_maxpool"
    ops.append(Op(name, f"global_{h.pool}pool", channels, channels))
    ops.append(Op("flatten", "flatten", channels, channels))
    if not (h.classes or h.hidden):
        return tuple(ops)
    if not h.hidden:
        if h.dropout:
            ops.append(Op("dropout", "dropout", channels, channels, p=h.dropout))
        return (*ops, Op("fc", "linear", channels, h.classes))
    mlp: list[Op] = []  # Linear, act, Dropout for each hidden layer, then the last Linear
    for i, width in enumerate(h.hidden):
        mlp += [Op(f"{3 * i}", "linear", channels, width), act(f"{3 * i + 1}", width, h.act)]
        mlp.append(Op(f"{3 * i + 2}", "dropout", width, width, p=h.dropout))
        channels = width
    if h.classes:
        mlp.append(Op(f"{3 * len(h.hidden)}", "linear", channels, h.classes))
    return (*ops, Op("fc", "sequential", mlp[0].ins, mlp[-1].out, children=tuple(mlp)))
