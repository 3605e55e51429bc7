"""Plain-text summaries of a spec: what `netspec build` and `netspec validate` print. No torch."""

from __future__ import annotations

from collections.abc import Mapping

from netspec.analysis import StageInfo, stages, total_blocks
from netspec.spec import Spec

_COLUMNS = ("stage", "blocks", "type", "stride", "width", "inner", "out", "output shape", "params")
_RIGHT = {"blocks", "stride", "width", "inner", "out", "params"}


def one_line(spec: Spec) -> str:
    """'resnet50: 4 stages, 16 bottleneck blocks, output 1000'."""
    kinds = sorted({block.type for block in spec.stage_blocks()})
    out = stages(spec)[-1].shape
    return (
        f"{spec.name}: {len(spec.stages)} stages, {total_blocks(spec)} {'/'.join(kinds)} blocks, "
        f"output {' x '.join(map(str, out))}"
    )


def stage_table(spec: Spec, params: Mapping[str, int], size: int | None = None) -> str:
    """The stage-level summary: one row per stem, stage and head, with totals. `params` maps row name to count."""
    infos = stages(spec, size)
    rows = [_row(info, params.get(info.name, 0)) for info in infos]
    total = sum(params.get(info.name, 0) for info in infos)
    rows.append(["total", str(total_blocks(spec)), "", "", "", "", "", "", f"{total:,}"])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]

    def fmt(cells: list[str] | tuple[str, ...]) -> str:
        aligned = (
            c.rjust(w) if name in _RIGHT else c.ljust(w) for c, w, name in zip(cells, widths, _COLUMNS, strict=True)
        )
        return "  ".join(aligned).rstrip()

    size = size or spec.input.size
    lines = [
        f"{spec.name}" + (f" - {spec.description}" if spec.description else ""),
        f"input {spec.input.channels} x {size} x {size}",
        "",
        fmt(_COLUMNS),
        *(fmt(r) for r in rows),
        "",
        "width: the stage's base width (torchvision's planes); out = width x expansion; "
        "inner = channels of the 3x3 conv",
    ]
    return "\n".join(lines)


def _row(info: StageInfo, params: int) -> list[str]:
    def num(value: int | None) -> str:
        return "-" if value is None else str(value)

    return [
        info.name,
        str(info.blocks) if info.blocks else "-",
        info.kind,
        str(info.stride) if info.stride else "-",
        num(info.width),
        num(info.inner),
        str(info.out),
        " x ".join(map(str, info.shape)),
        f"{params:,}",
    ]
