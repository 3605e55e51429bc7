"""Builtin specs reproduce torchvision's ResNets: parameters, state_dict keys, and outputs."""

from __future__ import annotations

import pytest
import torch
import torchvision

import netspec

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@pytest.mark.parametrize("name", NAMES)
def test_builtin_matches_torchvision(name: str) -> None:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)().eval()
    model = netspec.build(f"specs/{name}.yaml").eval()

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert count(model) == count(reference)
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-6)


def test_resnet101_parameter_count_is_torchvisions_published_figure() -> None:
    # torchvision's model card for ResNet101_Weights.IMAGENET1K_V1 lists num_params 44,549,160.
    meta = torchvision.models.ResNet101_Weights.IMAGENET1K_V1.meta["num_params"]
    assert meta == 44_549_160
    assert sum(p.numel() for p in netspec.build("resnet101").parameters()) == meta


def test_builtin_name_and_path_build_the_same_network() -> None:
    by_name, by_path = netspec.build("resnet18"), netspec.build("specs/resnet18.yaml")
    assert list(by_name.state_dict()) == list(by_path.state_dict())
