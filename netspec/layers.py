"""Layer names from specs become layer types here, in one place; plus the small layers blocks share."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NormLayer = Callable[[int], nn.Module]
ActLayer = Callable[..., nn.Module]  # called with an optional `inplace` keyword

_INPLACE_ACTS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "hardswish": nn.Hardswish,
}
_PLAIN_ACTS: dict[str, Callable[[], nn.Module]] = {
    "gelu": nn.GELU,
    "gelu_tanh": partial(nn.GELU, approximate="tanh"),
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}
ACTIVATIONS = sorted({*_INPLACE_ACTS, *_PLAIN_ACTS})


def act_layer(name: str) -> ActLayer:
    """A factory for activation `name`; in place by default, where the activation can be."""
    if name in _INPLACE_ACTS:
        cls = _INPLACE_ACTS[name]
        return lambda inplace=True: cls(inplace=inplace)
    plain = _PLAIN_ACTS[name]
    return lambda inplace=True: plain()


def norm_layer(name: str, groups: int = 32) -> NormLayer:
    """A callable taking a channel count; 'none' gives Identity (and convs then get a bias)."""
    if name == "batch":
        return nn.BatchNorm2d
    if name == "frozen_batch":
        from torchvision.ops import FrozenBatchNorm2d  # imported here: torchvision takes over a second to import

        return FrozenBatchNorm2d  # type: ignore[no-any-return]  # torchvision ships no type hints
    if name == "group":
        return partial(nn.GroupNorm, groups)
    if name == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown norm '{name}'")


def conv3x3(
    in_ch: int, out_ch: int, stride: int = 1, groups: int = 1, dilation: int = 1, bias: bool = False
) -> nn.Conv2d:
    """3x3 convolution whose padding keeps the size at stride 1."""
    return nn.Conv2d(in_ch, out_ch, 3, stride, padding=dilation, dilation=dilation, groups=groups, bias=bias)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, stride, bias=bias)


class ZeroPadShortcut(nn.Module):
    """Shortcut option A of He et al. 2015: subsample, then pad the new channels with zeros; no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        # Pad both ends, as the widely copied CIFAR implementations do (planes // 4 each side when doubling).
        self.pad_front = (out_channels - in_channels) // 2
        self.pad_back = out_channels - in_channels - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_front}, {self.pad_back})"


def shortcut(
    kind: str,
    in_ch: int,
    out_ch: int,
    stride: int,
    norm: NormLayer | None,
    bias: bool = False,
    act: ActLayer | None = None,
) -> nn.Module | None:
    """The shortcut of a block: None for identity. `norm` is None in pre-activation blocks; `act`, if given,
    ends a projection."""
    changes = stride != 1 or in_ch != out_ch
    if kind == "A":
        return ZeroPadShortcut(in_ch, out_ch, stride) if changes else None
    if kind in ("B", "C") and (changes or kind == "C"):
        layers: list[nn.Module] = [conv1x1(in_ch, out_ch, stride, bias)]
    elif kind == "D" and changes:
        # ResNet-D: average-pool first so that the projection sees every input position (Bag of Tricks, 2019).
        pool = nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride > 1 else nn.Identity()
        layers = [pool, conv1x1(in_ch, out_ch, 1, bias)]
    else:
        return None
    if norm is not None:
        layers.append(norm(out_ch))
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def make_divisible(value: float, divisor: int) -> int:
    """Round to the nearest multiple of `divisor`, at least `divisor` (timm's rule with round_limit 0)."""
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018) with timm's layer names: fc1, act, fc2, gate."""

    def __init__(self, channels: int, ratio: float = 1 / 16, divisor: int = 8) -> None:
        super().__init__()
        reduced = make_divisible(channels * ratio, divisor)
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.fc2(self.act(self.fc1(scale)))
        return x * self.gate(scale)  # type: ignore[no-any-return]


class EfficientChannelAttention(nn.Module):
    """ECA (Wang et al. 2020): a 1-D conv across pooled channels, its kernel size set by the channel count.

    Layer names are timm's (conv, gate), so that timm's ECA-ResNet weights load.
    """

    def __init__(self, channels: int, gamma: int = 2, beta: int = 1) -> None:
        super().__init__()
        t = int(abs(math.log2(channels) + beta) / gamma)
        kernel = max(t if t % 2 else t + 1, 3)
        self.conv = nn.Conv1d(1, 1, kernel, padding=(kernel - 1) // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.gate(self.conv(y)).view(x.shape[0], -1, 1, 1)
        return x * y.expand_as(x)  # type: ignore[no-any-return]


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch per sample while training (Huang et al. 2016)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"
