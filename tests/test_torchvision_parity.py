"""Builtin specs reproduce torchvision's ResNets: state_dict keys in torchvision's order, parameter counts."""

from __future__ import annotations

import pytest
import torch
import torchvision

import netspec

NAMES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@pytest.mark.parametrize("name", NAMES)
def test_builtin_has_torchvisions_state_dict_in_its_order(name: str) -> None:
    # The same keys in the same order, shapes included (tests/test_zoo.py loads the weights and compares outputs).
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)()
        model = netspec.build(f"specs/{name}.yaml")
    ours = [(key, tuple(t.shape)) for key, t in model.state_dict().items()]
    assert ours == [(key, tuple(t.shape)) for key, t in reference.state_dict().items()]


def test_resnet101_parameter_count_is_torchvisions_published_figure() -> None:
    # torchvision's model card for ResNet101_Weights.IMAGENET1K_V1 lists num_params 44,549,160.
    meta = torchvision.models.ResNet101_Weights.IMAGENET1K_V1.meta["num_params"]
    assert meta == 44_549_160
    assert sum(p.numel() for p in netspec.build("resnet101").parameters()) == meta


def test_builtin_name_and_path_build_the_same_network() -> None:
    by_name, by_path = netspec.build("resnet18"), netspec.build("specs/resnet18.yaml")
    assert list(by_name.state_dict()) == list(by_path.state_dict())
