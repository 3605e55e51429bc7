"""Every builtin, three ways: the parameters, MACs and element-wise ops `netspec summary` prints are the sums of its
stage diagram's figures, and its parameters and MACs are what torch counts on the built module; and each level
of detail of its diagram draws every stage and block it should."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import netspec
from netspec.drawing import steps
from netspec.gate import admit
from netspec.render import render
from netspec.sources import builtin_names
from tests.test_render import figure, parse

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

Cli = Callable[..., tuple[int, str, str]]
FIGURES = {"params": "params", "macs": "MACs", "ops": "element-wise ops"}  # summary's key: the diagram's label


def _counted(name: str) -> tuple[nn.Module, int]:
    """The built module and the MACs torch counts in it, on the meta device: they depend on shapes, not values."""
    spec = netspec.load_spec(name)
    model = netspec.build(name, device="meta").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *spec.input_shape(), device="meta"))
    return model, counter.get_total_flops() // 2


def _blocks(stage: str, depth: int, shown: int) -> list[str]:
    """The nodes of a stage's blocks at block (shown=1) or layer (shown=2) detail: `shown` blocks, then one node
    for the rest."""
    rest = [] if depth <= shown else [f"{stage}.{shown}" if depth == shown + 1 else f"{stage}.{shown}-{depth - 1}"]
    return [f"{stage}.{i}" for i in range(min(depth, shown))] + rest


@pytest.mark.parametrize("name", builtin_names())
def test_summary_diagram_and_torch_count_the_same(name: str, cli: Cli) -> None:
    code, out, err = cli("summary", name, "--format", "json")
    assert (code, err) == (0, "")
    totals = json.loads(out)["totals"]
    admitted = admit(name)
    traced = steps(admitted, None)
    nodes, _, _ = parse(render(traced, name, "stage").source)
    assert {key: sum(figure(a, label) for a in nodes.values()) for key, label in FIGURES.items()} == {
        key: totals[key] for key in FIGURES
    }
    model, macs = _counted(name)
    assert (totals["params"], totals["macs"]) == (sum(p.numel() for p in model.parameters()), macs)

    depths = {f"layer{i + 1}": stage.depth for i, stage in enumerate(admitted.spec.stages)}
    stem = ["stem"] if admitted.spec.stem.layers() or admitted.spec.stem.pool_kind() != "none" else []  # stem: none
    assert list(nodes) == ["input", *stem, *depths, "head", "output"]
    nodes, _, _ = parse(render(traced, name, "block").source)
    blocks = [node for stage, depth in depths.items() for node in _blocks(stage, depth, 1)]
    # (DOT lists the nodes outside the stages' clusters first.)
    assert [n for n in nodes if n.split(".")[0] in depths] == blocks
    assert [n for n in nodes if n.split(".")[0] not in depths] == ["input", *stem, "head", "output"]
    # Layer detail: the first two blocks of each stage layer by layer, in their own clusters, the rest as one node;
    # every layer of the drawn blocks is a node or inside one (an attention module is drawn as one).
    nodes, _, clusters = parse(render(traced, name, "layer").source)
    drawn = [b for stage, depth in depths.items() for b in _blocks(stage, depth, 2)[:2]]
    assert [c for c in clusters if c.count(".")] == [f"cluster_{b}" for b in drawn]
    assert [c for c in clusters if not c.count(".")] == [f"cluster_{stage}" for stage in depths]
    collapsed = [b for stage, depth in depths.items() for b in _blocks(stage, depth, 2)[2:]]
    assert [n for n in nodes if n.count(".") == 1 and n.split(".")[0] in depths] == collapsed
    for block in drawn:
        leaves = [p for p, m in model.named_modules() if p.startswith(f"{block}.") and not list(m.children())]
        missing = [p for p in leaves if not any(p == n or p.startswith(f"{n}.") for n in nodes)]
        assert missing == [], block
