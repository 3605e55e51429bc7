"""Diagrams: the DOT is parsed and its structure checked against the built model."""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import netspec
from netspec.compiler import compile_plan
from netspec.network import plan_network
from netspec.structure import trace
from tests.representatives import representatives

Cli = Callable[..., tuple[int, str, str]]
Attrs = dict[str, str]
NAME = r'("(?:[^"\\]|\\.)*"|[\w.#-]+)'


def _value(text: str, i: int) -> tuple[str, int]:
    """One attribute value starting at text[i]: "quoted", <html with nested <tags>>, or a bare word."""
    if text[i] == '"':
        end = i + 1
        while text[end] != '"':
            end += 2 if text[end] == "\\" else 1
        return text[i + 1 : end], end + 1
    if text[i] == "<":
        depth, end = 0, i
        while True:
            depth += {"<": 1, ">": -1}.get(text[end], 0)
            end += 1
            if depth == 0:
                return text[i + 1 : end - 1], end
    match = re.compile(r"[^\s\]]+").match(text, i)
    assert match is not None
    return match[0], match.end()


def _attrs(text: str) -> Attrs:
    out, i = {}, 0
    while i < len(text):
        match = re.compile(r"\s*(\w+)=").match(text, i)
        if not match:
            break
        out[match[1]], i = _value(text, match.end())
    return out


def parse(dot: str) -> tuple[dict[str, Attrs], list[tuple[str, str, Attrs]], list[str]]:
    """Nodes (id -> attributes), edges (source, target, attributes) and cluster names of a DOT text."""
    nodes: dict[str, Attrs] = {}
    edges: list[tuple[str, str, Attrs]] = []
    clusters: list[str] = []
    for line in (raw.strip() for raw in dot.splitlines()):
        if line.startswith("subgraph"):
            clusters.append(line.split()[1].strip('"'))
        elif edge := re.match(rf"^{NAME} -> {NAME}(?: \[(.*)\])?$", line):
            edges.append((edge[1].strip('"'), edge[2].strip('"'), _attrs(edge[3] or "")))
        elif (node := re.match(rf"^{NAME} \[(.*)\]$", line)) and node[1] not in ("graph", "node", "edge"):
            nodes[node[1].strip('"')] = _attrs(node[2])
    return nodes, edges, clusters


def figure(attrs: Attrs, name: str) -> int:
    """A number from a node's tooltip: 'params 1,234' -> 1234."""
    match = re.search(rf"\\n{name} ([\d,]+)", attrs["tooltip"])
    assert match is not None, attrs["tooltip"]
    return int(match[1].replace(",", ""))


def params_of(name: str) -> int:
    return sum(p.numel() for p in netspec.build(name).parameters())


def test_stage_detail_is_a_chain_of_parts_whose_figures_add_up() -> None:
    nodes, edges, clusters = parse(netspec.diagram("resnet50").source)
    assert list(nodes) == ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head", "output"]
    assert [(a, b) for a, b, _ in edges] == list(zip(list(nodes), list(nodes)[1:], strict=False))
    assert clusters == []
    assert sum(figure(a, "params") for a in nodes.values()) == params_of("resnet50")
    assert sum(figure(a, "MACs") for a in nodes.values()) == 4_089_184_256
    assert "<b>layer3</b>" in nodes["layer3"]["label"] and "Bottleneck x 6" in nodes["layer3"]["label"]
    # Shape labels where the shape changes: every part here changes it.
    assert [attrs.get("label") for _, _, attrs in edges][1:3] == ["64 x 56 x 56", "256 x 56 x 56"]


