"""The block families beyond basic and bottleneck (one builtin of each) through what users do with a
network besides building it: a training step, ONNX export run in ONNX Runtime, diff and summary.
Exactness against each reference is in test_zoo.py; shapes and MACs in test_analysis.py; TorchScript and
torch.fx for every builtin in test_export.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import netspec

Cli = Callable[..., tuple[int, str, str]]
ONE_OF_EACH = [
    "cifar/wrn16_8",
    "timm/res2net50_26w_4s",
    "timm/resnest14d",
    "timm/skresnet18",
    "timm/skresnext50_32x4d",
    "timm/resnetv2_50x1_bit",
    "timm/resnetrs50",
    "timm/resnetblur50",
    "regnet_y_400mf",
]


def _input(name: str, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, 32 if name.startswith("cifar/") else 64, 32 if name.startswith("cifar/") else 64)


@pytest.mark.parametrize("name", ONE_OF_EACH)
def test_a_training_step_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = netspec.build(name).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = _input(name, 4)
    loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 10, (4,)))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []
    before = [p.detach().clone() for p in model.parameters()]
    optimizer.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("name", ONE_OF_EACH)
def test_onnx_export_runs_in_onnxruntime(name: str, tmp_path: Path, cli: Cli) -> None:
    model = netspec.build(name).eval()
    torch.save(model.state_dict(), tmp_path / "w.pt")
    onnx = tmp_path / "m.onnx"
    weights = str(tmp_path / "w.pt")
    size = str(_input(name).shape[-1])
    code, _, err = cli("export", name, "--format", "onnx", "-o", str(onnx), "--weights", weights, "--input-size", size)
    assert (code, err) == (0, "")
    session = onnxruntime.InferenceSession(str(onnx))
    x = _input(name, 3)  # a batch of 3: the batch axis is dynamic
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-4


def test_diff_and_summary_read_new_families(cli: Cli) -> None:
    code, out, _ = cli("diff", "resnet50", "timm/resnest50d")
    assert code == 0 and "block.type: bottleneck -> resnest" in out
    code, out, _ = cli("summary", "regnet_y_400mf", "--depth", "block")
    assert code == 0 and "layer4.5" in out  # the expanded design: 1, 3, 6, 6 blocks
