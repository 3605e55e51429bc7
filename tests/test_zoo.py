"""Every builtin spec against its reference: torchvision, timm, or an independent module written from the paper.

Expected figures come from the references (their parameter counts, outputs and FLOP counts) and from the
papers' tables, never from netspec's own output.
"""

from __future__ import annotations

import json
import math

import pytest
import timm
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.sources import builtin_names
from tests.references import cifar_he2015, cifar_kuangliu, paper_imagenet, wrn_zagoruyko

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

TORCHVISION = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d"]
TORCHVISION += ["resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]
REGNET = {  # torchvision's design parameters: depth, w0, wa, wm, group width, SE ratio (regnet.py)
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, 0.0),
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, 0.0),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
}
TIMM = ["resnet10t", "resnet14t", "resnet18d", "resnet26", "resnet26d", "resnet34d", "resnet50c", "resnet50d"]
TIMM += ["resnet50s", "resnet50t", "seresnet50", "seresnext50_32x4d", "ecaresnet50d", "resnetv2_50", "resnetv2_50d"]
TIMM += ["res2net50_26w_4s", "res2net50_48w_2s", "res2next50", "resnet50_gn", "resnest14d", "resnest50d"]
TIMM += ["skresnet18", "skresnet34", "skresnext50_32x4d", "resnetv2_50x1_bit", "resnetrs50", "resnetblur50"]
TIMM += ["regnetx_002", "regnety_002", "regnety_016", "regnety_040"]
PAPER_MACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}  # He et al. 2015, Table 1, x 10^9
CIFAR_PARAMS = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7", 1202: "19.4"}  # Table 6, millions
KUANGLIU = [18, 34, 50, 101, 152]
VIDEO = {"r3d_18": "R3D_18_Weights", "mc3_18": "MC3_18_Weights", "r2plus1d_18": "R2Plus1D_18_Weights"}
WRN = {(28, 10): "36.5", (40, 4): "8.9", (16, 8): "11.0"}  # millions of parameters (Zagoruyko & Komodakis 2016)
# ImageNet networks are compared on 64 x 64 images: every layer still runs on a map of at least 2 x 2 (the last
# stage's), so each padding, stride, pool and blur is exercised, at a twelfth of the cost of 160 x 160.
SMALL = 64


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def macs(module: nn.Module, size: int) -> int:
    with FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, size, size))
    return counter.get_total_flops() // 2


def assert_same_network(model: nn.Module, reference: nn.Module, state: dict, size: int = SMALL) -> None:  # type: ignore[type-arg]
    """Equal parameter counts; the reference's weights load strictly; equal eval outputs for one image.

    Outputs are compared in float64 (to 1e-9): in float32, rounding differences between two implementations of
    the same arithmetic grow with depth (1.1e-5 relative for the 1202-layer CIFAR net, whose outputs reach 1e5),
    while in float64 they stay near 1e-14, so any real difference stands out. One image suffices: in eval mode
    no layer mixes the images of a batch."""
    assert count(model) == count(reference)
    model.load_state_dict(state, strict=True)
    model.double().eval(), reference.double().eval()
    x = torch.randn(1, 3, size, size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-9, atol=1e-9)
    model.float(), reference.float()


def test_every_listed_spec_ships() -> None:
    listed = TORCHVISION + list(REGNET) + [f"timm/{n}" for n in TIMM] + [f"paper/resnet{n}" for n in PAPER_MACS]
    listed += [f"cifar/resnet{n}" for n in CIFAR_PARAMS] + [f"cifar/resnet{n}" for n in KUANGLIU]
    listed += [f"cifar/preact_resnet{n}" for n in KUANGLIU] + [f"cifar/wrn{d}_{k}" for d, k in WRN]
    listed += [f"video/{n}" for n in VIDEO]
    listed += [f"monai/{kind}resnet{n}" for n in (10, 18, 34, 50, 101) for kind in ("", "medicalnet_")]  # test_monai
    listed += ["signal/wang_resnet", "signal/preact_resnet18", "signal/preact_resnet34"]  # tests/test_signals.py
    assert sorted(listed) == sorted(builtin_names())


