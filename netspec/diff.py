"""What changes between two specs: the fields that differ, and per-part deltas of shapes, parameters and MACs."""

from __future__ import annotations

from typing import Any

from netspec.analysis import Analysis, Part
from netspec.spec import Spec

_ABSENT = object()


def field_changes(a: Spec, b: Spec) -> list[tuple[str, Any, Any]]:
    """(dotted field, value in a, value in b) for every field that differs; a list item only one side has is
    one change. Values are as validated, after `extends`, so defaults show up where one side sets them."""
    changes: list[tuple[str, Any, Any]] = []
    _walk(a.model_dump(), b.model_dump(), "", changes)
    return changes


def _walk(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            _walk(a.get(key, _ABSENT), b.get(key, _ABSENT), f"{path}.{key}".lstrip("."), out)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple) and a and b and isinstance(a[0], dict):
        for i in range(max(len(a), len(b))):
            _walk(a[i] if i < len(a) else _ABSENT, b[i] if i < len(b) else _ABSENT, f"{path}.{i}", out)
    elif a != b:
        out.append((path, a, b))


def show(value: Any) -> str:
    if value is _ABSENT:
        return "(none)"
    if value is None:
        return "(default)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) and " " in value else str(value)


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def part_rows(a: Analysis, b: Analysis) -> list[list[str]]:
    """One row per stem, stage and head of either network: shapes, parameters and MACs of both, and the change."""
    parts_a = {p.name: p for p in a.parts()}
    parts_b = {p.name: p for p in b.parts()}
    names = [*parts_a, *(n for n in parts_b if n not in parts_a)]
    head = [n for n in names if n == "head"]
    rows = [_row(name, parts_a.get(name), parts_b.get(name)) for name in [n for n in names if n != "head"] + head]
    total_a = sum(p.totals.params for p in parts_a.values()), sum(p.totals.macs for p in parts_a.values())
    total_b = sum(p.totals.params for p in parts_b.values()), sum(p.totals.macs for p in parts_b.values())
    rows.append(["total", "", "", f"{total_a[0]:,}", f"{total_b[0]:,}", _signed(total_b[0] - total_a[0])])
    rows[-1] += [f"{total_a[1]:,}", f"{total_b[1]:,}", _signed(total_b[1] - total_a[1])]
    return rows


def _row(name: str, a: Part | None, b: Part | None) -> list[str]:
    def shape(p: Part | None) -> str:
        return " x ".join(map(str, p.shape)) if p else "-"

    pa, pb = (a.totals.params if a else 0), (b.totals.params if b else 0)
    ma, mb = (a.totals.macs if a else 0), (b.totals.macs if b else 0)
    return [name, shape(a), shape(b), f"{pa:,}", f"{pb:,}", _signed(pb - pa), f"{ma:,}", f"{mb:,}", _signed(mb - ma)]


HEADER = ["part", "shape A", "shape B", "params A", "params B", "params change", "MACs A", "MACs B", "MACs change"]


def render(a: Analysis, b: Analysis) -> str:
    """The text `netspec diff` prints, from the two networks' analyses (at the same input size)."""
    lines = [f"A: {a.spec.name}", f"B: {b.spec.name}", "", "fields that differ (after extends):"]
    changes = field_changes(a.spec, b.spec)
    lines += [f"  {path}: {show(va)} -> {show(vb)}" for path, va, vb in changes] or ["  (none)"]
    table = [HEADER, *part_rows(a, b)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    lines.append("")
    for r in table:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(lines)
