"""Where a plan's names become torch classes, in one place; plus the small layers blocks share."""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netspec.anatomy import PlanMismatch
from netspec.plan import ACTIVATIONS, NORMS, Op


class Planned(nn.Module):
    """A module whose layers come from its plan (netspec.plan); subclasses keep only `forward`.

    `optional` names the layers that forward checks for None, which the plan may leave out; `constants` are
    the integers forward needs besides its layers."""

    optional: ClassVar[tuple[str, ...]] = ()

    def __init__(self, layers: Mapping[str, nn.Module], constants: Mapping[str, int] | None = None) -> None:
        super().__init__()
        for name in self.optional:
            setattr(self, name, None)
        for name, layer in layers.items():
            setattr(self, name, layer)
        for name, value in (constants or {}).items():
            setattr(self, name, value)

    if TYPE_CHECKING:  # the layers are the plan's, named at run time

        def __getattr__(self, name: str) -> Any: ...


class ZeroPadShortcut(nn.Module):
    """Shortcut option A of He et al. 2015: subsample, then pad the new channels with zeros; no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        # Pad both ends, as the widely copied CIFAR implementations do (planes // 4 each side when doubling).
        self.pad_front = (out_channels - in_channels) // 2
        self.pad_back = out_channels - in_channels - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad_front, self.pad_back))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad=({self.pad_front}, {self.pad_back})"


class SqueezeExcite(Planned):
    """Squeeze-and-excitation (Hu et al. 2018) with timm's layer names: fc1, act, fc2, gate."""

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.fc2(self.act(self.fc1(scale)))
        return x * self.gate(scale)  # type: ignore[no-any-return]


class EfficientChannelAttention(Planned):
    """ECA (Wang et al. 2020): a 1-D conv across pooled channels; timm's layer names (conv, gate)."""

    def forward(self, x: Tensor) -> Tensor:
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.gate(self.conv(y)).view(x.shape[0], -1, 1, 1)
        return x * y.expand_as(x)  # type: ignore[no-any-return]


