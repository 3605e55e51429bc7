"""The time-series residual block of Wang et al. 2017: forward only; the layers come from netspec.families.tsc."""

from __future__ import annotations

from torch import Tensor

from netspec.blocks import Block


class TimeSeriesBlock(Block):
    """Three conv blocks, plus a shortcut that is always a layer (a projection, or a norm), then the activation."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.convblock1(x)
        out = self.convblock2(out)
        out = self.convblock3(out)
        return self.act(out + self.shortcut(x))  # type: ignore[no-any-return]
