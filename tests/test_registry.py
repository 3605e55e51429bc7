"""The block-type registry: Python code adds types that specs can name; names are unique."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

import netspec
from netspec import registry
from netspec.blocks import BasicBlock


@pytest.fixture(autouse=True)
def restore_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    yield


class ScaledBasic(BasicBlock):
    """A user's block: a basic block whose residual branch is scaled by a learnable scalar."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.scale = nn.Parameter(torch.zeros(()))


def test_a_registered_block_type_validates_and_builds() -> None:
    netspec.register_block("scaled_basic", post=ScaledBasic)
    model = netspec.build("resnet18", block={"type": "scaled_basic"})
    assert all(isinstance(b, ScaledBasic) for b in model.get_submodule("layer1"))
    baseline = netspec.build("resnet18")
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in baseline.parameters())
    assert extra == 8  # one scalar per block


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^block type 'basic' is already registered$"):
        netspec.register_block("basic", post=BasicBlock)


def test_a_type_without_a_pre_activation_form_is_refused_in_pre_order() -> None:
    netspec.register_block("scaled_basic", post=ScaledBasic)
    with pytest.raises(netspec.SpecError) as info:
        netspec.load_spec("resnet18", overrides={"block": {"type": "scaled_basic", "order": "pre"}})
    assert str(info.value) == (
        "keyword overrides: block.order: scaled_basic blocks have no pre-activation form; use order: post"
    )
