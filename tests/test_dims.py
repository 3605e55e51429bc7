"""Networks of 1, 2 or 3 spatial axes: per-axis sizes in the language, their errors at the field, and the
analysis of 1-D and 3-D networks against the module they build (shapes, parameters, FlopCounterMode's MACs)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torchvision

import netspec
from tests.test_analysis import measured

Cli = Callable[..., tuple[int, str, str]]
Write = Callable[..., Path]

STAGES = "stages:\n  - {depth: 1, width: 8, stride: 1}\n  - {depth: 1, width: 16, stride: 2}\n"


def _fails(cli: Cli, line: str) -> None:
    code, out, err = cli("validate", "spec.yaml")
    assert (code, out, err) == (1, "", line + "\n")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            "dims: 3\nstages:\n  - {depth: 1, width: 8, stride: [1, 2]}\n",
            "spec.yaml:4:34: stages.0.stride: gives 2 sizes for a network of 3 spatial axes (dims: 3); give one "
            "number, or 3",
        ),
        (
            "input: {size: [32, 32, 32]}\n" + STAGES,
            "spec.yaml:2:15: input.size: gives 3 sizes for a network of 2 spatial axes (dims: 2); give one number, "
            "or 2",
        ),
        (
            "stages:\n  - {depth: 1, width: 8, stride: -2}\n",
            "spec.yaml:3:34: stages.0.stride: must be at least 1, got the integer -2",
        ),
        (
            "stages:\n  - {depth: 1, width: 8, stride: [1, 0]}\n",
            "spec.yaml:3:38: stages.0.stride.1: must be at least 1, got the integer 0",
        ),
        (
            "stages:\n  - {depth: 1, width: 8, stride: two}\n",
            "spec.yaml:3:34: stages.0.stride: expected an integer or a list, got the string 'two'",
        ),
        (
            "block: {conv: 2plus1d}\n" + STAGES,
            "spec.yaml:2:15: block.conv: 2plus1d factorises 3-D convs (space, then time); it needs dims: 3, not 2",
        ),
        (
            "dims: 3\nblock: {aa: blur}\n" + STAGES,
            "spec.yaml:3:13: block.aa: the blur pool is 2-D only; use aa: none for dims 3",
        ),
        (
            "dims: 1\nblock: {norm: frozen_batch}\n" + STAGES,
            "spec.yaml:3:15: block.norm: frozen_batch norm is 2-D only; use batch for dims 1",
        ),
        (
            "dims: 1\nblock: {type: res2net}\n" + STAGES,
            "spec.yaml:3:15: block.type: res2net blocks are planned in 2-D only, not dims 1",
        ),
        (
            "block: {type: res2net, kernel: 5}\n" + STAGES,
            "spec.yaml:2:32: block.kernel: res2net blocks have 3 on every axis; kernel is for basic and bottleneck",
        ),
        (
            "dims: 3\nstem: {convs: [{width: 8, kernel: [3, 4, 3]}]}\n" + STAGES,
            "spec.yaml:3:35: stem.convs.0.kernel: an even kernel has no centre: give padding (a number, or same), or "
            "an odd kernel",
        ),
        (
            "dims: 3\nstem: {convs: [{width: 8, kernel: 4, padding: [2, 2]}]}\n" + STAGES,
            "spec.yaml:3:47: stem.convs.0.padding: gives 2 sizes for a network of 3 spatial axes (dims: 3); give one "
            "number, or 3",
        ),
        (
            "block: {shortcut: A, shortcut_bias: true}\nstem: {convs: [{width: 8}]}\n" + STAGES,
            "spec.yaml:2:37: block.shortcut_bias: shortcut A has no conv to give a bias; use shortcut: B, C or D",
        ),
        (
            "block: {shortcut_pad: end}\n" + STAGES,
            "spec.yaml:2:23: block.shortcut_pad: shortcut_pad places shortcut A's zero channels; shortcut B has none",
        ),
        (
            "dims: 1\nstem: {preset: none, width: 8}\n" + STAGES,
            "spec.yaml:3:7: stem: a none stem has no width; the first stage takes the input",
        ),
        (
            "dims: 1\nstem: none\nfeatures: [stem, layer2]\n" + STAGES,
            "spec.yaml:4:12: features.0: unknown feature 'stem'; choose from 'layer1' or 'layer2'",
        ),
        (
            "dims: 1\nstem: none\nblock: {type: tsc}\n" + STAGES,
            "spec.yaml:4:8: block.options: an even kernel (8) pads 'same', which needs stride 1; give the strided conv "
            "an odd kernel",
        ),
        (
            "dims: 1\nstem: none\nblock: {type: tsc, options: {kernels: [3, [3, 3], 3]}}\n" + STAGES,
            "spec.yaml:4:29: block.options: a kernel of 2 sizes in a network of 1 spatial axes",
        ),
        (
            "dims: 1\nblock: {kernel: 4}\n" + STAGES,
            "spec.yaml:3:17: block.kernel: an even kernel (4) pads 'same', which needs stride 1; give the strided conv "
            "an odd kernel",
        ),
        (
            "dims: 3\nstages:\n  - {depth: 1, width: 8, stride: 1, dilation: [1, 2]}\n",
            "spec.yaml:4:47: stages.0.dilation: gives 2 sizes for a network of 3 spatial axes (dims: 3); give one "
            "number, or 3",
        ),
        (
            "block: {type: res2net}\nstages:\n  - {depth: 1, width: 8, stride: 1, dilation: [1, 2]}\n",
            "spec.yaml:4:47: stages.0.dilation: res2net blocks take one dilation for every axis; one per axis is for "
            "basic and bottleneck",
        ),
    ],
    ids=[
        "length",
        "input-length",
        "negative",
        "item",
        "kind",
        "2plus1d-2d",
        "blur-3d",
        "frozen-1d",
        "family-1d",
        "family-kernel",
        "even",
        "padding-length",
        "bias-on-A",
        "pad-on-B",
        "none-stem-width",
        "none-stem-feature",
        "tsc-even-strided",
        "tsc-kernel-axes",
        "even-strided",
        "dilation-length",
        "dilation-family",
    ],
)
def test_per_axis_mistakes_are_placed_at_their_field(write: Write, cli: Cli, text: str, line: str) -> None:
    write("netspec: 1\n" + text)
    _fails(cli, line)


# Small networks of each form, in 1-D and 3-D: every layer kind a block of each has (shortcuts A, B, D, attention,
# a bottleneck's groups, per-axis strides and kernels, pre-activation, a (2+1)-D conv).
SPECS = {
    "1d-basic-A-se": "dims: 1\ninput: {size: 64, channels: 2}\nblock: {shortcut: A, attn: se}\n"
    "stem: {convs: [{width: 8, kernel: 7, stride: 2}], pool: max}\n" + STAGES,
    "1d-preact-eca": "dims: 1\ninput: {size: 50}\nblock: {order: pre, attn: eca, kernel: 5}\n" + STAGES,
    # an even kernel pads 'same' (one less before than after), in basic and bottleneck blocks alike
    "1d-even-kernels": "dims: 1\ninput: {size: 33}\nblock: {kernel: 4}\nstem: {convs: [{width: 8}]}\nstages:\n"
    "  - {depth: 2, width: 8, stride: 1}\n  - {depth: 1, width: 4, stride: 1, type: bottleneck, kernel: 6}\n",
    "3d-bottleneck-D": "dims: 3\ninput: {size: [5, 24, 20]}\nblock: {type: bottleneck, groups: 2, shortcut: D}\n"
    "stem: {convs: [{width: 8, kernel: [3, 5, 5], stride: [1, 2, 2]}], pool: max}\nstages:\n"
    "  - {depth: 1, width: 8, stride: 1}\n  - {depth: 2, width: 16, stride: [1, 2, 2], kernel: [1, 3, 3]}\n"
    "  - {depth: 2, width: 16, stride: 1, dilation: [1, 2, 2]}\n",
    "3d-2plus1d-se": "dims: 3\ninput: {size: 9}\nblock: {conv: 2plus1d, attn: se}\n"
    "stem: {convs: [{width: 8, kernel: 3}]}\n" + STAGES,
}


@pytest.mark.parametrize("name", SPECS)
def test_1d_and_3d_networks_are_analysed_as_they_run(tmp_path: Path, name: str) -> None:
    (tmp_path / "spec.yaml").write_text(f"netspec: 1\nname: {name}\n" + SPECS[name])
    spec = netspec.load_spec(tmp_path / "spec.yaml")
    from netspec.analysis import analyze
    from netspec.network import plan_network

    analysis = analyze(plan_network(spec))
    static = {x.path: (x.kind, x.shape, x.params, x.buffers) for x in analysis.layers if x.module}
    static |= {part.name: ("stage", part.shape, 0, 0) for part in analysis.parts() if part.name.startswith("layer")}
    layers, macs = measured(spec, spec.input.size)
    assert static == layers
    assert analysis.totals.macs == macs
    model = netspec.build(spec).eval()  # and it runs, on real numbers, through TorchScript as in eager mode
    x = torch.randn(2, *spec.input_shape())
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(model)(x), model(x))


def test_a_video_summary_has_every_axis_of_torchvisions_shapes(cli: Cli) -> None:
    reference, shapes = torchvision.models.video.r3d_18(), {}
    for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
        getattr(reference, name).register_forward_hook(lambda m, i, o, n=name: shapes.__setitem__(n, list(o.shape)))
    reference.eval()(torch.zeros(1, 3, 8, 64, 64))
    code, out, _ = cli("summary", "video/r3d_18", "--input-size", "8", "64", "64", "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["input"] == [1, 3, 8, 64, 64]
    rows = {row["name"]: row["shape"] for row in summary["rows"]}
    assert {"stem": rows["stem"], **{f"layer{i}": rows[f"layer{i}"] for i in range(1, 5)}} == {
        name: shape[1:] for name, shape in shapes.items()
    }
    code, out, _ = cli("summary", "video/r3d_18")
    assert "input 1 x 3 x 16 x 112 x 112" in out and "64 x 16 x 56 x 56" in out


def test_a_volume_that_would_need_50_gb_is_refused_before_building(cli: Cli) -> None:
    """Activation memory grows with every axis: MedicalNet's ResNet-18 on 12 CT volumes of 512 x 512 x 256. At its
    peak, inference holds the stem conv's output and its norm's (64 channels at 256 x 256 x 128 each), and at most
    the input besides."""
    code, out, err = cli(
        "bench", "monai/medicalnet_resnet18", "--input-size", "512", "512", "256", "--batch", "12",
        "--limit", "memory=16000000000",
    )  # fmt: skip
    assert (code, out) == (1, "")
    need = int(err.rsplit("--limit memory=", 1)[1])
    stem_out, volumes = 12 * 64 * 256 * 256 * 128 * 4, 12 * 512 * 512 * 256 * 4
    assert 2 * stem_out <= need <= 2 * stem_out + volumes
    assert err == (
        f"bench --batch 12: medicalnet_resnet18 at batch 12 (512 x 512 x 256) would need about {need / 1e9:.1f} GB "
        f"for inference, more than the limit of 16.0 GB; lower the batch or input size, or raise it with --limit "
        f"memory={need}\n"
    )


def test_diff_of_two_video_networks_shows_every_axis(cli: Cli) -> None:
    """r3d_18 strides in time in layers 2 to 4; mc3_18 does not: 16 frames halve to 8 in r3d's layer2 only."""
    code, out, _ = cli("diff", "video/r3d_18", "video/mc3_18")
    assert code == 0
    assert "  stages.1.stride: 2 -> (1, 2, 2)\n" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("layer")}
    assert "128 x 8 x 28 x 28  128 x 16 x 28 x 28" in rows["layer2"]
    assert "512 x 2 x 7 x 7    512 x 16 x 7 x 7" in rows["layer4"]


