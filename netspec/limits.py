"""Limits on what a spec may ask for, checked before anything is allocated. No torch.

Field limits are checked on the validated spec (cheap, and they bound the analysis); cost limits on the
static analysis. Each problem is (dotted field, message); the message names the limit and how to raise it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from netspec.errors import NetspecError
from netspec.kinds import per_axis, size_text
from netspec.network import NetworkPlan, stages
from netspec.places import part_field
from netspec.plan import leaves

if TYPE_CHECKING:
    from netspec.analysis import Analysis
    from netspec.spec import Spec

Problem = tuple[str, str]


@dataclass(frozen=True)
class Limits:
    """The largest network netspec builds without being asked to; raise any with --limit NAME=VALUE."""

    blocks: int = 10_000  # residual blocks in the whole network
    channels: int = 65_536  # channels of any layer, classes and hidden widths included
    groups: int = 4_096  # groups of a grouped conv
    kernel: int = 31  # kernel size of a stem conv
    params: int = 2_000_000_000  # trainable parameters
    macs: int = 10_000_000_000_000  # multiply-accumulates of one image at the spec's input size
    memory: int | None = None  # bytes a command that runs the network may plan to use; None: what is free here

    def __post_init__(self) -> None:
        for f in fields(self):  # a NaN or infinite limit would let everything through, or nothing
            value = getattr(self, f.name)
            if not (type(value) is int and value >= 1) and not (f.name == "memory" and value is None):
                raise NetspecError(f"Limits.{f.name} must be a whole number of at least 1, got {value!r}")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def raised(self, assignments: Iterable[tuple[str, int]]) -> Limits:
        """These limits with (name, value) assignments applied."""
        return replace(self, **dict(assignments))


def _over(value: int, limit: int, name: str, what: str = "") -> str:
    return f"{what or f'{value:,}'} exceeds the limit of {limit:,}; raise it with --limit {name}={value}"


def field_problems(spec: Spec, limits: Limits) -> list[Problem]:
    """Sizes written in the spec: blocks, channels, groups and kernels."""
    found: list[Problem] = []
    for i, conv in enumerate(spec.stem.layers()):
        where = f"stem.convs.{i}" if spec.stem.convs is not None else "stem"
        if conv.width > limits.channels:
            found.append((f"{where}.width", _over(conv.width, limits.channels, "channels")))
        kernel = max(per_axis(conv.kernel, 1))
        if kernel > limits.kernel:
            found.append((f"{where}.kernel", _over(kernel, limits.kernel, "kernel")))
    if spec.input.channels > limits.channels:
        found.append(("input.channels", _over(spec.input.channels, limits.channels, "channels")))
    for s in stages(spec):
        i, stage, block = s.index, s.stage, s.block
        if block.groups > limits.groups:
            where = f"stages.{i}.groups" if "groups" in stage.model_fields_set else "block.groups"
            found.append((where, _over(block.groups, limits.groups, "groups")))
    blocks = sum(stage.depth for stage in spec.stages)
    if blocks > limits.blocks:
        deepest = max(range(len(spec.stages)), key=lambda i: spec.stages[i].depth)
        found.append((f"stages.{deepest}.depth", _over(blocks, limits.blocks, "blocks", f"{blocks:,} blocks in all")))
    for j, width in enumerate([*spec.head.hidden, spec.head.classes]):
        where = f"head.hidden.{j}" if j < len(spec.head.hidden) else "head.classes"
        if width > limits.channels:
            found.append((where, _over(width, limits.channels, "channels")))
    return found


def channel_problems(net: NetworkPlan, limits: Limits) -> list[Problem]:
    """Channels of the planned layers: the widest layer of each stage (an expansion or an attention's width may
    exceed the stage's width)."""
    found: list[Problem] = []
    for stage in net.stages:
        widest = max(op.out for plan in stage.blocks for op in leaves(plan.ops))
        if widest > limits.channels:
            where = f"{part_field(stage.args.name)}.width"
            found.append((where, _over(widest, limits.channels, "channels", f"{widest:,} channels")))
    return found


def cost_problems(analysis: Analysis, limits: Limits) -> list[Problem]:
    """Parameters and MACs of the whole network, reported at its largest stage; maps that shrink to nothing."""
    found: list[Problem] = []
    parts = analysis.parts()
    for name, total in (("params", analysis.totals.params), ("macs", analysis.totals.macs)):
        limit = getattr(limits, name)
        if total > limit:
            where = part_field(max(parts, key=lambda part: getattr(part.totals, name)).name)
            what = f"{total:,} {'parameters' if name == 'params' else 'MACs'}"
            found.append((where, _over(total, limit, name, what)))
    return found + spatial_problems(analysis)


def spatial_problems(analysis: Analysis) -> list[Problem]:
    """The first layer whose feature map shrinks to nothing, if any."""
    for layer in analysis.layers:
        if any(d <= 0 for d in layer.shape):
            stage = part_field(layer.part)
            size = " x ".join(map(str, layer.shape[1:]))
            where = f"at {layer.path} (computed size {size})"
            return [(stage, f"the feature map shrinks to nothing {where} for a {size_text(analysis.size)} input")]
    return []
