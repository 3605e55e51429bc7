"""Plan -> nn.Module: the one place that builds a spec's layers, from its plan (netspec.network).

The result is a ResNet, an nn.Sequential of named children (conv1, bn1, act1, maxpool, layer1..N, avgpool,
flatten, fc), so its state_dict keys are torchvision's and its forward is a straight line over them.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import ClassVar

from torch import Tensor, nn

from netspec.features import FeatureInfo
from netspec.fit import check_holds, check_layers
from netspec.kinds import initialised
from netspec.layers import build, built
from netspec.network import NetworkPlan, StagePlan, channels_after
from netspec.registry import block_type


class ResNet(nn.Sequential):
    """A network compiled from a netspec spec: stem, stages layer1..layerN and head, run in order."""

    feature_info: FeatureInfo  # the features it offers (timm's attribute): channels and reduction of each
    # Channels of the last stage, under torchvision's and MONAI's names: their FPN extractors (torchvision's
    # _resnet_fpn_extractor, MONAI's resnet_fpn_feature_extractor) read a stage's channels from it.
    inplanes: int
    in_planes: int
    # Plain Python, for the people and tools that build on it: TorchScript leaves them out.
    __jit_ignored_attributes__: ClassVar = ["feature_info", "inplanes", "in_planes"]


class FeatureList(ResNet):
    """A backbone: the network up to its last chosen feature, returning the chosen outputs as a list (timm)."""

    def __init__(self, parts: OrderedDict[str, nn.Module], keys: list[str]) -> None:
        super().__init__(parts)
        self.keys = keys  # per child: the key of its output, or '' when it is not returned

    def forward(self, x: Tensor) -> list[Tensor]:
        out: list[Tensor] = []
        for i, module in enumerate(self):
            x = module(x)
            if self.keys[i]:
                out.append(x)
        return out


class FeatureDict(FeatureList):
    """A backbone returning the chosen outputs as a dict under their keys (torchvision's IntermediateLayerGetter)."""

    def forward(self, x: Tensor) -> dict[str, Tensor]:  # type: ignore[override]
        out: dict[str, Tensor] = {}
        for i, module in enumerate(self):
            x = module(x)
            if self.keys[i]:
                out[self.keys[i]] = x
        return out


def compile_plan(net: NetworkPlan) -> ResNet:
    """Build the module a network's plan describes, initialised as torchvision initialises its ResNets."""
    parts: OrderedDict[str, nn.Module] = OrderedDict((op.name, build(op, net.dims)) for op in net.stem)
    for stage in net.stages:
        parts[stage.args.name] = _stage(stage, net.dims)
    parts.update((op.name, build(op, net.dims)) for op in net.head)
    if net.taps:
        keys = {tap.point.module: tap.key for tap in net.taps}
        model: ResNet = (FeatureDict if net.keyed else FeatureList)(parts, [keys.get(name, "") for name in parts])
        model.feature_info = FeatureInfo([tap.point for tap in net.taps])
    else:
        model = ResNet(parts)
        model.feature_info = FeatureInfo(net.points)
    model.inplanes = model.in_planes = channels_after(net.spec, net.stages)
    _init_weights(model, net)
    return model


def _stage(stage: StagePlan, dims: int) -> nn.Sequential:
    """A stage is a loop over one block type; only the first block strides and changes width."""
    block = stage.args.block
    cls = block_type(block.type).block_class(block.order)
    blocks = []
    for plan in stage.blocks:
        layers, constants = built(plan.ops, dims), dict(plan.constants)
        check_layers(cls, block.type, [*layers, *constants])
        blocks.append(cls(layers, constants) if constants else cls(layers))
        check_holds(blocks[-1], block.type, layers)
    return nn.Sequential(*blocks)


def _init_weights(model: nn.Module, net: NetworkPlan) -> None:
    """torchvision's initialisation: He-normal convs (fan out), unit norms; optional zero-init of branches."""
    if any(p.is_meta for p in model.parameters()):
        return  # meta tensors hold no values (and initialising them imports torch._dynamo, over a second)
    for module in model.modules():
        init, weight, bias = (
            initialised(module, net.dims),
            getattr(module, "weight", None),
            getattr(module, "bias", None),
        )
        if weight is None:
            continue
        if init == "he":
            nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")
        elif init == "unit":
            nn.init.ones_(weight)
        if init and bias is not None:
            nn.init.zeros_(bias)
    for stage in net.stages:
        if stage.args.block.zero_init_last:
            for i, plan in enumerate(stage.blocks):
                # Start the residual branch at zero, so that the block starts as its shortcut (Goyal et al. 2017).
                weight = getattr(model.get_submodule(f"{stage.args.name}.{i}.{plan.zero_init}"), "weight", None)
                if isinstance(weight, nn.Parameter):  # frozen norms (weight is a buffer) and Identity are left alone
                    nn.init.zeros_(weight)
