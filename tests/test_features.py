"""Backbones: a spec's `features` return stage outputs as timm's features_only and torchvision's detection models
expect them; the references are timm, torchvision's FPN backbone and torchvision's feature extractor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnxruntime
import pytest
import timm
import torch
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

import netspec
from netspec.analysis import analyze
from netspec.loader import load_spec
from netspec.network import plan_network

Cli = Callable[..., tuple[int, str, str]]
ALL = ["stem", "layer1", "layer2", "layer3", "layer4"]
FPN_KEYS = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}  # torchvision's return_layers


@pytest.mark.slow
def test_resnet50d_features_equal_timms_features_only() -> None:
    reference = timm.create_model("resnet50d", features_only=True).double().eval()
    model = netspec.build("timm/resnet50d", features=ALL).double().eval()
    netspec.load_weights(model, reference.state_dict())  # strict: the same keys, no head
    x = torch.randn(2, 3, 160, 160, dtype=torch.float64)
    with torch.no_grad():
        got, expected = model(x), reference(x)
    assert len(got) == len(expected) == 5
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    info = reference.feature_info
    assert model.feature_info.channels() == info.channels()
    assert model.feature_info.reduction() == info.reduction()
    assert model.feature_info.module_name() == info.module_name()


def test_a_classifier_offers_the_feature_info_timm_gives() -> None:
    reference = timm.create_model("resnet50d")
    assert netspec.build("timm/resnet50d", device="meta").feature_info.get_dicts() == reference.feature_info


def _fpn_reference() -> BackboneWithFPN:
    torch.manual_seed(0)
    backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=3)
    for name, value in backbone.body.state_dict().items():  # statistics that are not the identity
        if "running_var" in name:
            value.uniform_(0.5, 1.5)
        elif "running_mean" in name:
            value.normal_(0.0, 0.1)
    return backbone.eval()


def _netspec_fpn(reference: BackboneWithFPN) -> BackboneWithFPN:
    """torchvision's FPN backbone with netspec's ResNet-50 (frozen norms, as torchvision's) as its body."""
    body = netspec.build("resnet50", block={"norm": "frozen_batch"}, features=FPN_KEYS)
    netspec.load_weights(body, reference.body.state_dict())
    channels = body.feature_info.channels()
    fpn = BackboneWithFPN(body, {"layer4": "3"}, channels, 256, LastLevelMaxPool())
    fpn.body = body  # netspec's own forward returns the dict that IntermediateLayerGetter would
    fpn.fpn.load_state_dict(reference.fpn.state_dict())
    return fpn.eval()


def test_netspec_body_in_torchvisions_fpn_backbone_equals_resnet_fpn_backbone() -> None:
    reference = _fpn_reference()
    ours = _netspec_fpn(reference)
    x = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        got, expected = ours(x), reference(x)
    assert list(got) == list(expected) == ["0", "1", "2", "3", "pool"]
    assert all(torch.allclose(got[k], expected[k], rtol=0, atol=1e-5) for k in expected)


@pytest.mark.slow
def test_faster_rcnn_runs_inference_and_a_training_step_on_a_netspec_backbone() -> None:
    torch.manual_seed(0)
    detector = FasterRCNN(_netspec_fpn(_fpn_reference()), num_classes=3, min_size=128, max_size=160)
    images = [torch.rand(3, 128, 160), torch.rand(3, 120, 150)]
    detector.eval()
    with torch.no_grad():
        detections = detector(images)
    assert len(detections) == 2 and set(detections[0]) == {"boxes", "labels", "scores"}
    detector.train()
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 60.0, 90.0]]), "labels": torch.tensor([1])},
        {"boxes": torch.tensor([[30.0, 15.0, 100.0, 70.0], [5.0, 5.0, 40.0, 40.0]]), "labels": torch.tensor([2, 1])},
    ]
    trainable = [p for p in detector.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.01)
    losses = detector(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    total = sum(losses.values())
    total.backward()
    before = detector.backbone.body.layer4[0].conv1.weight.detach().clone()
    optimizer.step()
    assert torch.isfinite(total)
    assert not torch.equal(detector.backbone.body.layer4[0].conv1.weight, before)


def test_features_equal_torchvisions_feature_extractor() -> None:
    torch.manual_seed(0)
    classifier = netspec.build("resnet50").eval()
    nodes = {"act1": "stem", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4"}
    extractor = create_feature_extractor(classifier, return_nodes=nodes)
    model = netspec.build("resnet50", features={name: name for name in ALL}).eval()
    netspec.load_weights(model, classifier.state_dict(), skip=("fc",))
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        got, expected = model(x), extractor(x)
    assert list(got) == list(expected) == ALL
    assert all(torch.equal(got[k], expected[k]) for k in ALL)


@pytest.mark.parametrize(
    "name", ["resnet18", "cifar/resnet20", "timm/resnetv2_50x1_bit", "timm/resnetrs50", "regnet_y_400mf"]
)
def test_summary_shapes_channels_and_reductions_are_the_modules(name: str) -> None:
    spec = load_spec(name)
    features = ["stem", *(f"layer{i + 1}" for i in range(len(spec.stages)))]
    size = spec.input.size
    analysis = analyze(plan_network(load_spec(name, overrides={"features": features})))
    with torch.device("meta"):
        outputs = netspec.build(name, features=features)(torch.zeros(1, spec.input.channels, size, size))
    assert [o.shape for o in analysis.outputs] == [tuple(t.shape[1:]) for t in outputs]
    assert [o.point.channels for o in analysis.outputs] == [t.shape[1] for t in outputs]
    assert [o.point.reduction for o in analysis.outputs] == [size // t.shape[-1] for t in outputs]


def test_a_backbone_ends_at_its_last_feature(tmp_path: Path) -> None:
    model = netspec.build("resnet50", features=["stem", "layer2"])
    assert list(model._modules) == ["conv1", "bn1", "act1", "maxpool", "layer1", "layer2"]
    stem_only = netspec.build("resnet50", features=["stem"])
    assert list(stem_only._modules) == ["conv1", "bn1", "act1"]
    classifier_keys = set(netspec.build("resnet50", device="meta").state_dict())
    assert set(model.state_dict()) < classifier_keys


def test_summary_lists_each_output(cli: Cli) -> None:
    code, out, err = cli("summary", "resnet18", "--set", "features={layer2: p3, layer4: p5}")
    assert (code, err) == (0, "")
    assert "\nreturns a dict of 2 features:\n  p3  layer2  128 x 28 x 28  reduction 8\n" in out
    assert "  p5  layer4  512 x 7 x 7    reduction 32\n" in out


def test_torchscript_and_onnx_return_every_feature(tmp_path: Path, cli: Cli) -> None:
    model = netspec.build("resnet18", features=["stem", "layer3"]).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        assert all(torch.equal(a, b) for a, b in zip(scripted(x), expected, strict=True))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    argv = [
        "export",
        "resnet18",
        "--set",
        "features=[stem, layer3]",
        "--format",
        "onnx",
        "-o",
        str(tmp_path / "m.onnx"),
    ]
    code, _, err = cli(*argv, "--weights", str(tmp_path / "w.pt"), "--input-size", "64")
    assert (code, err) == (0, "")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    assert [o.name for o in session.get_outputs()] == ["stem", "layer3"]
    got = session.run(None, {"input": x.numpy()})
    assert all(torch.allclose(torch.from_numpy(a), b, atol=1e-4) for a, b in zip(got, expected, strict=True))


def test_the_diagram_draws_an_edge_from_each_feature(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("render", "resnet18", "--set", "features=[stem, layer2, layer4]", "-o", str(tmp_path / "d.dot"))
    assert (code, err) == (0, "")
    dot = (tmp_path / "d.dot").read_text()
    assert 'output [label="output\\n3 feature maps"' in dot
    for edge in ('stem -> output [label="64 x 112 x 112"]', 'layer2 -> output [label="128 x 28 x 28"]'):
        assert edge in dot


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (
            "[layer1, layer5]",
            "spec.yaml:3:20: features.1: unknown feature 'layer5'; choose from 'stem', 'layer1', 'layer2', 'layer3' "
            "or 'layer4'; did you mean 'layer4'?",
        ),
        (
            "[layer2, layer1]",
            "spec.yaml:3:20: features.1: 'layer1' comes after 'layer2'; list features once each, in forward order",
        ),
        ("[]", "spec.yaml:3:11: features: name at least one of 'stem', 'layer1', 'layer2', 'layer3' or 'layer4'"),
        ("{layer1: a, layer3: a}", "spec.yaml:3:31: features.layer3: key 'a' is already given to layer1"),
        (
            "{stem: a, layr2: b}",
            "spec.yaml:3:21: features.layr2: unknown feature 'layr2'; choose from 'stem', "
            "'layer1', 'layer2', 'layer3' or 'layer4'; did you mean 'layer2'?",
        ),
        ("7", "spec.yaml:3:11: features: expected a list or a mapping, got the integer 7"),
        ("[layer1, 2]", "spec.yaml:3:20: features.1: expected a string, got the integer 2"),
        ("{layer1: [a]}", "spec.yaml:3:20: features.layer1: expected a string, got a list"),
    ],
)
def test_feature_mistakes_are_placed_in_the_file(
    write: Callable[..., Path], cli: Cli, features: str, expected: str
) -> None:
    write(f"netspec: 1\nextends: resnet18\nfeatures: {features}\n")
    code, out, err = cli("validate", "spec.yaml")
    assert (code, out, err) == (1, "", expected + "\n")
