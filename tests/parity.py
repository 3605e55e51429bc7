"""Checks that a netspec network is its reference: shared by the tests of MONAI's, tsai's and the papers' networks."""

from __future__ import annotations

import torch
from torch import nn

import netspec


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_same(model: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
    """Equal parameters; the reference's own weights load strictly through load_weights; equal float64 outputs on
    `x` (to 1e-9). Both are left in float64 and eval mode."""
    n = len(reference.state_dict())
    assert count(model) == count(reference)
    report = netspec.load_weights(model, reference.state_dict())
    assert str(report) == f"loaded {n} of the model's {n} tensors from state_dict"
    model.double().eval(), reference.double().eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x.double()), reference(x.double()), rtol=1e-9, atol=1e-9)
