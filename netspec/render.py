"""Architecture diagrams as graphviz.Digraph objects, from a traced structure (netspec.structure). No file I/O.

One mechanism serves the three levels of detail: every traced node is assigned to a group (a stage, a block,
a run of identical blocks, or itself), groups become diagram nodes carrying their summed figures, and the
dataflow between groups becomes the edges, so skip connections appear wherever they cross a group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

import graphviz

from netspec.kinds import fill
from netspec.places import stage_of
from netspec.structure import Node, Shape

DETAILS = ("stage", "block", "layer")


@dataclass
class Group:
    """A diagram node: the traced nodes it stands for, and where it sits."""

    id: str
    members: list[Node] = field(default_factory=list)
    cluster: str = ""  # the stage it is drawn inside, if any
    block: str = ""  # the expanded block it is drawn inside (layer detail)
    title: str = ""

    @property
    def params(self) -> int:
        return sum(n.params for n in self.members)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.members)

    @property
    def ops(self) -> int:
        return sum(n.ops for n in self.members)

    @property
    def in_shape(self) -> Shape:
        return self.members[0].in_shape

    @property
    def shape(self) -> Shape:
        return self.members[-1].shape


def _shape(shape: Shape) -> str:
    return " x ".join(map(str, shape))


def _depths(nodes: Sequence[Node]) -> dict[str, int]:
    """Blocks per stage."""
    blocks: dict[str, set[str]] = {}
    for n in nodes:
        if n.block:
            blocks.setdefault(stage_of(n.block), set()).add(n.block)
    return {stage: len(names) for stage, names in blocks.items()}


def _grouper(nodes: Sequence[Node], detail: str, expand: bool) -> Callable[[Node], tuple[str, str, str, str]]:
    """node -> (group id, cluster, block cluster, title) for the chosen level of detail."""
    depths = _depths(nodes)
    seen_stage = False

    def group(n: Node) -> tuple[str, str, str, str]:
        nonlocal seen_stage
        stage = stage_of(n.name) or stage_of(n.block)
        if not stage:
            part = n.name if n.name in ("input", "output") else ("head" if seen_stage else "stem")
            return (n.name if detail == "layer" and part in ("stem", "head") else part), "", "", part
        seen_stage = True
        index, depth = int(n.block.split(".")[1]), depths[stage]
        if detail == "stage":
            return stage, "", "", stage
        shown = 2 if detail == "layer" else 1  # layer detail shows a projecting and an identity block
        if index >= shown and not expand:
            run = f"{stage}.{shown}" if depth - 1 == shown else f"{stage}.{shown}-{depth - 1}"
            return run, stage, "", run
        if detail == "block":
            return n.block, stage, "", n.block
        return n.name, stage, n.block, n.name

    return group


def _groups(nodes: Sequence[Node], detail: str, expand: bool) -> tuple[dict[str, Group], list[tuple[str, str, Node]]]:
    """Groups in forward order, and the edges between them (source group, target group, the source node)."""
    assign = _grouper(nodes, detail, expand)
    groups: dict[str, Group] = {}
    owner: dict[str, str] = {}
    for n in nodes:
        gid, cluster, block, title = assign(n)
        groups.setdefault(gid, Group(gid, cluster=cluster, block=block, title=title)).members.append(n)
        owner[n.name] = gid
    by_name = {n.name: n for n in nodes}
    edges: dict[tuple[str, str], Node] = {}
    for n in nodes:
        for source in n.inputs:
            if owner[source] != owner[n.name]:
                edges.setdefault((owner[source], owner[n.name]), by_name[source])
    return groups, [(a, b, node) for (a, b), node in edges.items()]


def _kind(group: Group, depths: dict[str, int]) -> str:
    first = group.members[0]
    blocks = {n.block for n in group.members if n.block}
    if stage_of(group.id) and first.block_kind and len(group.members) > 1:
        return first.block_kind if len(blocks) == 1 else f"{first.block_kind} x {len(blocks)}"
    kinds = list(dict.fromkeys(n.kind for n in group.members if n.kind not in ("Flatten", "input", "output")))
    return " > ".join(kinds) if len(group.members) > 1 else first.kind


def _tooltip(group: Group, kind: str) -> str:
    """Full path, type, shapes and exact figures; graphviz's \\n escape breaks the lines."""
    lines = [group.id, kind, f"in {_shape(group.in_shape)} -> out {_shape(group.shape)}"]
    figures = [f"params {group.params:,}", f"MACs {group.macs:,}", f"element-wise ops {group.ops:,}"]
    return "\\n".join([*lines, *figures])


