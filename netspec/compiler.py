"""Spec -> nn.Module: the one place that reads a spec to build layers.

The result is a ResNet, an nn.Sequential of named children (conv1, bn1, act1, maxpool, layer1..N, avgpool,
flatten, fc), so its state_dict keys are torchvision's and its forward is a straight line over them.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial

from torch import nn

from netspec.blocks import AttnLayer
from netspec.layers import EfficientChannelAttention, SqueezeExcite, act_layer, norm_layer, shortcut
from netspec.registry import block_type
from netspec.spec import BlockSettings, Head, Spec, Stage


class ResNet(nn.Sequential):
    """A network compiled from a netspec spec: stem, stages layer1..layerN and head, run in order."""


def compile_spec(spec: Spec) -> ResNet:
    """Build the module that `spec` describes, initialised as torchvision initialises its ResNets."""
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    channels = _stem(spec, parts)
    dilation = 1
    stages = zip(spec.stages, spec.stage_blocks(), spec.drop_path_rates(), strict=True)
    for i, (stage, block, rates) in enumerate(stages):
        parts[f"layer{i + 1}"] = _stage(channels, stage, block, dilation, rates)
        channels, dilation = block.out_channels(stage.width), stage.dilation
    _head(spec, channels, parts)
    model = ResNet(parts)
    _init_weights(model, spec)
    return model


def _stem(spec: Spec, parts: OrderedDict[str, nn.Module]) -> int:
    """Add conv1 (a Sequential for multi-conv stems, as in timm), bn1, act1 and the pool; return channels."""
    norm, act = norm_layer(spec.block.norm, spec.block.norm_groups), act_layer(spec.block.act)
    convs: list[nn.Module] = []
    channels = spec.input.channels
    for i, conv in enumerate(spec.stem.layers()):
        if i > 0:
            convs += [norm(channels), act()]
        padding = conv.kernel // 2
        convs.append(nn.Conv2d(channels, conv.width, conv.kernel, conv.stride, padding, bias=conv.bias))
        channels = conv.width
    parts["conv1"] = convs[0] if len(convs) == 1 else nn.Sequential(*convs)
    if spec.stem_norm():
        parts["bn1"] = norm(channels)
        parts["act1"] = act()
    pool = spec.stem.pool_kind()
    if pool != "none":
        pool_layer = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        parts["maxpool" if pool == "max" else "avgpool_stem"] = pool_layer(kernel_size=3, stride=2, padding=1)
    return channels


def _stage(in_ch: int, stage: Stage, block: BlockSettings, prev_dilation: int, rates: list[float]) -> nn.Sequential:
    """A stage is a loop over one block type; only the first block strides and changes width."""
    kind = block_type(block.type)
    cls = kind.block_class(block.order)
    norm = norm_layer(block.norm, block.norm_groups)
    out_ch = block.out_channels(stage.width)
    bias = block.norm == "none"
    shared = {
        "groups": block.groups,
        "width_per_group": block.width_per_group,
        "expansion": block.expansion or kind.expansion,
        "dilation": stage.dilation,
        "stride_in_1x1": block.stride_at == "1x1",
        "norm_layer": norm,
        "act_layer": act_layer(block.act),
        "attn_layer": _attention(block),
        "bias": bias,
    }
    # Pre-activation projections see a normalised input and have no norm of their own (He et al. 2016).
    shortcut_norm = norm if block.order == "post" else None
    shortcut_act = act_layer(block.act) if block.shortcut_act else None
    layers = []
    for i in range(stage.depth):
        stride = stage.stride if i == 0 else 1
        downsample = shortcut(block.shortcut, in_ch, out_ch, stride, shortcut_norm, bias, shortcut_act)
        # torchvision and timm keep the previous stage's dilation in the first block's strided conv.
        first_dilation = prev_dilation if i == 0 else stage.dilation
        layers.append(
            cls(in_ch, stage.width, stride, downsample, first_dilation=first_dilation, drop_path=rates[i], **shared)
        )
        in_ch = out_ch
    return nn.Sequential(*layers)


def _attention(block: BlockSettings) -> AttnLayer | None:
    if block.attn == "se":
        return partial(SqueezeExcite, ratio=block.attn_ratio, divisor=block.attn_divisor)
    if block.attn == "eca":
        return EfficientChannelAttention
    return None


def _head(spec: Spec, channels: int, parts: OrderedDict[str, nn.Module]) -> None:
    """Final norm (pre-activation), global pool, flatten, dropout and the classifier `fc`."""
    head = spec.head
    if spec.final_norm():
        parts["final_norm"] = norm_layer(spec.block.norm, spec.block.norm_groups)(channels)
        parts["final_act"] = act_layer(spec.block.act)()
    if head.pool == "none":
        return
    parts["avgpool" if head.pool == "avg" else "global_maxpool"] = (
        nn.AdaptiveAvgPool2d(1) if head.pool == "avg" else nn.AdaptiveMaxPool2d(1)
    )
    parts["flatten"] = nn.Flatten(1)
    if head.classes or head.hidden:
        if head.dropout and not head.hidden:
            parts["dropout"] = nn.Dropout(head.dropout)
        parts["fc"] = _classifier(head, channels)


def _classifier(head: Head, channels: int) -> nn.Module:
    """A Linear, or an MLP: Linear, act, Dropout for each hidden layer, then the last Linear."""
    if not head.hidden:
        return nn.Linear(channels, head.classes)
    layers: list[nn.Module] = []
    for width in head.hidden:
        layers += [nn.Linear(channels, width), act_layer(head.act)(), nn.Dropout(head.dropout)]
        channels = width
    if head.classes:
        layers.append(nn.Linear(channels, head.classes))
    return nn.Sequential(*layers)


def _init_weights(model: nn.Module, spec: Spec) -> None:
    """torchvision's initialisation: He-normal convs (fan out), unit norms; optional zero-init of branches."""
    if any(p.is_meta for p in model.parameters()):
        return  # meta tensors hold no values (and initialising them imports torch._dynamo, over a second)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for layer, block in zip(_stages(model, spec), spec.stage_blocks(), strict=True):
        if block.zero_init_last:
            for residual in layer:
                residual.zero_init_last()  # type: ignore[operator]  # every block class defines it


def _stages(model: nn.Module, spec: Spec) -> list[nn.Sequential]:
    return [model.get_submodule(f"layer{i + 1}") for i in range(len(spec.stages))]  # type: ignore[misc]
