"""ResNeSt's bottleneck and split attention (Zhang et al. 2020): forward only; the layers come from
netspec.families.resnest."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from netspec.blocks import Block
from netspec.layers import Planned


class RadixSoftmax(nn.Module):
    """A softmax across the radix splits of each group's attention (a sigmoid for a single split), in the
    shape of its input."""

    def __init__(self, radix: int, cardinality: int) -> None:
        super().__init__()
        self.radix, self.cardinality = radix, cardinality

    def forward(self, x: Tensor) -> Tensor:
        if self.radix > 1:
            split = x.view(x.size(0), self.cardinality, self.radix, -1).transpose(1, 2)
            return split.softmax(dim=1).reshape(x.shape)
        return x.sigmoid()


class SplitAttention(Planned):
    """Split attention (timm's SplitAttn): the conv's radix splits, weighed by a softmax over them."""

    def forward(self, x: Tensor) -> Tensor:
        x = self.act0(self.bn0(self.conv(x)))
        batch, channels, height, width = x.shape
        radix = self.rsoftmax.radix
        if radix > 1:
            x = x.reshape((batch, radix, channels // radix, height, width))
            pooled = x.sum(dim=1)
        else:
            pooled = x
        pooled = pooled.mean((2, 3), keepdim=True)
        pooled = self.act1(self.bn1(self.fc1(pooled)))
        attention = self.rsoftmax(self.fc2(pooled))
        if radix > 1:
            out = (x * attention.reshape((batch, radix, channels // radix, 1, 1))).sum(dim=1)
        else:
            out = x * attention
        return out.contiguous()  # type: ignore[no-any-return]


class ResNeStBlock(Block):
    """1x1 reduce, split attention, the strided average pool where timm puts it, 1x1 expand."""

    optional: ClassVar[tuple[str, ...]] = (*Block.optional, "avd_first", "avd_last")

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
        if self.avd_first is not None:
            out = self.avd_first(out)
        out = self.conv2(out)
        if self.avd_last is not None:
            out = self.avd_last(out)
        out = self.conv3(out)
        out = self.bn3(out)
        return self.act3(self.add_residual(out, x))  # type: ignore[no-any-return]