def human(value: int) -> str:
    """1,027,604,480 -> '1.03 G'; 9,536 -> '9.54 K'."""
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return str(value)


def _table(group: Group, kind: str, total_macs: int) -> str:
    share = f" ({100 * group.macs / total_macs:.1f}%)" if total_macs else ""
    rows = [escape(kind), _shape(group.shape), f"params {human(group.params)}", f"MACs {human(group.macs)}{share}"]
    cells = f'<tr><td bgcolor="#dbe9f6"><b>{escape(group.title)}</b></td></tr>'
    cells += "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">{cells}</table>>'


def _layer_label(group: Group) -> str:
    n = group.members[0]
    lines = [f"<b>{escape(group.id)}</b>", escape(n.kind + (f" {n.note}" if n.note else "")), _shape(group.shape)]
    return "<" + "<br/>".join(lines) + ">"


def _draw_node(g: graphviz.Digraph, group: Group, detail: str, depths: dict[str, int], total: int) -> None:
    kind = _kind(group, depths)
    first = group.members[0]
    tooltip = _tooltip(group, kind)
    if first.kind == "output" and len(first.inputs) > 1:  # a backbone's features: each edge in is one
        g.node(group.id, f"output\\n{len(first.inputs)} feature maps", shape="oval", tooltip=tooltip)
    elif first.kind in ("input", "output"):
        g.node(group.id, f"{group.id}\\n{_shape(group.shape)}", shape="oval", tooltip=tooltip)
    elif first.kind == "add" and len(group.members) == 1:
        g.node(group.id, "+", shape="circle", width="0.3", fixedsize="true", tooltip=tooltip)
    elif detail == "layer" and len(group.members) == 1:
        style = "filled,dashed" if ".downsample" in group.id else "filled"
        g.node(
            group.id,
            _layer_label(group),
            shape="box",
            style=style,
            fillcolor=fill(first.kind),
            tooltip=tooltip,
        )
    else:
        g.node(group.id, _table(group, kind, total), shape="plaintext", tooltip=tooltip)


def _is_shortcut(source: Node, target: Group, groups: dict[str, Group]) -> bool:
    """A skip path: into a projection, out of one, or straight into a block's add from outside the block."""
    into = target.members[0]
    if ".downsample" in into.name or ".downsample" in source.name:
        return True
    return into.kind == "add" and source.block != into.block


def render(
    nodes: Sequence[Node], title: str, detail: str = "stage", rankdir: str = "TB", expand: bool = False
) -> graphviz.Digraph:
    """The diagram of a traced network at `detail` (stage, block or layer)."""
    groups, edges = _groups(nodes, detail, expand)
    depths, total = _depths(nodes), sum(n.macs for n in nodes)
    # escape(): a title is text, even one written <b>like HTML</b>, and its backslashes are not DOT escapes.
    label = graphviz.escape(title)
    g = graphviz.Digraph(
        name=label, graph_attr={"rankdir": rankdir, "label": label, "labelloc": "t", "fontname": "Helvetica"}
    )
    g.attr("node", fontname="Helvetica", fontsize="10")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    clusters: dict[str, dict[str, list[Group]]] = {}
    for group in groups.values():
        if group.cluster:
            clusters.setdefault(group.cluster, {}).setdefault(group.block, []).append(group)
        else:
            _draw_node(g, group, detail, depths, total)
    for stage, blocks in clusters.items():
        members = [grp for block in blocks.values() for grp in block]
        label = f"{stage}: {depths[stage]} blocks, {human(sum(m.params for m in members))} params"
        with g.subgraph(name=f"cluster_{stage}") as sub:
            sub.attr(label=label, style="rounded", color="#888888")
            for block, block_groups in blocks.items():
                if not block:
                    for grp in block_groups:
                        _draw_node(sub, grp, detail, depths, total)
                    continue
                with sub.subgraph(name=f"cluster_{block}") as inner:
                    inner.attr(
                        label=f"{block} {block_groups[0].members[0].block_kind}", style="dashed", color="#aaaaaa"
                    )
                    for grp in block_groups:
                        _draw_node(inner, grp, detail, depths, total)
    for a, b, source in edges:
        changed = groups[a].shape != groups[a].in_shape or a == "input"
        attrs = {"label": _shape(source.shape)} if changed else {}
        if detail == "layer" and _is_shortcut(source, groups[b], groups):
            attrs["style"] = "dashed"
        g.edge(a, b, **attrs)
    return g
