"""The real structure of a built module, for diagrams: its dataflow (torch.fx), its layers' types and
parameters, and each step's output shape and MACs. What `render` draws comes from here, so a diagram shows
what `build` returns.

Shapes come from a pass on the meta device, or, for a network built from a spec, from netspec's static
analysis, which the tests hold equal to that pass layer by layer: on the meta device torch's reference
kernels import torch._dynamo, which costs over two seconds.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, fx, nn

from netspec.anatomy import Layer
from netspec.blocks import Block
from netspec.kinds import kind_of, read
from netspec.layers import Planned
from netspec.places import block_of
from netspec.plan import Op

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Node:
    """One step of forward: a layer (named by its state_dict path), a residual add, the input or the output."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    in_shape: Shape
    shape: Shape
    params: int = 0
    macs: int = 0
    ops: int = 0  # element-wise operations (known for a network built from a spec)
    note: str = ""
    block: str = ""  # the residual block it belongs to, e.g. "layer3.4"
    block_kind: str = ""  # that block's class name, e.g. "Bottleneck"


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return not list(m.children()) or _composite(m)


def trace(model: nn.Module, input_shape: Shape, shapes: Mapping[str, Shape] | None = None) -> list[Node]:
    """Every step of `model`'s forward pass for one input of `input_shape` (C, H, W), in order.

    `shapes` maps state_dict paths (and `<block>.add`) to output shapes; without it, a pass on the meta device
    measures them."""
    model = copy.deepcopy(model).to("meta").eval() if _has_data(model) else model.eval()
    graph = _Tracer().trace(model)
    if shapes is not None:
        nodes = _nodes(model, graph, input_shape, _with_containers(shapes))
        if nodes is not None:
            return nodes
    # No static shapes, or a block with several functional steps of one kind (Res2Net's splits and sums),
    # which the static names cannot tell apart: measure every step.
    return _nodes(model, graph, input_shape, measure_shapes(model, graph, input_shape)) or []


def with_figures(nodes: Sequence[Node], layers: Iterable[Layer]) -> list[Node]:
    """`nodes` carrying the static analysis's parameters, MACs and element-wise ops, so that a diagram adds up
    to the summary: each layer's figures go to the step of its path or of the nearest module around it, and a
    functional op the trace names otherwise (Res2Net's splits and sums) to the last step of its block."""
    index = {n.name: i for i, n in enumerate(nodes)}  # a module's later calls are named `path#2`, ...
    last_of_block = {n.block: i for i, n in enumerate(nodes) if n.block}
    sums = [[0, 0, 0] for _ in nodes]
    for layer in layers:
        parts = layer.path.split(".")
        found = next(
            (index[".".join(parts[:end])] for end in range(len(parts), 0, -1) if ".".join(parts[:end]) in index), None
        )
        i = found if found is not None else last_of_block.get(block_of(layer.path), len(nodes) - 1)
        sums[i][0] += layer.params
        sums[i][1] += layer.macs
        sums[i][2] += layer.ops
    return [dataclasses.replace(n, params=p, macs=m, ops=o) for n, (p, m, o) in zip(nodes, sums, strict=True)]


def _with_containers(shapes: Mapping[str, Shape]) -> dict[str, Shape]:
    """`shapes` (in forward order) plus each container's output: the shape of the last step inside it."""
    containers: dict[str, Shape] = {}
    for path, shape in shapes.items():
        parts = path.split(".")
        for end in range(1, len(parts)):
            containers[".".join(parts[:end])] = shape
    return {**containers, **shapes}


def _nodes(model: nn.Module, graph: fx.Graph, input_shape: Shape, shapes: Mapping[str, Shape]) -> list[Node] | None:
    """The steps of `graph` with the output shapes in `shapes`; None if a functional step has none of its own."""
    names: dict[fx.Node, str] = {}
    nodes: list[Node] = []
    calls: dict[str, int] = {}
    known = {"input": input_shape, **shapes}
    for fx_node in graph.nodes:
        node = _node(fx_node, model, names, known)
        functional = fx_node.op in ("call_function", "call_method")
        if functional and fx_node.name not in shapes and (node.name not in shapes or node.name in calls):
            return None
        known[node.name] = node.shape
        calls[node.name] = calls.get(node.name, 0) + 1
        if calls[node.name] > 1:  # a module called more than once (torchvision's blocks reuse one ReLU)
            node = dataclasses.replace(node, name=f"{node.name}#{calls[node.name]}")
        names[fx_node] = node.name
        nodes.append(node)
    return nodes


