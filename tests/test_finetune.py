"""Fine-tuning: a 1000-class checkpoint into a 10-class model with the head skipped (Python and CLI), non-strict
loading with a report, and training from weights with frozen parts that do not change."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import load_file

import netspec
from netspec.errors import NetspecError

Cli = Callable[..., tuple[int, str, str]]


def test_a_10_class_model_loads_an_imagenet_checkpoint_but_its_head() -> None:
    reference = torchvision.models.resnet18().state_dict()  # 1000 classes
    model = netspec.build("resnet18", head={"classes": 10})
    head = model.fc.weight.detach().clone()
    report = netspec.load_weights(model, reference, skip=("fc",))
    assert report.skipped == ("fc.weight", "fc.bias")
    assert len(report.loaded) == len(reference) - 2  # every tensor but torchvision's fc.weight and fc.bias
    assert (report.missing, report.unexpected, report.mismatched) == ((), (), ())
    assert str(report) == "loaded 120 of the model's 122 tensors from state_dict; skipped 2: fc.weight, fc.bias"
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in reference.items() if not k.startswith("fc."))
    assert torch.equal(model.fc.weight, head)  # the new head keeps its initialisation


def test_without_skip_the_head_is_refused_and_non_strict_loading_reports_it() -> None:
    reference = torchvision.models.resnet18().state_dict()
    model = netspec.build("resnet18", head={"classes": 10})
    with pytest.raises(NetspecError) as raised:
        netspec.load_weights(model, reference)
    assert str(raised.value) == (
        "state_dict: shape mismatch (loading is strict): 2: fc.weight: checkpoint (1000, 512), model (10, 512), "
        "fc.bias: checkpoint (1000,), model (10,)"
    )
    del reference["layer4.1.bn2.running_var"]
    report = netspec.load_weights(model, reference, strict=False)
    assert report.missing == ("layer4.1.bn2.running_var",)
    assert report.mismatched == (
        "fc.weight: checkpoint (1000, 512), model (10, 512)",
        "fc.bias: checkpoint (1000,), model (10,)",
    )
    assert len(report.loaded) == 122 - 3
    assert torch.equal(model.state_dict()["layer4.1.bn2.weight"], reference["layer4.1.bn2.weight"])


def test_a_skip_prefix_that_names_nothing_is_a_mistake() -> None:
    model = netspec.build("cifar/resnet20")
    with pytest.raises(
        NetspecError,
        match=r"^state_dict: --skip fcc: neither the model nor the checkpoint has it; "
        r"did you mean 'fc'\?$",
    ):
        netspec.load_weights(model, model.state_dict(), skip=("fcc",))
    with pytest.raises(NetspecError, match=r"^state_dict: --skip layer: neither"):
        netspec.load_weights(model, model.state_dict(), skip=("layer",))  # a prefix is a module, not text


@pytest.mark.slow
def test_build_and_export_skip_the_head_from_the_command_line(tmp_path: Path, cli: Cli) -> None:
    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "r18.pt")
    weights = str(tmp_path / "r18.pt")
    code, out, err = cli("build", "resnet18", "--set", "head.classes=10", "--weights", weights, "--skip", "fc")
    assert (code, err) == (0, "")
    assert out.endswith(f"\nloaded 120 of the model's 122 tensors from {weights}; skipped 2: fc.weight, fc.bias\n")
    onnx = tmp_path / "m.safetensors"
    argv = ("export", "resnet18", "--set", "head.classes=10", "--format", "safetensors", "-o", str(onnx))
    code, out, err = cli(*argv, "--weights", weights, "--skip", "fc")
    assert (code, err) == (0, "")
    assert load_file(onnx)["fc.weight"].shape == (10, 512)
    code, _, err = cli("build", "resnet18", "--skip", "fc")
    assert (code, err) == (1, "--skip leaves out part of the weights; give --weights FILE or --pretrained too\n")


def _checkpoint(tmp_path: Path) -> Path:
    """A 100-class cifar/resnet20 with non-trivial norm statistics: what a user fine-tunes from."""
    torch.manual_seed(1)
    source = netspec.build("cifar/resnet20", head={"classes": 100})
    for name, value in source.state_dict().items():
        if value.is_floating_point():
            value.copy_(torch.randn_like(value) * 0.1 + (1.0 if "running_var" in name else 0.0))
    torch.save(source.state_dict(), tmp_path / "c100.pt")
    return tmp_path / "c100.pt"


@pytest.mark.slow
def test_training_from_weights_with_frozen_stages_changes_only_the_rest(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path)
    loaded = torch.load(path, weights_only=True)
    result = netspec.train(
        netspec.load_spec("cifar/resnet20", overrides={"head": {"classes": 10}}),
        data="fake",
        fake_images=64,
        epochs=1,
        batch_size=32,
        workers=0,
        out=str(tmp_path / "run"),
        weights=str(path),
        skip=("fc",),
        freeze=("stem", "layer1", "layer2"),
    )
    state = result.model.state_dict()
    frozen = [k for k in loaded if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2")]
    assert frozen and all(torch.equal(state[k], loaded[k]) for k in frozen)  # running statistics included
    trained = [k for k in loaded if k.startswith("layer3.") and k.endswith(("weight", "running_mean"))]
    assert all(not torch.equal(state[k], loaded[k]) for k in trained)


def test_freeze_norms_holds_every_norm_as_loaded(tmp_path: Path, cli: Cli) -> None:
    path = _checkpoint(tmp_path)
    loaded = torch.load(path, weights_only=True)
    argv = ["train", "cifar/resnet20", "--set", "head.classes=10", "--data", "fake", "--fake-images", "64"]
    argv += ["--epochs", "1", "--batch-size", "32", "--workers", "0", "--out", str(tmp_path / "run")]
    code, out, err = cli(*argv, "--weights", str(path), "--skip", "fc", "--freeze-norms")
    assert (code, err) == (0, "")
    expected = (
        f"loaded {len(loaded) - 2} of the model's {len(loaded)} tensors from {path}; skipped 2: fc.weight, fc.bias"
    )
    assert out.startswith(expected + "\n")
    state = load_file(tmp_path / "run" / "last.safetensors")
    norms = [k for k in loaded if ".bn" in k or k.startswith("bn1.")]
    assert norms and all(torch.equal(state[k], loaded[k]) for k in norms)
    assert not torch.equal(state["layer1.0.conv1.weight"], loaded["layer1.0.conv1.weight"])


def test_freeze_errors_name_the_part(tmp_path: Path, cli: Cli) -> None:
    argv = ["train", "cifar/resnet20", "--data", "fake", "--out", str(tmp_path / "run")]
    code, _, err = cli(*argv, "--freeze", "stem,layer5")
    assert (code, err) == (
        1,
        "--freeze layer5: the network has no such part (stem, layerN, head or a module); did you mean 'layer3'?\n",
    )
    code, _, err = cli(*argv, "--freeze", "stem,layer1,layer2,layer3,head", "--workers", "0", "--fake-images", "8")
    assert (code, err) == (1, "--freeze and --freeze-norms leave nothing to train\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_the_walkthroughs_image_folder_trains(tmp_path: Path, cli: Cli) -> None:
    """docs/finetuning.md's data script makes an ImageFolder that netspec train reads (a small net, one epoch)."""
    path = Path(__file__).resolve().parents[1] / "docs" / "examples" / "make_images.py"
    module_spec = importlib.util.spec_from_file_location("make_images", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.main(tmp_path / "stripes")
    classes = sorted(p.name for p in (tmp_path / "stripes" / "train").iterdir())
    assert classes == ["blue_columns", "blue_rows", "red_columns", "red_rows"]
    assert len(list((tmp_path / "stripes" / "val" / "red_rows").glob("*.png"))) == 20
    argv = ["train", "cifar/resnet20", "--data", f"imagefolder:{tmp_path / 'stripes'}", "--set", "head.classes=4"]
    code, out, err = cli(*argv, "--epochs", "1", "--workers", "0", "--out", str(tmp_path / "run"), "--freeze", "stem")
    assert (code, err) == (0, "") and "epoch   1" in out
