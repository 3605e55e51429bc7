"""Model files: the .safetensors files netspec writes carry their resolved spec, netspec's version and the input
settings, so that the file alone rebuilds the model; an embedded spec is held to everything a spec file is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file, save

import netspec
from netspec.errors import NetspecError

Cli = Callable[..., tuple[int, str, str]]
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
CIFAR = {"mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616]}


def _metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), "pt") as handle:
        return dict(handle.metadata() or {})


@pytest.mark.slow
def test_a_model_file_alone_gives_the_built_models_outputs(tmp_path: Path, cli: Cli) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    assert cli("build", "resnet18", "-o", str(alone / "m.safetensors"))[0] == 0
    script = (
        "import torch, netspec\n"
        "torch.manual_seed(0)\n"
        "model = netspec.load('m.safetensors').eval()\n"
        "x = torch.randn(2, 3, 96, 96)\n"
        "with torch.no_grad():\n"
        "    torch.save({'x': x, 'y': model(x)}, 'out.pt')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(netspec.__file__).parents[1])}
    subprocess.run([sys.executable, "-c", script], cwd=alone, env=env, check=True)  # no spec file in reach
    assert sorted(p.name for p in alone.iterdir()) == ["m.safetensors", "out.pt"]
    out = torch.load(alone / "out.pt", weights_only=True)
    reference = torchvision.models.resnet18()  # the network resnet18 reproduces, with the file's weights
    reference.load_state_dict(load_file(alone / "m.safetensors"))
    with torch.no_grad():
        assert torch.equal(reference.eval()(out["x"]), out["y"])


def test_the_metadata_holds_the_resolved_spec_version_and_input_settings(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "m.safetensors"
    assert cli("build", "cifar/resnet56", "--set", "head.classes=100", "-o", str(path))[0] == 0
    meta = _metadata(path)
    assert sorted(meta) == ["netspec.input", "netspec.spec", "netspec.version"]
    assert meta["netspec.version"] == netspec.__version__
    assert json.loads(meta["netspec.input"]) == {"size": 32, "channels": 3, **CIFAR}
    assert "extends" not in meta["netspec.spec"]  # the chain cifar/resnet56 -> resnet20.yaml is merged
    spec = netspec.load_spec(path)
    assert (spec.name, spec.head.classes, [s.depth for s in spec.stages]) == ("resnet56", 100, [9, 9, 9])
    model, saved = netspec.load(path), load_file(path)
    assert model.fc.out_features == 100
    assert model.state_dict().keys() == saved.keys()
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_export_and_training_checkpoints_are_model_files(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "e.safetensors"
    assert cli("export", "resnet50", "--format", "safetensors", "-o", str(path))[0] == 0
    assert json.loads(_metadata(path)["netspec.input"]) == {"size": 224, "channels": 3, **IMAGENET}
    assert netspec.load_spec(path).name == "resnet50"
    run = tmp_path / "run"
    argv = ["train", "cifar/resnet20", "--data", "fake", "--fake-images", "32", "--epochs", "1"]
    assert cli(*argv, "--batch-size", "16", "--workers", "0", "--out", str(run))[0] == 0
    for name in ("last", "best"):
        model = netspec.load(run / f"{name}.safetensors")
        state = load_file(run / f"{name}.safetensors")
        assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_commands_read_a_model_file_as_a_spec_and_use_its_weights(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "m.safetensors"
    torch.manual_seed(0)
    model = netspec.build("cifar/resnet20")
    path.write_bytes(save(model.state_dict(), {"netspec.spec": "netspec: 1\nextends: cifar/resnet20\n"}))
    code, _, err = cli("summary", str(path))
    assert (code, err) == (1, f"{path} (spec):2:1: extends: a model file's spec is whole: it cannot extend\n")
    assert cli("build", "cifar/resnet20", "-o", str(path))[0] == 0
    code, out, err = cli("summary", str(path))
    assert (code, err) == (0, "") and out.startswith("resnet20 - ")
    assert cli("validate", str(path))[1] == f"{path}: ok (resnet20: 3 stages, 9 basic blocks, output 10)\n"
    assert cli("render", str(path), "-o", str(tmp_path / "m.svg"))[0] == 0
    code, out, err = cli("export", str(path), "--format", "safetensors", "-o", str(tmp_path / "copy.safetensors"))
    assert (code, err) == (0, "")
    count = len(load_file(path))
    assert out.startswith(f"loaded {count} of the model's {count} tensors from {path}\n")  # its own weights
    assert load_file(tmp_path / "copy.safetensors").keys() == load_file(path).keys()
    assert all(torch.equal(v, load_file(path)[k]) for k, v in load_file(tmp_path / "copy.safetensors").items())
    code, _, err = cli("export", str(path), "--format", "safetensors", "-o", str(path))
    assert (code, err) == (1, f"{path}: refusing to replace a file this command reads\n")


def _embedded(tmp_path: Path, text: str | None) -> Path:
    path = tmp_path / "m.safetensors"
    path.write_bytes(save({"fc.weight": torch.zeros(1)}, {"netspec.spec": text} if text is not None else None))
    return path


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "netspec: 1\nstages:\n  - {depth: 0, width: 64, stride: 1}\n",
            "3:13",
            "stages.0.depth: must be at least 1, got the integer 0",
        ),
        (
            "netspec: 1\nstages:\n  - {depth: 2, width: 100000, stride: 1}\n",
            "3:23",
            "stages.0.width: 100,000 channels exceeds the limit of 65,536; raise it with --limit channels=100000",
        ),
        (
            "netspec: 1\ninput: {mean: [0.5, 0.5]}\nstages:\n  - {depth: 2, width: 64, stride: 1}\n",
            "2:15",
            "input.mean: give one value per input channel: 3, not 2 (input.channels changed?)",
        ),
        ("netspec: 1\nstages: [\n", "3:1", "invalid YAML: expected the node content, but found '<stream end>'"),
    ],
)
def test_an_invalid_embedded_spec_is_refused_at_its_place(
    tmp_path: Path, cli: Cli, text: str, where: str, message: str
) -> None:
    path = _embedded(tmp_path, text)
    code, out, err = cli("summary", str(path))
    assert (code, out, err) == (1, "", f"{path} (spec):{where}: {message}\n")
    with pytest.raises(NetspecError) as raised:
        netspec.load(path)
    assert str(raised.value) == f"{path} (spec):{where}: {message}"


def test_damaged_and_foreign_files_are_one_line(tmp_path: Path, cli: Cli) -> None:
    path = _embedded(tmp_path, None)
    hint = "give the spec it was built from, and this file as --weights"
    assert cli("summary", str(path))[2] == f"{path}: holds weights but no spec; {hint}\n"
    path.write_bytes((1 << 60).to_bytes(8, "little") + b"{}")  # a header length that would exhaust memory
    error = f"{path}: not a safetensors file netspec reads (a header of 1,152,921,504,606,846,976 bytes)\n"
    assert cli("summary", str(path))[2] == error
    whole = tmp_path / "whole.safetensors"
    assert cli("build", "cifar/resnet20", "-o", str(whole))[0] == 0
    path.write_bytes(whole.read_bytes()[:200])  # torn inside the header
    assert cli("summary", str(path))[2] == f"{path}: not a safetensors file (its header is not a JSON object)\n"
    path.write_bytes(whole.read_bytes()[:-100])  # torn inside the tensors: the spec reads, the weights do not
    code, _, err = cli("build", str(path))
    assert code == 1 and err.startswith(f"{path}: not a readable safetensors file (") and err.count("\n") == 1
    path.write_bytes(b"abc")
    assert cli("summary", str(path))[2] == f"{path}: not a safetensors file (shorter than its 8-byte header length)\n"
    with pytest.raises(NetspecError, match=r"^spec.yaml: netspec.load reads a model file \(.safetensors\)"):
        netspec.load("spec.yaml")


def test_a_model_with_folded_norms_is_not_described_by_its_spec(tmp_path: Path, cli: Cli) -> None:
    path = tmp_path / "folded.safetensors"
    assert cli("build", "cifar/resnet20", "--optimize", "inference", "-o", str(path))[0] == 0
    assert _metadata(path) == {}  # weights only: the spec's network has norms this one folded away
