"""A built network prepared for fast inference: BatchNorm folded into the conv before it, channels_last memory."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from netspec.kinds import foldable


def optimize_for_inference(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """A copy of `model` in eval mode where every batch norm that directly follows a plain conv (and is that conv's
    only reader) is folded into the conv's weights and bias, and replaced by Identity; the module tree and
    names stay as they were. With `channels_last`, weights and inputs use the NHWC (NDHWC for 3-D networks) layout
    that the CPU and GPU convolution kernels run fastest on. Outputs stay within float32 rounding of the original's."""
    model = copy.deepcopy(model).eval()
    graph = fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    for node in graph.nodes:
        source = node.args[0] if node.op == "call_module" and node.args else None
        if not isinstance(source, fx.Node) or source.op != "call_module" or len(source.users) != 1:
            continue
        conv, norm = modules[str(source.target)], modules[str(node.target)]
        if foldable(conv, norm) and norm.track_running_stats:
            _replace(model, str(source.target), fuse_conv_bn_eval(conv, norm))
            _replace(model, str(node.target), nn.Identity())
    layout = _layout(model) if channels_last else None
    if layout is not None:
        model = model.to(memory_format=layout)
        model.register_forward_pre_hook(_to_channels_last)
    return model


def _layout(model: nn.Module) -> torch.memory_format | None:
    """Channels-last for the convs' number of axes: NHWC for images, NDHWC for volumes and video, none for series
    (a 1-D conv has no channels-last kernels)."""
    ranks = {m.weight.dim() for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)}
    return {4: torch.channels_last, 5: torch.channels_last_3d}.get(max(ranks, default=0))


def _replace(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


def _to_channels_last(module: nn.Module, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    layouts = {4: torch.channels_last, 5: torch.channels_last_3d}
    return tuple(x.contiguous(memory_format=layouts[x.dim()]) if x.dim() in layouts else x for x in inputs)