@pytest.mark.slow
def test_block_detail_clusters_each_stage_and_collapses_repeats() -> None:
    nodes, edges, clusters = parse(netspec.diagram("resnet152", "block").source)
    assert clusters == ["cluster_layer1", "cluster_layer2", "cluster_layer3", "cluster_layer4"]
    assert [n for n in nodes if n.startswith("layer3")] == ["layer3.0", "layer3.1-35"]
    assert "Bottleneck x 35" in nodes["layer3.1-35"]["label"]
    layer3 = netspec.build("resnet152").get_submodule("layer3")
    collapsed = sum(p.numel() for block in list(layer3)[1:] for p in block.parameters())
    assert figure(nodes["layer3.1-35"], "params") == collapsed
    assert sum(figure(a, "params") for a in nodes.values()) == params_of("resnet152")
    assert ("layer3.0", "layer3.1-35") in [(a, b) for a, b, _ in edges]


def test_layer_detail_draws_each_kind_of_shortcut_differently() -> None:
    # Zero padding (A), projection (B), pooled projection (D) and identity shortcuts.
    def shortcut_nodes(name: str) -> list[str]:
        nodes, _, _ = parse(netspec.diagram(name, "layer").source)
        return [nodes[n]["tooltip"].split("\\n")[1] for n in nodes if n.startswith("layer2.0.downsample")]

    assert shortcut_nodes("cifar/resnet20") == ["ZeroPadShortcut"]
    assert shortcut_nodes("resnet50") == ["Conv2d", "BatchNorm2d"]
    assert shortcut_nodes("timm/resnet50d") == ["AvgPool2d", "Conv2d", "BatchNorm2d"]
    assert shortcut_nodes("timm/resnetv2_50") == ["Conv2d"]


def test_layer_detail_skip_edges_and_adds() -> None:
    nodes, edges, clusters = parse(netspec.diagram("resnet50", "layer").source)
    pairs = {(a, b): attrs for a, b, attrs in edges}
    # The identity shortcut of layer1.1 runs from layer1.0's output straight into layer1.1's add, dashed.
    assert pairs[("layer1.0.act3", "layer1.1.add")]["style"] == "dashed"
    # The projection of layer1.0 is its own dashed path into the add.
    assert pairs[("layer1.0.downsample.1", "layer1.0.add")]["style"] == "dashed"
    assert pairs[("maxpool", "layer1.0.downsample.0")]["style"] == "dashed"
    assert "style" not in pairs[("layer1.0.bn3", "layer1.0.add")]
    assert nodes["layer1.0.add"]["label"] == "+" and nodes["layer1.0.add"]["shape"] == "circle"
    # Blocks 0 and 1 of each stage are drawn layer by layer, the rest collapsed into one node.
    assert "cluster_layer3.0" in clusters and "cluster_layer3.1" in clusters and "cluster_layer3.2" not in clusters
    assert "layer3.2-5" in nodes and "layer3.2.conv1" not in nodes
    assert sum(figure(a, "params") for a in nodes.values()) == params_of("resnet50")
    assert nodes["layer3.0.conv2"]["tooltip"].startswith(
        "layer3.0.conv2\\nConv2d\\nin 256 x 28 x 28 -> out 256 x 14 x 14"
    )


def test_expanded_layer_detail_has_a_node_per_step_of_forward() -> None:
    model = netspec.build("cifar/resnet20")
    nodes, edges, _ = parse(netspec.diagram("cifar/resnet20", "layer", expand=True).source)
    leaves = {n for n, m in model.named_modules() if n and not list(m.children())}
    adds = {f"layer{s}.{b}.add" for s in (1, 2, 3) for b in range(3)}
    assert set(nodes) == leaves | adds | {"input", "output"}
    # A chain through every module plus one skip edge per block: into each add from the block's input.
    assert len(edges) == len(nodes) - 1 + len(adds)
    assert sum(figure(a, "params") for a in nodes.values()) == sum(p.numel() for p in model.parameters())


def test_a_model_without_a_spec_is_measured_on_the_meta_device() -> None:
    import torchvision

    nodes, _, _ = parse(netspec.diagram(torchvision.models.resnet18(), "layer", expand=True).source)
    # torchvision's blocks call one ReLU twice: each call is its own node.
    assert "layer1.0.relu" in nodes and "layer1.0.relu#2" in nodes
    assert sum(figure(a, "params") for a in nodes.values()) == 11_689_512


