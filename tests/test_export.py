"""Inference optimisation, building on the meta device, and export: correctness, not speed (see bench/)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
import torch
import torchvision
from torch import nn

import netspec
from netspec.sources import builtin_names

Cli = Callable[..., tuple[int, str, str]]


def with_random_statistics(model: nn.Module) -> nn.Module:
    """Give every BatchNorm non-trivial running statistics and affine parameters, as a trained net has."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)):
            bn.running_mean.uniform_(-0.5, 0.5, generator=gen)
            bn.running_var.uniform_(0.5, 2.0, generator=gen)
            bn.weight.uniform_(0.5, 1.5, generator=gen)
            bn.bias.uniform_(-0.2, 0.2, generator=gen)
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "timm/resnetv2_50d", "timm/seresnext50_32x4d", "cifar/resnet20"])
def test_optimized_model_matches_to_1e_5(name: str) -> None:
    model = with_random_statistics(netspec.build(name))
    size = netspec.load_spec(name).input.size
    optimized = netspec.optimize_for_inference(model)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected, got = model(x), optimized(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-5


@pytest.mark.slow
def test_optimizing_folds_every_norm_that_follows_a_conv() -> None:
    optimized = netspec.optimize_for_inference(netspec.build("resnet50"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in optimized.modules())
    assert optimized.get_submodule("layer1.0.conv1").bias is not None
    # In pre-activation blocks the first norm comes before a conv's input activation: it stays.
    preact = netspec.optimize_for_inference(netspec.build("timm/resnetv2_50"))
    kept = {n for n, m in preact.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert kept == {f"layer{s}.{b}.bn1" for s, d in zip((1, 2, 3, 4), (3, 4, 6, 3), strict=True) for b in range(d)} | {
        "final_norm"
    }


def test_optimizing_leaves_a_norm_after_a_weight_standardised_conv() -> None:
    # A norm folded into a conv that standardises its weights would be standardised away: outputs would change.
    # (The fold never sees one: fx traces into netspec's StdConv2d, so its conv is a function, not a module.)
    model = with_random_statistics(netspec.build("resnet18", block={"conv": "std"}))
    optimized = netspec.optimize_for_inference(model)
    assert isinstance(optimized.get_submodule("layer1.0.bn1"), nn.BatchNorm2d)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(x), optimized(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-5


def test_build_on_the_meta_device_allocates_no_weights() -> None:
    start = time.perf_counter()
    model = netspec.build("resnet152", device="meta")
    assert all(p.is_meta for p in model.parameters())
    assert time.perf_counter() - start < 5  # loose: the bar (100 ms) is measured in bench/, not asserted here


@pytest.mark.slow
@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_scripts_and_traces(name: str) -> None:
    model = netspec.build(name, device="meta").eval()
    torch.fx.symbolic_trace(model)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(model)


def test_torchscript_export_runs_like_the_model(tmp_path: Path, cli: Cli) -> None:
    assert cli("export", "cifar/resnet20", "--format", "torchscript", "-o", str(tmp_path / "m.pt"))[0] == 0
    scripted = torch.jit.load(tmp_path / "m.pt")
    model = netspec.build("cifar/resnet20").eval()
    model.load_state_dict(scripted.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(scripted(x), model(x))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "shape", "layout", "kept"),
    [
        ("monai/medicalnet_resnet10", (2, 1, 16, 14, 12), torch.channels_last_3d, []),
        # no channels-last for 1-D convs; the third block's shortcut is a norm with no conv before it
        ("signal/wang_resnet", (2, 1, 150), torch.contiguous_format, ["layer3.0.shortcut"]),
    ],
)
def test_a_volume_or_series_network_is_optimized_too(
    name: str, shape: tuple[int, ...], layout: Any, kept: list[str]
) -> None:
    """Norms folded in 1-D and 3-D as in 2-D, the weights in the layout for their axes; outputs to 1e-5."""
    model = with_random_statistics(netspec.build(name))
    optimized = netspec.optimize_for_inference(model)
    norms = [n for n, m in optimized.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms == kept
    first = next(m for m in optimized.modules() if isinstance(m, torch.nn.modules.conv._ConvNd))
    assert first.weight.is_contiguous(memory_format=layout)
    x = torch.randn(*shape)
    with torch.no_grad():
        expected, got = model(x), optimized(x)
    assert ((got - expected).abs().max() / expected.abs().max()).item() < 1e-5


@pytest.mark.slow
def test_onnx_export_matches_torch_in_onnxruntime(tmp_path: Path, cli: Cli) -> None:
    reference = torchvision.models.resnet18().eval()
    torch.save(reference.state_dict(), tmp_path / "w.pt")
    code, out, _ = cli(
        "export", "resnet18", "--format", "onnx", "-o", str(tmp_path / "m.onnx"), "--weights", str(tmp_path / "w.pt")
    )
    n = len(reference.state_dict())
    loaded = f"loaded {n} of the model's {n} tensors from {tmp_path / 'w.pt'}\n"
    assert (code, out) == (0, f"{loaded}{tmp_path / 'm.onnx'}: resnet18 as onnx\n")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    x = torch.randn(3, 3, 224, 224)  # a batch of 3: the batch axis is dynamic
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = reference(x).numpy()
    assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-4


def _monai_medicalnet18() -> torch.nn.Module:
    from monai.networks.nets import resnet18

    return resnet18(spatial_dims=3, n_input_channels=1, conv1_t_stride=2, feed_forward=False, shortcut_type="A")


# 3-D networks: torchvision's (2+1)-D video ResNet, and MedicalNet's volume ResNet with its zero-padded shortcut.
VOLUMES = {
    "video/r2plus1d_18": (torchvision.models.video.r2plus1d_18, (3, 8, 56, 56)),
    "monai/medicalnet_resnet18": (_monai_medicalnet18, (1, 24, 20, 16)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", VOLUMES)
def test_a_3d_model_exported_to_onnx_runs_in_onnxruntime_as_its_reference(tmp_path: Path, cli: Cli, name: str) -> None:
    """The reference's own weights (torchvision's names, or MONAI's) exported at a clip or volume size given per
    axis; ONNX Runtime's outputs are the reference's."""
    make, shape = VOLUMES[name]
    reference = make().eval()
    torch.save(reference.state_dict(), tmp_path / "w.pt")
    size = [str(s) for s in shape[1:]]
    argv = ["export", name, "--format", "onnx", "-o", str(tmp_path / "m.onnx"), "--weights", str(tmp_path / "w.pt")]
    code, out, _ = cli(*argv, "--input-size", *size)
    assert (code, out.splitlines()[-1]) == (0, f"{tmp_path / 'm.onnx'}: {name.split('/')[1]} as onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    x = torch.randn(2, *shape)
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        expected = reference(x).numpy()
    assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-4


def test_safetensors_export_loads_strictly(tmp_path: Path, cli: Cli) -> None:
    assert cli("export", "resnet18", "--format", "safetensors", "-o", str(tmp_path / "w.safetensors"))[0] == 0
    netspec.load_weights(netspec.build("resnet18"), tmp_path / "w.safetensors")


@pytest.mark.slow
def test_compiles_without_graph_breaks() -> None:
    model = netspec.build("cifar/resnet20").eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # fullgraph: any graph break raises
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(compiled(x), model(x))


def test_meta_build_refuses_weights(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("build", "resnet18", "--device", "meta", "-o", str(tmp_path / "w.pt"))
    message = "a model built on the meta device has no weights to load or save; drop -o and the weights\n"
    assert (code, err) == (1, message)
