"""The time-series ResNet of Wang, Yan & Oates 2017 (section 2, figure 1), written from the paper.

Independent of netspec: a test reference. Three residual blocks of 64, 128 and 128 filters; in each, three
convolutions (kernels 8, 5 and 3, 'same' padding, as the paper's Keras code pads), each followed by batch norm and,
but for the last, a ReLU; the shortcut is a 1x1 convolution and batch norm where the channels change and a batch
norm alone where they do not; a ReLU after the sum; global average pooling and a softmax classifier (the softmax is
the loss's). Module names follow tsai's ResNet (resblock1.convblock1.0, ..., gap, fc), the PyTorch code most people
train this network with; its kernels are 7, 5 and 3.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


def conv_block(ins: int, out: int, kernel: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv1d(ins, out, kernel, padding="same", bias=False), nn.BatchNorm1d(out)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class ResBlock(nn.Module):
    def __init__(self, ins: int, out: int, kernels: Sequence[int]) -> None:
        super().__init__()
        self.convblock1 = conv_block(ins, out, kernels[0], relu=True)
        self.convblock2 = conv_block(out, out, kernels[1], relu=True)
        self.convblock3 = conv_block(out, out, kernels[2], relu=False)
        self.shortcut = nn.BatchNorm1d(ins) if ins == out else conv_block(ins, out, 1, relu=False)
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.convblock3(self.convblock2(self.convblock1(x)))
        return self.act(out + self.shortcut(x))  # type: ignore[no-any-return]


class WangResNet(nn.Module):
    def __init__(self, channels: int, classes: int, kernels: Sequence[int] = (8, 5, 3)) -> None:
        super().__init__()
        self.resblock1 = ResBlock(channels, 64, kernels)
        self.resblock2 = ResBlock(64, 128, kernels)
        self.resblock3 = ResBlock(128, 128, kernels)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(128, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.resblock3(self.resblock2(self.resblock1(x)))
        return self.fc(self.gap(x).squeeze(-1))  # type: ignore[no-any-return]