@pytest.mark.slow
@pytest.mark.parametrize("name", representatives())
def test_static_shapes_equal_a_pass_on_the_meta_device(name: str) -> None:
    spec = netspec.load_spec(name)
    with torch.device("meta"):
        model = compile_plan(plan_network(spec))
    size = spec.input_shape()
    from netspec.analysis import analyze

    static = trace(model, size, {layer.path: layer.shape for layer in analyze(plan_network(spec)).layers})
    assert static == trace(model, size)


def test_dot_output_is_deterministic(tmp_path: Path, cli: Cli) -> None:
    for name in ("a.dot", "b.dot"):
        assert cli("render", "timm/seresnext50_32x4d", "-o", str(tmp_path / name), "--detail", "layer")[0] == 0
    assert (tmp_path / "a.dot").read_bytes() == (tmp_path / "b.dot").read_bytes()


def test_without_dot_only_dot_output_works(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli("render", "resnet18", "-o", str(tmp_path / "r.dot"))[0] == 0
    code, out, err = cli("render", "resnet18", "-o", str(tmp_path / "r.png"))
    message = "install graphviz's dot program to render it (apt-get install graphviz); .dot output works without it"
    assert (code, out, err) == (1, "", f"{tmp_path / 'r.png'}: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.dot"]  # nothing half-written


def test_unknown_format_is_refused_before_drawing(tmp_path: Path, cli: Cli) -> None:
    code, _, err = cli("render", "resnet18", "-o", str(tmp_path / "r.jpg"))
    assert (code, err) == (1, f"{tmp_path / 'r.jpg'}: unknown diagram format '.jpg'; use .svg, .png, .pdf or .dot\n")


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_resnet152_layer_detail_png_fits_graphvizs_limit(tmp_path: Path, cli: Cli) -> None:
    assert shutil.which("dot"), "graphviz's dot is needed: make installs it (apt-get install graphviz)"
    assert cli("render", "resnet152", "-o", str(tmp_path / "r.png"), "--detail", "layer")[0] == 0
    assert max(png_size(tmp_path / "r.png")) < 32_767


def test_svg_carries_tooltips_and_build_draws_too(tmp_path: Path, cli: Cli) -> None:
    assert shutil.which("dot"), "graphviz's dot is needed: make installs it (apt-get install graphviz)"
    code, out, _ = cli("build", "resnet18", "--diagram", str(tmp_path / "r.svg"), "--detail", "block")
    assert code == 0 and out.endswith(f"diagram written to {tmp_path / 'r.svg'}\n")
    svg = (tmp_path / "r.svg").read_text()
    assert svg.startswith("<?xml") and 'xlink:title="layer2.0&#10;BasicBlock&#10;in 64 x 56 x 56' in svg


@pytest.mark.parametrize("name", ["<b>x</b>", 'a "quoted" \\N name', "<>"])
def test_any_name_makes_valid_dot(tmp_path: Path, cli: Cli, name: str) -> None:
    """Names are text: one that looks like an HTML label or holds DOT escapes is drawn as written."""
    assert shutil.which("dot"), "graphviz's dot is needed: make installs it (apt-get install graphviz)"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"netspec: 1\nextends: cifar/resnet20\nname: {json.dumps(name)}\n")
    assert cli("render", str(spec), "-o", str(tmp_path / "d.dot"))[0] == 0
    code, _, err = cli("render", str(spec), "-o", str(tmp_path / "d.svg"))
    assert (code, err) == (0, ""), err
    svg = (tmp_path / "d.svg").read_text()
    assert f">{html.escape(name)}</text>" in svg  # the title, drawn as written
    checked = subprocess.run(["dot", "-Tcanon", str(tmp_path / "d.dot")], capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr
