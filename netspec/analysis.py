"""What a spec builds, computed from the spec alone (no torch): channels and shapes per stage."""

from __future__ import annotations

from dataclasses import dataclass

from netspec.spec import Spec


@dataclass(frozen=True)
class StageInfo:
    """One row of a stage-level summary: the stem, a stage, or the head."""

    name: str
    blocks: int
    kind: str
    stride: int
    width: int | None
    inner: int | None
    out: int
    shape: tuple[int, ...]


def conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output size of a conv or pool along one axis (floor mode), as torch computes it."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def stages(spec: Spec, size: int | None = None) -> list[StageInfo]:
    """Stem, each stage and head, with channels and the output shape for a square input of `size`."""
    size = size or spec.input.size
    rows = [_stem(spec, size)]
    channels, hw = rows[0].out, rows[0].shape[1]
    for i, (stage, block) in enumerate(zip(spec.stages, spec.stage_blocks(), strict=True)):
        # Whichever conv strides (3x3 padded by its dilation, or 1x1 unpadded), the size is (n - 1) // s + 1.
        hw = conv_size(hw, 1, stage.stride, 0)
        channels = block.out_channels(stage.width)
        inner = block.inner_channels(stage.width)
        shape = (channels, hw, hw)
        rows.append(
            StageInfo(f"layer{i + 1}", stage.depth, block.type, stage.stride, stage.width, inner, channels, shape)
        )
    rows.append(_head(spec, channels, hw))
    return rows


def _stem(spec: Spec, size: int) -> StageInfo:
    stride = 1
    for conv in spec.stem.layers():
        size = conv_size(size, conv.kernel, conv.stride, conv.kernel // 2)
        stride *= conv.stride
    if spec.stem.pool_kind() != "none":
        size = conv_size(size, 3, 2, 1)
        stride *= 2
    width = spec.stem.layers()[-1].width
    kind = spec.stem.preset or f"{len(spec.stem.layers())} convs"
    return StageInfo("stem", 0, kind, stride, None, None, width, (width, size, size))


def _head(spec: Spec, channels: int, hw: int) -> StageInfo:
    head = spec.head
    if head.pool == "none":
        return StageInfo("head", 0, "features", 0, None, None, channels, (channels, hw, hw))
    out = head.classes or (head.hidden[-1] if head.hidden else channels)
    kind = "fc" if head.classes and not head.hidden else ("mlp" if head.hidden else "features")
    return StageInfo("head", 0, kind, 0, None, None, out, (out,))


def total_blocks(spec: Spec) -> int:
    return sum(stage.depth for stage in spec.stages)