@pytest.mark.parametrize("name", VIDEO)
def test_torchvision_video(name: str) -> None:
    """torchvision's video ResNets: their weights load strictly through load_weights (torchvision wraps each conv
    with its norm, stem.0/1 and conv1.0/1, which netspec names conv1/bn1), equal outputs in float64 on a short
    clip, and the parameters and GFLOPs of torchvision's weight metadata at 16 frames of 112 x 112."""
    reference, meta = getattr(torchvision.models.video, name)(), getattr(torchvision.models.video, VIDEO[name])
    model, n = netspec.build(f"video/{name}"), len(reference.state_dict())
    report = netspec.load_weights(model, reference.state_dict())
    assert str(report) == f"loaded {n} of the model's {n} tensors from state_dict"
    assert count(model) == count(reference) == meta.KINETICS400_V1.meta["num_params"]
    model.double().eval(), reference.double().eval()
    x = torch.randn(1, 3, 6, 40, 36, dtype=torch.float64)  # sizes no stride divides, on every axis
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-9, atol=1e-9)
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        getattr(torchvision.models.video, name)()(torch.zeros(1, 3, 16, 112, 112))
    from netspec.gate import admit

    totals = admit(f"video/{name}").analysis.totals
    assert (totals.params, totals.macs) == (count(reference), counter.get_total_flops() // 2)
    assert round(totals.macs / 1e9, 3) == meta.KINETICS400_V1.meta["_ops"]


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision(name: str) -> None:
    reference = getattr(torchvision.models, name)()
    assert_same_network(netspec.build(name), reference, reference.state_dict())


@pytest.mark.parametrize("name", REGNET)
def test_torchvision_regnet(name: str) -> None:
    reference = getattr(torchvision.models, name)()
    model = netspec.build(name)
    # torchvision's RegNet names (stem.0, trunk_output.block1.block1-0) load through the documented mapping (the
    # same for a file: tests/test_weights.py).
    netspec.load_weights(model, reference.state_dict())
    assert_same_network(model, reference, model.state_dict())


@pytest.mark.parametrize("name", REGNET)
def test_regnet_design_expands_to_torchvisions_stages(name: str) -> None:
    depth, w0, wa, wm, group_width, se_ratio = REGNET[name]
    params = torchvision.models.regnet.BlockParams.from_init_params(
        depth=depth, w_0=w0, w_a=wa, w_m=wm, group_width=group_width, se_ratio=se_ratio
    )
    spec = netspec.load_spec(name)
    blocks = spec.stage_blocks()
    stages = [(s.depth, s.width, s.stride, b.options["group_width"]) for s, b in zip(spec.stages, blocks, strict=True)]
    assert stages == list(zip(params.depths, params.widths, params.strides, params.group_widths, strict=True))


@pytest.mark.parametrize("name", TORCHVISION + list(REGNET))
def test_torchvision_published_figures(name: str) -> None:
    # torchvision's weight metadata: num_params, and _ops in GFLOPS as torchvision counts them (multiply-adds).
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    with torch.device("meta"):
        model = netspec.build(name).eval()
        assert count(model) == meta["num_params"]
        assert round(macs(model, 224) / 1e9, 3) == meta["_ops"]


@pytest.mark.parametrize("name", TIMM)
def test_timm(name: str) -> None:
    reference = timm.create_model(name)
    model = netspec.build(f"timm/{name}")
    # load_weights applies the documented key mapping for ResNetV2 (other timm nets load as they are), as it does
    # to a file (tests/test_weights.py).
    netspec.load_weights(model, reference.state_dict())
    assert_same_network(model, reference, model.state_dict())


@pytest.mark.parametrize("layers", PAPER_MACS)
def test_paper_imagenet(layers: int) -> None:
    reference = paper_imagenet.PaperResNet(layers)
    model = netspec.build(f"paper/resnet{layers}")
    assert_same_network(model, reference, reference.state_dict())
    exact = macs(reference, 224)
    # netspec's count at 224, which tests/test_zoo_diagrams.py holds equal to torch's count in the built module.
    assert json.loads(netspec.summary(f"paper/resnet{layers}", format="json"))["totals"]["macs"] == exact
    # Table 1 prints two significant digits and rounds inconsistently (the exact ResNet-50 count, 3.86e9,
    # appears as 3.8): the printed figure is the exact count rounded or truncated to one decimal.
    billions = exact / 1e9
    assert PAPER_MACS[layers] in (round(billions, 1), math.floor(billions * 10) / 10)


@pytest.mark.parametrize("layers", CIFAR_PARAMS)
def test_cifar_he2015(layers: int) -> None:
    n = (layers - 2) // 6
    reference = cifar_he2015.CifarResNet(n)
    model = netspec.build(f"cifar/resnet{layers}")
    assert_same_network(model, reference, reference.state_dict(), 32)
    published = CIFAR_PARAMS[layers]
    decimals = len(published.split(".")[1])
    assert f"{count(model) / 1e6:.{decimals}f}" == published


@pytest.mark.parametrize("preact", [False, True], ids=["resnet", "preact_resnet"])
@pytest.mark.parametrize("layers", KUANGLIU)
def test_cifar_kuangliu(layers: int, preact: bool) -> None:
    reference = cifar_kuangliu.resnet(layers, preact)
    model = netspec.build(f"cifar/{'preact_' if preact else ''}resnet{layers}")
    state = cifar_kuangliu.to_torchvision_names(reference.state_dict())
    assert_same_network(model, reference, state, 32)


@pytest.mark.parametrize(("depth", "k"), WRN)
def test_wide_resnets_for_cifar(depth: int, k: int) -> None:
    reference = wrn_zagoruyko.WideResNet(depth, k, drop_rate=0.3)
    model = netspec.build(f"cifar/wrn{depth}_{k}")
    assert f"{count(model) / 1e6:.1f}" == WRN[depth, k]
    state = wrn_zagoruyko.to_netspec_names(reference.state_dict())
    assert_same_network(model, reference, state, 32)
    # In training mode the dropout between the convs draws the same masks in the same order as the paper's.
    model.train(), reference.train()
    x = torch.randn(4, 3, 32, 32)
    outputs = []
    for network in (model, reference):
        torch.manual_seed(0)
        outputs.append(network(x))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
    torch.manual_seed(1)
    assert not torch.allclose(model(x), outputs[0])  # a different seed drops other units