class _Shapes(fx.Interpreter):
    """Runs the traced graph, keeping the output shape of each functional step (such as the residual add)."""

    def __init__(self, module: fx.GraphModule, shapes: dict[str, Shape]) -> None:
        super().__init__(module)
        self.shapes = shapes

    def run_node(self, n: fx.Node) -> object:
        result = super().run_node(n)
        # A split returns a tuple of tensors: its step is drawn with the shape of the first.
        first = result[0] if isinstance(result, tuple | list) and result else result
        if n.op in ("call_function", "call_method") and isinstance(first, Tensor):
            self.shapes[n.name] = tuple(first.shape[1:])
        return result


def measure_shapes(model: nn.Module, graph: fx.Graph, input_shape: Shape) -> dict[str, Shape]:
    """Output shapes of every module (by path) and functional step (by fx name), from one pass on meta."""
    shapes: dict[str, Shape] = {}

    def record(name: str) -> Callable[[nn.Module, object, Tensor], None]:
        return lambda module, inputs, output: shapes.__setitem__(name, tuple(output.shape[1:]))

    handles = [m.register_forward_hook(record(name)) for name, m in model.named_modules() if name]
    try:
        _Shapes(fx.GraphModule(model, graph), shapes).run(torch.empty(1, *input_shape, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def _macs(layer: nn.Module, path: str, shapes: Mapping[str, Shape]) -> int:
    """Multiply-accumulates of `layer` and the layers inside it, as the table of layer kinds counts them, from
    each one's output shape (in `shapes`, by path) and its input channels."""
    total = 0
    for name, m in layer.named_modules():
        op = _op(m)
        out = shapes.get(f"{path}.{name}" if name else path)
        if op is not None and out is not None:
            total += kind_of(op).cost(op, (op.ins, *out[1:]), out).macs
    return total


def _op(module: nn.Module) -> Op | None:
    """The op a built module stands for, read through the table of layer kinds; None for one it does not know."""
    fields = read(module)
    return None if fields is None else Op(name="", **{"ins": 0, "out": 0, **fields})


def _composite(module: nn.Module) -> bool:
    """Attention layers and the like, built from a plan but not blocks, are drawn as one layer each."""
    return isinstance(module, Planned) and not isinstance(module, Block)


def _has_data(model: nn.Module) -> bool:
    return any(not t.is_meta for t in [*model.parameters(), *model.buffers()])


def _node(fx_node: fx.Node, model: nn.Module, names: dict[fx.Node, str], shapes: Mapping[str, Shape]) -> Node:
    """The step `fx_node` stands for; `shapes` holds the output shapes of the steps before it."""
    inputs = tuple(names[n] for n in fx_node.all_input_nodes)
    in_shape = shapes.get(inputs[0].split("#")[0], ()) if inputs else shapes["input"]
    if fx_node.op == "placeholder":
        return Node("input", "input", (), in_shape, in_shape)
    if fx_node.op == "output":
        return Node("output", "output", inputs, in_shape, in_shape)
    if fx_node.op == "call_module":
        path = str(fx_node.target)
        layer = model.get_submodule(path)
        params = sum(p.numel() for p in layer.parameters())
        block = block_of(path)
        block_kind = type(model.get_submodule(block)).__name__ if block else ""
        # Attention layers keep their input's shape; the static analysis records only their parts.
        shape = shapes[path] if path in shapes or not _composite(layer) else in_shape
        macs = _macs(layer, path, shapes)
        note = _note(layer, in_shape, shape)
        kind = type(layer).__name__
        return Node(path, kind, inputs, in_shape, shape, params, macs, note=note, block=block, block_kind=block_kind)
    # A functional step: the residual add (`out += shortcut`, `out + shortcut`) or another op, named in its block.
    block = next((block_of(n) for n in inputs if block_of(n)), "")
    op = getattr(fx_node.target, "__name__", str(fx_node.target)).strip("_")
    kind = "add" if op in ("add", "iadd") else op
    block_kind = type(model.get_submodule(block)).__name__ if block else ""
    name = f"{block}.{kind}" if block else fx_node.name
    shape = shapes.get(name, shapes.get(fx_node.name, in_shape))
    return Node(name, kind, inputs, in_shape, shape, block=block, block_kind=block_kind)


def _note(layer: nn.Module, in_shape: Shape, shape: Shape) -> str:
    """A layer's few defining numbers, as the table of layer kinds writes them: '3x3/2, 64 -> 128', '2048 -> 1000'."""
    op = _op(layer)
    return "" if op is None or not in_shape or not shape else kind_of(op).note(op, in_shape, shape)
