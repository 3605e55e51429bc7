"""MONAI's ResNets (monai.networks.nets.ResNet, with MedicalNet's variants) against MONAI itself: the builtins,
and each of MONAI's options written as a spec at spatial_dims 1, 2 and 3.

Expected figures come from the modules MONAI builds (their parameters, state_dict, outputs and FlopCounterMode's
count), never from netspec's own output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from monai.networks.nets import ResNet, ResNetFeatures, resnet
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.gate import admit
from tests.parity import assert_same, count

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

DEPTHS = {10: "basic", 18: "basic", 34: "basic", 50: "bottleneck", 101: "bottleneck"}


def medicalnet(depth: int) -> dict[str, Any]:
    """MONAI's arguments for MedicalNet's weights: get_medicalnet_pretrained_resnet_args, and ResNetFeatures'."""
    bias_downsample, shortcut_type = resnet.get_medicalnet_pretrained_resnet_args(depth)
    shortcut = {"shortcut_type": shortcut_type, "bias_downsample": bias_downsample}
    return {"n_input_channels": 1, "conv1_t_stride": 2, "feed_forward": False, **shortcut}


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("variant", ["monai", "medicalnet"])
def test_monai_builtins(depth: int, variant: str) -> None:
    """monai/resnetN is MONAI's resnetN(spatial_dims=3) with its defaults; monai/medicalnet_resnetN is the one
    MedicalNet's weights load into. Compared on a volume no stride divides, with MACs at the nominal 64^3.
    ResNet-34 and -101 have the layers of 18 and 50 in other numbers (tests/representatives.py): their tensors'
    names and shapes are compared, on the meta device."""
    kwargs = medicalnet(depth) if variant == "medicalnet" else {}
    name = f"monai/resnet{depth}" if variant == "monai" else f"monai/medicalnet_resnet{depth}"
    channels, deeper = (1 if kwargs else 3), depth in (34, 101)
    with torch.device("meta" if deeper else "cpu"):
        reference = getattr(resnet, f"resnet{depth}")(spatial_dims=3, **kwargs)
    model = netspec.build(name, device="meta" if deeper else None)
    if deeper:
        assert count(model) == count(reference)
        shapes = {k: v.shape for k, v in reference.state_dict().items()}
        assert {k: v.shape for k, v in model.state_dict().items()} == shapes
    else:
        assert_same(model, reference, torch.randn(1, channels, 15, 13, 11))
    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        getattr(resnet, f"resnet{depth}")(spatial_dims=3, **kwargs)(torch.zeros(1, channels, 64, 64, 64))
    totals = admit(name).analysis.totals
    assert (totals.params, totals.macs) == (count(reference), counter.get_total_flops() // 2)
    if variant == "medicalnet":  # MONAI's backbone for MedicalNet's weights has the same tensors
        with torch.device("meta"):
            features = ResNetFeatures(f"resnet{depth}", pretrained=False, spatial_dims=3, in_channels=1)
        assert {k: v.shape for k, v in features.state_dict().items()} == {
            k: v.shape for k, v in reference.state_dict().items()
        }


# Each of MONAI's ResNet options, set alone on a small ResNet of each block (widths 8..64, a block per stage).
OPTIONS: list[dict[str, Any]] = [
    {},
    {"n_input_channels": 2},
    {"conv1_t_size": 5},
    {"conv1_t_size": "per-axis"},
    {"conv1_t_size": 4},  # even: MONAI pads k // 2, one more than a centred padding
    {"conv1_t_stride": 2},
    {"conv1_t_stride": "per-axis"},
    {"no_max_pool": True},
    {"shortcut_type": "A"},
    {"widen_factor": 1.5},
    {"bias_downsample": False},
    {"feed_forward": False},
]
INPLANES = [8, 16, 32, 64]


def per_axis(option: dict[str, Any], dims: int) -> dict[str, Any]:
    """An option of one value per axis made concrete: kernels 3, 5, 7 and strides 1, 2, 2 for as many axes."""
    concrete = {"conv1_t_size": (3, 5, 7)[:dims], "conv1_t_stride": (2, 1, 2)[:dims]}
    return {k: concrete[k] if v == "per-axis" else v for k, v in option.items()}


def spec_of(block: str, dims: int, o: dict[str, Any]) -> dict[str, Any]:
    """The spec docs/volumes.md gives for MONAI's ResNet(block, [1, 1, 1, 1], INPLANES, ...) with options `o`."""
    widths = [int(w * o.get("widen_factor", 1.0)) for w in INPLANES]
    kernel, stride = o.get("conv1_t_size", 7), o.get("conv1_t_stride", 1)
    listed = [{"width": widths[0], "kernel": kernel, "stride": stride}]
    if any(k % 2 == 0 for k in (kernel if isinstance(kernel, tuple) else (kernel,))):
        listed[0]["padding"] = kernel // 2  # what MONAI pads, given where a centred padding is not
    shortcut = (
        {"shortcut": "A", "shortcut_pad": "end"}
        if o.get("shortcut_type") == "A"
        else {"shortcut_bias": o.get("bias_downsample", True)}
    )
    return {
        "netspec": 1,
        "name": "monai_options",
        "dims": dims,
        "input": {"channels": o.get("n_input_channels", 3), "size": 24},
        "stem": {"convs": listed, "pool": "none" if o.get("no_max_pool") else "max"},
        "block": {"type": block, **shortcut},
        "stages": [{"depth": 1, "width": w, "stride": 1 if i == 0 else 2} for i, w in enumerate(widths)],
        "head": {"classes": 7 if o.get("feed_forward", True) else 0},
    }


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("block", ["basic", "bottleneck"])
@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "defaults")
def test_each_monai_option_is_a_spec(tmp_path: Path, dims: int, block: str, option: dict[str, Any]) -> None:
    o = per_axis(option, dims)
    reference = ResNet(block, [1, 1, 1, 1], INPLANES, spatial_dims=dims, num_classes=7, **o)
    (tmp_path / "spec.yaml").write_text(json.dumps(spec_of(block, dims, o)))  # JSON is YAML
    spec = netspec.load_spec(tmp_path / "spec.yaml")
    size = (19, 17, 13)[:dims]  # no stride divides them
    assert_same(netspec.build(spec), reference, torch.randn(2, spec.input.channels, *size))
    with FlopCounterMode(display=False) as counter:
        reference.float()(torch.zeros(1, *spec.input_shape()))
    assert admit(spec).analysis.totals.macs == counter.get_total_flops() // 2


