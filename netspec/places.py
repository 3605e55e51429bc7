"""Names of the parts of a network and the spec fields they come from: `layer3` is the module of `stages.2`,
`layer3.4.conv2` a layer of its fifth block. The one mapping between plan names, module paths and spec fields,
which every message, the summary and the diagrams use. No torch."""

from __future__ import annotations

from collections.abc import Collection

STAGE_FIELDS = ("depth", "width", "stride", "dilation")  # written on a stage, never on `block`


def stage_name(index: int) -> str:
    """The module name of stage `index`: layer1 for stages.0, as torchvision names them."""
    return f"layer{index + 1}"


def stage_index(name: str) -> int | None:
    """0 for 'layer1' (or any path inside it, 'layer1.0.conv1'); None outside the stages."""
    head = name.split(".")[0]
    return int(head[5:]) - 1 if head.startswith("layer") and head[5:].isdigit() else None


def stage_of(path: str) -> str:
    """'layer3' for 'layer3.4.conv2' and for 'layer3'; '' outside the stages."""
    index = stage_index(path)
    return stage_name(index) if index is not None else ""


def block_of(path: str) -> str:
    """'layer3.4' for 'layer3.4.conv2'; '' outside the blocks."""
    parts = path.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and stage_of(path) and parts[1].isdigit() else ""


def part_field(part: str) -> str:
    """The spec field a part of the network comes from: 'stages.2' for layer3; 'stem' and 'head' as they are."""
    index = stage_index(part)
    return f"stages.{index}" if index is not None else part


def setting_field(index: int, written: Collection[str], name: str) -> str:
    """Where the block setting `name` of stage `index` is written: on the stage when the stage sets it (or it is
    a stage's own field), else on the spec's `block`."""
    return f"stages.{index}.{name}" if name in STAGE_FIELDS or name in written else f"block.{name}"
