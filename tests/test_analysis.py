"""The static analysis against the built module: every layer's type, shape, parameters and buffers, the MACs
that torch's FlopCounterMode counts, and the memory a forward pass allocates. Plus summary, diff and limits."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec import registry
from netspec.analysis import analyze
from netspec.blocks import Block
from netspec.network import plan_network
from netspec.plan import BlockArgs, BlockPlan, conv
from tests.representatives import representatives

Cli = Callable[..., tuple[int, str, str]]
ROOT = Path(__file__).resolve().parents[1]


def measured(
    spec: netspec.Spec, size: int | tuple[int, ...]
) -> tuple[dict[str, tuple[str, tuple[int, ...], int, int]], int]:
    """{path: (type, output shape, parameters, buffers)} of every leaf module in a real forward pass on the meta
    device, and the MACs FlopCounterMode counts (its FLOPs / 2)."""
    with torch.device("meta"):
        model = netspec.build(spec).eval()
    leaves = {n: m for n, m in model.named_modules() if n and not list(m.children())}
    shapes: dict[str, tuple[int, ...]] = {}
    stages = {n: m for n, m in model.named_children() if n.startswith("layer")}
    for name, module in [*leaves.items(), *stages.items()]:
        module.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:])))
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, *spec.input_shape(size), device="meta"))
    found = {}
    for name, module in leaves.items():
        params, buffers = (sum(t.numel() for t in ts) for ts in (module.parameters(), module.buffers()))
        found[name] = (type(module).__name__, shapes[name], params, buffers)
    found |= {name: ("stage", shapes[name], 0, 0) for name in stages}
    return found, counter.get_total_flops() // 2


def sizes(name: str) -> list[int | tuple[int, ...]]:
    """The nominal input size, and another that the strides do not divide."""
    if name.startswith("video/"):
        return [(16, 112, 112), (9, 100, 90)]
    return [32, 40] if name.startswith("cifar/") else [224, 160]


@pytest.mark.slow
@pytest.mark.parametrize("name", representatives())
def test_every_layer_of_each_layout_matches_the_built_module(name: str) -> None:
    # Every builtin's totals are held to the built module's in tests/test_zoo_diagrams.py.
    spec = netspec.load_spec(name)
    for size in sizes(name):
        analysis = analyze(plan_network(spec), size)
        static = {x.path: (x.kind, x.shape, x.params, x.buffers) for x in analysis.layers if x.module}
        static |= {part.name: ("stage", part.shape, 0, 0) for part in analysis.parts() if part.name.startswith("layer")}
        layers, macs = measured(spec, size)
        assert static == layers
        assert analysis.totals.macs == macs


def test_resnet50_figures_are_torchvisions() -> None:
    reference = torchvision.models.resnet50()
    with FlopCounterMode(display=False) as counter:
        reference(torch.zeros(1, 3, 224, 224))
    totals = analyze(plan_network(netspec.load_spec("resnet50"))).totals
    assert (totals.params, totals.macs) == (
        sum(p.numel() for p in reference.parameters()),
        counter.get_total_flops() // 2,
    )
    assert (totals.params, totals.macs) == (25_557_032, 4_089_184_256)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("cifar/resnet20", {}),
        ("timm/resnetv2_50d", {}),
        ("timm/ecaresnet50d", {}),
        (
            "cifar/resnet18",
            {"block": {"attn": "se", "drop_path": 0.2, "norm": "none"}, "head": {"hidden": [32], "dropout": 0.5}},
        ),
    ],
)
def test_allocated_memory_matches_a_training_forward_pass(name: str, overrides: dict[str, object]) -> None:
    """Module by module, the elements of new output tensors (in-place layers and views allocate none)."""
    spec = netspec.load_spec(name, overrides=overrides)
    model = netspec.build(spec).train()
    allocated = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal allocated
        if output.untyped_storage().data_ptr() not in {x.untyped_storage().data_ptr() for x in inputs}:
            allocated += output[0].numel()

    for module in model.modules():
        if not list(module.children()):
            module.register_forward_hook(hook)
    model(torch.randn(2, spec.input.channels, 48, 48))
    assert sum(layer.new for layer in analyze(plan_network(spec), 48).layers if layer.module) == allocated


def test_summary_does_not_import_torch() -> None:
    code = (
        "import sys; from netspec.cli import main; rc = main(['summary', 'resnet152', '--depth', 'layer']);"
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'numpy')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 []"


def test_summary_json_totals_and_batch(cli: Cli) -> None:
    code, out, err = cli("summary", "resnet50", "--format", "json", "--batch", "8")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["input"] == [8, 3, 224, 224] and data["output"] == [8, 1000]
    assert data["totals"]["params"] == 25_557_032
    assert data["totals"]["macs"] == 8 * 4_089_184_256 and data["totals"]["flops"] == 16 * 4_089_184_256
    assert [row["name"] for row in data["rows"]] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"]


def test_summary_table_rows_and_subtotals(cli: Cli) -> None:
    reference = torchvision.models.resnet18()
    code, out, _ = cli("summary", "resnet18", "--depth", "block")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[4:20] if line.strip()}
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert rows[stage][-3] == f"{sum(p.numel() for p in getattr(reference, stage).parameters()):,}"
        assert rows[f"{stage}.1"][-3] == f"{sum(p.numel() for p in getattr(reference, stage)[1].parameters()):,}"
    with FlopCounterMode(display=False) as counter:
        reference(torch.zeros(1, 3, 224, 224))
    macs = counter.get_total_flops() // 2
    assert rows["total"][-3:] == [f"{sum(p.numel() for p in reference.parameters()):,}", f"{macs:,}", "100.0%"]


def test_summary_layer_depth_lists_every_module(cli: Cli) -> None:
    code, out, _ = cli("summary", "cifar/resnet20", "--depth", "layer", "--format", "markdown")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    paths = {line.split("|")[1].strip() for line in lines}
    model = netspec.build("cifar/resnet20")
    leaves = {n for n, m in model.named_modules() if n and not list(m.children())}
    assert leaves <= paths
    assert "layer2.0.add" in paths and "layer2.0.downsample" in paths


def test_diff_names_fields_and_stage_deltas(cli: Cli) -> None:
    code, out, _ = cli("diff", "resnet50", "resnet101")
    assert code == 0
    assert "  stages.2.depth: 6 -> 23\n" in out
    layer3 = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("layer3", "total"))}
    r50, r101 = torchvision.models.resnet50(), torchvision.models.resnet101()
    change = sum(p.numel() for p in r101.layer3.parameters()) - sum(p.numel() for p in r50.layer3.parameters())
    assert f"{change:+,}" in layer3["layer3"]
    assert f"{44_549_160 - 25_557_032:+,}" in layer3["total"]


def test_build_refuses_too_many_parameters_at_the_largest_stage(cli: Cli) -> None:
    code, out, err = cli("build", "wide_resnet101_2", "--max-params", "1e8")
    assert (code, out) == (1, "")
    message = "126,886,696 parameters exceeds the limit of 100,000,000; raise it with --limit params=126886696"
    # The stages come from resnet101.yaml, which wide_resnet101_2 extends: the error points into that file,
    # at layer3, the stage with the most parameters.
    assert err == f"specs/resnet101.yaml:10:5: stages.2: {message}\n"


@pytest.fixture
def shrinking_block(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A block type whose description shrinks the map by 2 per conv and whose class must never be built for real."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    class Unbuildable(Block):
        def __init__(self, layers: dict[str, nn.Module]) -> None:
            # register_block builds a sample on the meta device, which holds no memory: only a real build fails
            if any(not p.is_meta for layer in layers.values() for p in layer.parameters()):
                raise AssertionError("the build went ahead")
            super().__init__(layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv2(self.conv1(x))  # type: ignore[no-any-return]

    def unpadded(a: BlockArgs) -> BlockPlan:
        ops = (
            conv("conv1", a.in_channels, a.width, 3, a.stride, padding=0),
            conv("conv2", a.width, a.width, 3, padding=0),
        )
        return BlockPlan(ops, a.width, "conv2")

    netspec.register_block("unpadded", post=(unpadded, Unbuildable))
    yield


def test_build_refuses_a_map_that_shrinks_to_nothing(
    shrinking_block: None, write: Callable[..., Path], cli: Cli
) -> None:
    write("""\
        netspec: 1
        stem: cifar
        block: {type: unpadded}
        stages:
          - {depth: 4, width: 16, stride: 1}
          - {depth: 4, width: 32, stride: 2}
        """)
    code, out, err = cli("build", "spec.yaml", "--input-size", "32")
    assert (code, out) == (1, "")
    # Two unpadded 3x3 convs per block: 32 -> 28 -> 24 -> 20 -> 16 in stage 0; in stage 1, 16 -> 7 -> 5 (the first
    # conv strides), 5 -> 3 -> 1, then 1 -> -1 at the third block's first conv.
    where = "at layer2.2.conv1 (computed size -1 x -1)"
    assert err == f"spec.yaml:6:5: stages.1: the feature map shrinks to nothing {where} for a 32 x 32 input\n"


def _lines_executed(tmp_path: Path, stages: int) -> int:
    """Python lines executed to validate a spec of `stages` one-block stages and summarise it per block: a count
    that, unlike a timing, repeats exactly from run to run."""
    from netspec.gate import admit
    from netspec.report import summary

    path = tmp_path / f"s{stages}.yaml"
    path.write_text("netspec: 1\nstem: cifar\nstages:\n" + "  - {depth: 1, width: 16, stride: 1}\n" * stages)
    count = 0

    def tracer(frame: object, event: str, arg: object) -> object:
        nonlocal count
        count += event == "line"
        return tracer

    sys.settrace(tracer)  # type: ignore[arg-type]
    try:
        admitted = admit(path)
        assert admitted.analysis is not None
        summary(admitted.analysis, "block")
    finally:
        sys.settrace(None)
    return count


@pytest.mark.slow
def test_validating_and_summarising_cost_is_linear_in_stages(tmp_path: Path) -> None:
    small, large = _lines_executed(tmp_path, 300), _lines_executed(tmp_path, 600)
    assert large / small < 2.05, (
        small,
        large,
    )  # twice the stages, twice the work (bd9dad4, which rescanned every layer per stage: 3.59)
