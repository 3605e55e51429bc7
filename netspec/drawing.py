"""Writing diagrams: the format from the file's suffix, graphviz's dot for anything but .dot. Imports torch
only when a diagram is drawn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from netspec.errors import NetspecError
from netspec.files import check_output, write_atomic

if TYPE_CHECKING:
    import graphviz

    from netspec.spec import Spec

DETAILS = ("stage", "block", "layer")
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
INSTALL = "install graphviz's dot program to render it (apt-get install graphviz); .dot output works without it"


def check_diagram_target(path: Path, *inputs: str | os.PathLike[str]) -> None:
    if path.suffix not in FORMATS:
        raise NetspecError(f"{path}: unknown diagram format '{path.suffix}'; use .svg, .png, .pdf or .dot")
    check_output(path, *inputs)


def draw(spec: Spec, detail: str, rankdir: str, expand: bool, input_size: int | None) -> graphviz.Digraph:
    from netspec import draw as draw_spec

    return draw_spec(spec, detail, rankdir, expand, input_size)


def write_diagram(graph: graphviz.Digraph, path: Path) -> None:
    """Write `graph` to `path` atomically: DOT text as it is, other formats through dot."""
    import graphviz

    fmt = FORMATS[path.suffix]
    if fmt == "dot":
        data = graph.source.encode()
    else:
        try:
            data = graph.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise NetspecError(f"{path}: {INSTALL}") from None
        except graphviz.CalledProcessError as exc:
            raise NetspecError(f"{path}: dot failed: {(exc.stderr or b'').decode(errors='replace').strip()}") from None
    write_atomic(path, data)
