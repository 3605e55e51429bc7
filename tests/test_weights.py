"""Loading checkpoints: strict, in torchvision or timm layout, never running pickled code."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision

import netspec
from tests.references import cifar_he2015

Cli = Callable[..., tuple[int, str, str]]


def test_build_loads_a_torchvision_checkpoint(tmp_path: Path, cli: Cli) -> None:
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    code, out, err = cli("build", "resnet18", "--weights", str(tmp_path / "r18.pt"), "-o", str(tmp_path / "out.pt"))
    assert (code, err) == (0, "")
    loaded = f"loaded {len(reference.state_dict())} of the model's {len(reference.state_dict())} tensors"
    assert out.endswith(f"\n{loaded} from {tmp_path / 'r18.pt'}\nweights written to {tmp_path / 'out.pt'}\n")
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
    path = tmp_path / "w.pt"
    assert err == (
        f"{path}: missing (in the model, not in the checkpoint) (loading is strict): 1: layer1.0.conv1.weight\n"
        f"{path}: unexpected (in the checkpoint, not in the model) (loading is strict): 1: layer1.0.conv9.weight\n"
        f"{path}: shape mismatch (loading is strict): 2: fc.weight: checkpoint (1000, 512), model (10, 512), "
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


def _resnet18_state() -> dict[str, torch.Tensor]:
    return torchvision.models.resnet18().state_dict()


def _retyped(dtype: torch.dtype) -> Callable[[dict[str, torch.Tensor]], object]:
    def change(state: dict[str, torch.Tensor]) -> object:
        state["conv1.weight"] = torch.ones_like(state["conv1.weight"], dtype=dtype)
        return state

    return change


def _sparse(state: dict[str, torch.Tensor]) -> object:
    state["fc.bias"] = state["fc.bias"].to_sparse()
    return state


def _nan(state: dict[str, torch.Tensor]) -> object:
    state["layer1.0.bn1.running_var"][3] = float("nan")
    state["fc.weight"][0, 0] = float("inf")
    return state


def _both_prefixes(state: dict[str, torch.Tensor]) -> object:
    return state | {"module.fc.bias": torch.zeros(1000)}


def _integer_keys(state: dict[str, torch.Tensor]) -> object:
    return {i: value for i, value in enumerate(state.values())}


CHECKPOINTS = {
    "int8": (
        _retyped(torch.int8),
        "type mismatch (loading is strict): 1: conv1.weight: checkpoint int8, model float32",
    ),
    "bool": (
        _retyped(torch.bool),
        "type mismatch (loading is strict): 1: conv1.weight: checkpoint bool, model float32",
    ),
    "complex": (_retyped(torch.complex64), "type mismatch (loading is strict): 1: conv1.weight: checkpoint complex64"),
    "sparse": (_sparse, "type mismatch (loading is strict): 1: fc.bias: checkpoint float32 sparse_coo, model float32"),
    "nan": (_nan, "NaN or infinite values: 2: layer1.0.bn1.running_var, fc.weight"),
    "both-prefixes": (_both_prefixes, "the checkpoint holds both 'module.fc.bias' and 'fc.bias'; which to load?"),
    "integer-keys": (_integer_keys, "expected a state_dict (a mapping of names to tensors)"),
}


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_a_checkpoint_that_would_load_wrongly_is_refused(tmp_path: Path, cli: Cli, name: str) -> None:
    change, message = CHECKPOINTS[name]
    torch.save(change(_resnet18_state()), tmp_path / "w.pt")
    code, out, err = cli("build", "resnet18", "--weights", str(tmp_path / "w.pt"))
    assert (code, out, err.count("\n")) == (1, "", 1), err
    assert err.startswith(f"{tmp_path / 'w.pt'}: ") and message in err, err


def test_half_precision_checkpoints_still_load(tmp_path: Path) -> None:
    state = {k: v.half() if v.is_floating_point() else v for k, v in _resnet18_state().items()}
    torch.save(state, tmp_path / "half.pt")
    model = netspec.build("resnet18")
    netspec.load_weights(model, tmp_path / "half.pt")
    assert torch.equal(model.state_dict()["fc.weight"], state["fc.weight"].float())


def test_a_checkpoint_larger_than_the_model_could_need_is_not_read(tmp_path: Path, cli: Cli) -> None:
    with (tmp_path / "big.pt").open("wb") as handle:
        handle.truncate(200 << 20)  # sparse: 200 MiB of zeros that take no disk
    code, _, err = cli("build", "cifar/resnet20", "--weights", str(tmp_path / "big.pt"))
    values = sum(t.numel() for t in cifar_he2015.CifarResNet(3).state_dict().values())  # the reference ResNet-20
    cap = 32 * values + (64 << 20)  # 32 bytes per value of the state (parameters and buffers), plus 64 MiB
    assert (code, err) == (
        1,
        f"{tmp_path / 'big.pt'}: larger than any checkpoint of this model ({cap:,} bytes at most)\n",
    )


def test_a_damaged_zip_is_one_line(tmp_path: Path, cli: Cli) -> None:
    torch.save(_resnet18_state(), tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "w.pt").write_bytes(data[: len(data) // 2])
    code, _, err = cli("build", "resnet18", "--weights", str(tmp_path / "w.pt"))
    assert (
        code == 1 and err.count("\n") == 1 and err.startswith(f"{tmp_path / 'w.pt'}: not a readable torch checkpoint ")
    )


def test_build_loads_weights_before_folding_norms(tmp_path: Path, cli: Cli) -> None:
    reference = torchvision.models.resnet18().eval()
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    out = tmp_path / "folded.pt"
    argv = ("build", "resnet18", "--weights", str(tmp_path / "r18.pt"), "--optimize", "inference", "-o", str(out))
    assert cli(*argv)[0] == 0
    folded = torch.load(out, weights_only=True)
    assert "bn1.weight" not in folded and "conv1.bias" in folded  # the norms were folded, after loading
    model = netspec.optimize_for_inference(netspec.build("resnet18"), channels_last=False)
    model.load_state_dict(folded)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images), rtol=1e-4, atol=1e-4)
