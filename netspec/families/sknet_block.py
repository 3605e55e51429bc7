"""Selective kernel blocks (Li et al. 2019): forward only; the layers come from netspec.families.sknet."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from netspec.blocks import Block
from netspec.layers import Planned


class ConvNormAct(Planned):
    """timm's ConvNormAct: conv, norm and an optional activation under its names."""

    optional: ClassVar[tuple[str, ...]] = ("act",)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return x if self.act is None else self.act(x)


class SelectiveKernelAttention(Planned):
    """The paths' sum, pooled, reduced and expanded again to one weight per path and channel."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.sum(1).mean((2, 3), keepdim=True)
        x = self.act(self.bn(self.fc_reduce(x)))
        x = self.fc_select(x)
        batch, channels, height, width = x.shape
        x = x.view(batch, self.paths, channels // self.paths, height, width)
        return torch.softmax(x, dim=1)


class SelectiveKernel(Planned):
    """Each path convolves (its split of) the input; the attention weighs the paths per channel."""

    def forward(self, x: Tensor) -> Tensor:
        if self.split > 0:
            splits = torch.split(x, self.split, 1)
            outs = [path(splits[i]) for i, path in enumerate(self.paths)]
        else:
            outs = [path(x) for path in self.paths]
        stacked = torch.stack(outs, dim=1)
        return torch.sum(stacked * self.attn(stacked), dim=1)


class SelectiveKernelBasic(Block):
    """A selective kernel conv, then a 3x3 conv and norm; activation after the add."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.conv2(out)
        return self.act(self.add_residual(out, x))  # type: ignore[no-any-return]


class SelectiveKernelBottleneck(Block):
    """1x1 reduce, selective kernel conv, 1x1 expand; activation after the add."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.conv2(out)
        out = self.conv3(out)
        return self.act(self.add_residual(out, x))  # type: ignore[no-any-return]
