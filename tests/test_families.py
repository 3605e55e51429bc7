"""The families beyond basic and bottleneck through what users do with a network besides building it: a training
step, inference-optimised outputs, ONNX export run in ONNX Runtime (on the smallest builtin of each block type
and layout), diff and summary.
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

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

Cli = Callable[..., tuple[int, str, str]]
NEW_BUILTINS = [  # every builtin that issue 13 added
    *("cifar/wrn28_10", "cifar/wrn40_4", "cifar/wrn16_8"),
    *("timm/res2net50_26w_4s", "timm/res2net50_48w_2s", "timm/res2next50", "timm/resnest14d", "timm/resnest50d"),
    *("timm/skresnet18", "timm/skresnet34", "timm/skresnext50_32x4d", "timm/resnetv2_50x1_bit", "timm/resnetrs50"),
    *("timm/resnetblur50", "timm/resnet50_gn"),
    *("regnet_x_400mf", "regnet_y_400mf", "regnet_y_1_6gf", "regnet_x_3_2gf", "regnet_y_8gf"),
    *("timm/regnetx_002", "timm/regnety_002", "timm/regnety_016", "timm/regnety_040"),
]

# The smallest builtin of each block type and of each kind of layer they add (dropout, weight standardisation
# with group norm, the ResNet-RS stem and SE, blur pools, RegNet's SE): the others of a family run the same
# layers, more of them, so a training step and an ONNX export of these cover every kind of layer above.
SMALLEST = [
    *("cifar/wrn16_8", "timm/res2net50_48w_2s", "timm/resnest14d", "timm/skresnet18", "timm/skresnext50_32x4d"),
    *("timm/resnetv2_50x1_bit", "timm/resnetrs50", "timm/resnetblur50", "regnet_x_400mf", "regnet_y_400mf"),
]


def _input(name: str, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, 32 if name.startswith("cifar/") else 64, 32 if name.startswith("cifar/") else 64)


@pytest.mark.parametrize("name", SMALLEST)
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


@pytest.mark.parametrize("name", SMALLEST)
def test_optimized_for_inference_keeps_the_outputs(name: str) -> None:
    # In float64, so that the channels_last kernels' float32 rounding (2e-5 relative through BiT's 50 layers
    # of weight standardisation and group norm) cannot hide a wrong fold, nor fail a right one.
    model = netspec.build(name).eval().double()
    for module in model.modules():  # statistics other than 0 and 1, so that folding them is tested
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5), module.running_var.uniform_(0.5, 2.0)
    optimized = netspec.optimize_for_inference(model)
    x = _input(name).double()
    with torch.no_grad():
        expected, got = model(x), optimized(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-9


@pytest.mark.parametrize("name", SMALLEST)
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


def test_the_smallest_cover_every_block_type_of_the_new_families() -> None:
    types = {b.type for name in NEW_BUILTINS for b in netspec.load_spec(name).stage_blocks()}
    assert {b.type for name in SMALLEST for b in netspec.load_spec(name).stage_blocks()} == types
    assert set(SMALLEST) <= set(NEW_BUILTINS)


def test_diff_and_summary_read_new_families(cli: Cli) -> None:
    code, out, _ = cli("diff", "resnet50", "timm/resnest50d")
    assert code == 0 and "block.type: bottleneck -> resnest" in out
    code, out, _ = cli("summary", "regnet_y_400mf", "--depth", "block")
    assert code == 0 and "layer4.5" in out  # the expanded design: 1, 3, 6, 6 blocks