def _retinanet(backbone: nn.Module) -> Any:
    """MONAI's RetinaNet on MONAI's FPN feature extractor over `backbone`, as retinanet_resnet50_fpn_detector
    builds it (two returned stages and the extra max-pool level: three levels)."""
    from monai.apps.detection.networks.retinanet_network import RetinaNet, resnet_fpn_feature_extractor

    extractor = resnet_fpn_feature_extractor(backbone, 3, returned_layers=[1, 2])  # type: ignore[arg-type]
    return RetinaNet(spatial_dims=3, num_classes=2, num_anchors=1, feature_extractor=extractor, size_divisible=16)


def _loss(network: nn.Module, volume: torch.Tensor) -> torch.Tensor:
    """One training forward of MONAI's RetinaNetDetector on one fake box: its classification and box losses."""
    from monai.apps.detection.networks.retinanet_detector import RetinaNetDetector
    from monai.apps.detection.utils.anchor_utils import AnchorGeneratorWithAnchorShape

    anchors = AnchorGeneratorWithAnchorShape(feature_map_scales=(1, 2, 4), base_anchor_shapes=((8, 8, 8),))
    detector = RetinaNetDetector(network, anchors)
    detector.set_atss_matcher(num_candidates=4, center_in_gt=False)
    detector.set_hard_negative_sampler(batch_size_per_image=64, positive_fraction=0.3, pool_size=20, min_neg=16)
    detector.set_target_keys(box_key="boxes", label_key="labels")
    detector.train()
    torch.manual_seed(0)  # the negative sampler draws
    targets = [{"boxes": torch.tensor([[4.0, 5.0, 6.0, 14.0, 17.0, 15.0]]), "labels": torch.tensor([1])}]
    losses = detector([volume], targets)
    return losses["classification"] + losses["box_regression"]  # type: ignore[no-any-return]


