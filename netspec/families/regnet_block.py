"""RegNet's block (Radosavovic et al. 2020), torchvision's ResBottleneckBlock: forward only; the layers come
from netspec.families.regnet."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from netspec.blocks import Block
from netspec.layers import Planned


class SqueezeExcitation(Planned):
    """torchvision's SqueezeExcitation, under its names: avgpool, fc1, activation, fc2, scale_activation."""

    def forward(self, x: Tensor) -> Tensor:
        scale = self.avgpool(x)
        scale = self.fc2(self.activation(self.fc1(scale)))
        return self.scale_activation(scale) * x  # type: ignore[no-any-return]


class RegNetBlock(Block):
    """f (1x1, grouped 3x3, SE, 1x1) plus the shortcut, projected by proj when the shape changes."""

    optional: ClassVar[tuple[str, ...]] = ("proj", "drop_path")

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        out = self.f(x)
        if self.drop_path is not None:
            out = self.drop_path(out)
        return self.activation(shortcut + out)  # type: ignore[no-any-return]
