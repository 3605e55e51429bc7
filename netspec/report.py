"""Summaries of a spec's network as text, markdown or JSON, from the static analysis. No torch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from netspec.analysis import BYTES_PER_ELEMENT, Analysis, Part, Totals
from netspec.anatomy import Layer, Shape
from netspec.places import block_of, stage_of
from netspec.spec import Spec

DEPTHS = ("stage", "block", "layer")
FORMATS = ("table", "markdown", "json")
CONVENTIONS = {
    "macs": "multiply-accumulates of convolutions and linear layers; FLOPs = 2 x MACs",
    "ops": "element-wise operations of norms, activations, pools, adds and attention, not in the MACs",
    "memory": "float32 bytes of the tensors a training forward pass allocates (in-place layers allocate none)",
    "width": "a stage's base width (torchvision's planes); out = width x expansion; inner = its blocks' middle",
}


@dataclass(frozen=True)
class Row:
    """One line of a summary: a part, block or layer, or a subtotal."""

    name: str
    kind: str
    shape: Shape
    params: int
    macs: int
    level: int = 0
    stride: int | tuple[int, ...] | None = None
    width: int | None = None
    inner: int | None = None
    out: int | None = None


def one_line(spec: Spec, analysis: Analysis) -> str:
    """'resnet50: 4 stages, 16 bottleneck blocks, output 1000'."""
    kinds = "/".join(sorted({block.type for block in spec.stage_blocks()}))
    blocks = sum(stage.depth for stage in spec.stages)
    output = ", ".join(f"{o.key} {_shape(o.shape)}" for o in analysis.outputs) or _shape(analysis.output)
    return f"{spec.name}: {len(spec.stages)} stages, {blocks} {kinds} blocks, output {output}"


def rows(analysis: Analysis, depth: str) -> list[Row]:
    """Summary rows at `depth`: stage (one per part), block (parts and blocks) or layer (every layer)."""
    out: list[Row] = []
    for part in analysis.parts():
        t = part.totals
        kind = f"{part.blocks} x {part.kind}" if part.blocks else part.kind
        out.append(Row(part.name, kind, part.shape, t.params, t.macs, 0, part.stride, part.width, part.inner, part.out))
        if depth != "stage":
            out += _children(analysis.by_part.get(part.name, []), part, depth)
    return out


def _children(mine: list[Layer], part: Part, depth: str) -> list[Row]:
    if depth == "layer":
        return [
            Row(
                layer.path,
                layer.kind + (f" {layer.note}" if layer.note else ""),
                layer.shape,
                layer.params,
                layer.macs,
                1,
            )
            for layer in mine
        ]
    if not stage_of(part.name):
        return []
    groups: dict[str, list[Layer]] = {}
    for layer in mine:
        groups.setdefault(block_of(layer.path) or layer.path, []).append(layer)
    return [
        Row(name, part.kind, layers[-1].shape, Totals.of(layers).params, Totals.of(layers).macs, 1)
        for name, layers in groups.items()
    ]


def summary(analysis: Analysis, depth: str = "stage", fmt: str = "table", batch: int = 1) -> str:
    """The whole summary: a table of `rows` and the totals with their conventions."""
    table = rows(analysis, depth)
    if fmt == "json":
        return _json(analysis, table, batch)
    spec, size, t = analysis.spec, analysis.size, analysis.totals
    lines = [
        f"{spec.name}" + (f" - {spec.description}" if spec.description else ""),
        f"input {batch} x {_shape((spec.input.channels, *size))}",
        "",
    ]
    lines += _render(table, t.macs, batch, markdown=fmt == "markdown")
    lines += _outputs(analysis)
    lines += ["", *_footer(t, batch)]
    return "\n".join(lines)


def _outputs(analysis: Analysis) -> list[str]:
    """The features a backbone returns: key, module, shape and reduction of each."""
    if not analysis.outputs:
        return []
    kind = "a dict" if analysis.plan.keyed else "a list"
    rows = [
        (o.key, o.point.module, _shape(o.shape), f"reduction {_reduction(o.point.reduction)}") for o in analysis.outputs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"  {k.ljust(widths[0])}  {m.ljust(widths[1])}  {s.ljust(widths[2])}  {r}" for k, m, s, r in rows]
    return ["", f"returns {kind} of {len(rows)} features:", *lines]


def _footer(t: Totals, batch: int) -> list[str]:
    mb = 1e6 / BYTES_PER_ELEMENT
    return [
        f"parameters: {t.params:,} trainable ({t.params / mb:,.1f} MB); "
        f"buffers: {t.buffers:,} ({t.buffers / mb:,.1f} MB)",
        f"MACs: {t.macs * batch:,} ({t.macs * batch / 1e9:.3f} G; FLOPs = 2 x MACs = {2 * t.macs * batch / 1e9:.3f} G)",
        f"element-wise ops: {t.ops * batch:,} (norms, activations, pools, adds, attention; not in the MACs)",
        f"activation memory: {t.new * batch / mb:,.1f} MB (float32 tensors a training forward pass allocates)",
        f"width: {CONVENTIONS['width']}",
    ]


_HEAD = ("layer", "type", "stride", "width", "inner", "out", "output shape", "params", "MACs", "% MACs")
_RIGHT = {"stride", "width", "inner", "out", "params", "MACs", "% MACs"}


def _cells(row: Row, total_macs: int, batch: int) -> list[str]:
    def num(value: int | tuple[int, ...] | None) -> str:
        return "-" if value is None else str(value) if isinstance(value, int) else "x".join(map(str, value))

    share = f"{100 * row.macs / total_macs:.1f}%" if total_macs else "-"
    name = "  " * row.level + row.name
    return [
        name,
        row.kind,
        num(row.stride),
        num(row.width),
        num(row.inner),
        num(row.out),
        _shape(row.shape),
        f"{row.params:,}",
        f"{row.macs * batch:,}",
        share,
    ]


def _render(table: Sequence[Row], total_macs: int, batch: int, markdown: bool) -> list[str]:
    body = [_cells(row, total_macs, batch) for row in table]
    total = [
        "total",
        "",
        "",
        "",
        "",
        "",
        "",
        f"{sum(r.params for r in table if r.level == 0):,}",
        f"{total_macs * batch:,}",
        "100.0%",
    ]
    body.append(total)
    if markdown:
        lines = [
            "| " + " | ".join(_HEAD) + " |",
            "| " + " | ".join("---:" if h in _RIGHT else "---" for h in _HEAD) + " |",
        ]
        return lines + ["| " + " | ".join(c.strip() or " " for c in cells) + " |" for cells in body]
    widths = [max(len(h), *(len(c[i]) for c in body)) for i, h in enumerate(_HEAD)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if h in _RIGHT else c.ljust(w) for c, w, h in zip(cells, widths, _HEAD, strict=True)
        ).rstrip()

    return [fmt(_HEAD), *(fmt(cells) for cells in body)]


def _json(analysis: Analysis, table: list[Row], batch: int) -> str:
    spec, t = analysis.spec, analysis.totals
    data = {
        "name": spec.name,
        "input": [batch, spec.input.channels, *analysis.size],
        "conventions": CONVENTIONS,
        "rows": [asdict(row) for row in table],
        "totals": {
            "params": t.params,
            "buffers": t.buffers,
            "macs": t.macs * batch,
            "flops": 2 * t.macs * batch,
            "ops": t.ops * batch,
            "memory_bytes": t.new * batch * BYTES_PER_ELEMENT,
        },
    }
    if analysis.outputs:
        data["outputs"] = [
            {"key": o.key, "module": o.point.module, "shape": [batch, *o.shape], "reduction": o.point.reduction}
            for o in analysis.outputs
        ]
    else:
        data["output"] = [batch, *analysis.output]
    return json.dumps(data, indent=2)


def _shape(shape: Shape) -> str:
    return " x ".join(map(str, shape))


def _reduction(reduction: int | tuple[int, ...]) -> str:
    return str(reduction) if isinstance(reduction, int) else "x".join(map(str, reduction))
