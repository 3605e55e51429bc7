"""He et al. 2015's CIFAR-10 ResNets (section 4.2), written from the paper: a test reference, not netspec.

3x3 conv to 16 channels, then three stages of n basic blocks with 16, 32 and 64 filters on 32x32, 16x16 and
8x8 maps, global average pooling and a 10-way fc: 6n+2 layers. Shortcuts are identities; where the width
doubles they subsample and pad the new channels with zeros (option A), as in the widely used
implementation by Yerlan Idelbayev, which pads both ends with planes // 4 channels.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class OptionABlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if (stride != 1 or in_planes != planes) else 0

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad)) if self.pad else x
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    def __init__(self, n: int, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                blocks.append(OptionABlock(in_planes, planes, 2 if j == 0 and i > 0 else 1))
                in_planes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.fc(F.avg_pool2d(out, out.shape[3]).flatten(1))
