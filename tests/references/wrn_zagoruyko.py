"""Wide ResNets for CIFAR (Zagoruyko & Komodakis 2016), as a test reference.

Written from the paper (section 2, Figure 1(d), Table 1: a pre-activation basic block "B(3,3)", widths
16k, 32k, 64k after a 16-channel 3x3 conv, (depth - 4) / 6 blocks per stage, dropout between the two convs)
in the shape of its widely used PyTorch port (xternalz/WideResNet-pytorch), with that port's module names
(`block1.layer.0`, `convShortcut`); `to_netspec_names` renames its weights for netspec.
"""

from __future__ import annotations

import re

import torch.nn.functional as F
from torch import Tensor, nn


class WideBasic(nn.Module):
    def __init__(self, in_planes: int, out_planes: int, stride: int, drop_rate: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = drop_rate
        self.equal_in_out = in_planes == out_planes and stride == 1
        self.convShortcut = None if self.equal_in_out else nn.Conv2d(in_planes, out_planes, 1, stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        o1 = self.relu1(self.bn1(x))
        y = self.relu2(self.bn2(self.conv1(o1)))
        if self.drop_rate > 0:
            y = F.dropout(y, p=self.drop_rate, training=self.training)
        z = self.conv2(y)
        # The projection sees the pre-activated input; the identity shortcut the block's input.
        return z + (x if self.convShortcut is None else self.convShortcut(o1))


class NetworkBlock(nn.Module):
    def __init__(self, n: int, in_planes: int, out_planes: int, stride: int, drop_rate: float) -> None:
        super().__init__()
        self.layer = nn.Sequential(
            *[
                WideBasic(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1, drop_rate)
                for i in range(n)
            ]
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)  # type: ignore[no-any-return]


class WideResNet(nn.Module):
    """WRN-depth-k: (depth - 4) / 6 blocks in each of three stages."""

    def __init__(self, depth: int, k: int, drop_rate: float = 0.3, classes: int = 10) -> None:
        super().__init__()
        n, widths = (depth - 4) // 6, [16, 16 * k, 32 * k, 64 * k]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, widths[0], widths[1], 1, drop_rate)
        self.block2 = NetworkBlock(n, widths[1], widths[2], 2, drop_rate)
        self.block3 = NetworkBlock(n, widths[2], widths[3], 2, drop_rate)
        self.bn1 = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(widths[3], classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = self.relu(self.bn1(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)  # the port's avg_pool2d(out, 8) on 32 x 32 inputs
        return self.fc(out)  # type: ignore[no-any-return]


def to_netspec_names(state: dict[str, Tensor]) -> dict[str, Tensor]:
    def rename(key: str) -> str:
        key = re.sub(r"^block(\d)\.layer\.", lambda m: f"layer{m[1]}.", key)
        key = key.replace("convShortcut.", "downsample.0.")
        return re.sub(r"^bn1\.", "final_norm.", key)

    return {rename(key): value for key, value in state.items()}
