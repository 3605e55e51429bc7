"""Res2Net's bottleneck (Gao et al. 2019): forward only; its layers come from netspec.families.res2net."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from netspec.blocks import Block


class Res2NetBlock(Block):
    """Split the 1x1's output into `scale` parts of `width` channels; a 3x3 branch for each but the last,
    each adding the previous branch's output (except in a stage's first block); concatenate; expand."""

    optional: ClassVar[tuple[str, ...]] = (*Block.optional, "pool")

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act1(out)
        splits = torch.split(out, self.width, 1)
        outs = []
        branch = splits[0]
        for i, (conv, bn, act) in enumerate(zip(self.convs, self.bns, self.acts)):  # noqa: B905 (TorchScript)
            branch = splits[i] if i == 0 or self.pool is not None else branch + splits[i]
            branch = act(bn(conv(branch)))
            outs.append(branch)
        if self.scale > 1:
            if self.pool is not None:
                outs.append(self.pool(splits[-1]))
            else:
                outs.append(splits[-1])
        out = torch.cat(outs, 1)
        out = self.conv3(out)
        out = self.bn3(out)
        return self.act3(self.add_residual(out, x))  # type: ignore[no-any-return]
