"""Residual blocks: basic and bottleneck, post- and pre-activation. They take ints and layer types only.

Every block takes the same arguments, so that the compiler can build any registered type the same way:
in_channels, width, stride, downsample (the shortcut module or None for identity) and keywords.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from netspec.anatomy import bottleneck_plan
from netspec.layers import ActLayer, DropPath, NormLayer, conv1x1, conv3x3

AttnLayer = Callable[[int], nn.Module]


def _zero_weight(norm: nn.Module) -> None:
    """Zero a norm's scale; frozen norms (weight is a buffer) and Identity are left alone."""
    weight = getattr(norm, "weight", None)
    if isinstance(weight, nn.Parameter):
        nn.init.zeros_(weight)


class _Residual(nn.Module):
    """Shared tail of every block: optional attention and stochastic depth, then the shortcut."""

    def _tail(self, out_ch: int, downsample: nn.Module | None, attn_layer: AttnLayer | None, drop_path: float) -> None:
        self.se = attn_layer(out_ch) if attn_layer is not None else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else None
        self.downsample = downsample

    def zero_init_last(self) -> None:
        """Start the residual branch at zero, so that the block starts as its shortcut (Goyal et al. 2017)."""
        raise NotImplementedError


class BasicBlock(_Residual):
    """Two 3x3 convs, norm and activation after each (ResNet v1, He et al. 2015)."""

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        width_per_group: int = 64,
        expansion: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        stride_in_1x1: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
        attn_layer: AttnLayer | None = None,
        drop_path: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        out_ch = width * expansion
        self.conv1 = conv3x3(in_channels, width, stride, dilation=first_dilation or dilation, bias=bias)
        self.bn1 = norm_layer(width)
        self.act1 = act_layer()
        self.conv2 = conv3x3(width, out_ch, dilation=dilation, bias=bias)
        self.bn2 = norm_layer(out_ch)
        self._tail(out_ch, downsample, attn_layer, drop_path)
        self.act2 = act_layer()

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
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

    def zero_init_last(self) -> None:
        _zero_weight(self.bn2)


class Bottleneck(_Residual):
    """1x1 reduce, 3x3 (grouped), 1x1 expand, norm and activation after each (ResNet v1 / v1.5, ResNeXt)."""

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        width_per_group: int = 64,
        expansion: int = 4,
        dilation: int = 1,
        first_dilation: int | None = None,
        stride_in_1x1: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
        attn_layer: AttnLayer | None = None,
        drop_path: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        inner, stride_1x1, stride_3x3 = bottleneck_plan(width, width_per_group, groups, stride, stride_in_1x1)
        out_ch = width * expansion
        self.conv1 = conv1x1(in_channels, inner, stride_1x1, bias)
        self.bn1 = norm_layer(inner)
        self.act1 = act_layer()
        self.conv2 = conv3x3(inner, inner, stride_3x3, groups, first_dilation or dilation, bias)
        self.bn2 = norm_layer(inner)
        self.act2 = act_layer()
        self.conv3 = conv1x1(inner, out_ch, bias=bias)
        self.bn3 = norm_layer(out_ch)
        self._tail(out_ch, downsample, attn_layer, drop_path)
        self.act3 = act_layer()

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.act2(out)
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

    def zero_init_last(self) -> None:
        _zero_weight(self.bn3)


class PreActBasicBlock(_Residual):
    """Norm and activation before each of two 3x3 convs; nothing after the add (He et al. 2016)."""

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        width_per_group: int = 64,
        expansion: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        stride_in_1x1: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
        attn_layer: AttnLayer | None = None,
        drop_path: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        out_ch = width * expansion
        self.bn1 = norm_layer(in_channels)
        # Without a norm, an in-place activation would overwrite the input that the identity shortcut adds back.
        self.act1 = act_layer(inplace=not isinstance(self.bn1, nn.Identity))
        self.conv1 = conv3x3(in_channels, width, stride, dilation=first_dilation or dilation, bias=bias)
        self.bn2 = norm_layer(width)
        self.act2 = act_layer()
        self.conv2 = conv3x3(width, out_ch, dilation=dilation, bias=bias)
        self._tail(out_ch, downsample, attn_layer, drop_path)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(x)
        out = self.act1(out)
        shortcut = x
        if self.downsample is not None:  # a projection sees the pre-activated input, as in He et al. 2016
            shortcut = self.downsample(out)
        out = self.conv1(out)
        out = self.bn2(out)
        out = self.act2(out)
        out = self.conv2(out)
        if self.se is not None:
            out = self.se(out)
        if self.drop_path is not None:
            out = self.drop_path(out)
        return out + shortcut  # type: ignore[no-any-return]

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.conv2.weight)


class PreActBottleneck(_Residual):
    """Norm and activation before each of 1x1, 3x3, 1x1 convs; nothing after the add (He et al. 2016)."""

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        groups: int = 1,
        width_per_group: int = 64,
        expansion: int = 4,
        dilation: int = 1,
        first_dilation: int | None = None,
        stride_in_1x1: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
        act_layer: ActLayer = nn.ReLU,
        attn_layer: AttnLayer | None = None,
        drop_path: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        inner, stride_1x1, stride_3x3 = bottleneck_plan(width, width_per_group, groups, stride, stride_in_1x1)
        out_ch = width * expansion
        self.bn1 = norm_layer(in_channels)
        self.act1 = act_layer(inplace=not isinstance(self.bn1, nn.Identity))
        self.conv1 = conv1x1(in_channels, inner, stride_1x1, bias)
        self.bn2 = norm_layer(inner)
        self.act2 = act_layer()
        self.conv2 = conv3x3(inner, inner, stride_3x3, groups, first_dilation or dilation, bias)
        self.bn3 = norm_layer(inner)
        self.act3 = act_layer()
        self.conv3 = conv1x1(inner, out_ch, bias=bias)
        self._tail(out_ch, downsample, attn_layer, drop_path)

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

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.conv3.weight)