def test_a_backbone_drops_into_monais_retinanet() -> None:
    """MedicalNet's ResNet-10, built by netspec, in MONAI's own FPN extractor and RetinaNet: the same outputs,
    loss and gradients as with MONAI's backbone holding the same weights, and a training step through it."""
    reference = resnet.resnet10(**medicalnet(10), spatial_dims=3)
    model = netspec.build("monai/medicalnet_resnet10")
    netspec.load_weights(model, reference.state_dict())
    ours, theirs = _retinanet(model), _retinanet(reference)
    theirs.load_state_dict(ours.state_dict())  # the same FPN and heads too
    volume = torch.randn(1, 32, 32, 32)
    with torch.no_grad():
        a, b = ours.eval()(volume[None]), theirs.eval()(volume[None])
    assert [t.shape[2:] for t in a["classification"]] == [(8, 8, 8), (4, 4, 4), (2, 2, 2)]
    for key in ("classification", "box_regression"):
        for x, y in zip(a[key], b[key], strict=True):
            torch.testing.assert_close(x, y)
    loss, their_loss = _loss(ours, volume), _loss(theirs, volume)
    torch.testing.assert_close(loss, their_loss)
    loss.backward(), their_loss.backward()
    grads = {n: p.grad for n, p in ours.named_parameters()}
    for name, p in theirs.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, msg=name)
    before = model.layer1[0].conv1.weight.detach().clone()
    torch.optim.SGD(ours.parameters(), lr=1e-3).step()
    assert not torch.equal(model.layer1[0].conv1.weight, before)
    assert torch.isfinite(_loss(ours, volume))


def test_a_checkpoint_as_medicalnet_publishes_it_loads(tmp_path: Path) -> None:
    """MedicalNet's files hold {"state_dict": ...} with DataParallel's `module.` names; MONAI strips the prefix
    before it loads them, and so does netspec.load_weights, strictly."""
    reference = resnet.resnet50(**medicalnet(50), spatial_dims=3)
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 200}, tmp_path / "resnet_50_23dataset.pth")
    model = netspec.build("monai/medicalnet_resnet50")
    report = netspec.load_weights(model, tmp_path / "resnet_50_23dataset.pth")
    assert str(report).startswith(f"loaded {len(state)} of the model's {len(state)} tensors")
    assert torch.equal(model.layer4[2].conv3.weight, reference.layer4[2].conv3.weight)


def test_a_backbone_returns_monais_features_with_their_reductions_per_axis() -> None:
    """MedicalNet's ResNet-18 as a backbone (features: stem, layer1..4) returns what MONAI's ResNetFeatures
    returns, tensor for tensor, and its feature_info gives each one's reduction on every axis of the volume."""
    reference = ResNetFeatures("resnet18", pretrained=False, spatial_dims=3, in_channels=1).eval()
    model = netspec.build("monai/medicalnet_resnet18", features=["stem", "layer1", "layer2", "layer3", "layer4"])
    netspec.load_weights(model, {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")})
    volume = torch.randn(1, 1, 64, 64, 32)  # each axis divisible by each stride, so a reduction is a ratio of sizes
    with torch.no_grad():
        ours, theirs = model.eval()(volume), reference(volume)
    for x, y in zip(ours, theirs, strict=True):
        torch.testing.assert_close(x, y)
    ratios = [tuple(v // s for v, s in zip((64, 64, 32), t.shape[2:], strict=True)) for t in theirs]
    # (one number when it is the same on every axis, as a spec writes it)
    assert model.feature_info.reduction() == [r[0] if len(set(r)) == 1 else r for r in ratios]
