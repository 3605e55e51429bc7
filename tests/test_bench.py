"""`netspec bench`: every path it times computes what the eager model computes, and the report is complete."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch

import netspec
from netspec.bench import inference_step, training_step
from netspec.bench_paths import INFERENCE, TRAINING

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

Cli = Callable[..., tuple[int, str, str]]


# Two of CIFAR's ResNet-20 blocks, one with an identity shortcut and one that strides and pads: every kind of layer
# of ResNet-20, in a ninth of the graph that torch.compile and the exporters work through.
TWO_BLOCKS = [{"depth": 1, "width": 16, "stride": 1}, {"depth": 1, "width": 32, "stride": 2}]


@pytest.mark.xdist_group("inductor")  # one worker compiles: the second compilation reuses the first's kernels
@pytest.mark.parametrize("path", INFERENCE)
def test_each_inference_path_computes_the_eager_output(path: str) -> None:
    torch.manual_seed(0)
    model = netspec.build("cifar/resnet20", stages=TWO_BLOCKS).eval()
    for name, value in model.state_dict().items():  # statistics that are not the identity, to fold
        if "running_var" in name:
            value.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
    got = inference_step(model, path, x)(x)
    got = torch.from_numpy(got[0]) if isinstance(got, list) else got
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("path", [p for p in INFERENCE if p != "compile"])
def test_each_inference_path_runs_a_volume_network_as_eager(path: str) -> None:
    """The bench's paths on a 3-D network (MedicalNet's ResNet-10 on a 16 x 12 x 8 volume): optimized in NDHWC,
    TorchScript, ONNX Runtime."""
    torch.manual_seed(0)
    model = netspec.build("monai/medicalnet_resnet10").eval()
    x = torch.randn(2, 1, 16, 12, 8)
    with torch.no_grad():
        expected = model(x)
    got = inference_step(model, path, x)(x)
    got = torch.from_numpy(got[0]) if isinstance(got, list) else got
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("path", [p for p in TRAINING if p != "compile"])
def test_each_training_path_takes_a_step(path: str) -> None:
    torch.manual_seed(0)
    model = netspec.build("cifar/resnet20")
    before = model.fc.weight.detach().clone()
    training_step(model, path, 10)(torch.randn(4, 3, 32, 32))
    assert not torch.equal(model.fc.weight, before) and torch.isfinite(model.fc.weight).all()


def test_the_table_names_every_path_and_the_fastest(cli: Cli) -> None:
    code, out, err = cli("bench", "resnet18", "--input-size", "64", "--batch", "1", "2", "--repeats", "2")
    assert (code, err) == (0, "")
    threads = torch.get_num_threads()
    lines = out.splitlines()
    assert lines[0] == "resnet18: inference, input 3 x 64 x 64, " + (
        f"{threads} thread{'s' if threads != 1 else ''}, median of 2 calls after 3 warm-up"
    )
    paths = [line.split("  ")[0].strip() for line in lines[3:13]]
    expected = ["torchvision eager", "eager", "optimized", "torchscript", "onnxruntime"]
    assert paths == [p for p in expected for _ in (1, 2)]  # torchvision's resnet18 beside netspec's paths
    fastest = [line for line in lines if line.startswith("fastest at batch")]
    assert [line.split(":")[0] for line in fastest] == ["fastest at batch 1", "fastest at batch 2"]
    assert all(line.endswith("x torchvision eager") for line in fastest)


def test_json_and_training_steps(cli: Cli) -> None:
    argv = ("bench", "cifar/resnet20", "--batch", "4", "--repeats", "3", "--warmup", "1", "--format", "json")
    code, out, err = cli(*argv, "--train")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["baseline"] == "eager"  # no torchvision model is a CIFAR ResNet-20
    assert [row["path"] for row in report["rows"]] == ["eager", "channels_last", "amp"]
    for row in report["rows"]:
        assert row["p10_s"] <= row["median_s"] <= row["p90_s"] and row["repeats"] == 3
        assert row["images_per_s"] == pytest.approx(4 / row["median_s"])


def test_bad_requests_are_one_line(cli: Cli) -> None:
    code, _, err = cli("bench", "cifar/resnet20", "--paths", "eager,tensorrt")
    assert (code, err) == (
        1,
        "bench --paths: unknown path 'tensorrt'; choose from eager, optimized, torchscript, onnxruntime, compile\n",
    )
    code, _, err = cli("bench", "cifar/resnet20", "--batch", "0")  # a usage error: exit code 2, one line
    assert (code, err) == (2, "netspec bench: argument --batch: must be at least 1, got 0 (see netspec bench --help)\n")
