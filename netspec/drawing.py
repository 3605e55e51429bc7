"""Diagrams of admitted specs, and diagram files: the format from the file's suffix, graphviz's dot for anything but
.dot. Imports torch only when a diagram is drawn; returns bytes for the caller's Writer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from netspec.errors import NetspecError

if TYPE_CHECKING:
    import graphviz

    from netspec.gate import Admitted
    from netspec.structure import Node

DETAILS = ("stage", "block", "layer")
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
INSTALL = "install graphviz's dot program to render it (apt-get install graphviz); .dot output works without it"


def check_diagram_format(path: Path) -> None:
    if path.suffix not in FORMATS:
        raise NetspecError(f"{path}: unknown diagram format '{path.suffix}'; use .svg, .png, .pdf or .dot")


def draw(
    admitted: Admitted, detail: str, rankdir: str, expand: bool, input_size: int | tuple[int, ...] | None
) -> graphviz.Digraph:
    """The diagram of an admitted spec's network at `detail`."""
    from netspec.render import render

    return render(steps(admitted, input_size), admitted.spec.name, detail, rankdir, expand)


def steps(admitted: Admitted, input_size: int | tuple[int, ...] | None) -> list[Node]:
    """Every step of the admitted network's forward pass, traced on the module built on the meta device (no memory
    for weights), with the shapes and figures of the gate's analysis (made at `input_size`), so that a diagram
    adds up to the summary."""
    import torch

    from netspec.compiler import compile_plan
    from netspec.structure import trace, with_figures

    spec, layers = admitted.spec, admitted.analysis.layers
    with torch.device("meta"):
        model = compile_plan(admitted.plan)
    shapes = {layer.path: layer.shape for layer in layers}
    return with_figures(trace(model, spec.input_shape(input_size), shapes), layers)


def diagram_bytes(graph: graphviz.Digraph, path: Path) -> bytes:
    """`graph` in the format `path`'s suffix names: DOT text as it is, other formats through dot."""
    import graphviz

    fmt = FORMATS[path.suffix]
    if fmt == "dot":
        source: str = graph.source
        return source.encode()
    try:
        data: bytes = graph.pipe(format=fmt)
        return data
    except graphviz.ExecutableNotFound:
        raise NetspecError(f"{path}: {INSTALL}") from None
    except graphviz.CalledProcessError as exc:
        raise NetspecError(f"{path}: dot failed: {(exc.stderr or b'').decode(errors='replace').strip()}") from None