@pytest.mark.slow
def test_a_volume_model_file_loads_back(tmp_path: Path, cli: Cli) -> None:
    """A 3-D network saved as a model file (its weights with its spec) is the same network when netspec.load reads
    it: its layers are 3-D and every tensor is equal."""
    assert cli("build", "monai/medicalnet_resnet10", "-o", str(tmp_path / "m.safetensors"))[0] == 0
    model = netspec.load(tmp_path / "m.safetensors")
    assert isinstance(model.conv1, torch.nn.Conv3d) and model.conv1.kernel_size == (7, 7, 7)
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "m.safetensors")
    assert set(saved) == set(model.state_dict()) and all(
        torch.equal(model.state_dict()[k], v) for k, v in saved.items()
    )


@pytest.mark.slow
def test_a_video_backbone_gives_its_reductions_per_axis() -> None:
    """mc3_18 strides in space only after layer1: feature_info's reductions are torchvision's size ratios per axis."""
    reference, shapes = torchvision.models.video.mc3_18().eval(), []
    for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
        getattr(reference, name).register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[2:])))
    with torch.no_grad():
        reference(torch.zeros(1, 3, 8, 64, 64))
    model = netspec.build("video/mc3_18", features=["stem", "layer1", "layer2", "layer3", "layer4"])
    ratios = [tuple(v // s for v, s in zip((8, 64, 64), shape, strict=True)) for shape in shapes]
    assert ratios[-1] == (1, 16, 16)  # the clip's 8 frames are never strided; no pool after the stem
    assert model.feature_info.reduction() == [r[0] if len(set(r)) == 1 else r for r in ratios]
