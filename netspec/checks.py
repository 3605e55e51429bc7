"""Cross-field rules of a spec, each reported at the field a person would change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netspec.registry import block_type

if TYPE_CHECKING:
    from netspec.spec import BlockSettings, Spec, Stage

Problem = tuple[str, str]  # (dotted field path, message)


def problems(spec: Spec) -> list[Problem]:
    """Every cross-field problem of an otherwise well-typed spec."""
    found: list[Problem] = []
    channels = spec.stem.layers()[-1].width
    found += _norm_groups(spec.block, "block", [c.width for c in spec.stem.layers()], "the stem")
    for i, (stage, block) in enumerate(zip(spec.stages, spec.stage_blocks(), strict=True)):
        found += _stage_problems(i, stage, block, channels)
        channels = block.out_channels(stage.width)
    if spec.head.pool == "none" and (spec.head.classes or spec.head.hidden):
        found.append(("head.pool", "a classifier needs a global pool: set pool to avg or max, or classes to 0"))
    first_per_field = {path: message for path, message in reversed(found)}
    return [(path, first_per_field[path]) for path in dict.fromkeys(path for path, _ in found)]


def _stage_problems(i: int, stage: Stage, block: BlockSettings, in_channels: int) -> list[Problem]:
    def where(field: str) -> str:
        return f"stages.{i}.{field}" if field in stage.model_fields_set else f"block.{field}"

    kind = block_type(block.type)
    found: list[Problem] = []
    if not kind.grouped and (block.groups != 1 or block.width_per_group != 64):
        field = "groups" if block.groups != 1 else "width_per_group"
        message = f"{block.type} blocks take groups: 1 and width_per_group: 64 only; use type: bottleneck for groups"
        found.append((where(field), message))
    elif stage.width * block.width_per_group % 64:
        per_group = f"width {stage.width} x width_per_group {block.width_per_group} / 64"
        found.append((f"stages.{i}.width", f"{per_group} is not a whole number of channels per group"))
    if block.order not in kind.forms:
        found.append((where("order"), f"{block.type} blocks have no {block.order}-activation form; use order: post"))
    if block.stride_at == "1x1" and not kind.has_1x1_stride:
        found.append((where("stride_at"), f"{block.type} blocks have no 1x1 conv to stride; use stride_at: 3x3"))
    out = block.out_channels(stage.width)
    if block.shortcut == "A" and out < in_channels:
        message = f"shortcut A pads channels with zeros and cannot reduce {in_channels} to {out}; use shortcut: B"
        found.append((where("shortcut"), message))
    widths = [block.inner_channels(stage.width), out]
    found += _norm_groups(block, where("norm_groups").rsplit(".", 1)[0], widths, f"stage {i}")
    return found


def _norm_groups(block: BlockSettings, prefix: str, widths: list[int], what: str) -> list[Problem]:
    if block.norm != "group":
        return []
    bad = [w for w in widths if w % block.norm_groups]
    if not bad:
        return []
    message = f"group norm with {block.norm_groups} groups cannot split the {bad[0]} channels of {what}"
    return [(f"{prefix}.norm_groups", message)]