class StdConv2d(nn.Conv2d):
    """A conv with weight standardization (Qiao et al. 2019): each filter is normalised before use, as in
    BiT (Kolesnikov et al. 2020), with timm's arithmetic and BiT's eps, so that BiT's weights give its outputs."""

    def forward(self, x: Tensor) -> Tensor:
        flat = self.weight.reshape(1, self.out_channels, -1)
        weight = F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=1e-8).reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class BlurPool2d(nn.Module):
    """Anti-aliased downsampling (Zhang 2019): reflect-pad, blur with a binomial filter, subsample; timm's
    layer, whose filter is a buffer it does not save."""

    def __init__(self, channels: int, kernel: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.channels, self.stride, self.padding = channels, stride, [(stride - 1 + kernel - 1) // 2] * 4
        coefficients = torch.tensor([math.comb(kernel - 1, k) for k in range(kernel)], dtype=torch.float32)
        coefficients = coefficients / 2 ** (kernel - 1)
        blur = (coefficients[:, None] * coefficients[None, :])[None, None].repeat(channels, 1, 1, 1)
        self.register_buffer("filt", blur, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, self.padding, mode="reflect")
        return F.conv2d(x, self.filt, stride=self.stride, groups=self.channels)  # type: ignore[arg-type]


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch per sample while training (Huang et al. 2016)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _act(op: Op) -> nn.Module:
    kind = ACTIVATIONS[op.variant]
    cls = getattr(nn, kind.cls)
    return cls(inplace=op.inplace) if kind.inplace else cls(**dict(kind.kwargs))  # type: ignore[no-any-return]


def _norm(op: Op) -> nn.Module:
    """torchvision's FrozenBatchNorm2d is imported only when used: torchvision takes over a second to import."""
    kind = NORMS[op.variant]
    cls = getattr(importlib.import_module(kind.module), kind.cls)
    if op.variant == "group":
        return cls(op.groups, op.out)  # type: ignore[no-any-return]
    return cls() if op.variant == "none" else cls(op.out)  # type: ignore[no-any-return]


_CONVS: dict[str, type[nn.Conv2d]] = {"": nn.Conv2d, "plain": nn.Conv2d, "std": StdConv2d}
_LEAVES: dict[str, Callable[[Op], nn.Module]] = {
    "conv": lambda op: _CONVS[op.variant](
        op.ins, op.out, op.kernel, op.stride, op.pad, op.dilation, op.groups, op.bias
    ),
    "conv1d": lambda op: nn.Conv1d(op.ins, op.out, op.kernel, op.stride, op.pad, op.dilation, op.groups, op.bias),
    "linear": lambda op: nn.Linear(op.ins, op.out),
    "act": _act,
    "norm": _norm,
    "maxpool": lambda op: nn.MaxPool2d(op.kernel, op.stride, op.pad, ceil_mode=op.ceil),
    "avgpool": lambda op: nn.AvgPool2d(op.kernel, op.stride, op.pad, op.ceil, op.count_pad),
    "global_avgpool": lambda op: nn.AdaptiveAvgPool2d(1),
    "global_maxpool": lambda op: nn.AdaptiveMaxPool2d(1),
    "flatten": lambda op: nn.Flatten(1),
    "identity": lambda op: nn.Identity(),
    "pad": lambda op: nn.ConstantPad2d(op.pad, 0.0),
    "blur": lambda op: BlurPool2d(op.out, op.kernel, op.stride),
    "dropout": lambda op: nn.Dropout(op.p),
    "sigmoid": lambda op: nn.Sigmoid(),
    "drop_path": lambda op: DropPath(op.p),
    "zero_pad": lambda op: ZeroPadShortcut(op.ins, op.out, op.stride),
}
COMPOSITES: dict[str, type[Planned]] = {"se": SqueezeExcite, "eca": EfficientChannelAttention}


def build(op: Op) -> nn.Module:
    """The module a planned op stands for; containers are built from their children."""
    if op.kind == "sequential":  # numbered children, or named ones (torchvision's RegNet names them a, b, se, c)
        layers = [(child.name, build(child)) for child in op.children if child.module]
        if all(name == str(i) for i, (name, _) in enumerate(layers)):
            return nn.Sequential(*(layer for _, layer in layers))
        return nn.Sequential(OrderedDict(layers))
    if op.kind in COMPOSITES:
        return COMPOSITES[op.kind](built(op.children))
    if op.kind in ("module", "composite"):  # a family's own layer, named by its import path
        module, _, name = op.variant.partition(":")
        cls = getattr(importlib.import_module(module), name)
        if op.kind == "composite":
            return cls(built(op.children), dict(op.constants))  # type: ignore[no-any-return]
        return _declared(op, cls(*op.args))
    return _LEAVES[op.kind](op)


def _declared(op: Op, module: nn.Module) -> nn.Module:
    """A `module` op's module, if it holds the parameters and buffers its plan declares: what summaries count."""
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    if (params, buffers) != (op.params, op.buffers):
        raise PlanMismatch(
            f"{op.name} ({op.cls}): holds {params:,} parameters and {buffers:,} buffer values, but its plan declares "
            f"{op.params:,} and {op.buffers:,}; give the counts in its Op (params=, buffers=), so that summaries, "
            "limits and diagrams count them"
        )
    return module


def built(ops: tuple[Op, ...]) -> dict[str, nn.Module]:
    """The modules of `ops`, by name, in order (functional steps such as the add have none); ops named
    `NAME.0`, `NAME.1`, ... become the items of a ModuleList `NAME`."""
    layers: dict[str, nn.Module] = {}
    for op in ops:
        if not op.module:
            continue
        name, _, index = op.name.partition(".")
        if not index:
            layers[name] = build(op)
            continue
        items = layers.setdefault(name, nn.ModuleList())
        if not isinstance(items, nn.ModuleList) or index != str(len(items)):
            raise ValueError(f"plan op {op.name}: list items must be numbered 0, 1, ... in order")
        items.append(build(op))
    return layers
