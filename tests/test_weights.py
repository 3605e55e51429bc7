"""Loading checkpoints: strict, in torchvision or timm layout, never running pickled code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

import netspec

Cli = Callable[..., tuple[int, str, str]]


def test_build_loads_a_torchvision_checkpoint(tmp_path: Path, cli: Cli) -> None:
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    code, out, err = cli("build", "resnet18", "--weights", str(tmp_path / "r18.pt"), "-o", str(tmp_path / "out.pt"))
    assert (code, err) == (0, "")
    assert out.endswith(f"\nweights loaded from {tmp_path / 'r18.pt'}\nweights written to {tmp_path / 'out.pt'}\n")
    saved = torch.load(tmp_path / "out.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in reference.state_dict().items())


def test_wrapped_and_data_parallel_checkpoints_load(tmp_path: Path) -> None:
    reference = torchvision.models.resnet18().state_dict()
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in reference.items()}}
    torch.save(wrapped, tmp_path / "ddp.pt")
    model = netspec.build("resnet18")
    netspec.load_weights(model, tmp_path / "ddp.pt")
    assert torch.equal(model.state_dict()["fc.weight"], reference["fc.weight"])


def test_mismatch_lists_missing_unexpected_and_reshaped_keys(tmp_path: Path, cli: Cli) -> None:
    state = torchvision.models.resnet18().state_dict()
    del state["layer1.0.conv1.weight"]
    state["layer1.0.conv9.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "w.pt")
    code, out, err = cli("build", "resnet18", "--set", "head.classes=10", "--weights", str(tmp_path / "w.pt"))
    assert (code, out) == (1, "")
    assert err == (
        f"{tmp_path / 'w.pt'}: the checkpoint does not fit the model (loading is strict):\n"
        "  missing (in the model, not in the checkpoint): 1: layer1.0.conv1.weight\n"
        "  unexpected (in the checkpoint, not in the model): 1: layer1.0.conv9.weight\n"
        "  shape mismatch: 2: fc.weight: checkpoint (1000, 512), model (10, 512), "
        "fc.bias: checkpoint (1000,), model (10,)\n"
    )


class Payload:
    """Unpickling this calls a function (a harmless one here): what a malicious checkpoint would do."""

    def __reduce__(self) -> tuple[object, ...]:
        return (os.getcwd, ())


def test_a_checkpoint_with_pickled_objects_is_refused(tmp_path: Path, cli: Cli) -> None:
    torch.save({"conv1.weight": torch.zeros(1), "extra": Payload()}, tmp_path / "evil.pt")
    code, _, err = cli("build", "resnet18", "--weights", str(tmp_path / "evil.pt"))
    assert (code, err) == (
        1,
        f"{tmp_path / 'evil.pt'}: refusing a checkpoint that needs code to load (it refers to posix.getcwd)\n",
    )


def test_a_file_that_is_not_a_checkpoint(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "w.safetensors").write_bytes(b"not safetensors")
    code, _, err = cli("build", "resnet18", "--weights", str(tmp_path / "w.safetensors"))
    assert code == 1
    assert err.startswith(f"{tmp_path / 'w.safetensors'}: not a readable safetensors file (")
