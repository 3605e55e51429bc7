"""Multi-scale features: the points of a network whose outputs a backbone returns, and timm's `feature_info`. No torch.

A network offers the stem's output (before its pool, as timm's `act1`: the finest map) and each stage's output
(layer1..layerN). `features: [layer1, layer2]` in a spec returns a list of them, as timm's `features_only=True`
does; `features: {layer1: "0", layer2: "1"}` returns a dict under the names given, as torchvision's
`IntermediateLayerGetter(return_layers=...)` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from netspec.kinds import Size, kind_of, per_axis
from netspec.plan import Op, leaves


@dataclass(frozen=True)
class FeaturePoint:
    """A feature: its name (stem, layerN), the network's child module that outputs it, its channels, and its
    reduction (the input's size over its size, for sizes the strides divide): one number when it is the same on
    every axis, as timm's feature_info gives it, else one per axis."""

    feature: str
    module: str
    channels: int
    reduction: Size


@dataclass(frozen=True)
class Tap:
    """A chosen feature and the key the network returns it under."""

    key: str
    point: FeaturePoint


def stride(ops: Sequence[Op], axes: int) -> Size:
    """The product of the strides of `ops` (children included), per axis (one number if the same on each)."""
    total: Size = 1
    for op in leaves(tuple(ops)):
        if kind_of(op).strided:
            total = times(total, op.stride if op.dims in (0, axes) else 1)
    return total


def times(a: Size, b: Size) -> Size:
    """Two strides one after the other: their product on each axis, one number if the same on every axis."""
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    axes = len(a) if isinstance(a, tuple) else len(b)  # type: ignore[arg-type]
    product = tuple(x * y for x, y in zip(per_axis(a, axes), per_axis(b, axes), strict=True))
    return product[0] if len(set(product)) == 1 else product


def chosen(features: Sequence[str] | dict[str, str] | None, points: Sequence[FeaturePoint]) -> tuple[Tap, ...]:
    """The taps a spec's `features` field asks for: a list keeps the feature names, a mapping gives its own keys."""
    if features is None:
        return ()
    by_name = {point.feature: point for point in points}
    keys = features if isinstance(features, dict) else {name: name for name in features}
    return tuple(Tap(key, by_name[name]) for name, key in keys.items())


class FeatureInfo:
    """timm's `model.feature_info`: one dict per output (num_chs, reduction, module), and accessors."""

    def __init__(self, points: Sequence[FeaturePoint]) -> None:
        self.info: list[dict[str, Any]] = [
            {"num_chs": p.channels, "reduction": p.reduction, "module": p.module} for p in points
        ]
        self.names = [p.feature for p in points]

    def channels(self) -> list[int]:
        return [int(d["num_chs"]) for d in self.info]

    def reduction(self) -> list[Any]:
        """Each output's reduction: an int (timm's), or a tuple per axis where the axes differ."""
        return [d["reduction"] for d in self.info]

    def module_name(self) -> list[str]:
        return [str(d["module"]) for d in self.info]

    def get_dicts(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self.info]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.info[index]

    def __len__(self) -> int:
        return len(self.info)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.info)

    def __repr__(self) -> str:
        return f"FeatureInfo({', '.join(f'{n}: {d}' for n, d in zip(self.names, self.info, strict=True))})"
