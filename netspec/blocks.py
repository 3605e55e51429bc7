"""Residual blocks: basic and bottleneck, post- and pre-activation. Each keeps only its forward; its layers
come from its plan (netspec.block_plans), which names them as torchvision and timm do."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from netspec.layers import Planned


class Block(Planned):
    """A residual block built from its plan. Attention, stochastic depth and a projection shortcut are
    optional: the plan leaves them out where the spec does not ask for them, and forward skips them."""

    optional: ClassVar[tuple[str, ...]] = ("aa", "se", "drop_path", "downsample")

    def add_residual(self, out: Tensor, x: Tensor) -> Tensor:
        """The end of a post-activation block's forward, as block_plans.tail lays it out: attention, stochastic
        depth, the shortcut, the in-place add. BasicBlock and Bottleneck write it out instead, so that they make
        no more Python calls than torchvision's blocks (tests/test_overhead.py)."""
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        shortcut = x
        if self.downsample is not None:
            shortcut = self.downsample(x)
        out += shortcut
        return out


class BasicBlock(Block):
    """Two 3x3 convs, norm and activation after each (ResNet v1, He et al. 2015)."""

    optional: ClassVar[tuple[str, ...]] = (*Block.optional, "dropout")

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
        if self.aa is not None:  # anti-aliased: the blur pool strides instead of conv1
            out = self.aa(out)
        if self.dropout is not None:
            out = self.dropout(out)
        out = self.conv2(out)
        out = self.bn2(out)
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        if self.downsample is not None:
            shortcut = self.downsample(x)
        out += shortcut
        return self.act2(out)  # type: ignore[no-any-return]


class Bottleneck(Block):
    """1x1 reduce, 3x3 (grouped), 1x1 expand, norm and activation after each (ResNet v1 / v1.5, ResNeXt)."""

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.act2(out)
        if self.aa is not None:  # anti-aliased: the blur pool strides instead of conv2
            out = self.aa(out)
        out = self.conv3(out)
        out = self.bn3(out)
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        if self.downsample is not None:
            shortcut = self.downsample(x)
        out += shortcut
        return self.act3(out)  # type: ignore[no-any-return]


class PreActBasicBlock(Block):
    """Norm and activation before each of two 3x3 convs; nothing after the add (He et al. 2016)."""

    optional: ClassVar[tuple[str, ...]] = (*Block.optional, "dropout")

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(x)
        out = self.act1(out)
        shortcut = x
        if self.downsample is not None:  # a projection sees the pre-activated input, as in He et al. 2016
            shortcut = self.downsample(out)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.act2(out)
        if self.dropout is not None:  # Wide ResNets drop between the convs (Zagoruyko & Komodakis 2016)
            out = self.dropout(out)
        out = self.conv2(out)
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        return out + shortcut  # type: ignore[no-any-return]


class PreActBottleneck(Block):
    """Norm and activation before each of 1x1, 3x3, 1x1 convs; nothing after the add (He et al. 2016)."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(x)
        out = self.act1(out)
        shortcut = x
        if self.downsample is not None:
            shortcut = self.downsample(out)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.act2(out)
        out = self.conv2(out)
        out = self.bn3(out)
        out = self.act3(out)
        out = self.conv3(out)
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        return out + shortcut  # type: ignore[no-any-return]
