"""Pre-activation ResNets (He et al. 2016, "Identity Mappings in Deep Residual Networks") with basic blocks, for
any number of spatial axes, written from the paper: a test reference, independent of netspec.

The stem is a 7-wide conv of stride 2 and a 3-wide max pool of stride 2, with no norm of its own (each block
normalises its input, as timm's ResNetV2 does); each block is norm, ReLU, 3-wide conv, norm, ReLU, 3-wide conv, and
a strided 1x1 conv projects the pre-activated input where the shape changes; a final norm and ReLU, global average
pooling and a linear classifier. Module names follow netspec's (torchvision's) so that state_dicts line up; in 2-D
it is timm's resnetv2_18 / resnetv2_34, which tests/test_signals.py checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
GAP = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}


class PreActBlock(nn.Module):
    def __init__(self, dims: int, ins: int, out: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.act1 = NORM[dims](ins), nn.ReLU()
        self.conv1 = CONV[dims](ins, out, 3, stride, 1, bias=False)
        self.bn2, self.act2 = NORM[dims](out), nn.ReLU()
        self.conv2 = CONV[dims](out, out, 3, 1, 1, bias=False)
        self.downsample = None
        if stride != 1 or ins != out:
            self.downsample = nn.Sequential(CONV[dims](ins, out, 1, stride, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        out = self.act1(self.bn1(x))
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv2(self.act2(self.bn2(self.conv1(out))))
        return out + shortcut  # type: ignore[no-any-return]


class PreActResNet(nn.Module):
    def __init__(self, dims: int, depths: Sequence[int], channels: int, classes: int) -> None:
        super().__init__()
        self.conv1 = CONV[dims](channels, 64, 7, 2, 3, bias=False)
        self.maxpool = POOL[dims](3, 2, 1)
        ins, stages = 64, []
        for i, (depth, width) in enumerate(zip(depths, (64, 128, 256, 512), strict=True)):
            blocks = [PreActBlock(dims, ins if j == 0 else width, width, 2 if i and not j else 1) for j in range(depth)]
            stages.append(nn.Sequential(*blocks))
            ins = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.final_norm, self.final_act = NORM[dims](512), nn.ReLU()
        self.avgpool, self.fc = GAP[dims](1), nn.Linear(512, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(self.final_act(self.final_norm(x))).flatten(1))  # type: ignore[no-any-return]
