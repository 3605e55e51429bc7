"""Where a plan's ops become torch modules, as the table of layer kinds (netspec.kinds) says; plus the small layers
blocks share."""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from netspec.anatomy import PlanMismatch
from netspec.kinds import class_name, kind_of, torch_path
from netspec.plan import Op


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
    """Shortcut option A of He et al. 2015: subsample, then pad the new channels with zeros; no parameters.
    `stride` has one entry per spatial axis (one int: two axes, images)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, ...], pad: str = "both") -> None:
        super().__init__()
        self.stride = list(stride) if isinstance(stride, tuple) else [stride, stride]
        # Pad both ends, as the widely copied CIFAR implementations do (planes // 4 each side when doubling), or
        # after the input's channels, as MONAI and Hara et al.'s 3-D ResNets do.
        self.pad_front = 0 if pad == "end" else (out_channels - in_channels) // 2
        self.pad_back = out_channels - in_channels - self.pad_front

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        if len(s) == 1:
            x = x[:, :, :: s[0]]
        elif len(s) == 2:
            x = x[:, :, :: s[0], :: s[1]]
        else:
            x = x[:, :, :: s[0], :: s[1], :: s[2]]
        return F.pad(x, [0, 0] * len(s) + [self.pad_front, self.pad_back])

    def extra_repr(self) -> str:
        return f"stride={tuple(self.stride)}, pad=({self.pad_front}, {self.pad_back})"


def spatial(dims: int) -> list[int]:
    """The spatial axes of a batch of `dims`-axis feature maps (N, C, *spatial)."""
    return list(range(2, 2 + dims))


class SqueezeExcite(Planned):
    """Squeeze-and-excitation (Hu et al. 2018) with timm's layer names: fc1, act, fc2, gate."""

    dims = 2  # spatial axes of its input, a constant of its plan (no annotation: TorchScript reads those)

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean(spatial(self.dims), keepdim=True)
        scale = self.fc2(self.act(self.fc1(scale)))
        return x * self.gate(scale)  # type: ignore[no-any-return]


class EfficientChannelAttention(Planned):
    """ECA (Wang et al. 2020): a 1-D conv across pooled channels; timm's layer names (conv, gate)."""

    dims = 2

    def forward(self, x: Tensor) -> Tensor:
        y = x.mean(spatial(self.dims)).view(x.shape[0], 1, -1)
        y = self.gate(self.conv(y)).view(x.shape[0], -1)
        for _ in range(self.dims):  # (N, C, 1, ...): one axis of 1 per spatial axis
            y = y.unsqueeze(-1)
        return x * y.expand_as(x)  # type: ignore[no-any-return]


class _StandardizedWeights:
    """A conv with weight standardization (Qiao et al. 2019): each filter is normalised before use, as in
    BiT (Kolesnikov et al. 2020), with timm's arithmetic and BiT's eps, so that BiT's weights give its outputs."""

    if TYPE_CHECKING:  # what the conv base class supplies (not annotations at run time, which TorchScript reads)
        weight: Tensor
        bias: Tensor | None
        out_channels: int

        def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor: ...

    def forward(self, x: Tensor) -> Tensor:
        flat = self.weight.reshape(1, self.out_channels, -1)
        weight = F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=1e-8).reshape_as(self.weight)
        return self._conv_forward(x, weight, self.bias)


def _standardized(dims: int) -> type[nn.Module]:
    """StdConv{dims}d: torch's conv of `dims` axes with standardized weights (timm's name for it)."""
    base = getattr(nn, f"Conv{dims}d")
    cls = type(f"StdConv{dims}d", (_StandardizedWeights, base), {"__doc__": _StandardizedWeights.__doc__})
    cls.__module__ = __name__
    return cls


for _dims in (1, 2, 3):  # module attributes, so that the classes pickle and script by name
    _cls = _standardized(_dims)
    globals()[_cls.__name__] = _cls


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


def _class(path: str) -> type[nn.Module]:
    """The class at "module:Class"; torchvision's modules are imported only when used (over a second)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def build(op: Op, dims: int = 2) -> nn.Module:
    """The module a planned op stands for, in a network of `dims` spatial axes, as the table of layer kinds
    (netspec.kinds) declares it; containers are built from their children."""
    kind, cls = kind_of(op), _class(torch_path(op, dims))
    if op.kind == "sequential":  # numbered children, or named ones (torchvision's RegNet names them a, b, se, c)
        layers = [(child.name, build(child, dims)) for child in op.children if child.module]
        if all(name == str(i) for i, (name, _) in enumerate(layers)):
            return nn.Sequential(*(layer for _, layer in layers))
        return nn.Sequential(OrderedDict(layers))
    if kind.container:  # attention layers and a family's own containers: Planned, built from their children
        return cls(built(op.children, dims), dict(op.constants))
    if op.kind == "module":  # a family's own layer, named by its import path, with its arguments in the plan
        return _declared(op, cls(*op.args), dims)
    args, kwargs = kind.args(op)
    return cls(*args, **kwargs)


def _declared(op: Op, module: nn.Module, dims: int) -> nn.Module:
    """A `module` op's module, if it holds the parameters and buffers its plan declares: what summaries count."""
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    if (params, buffers) != (op.params, op.buffers):
        raise PlanMismatch(
            f"{op.name} ({class_name(op, dims)}): holds {params:,} parameters and {buffers:,} buffer values, but its "
            f"plan declares {op.params:,} and {op.buffers:,}; give the counts in its Op (params=, buffers=), so that "
            "summaries, limits and diagrams count them"
        )
    return module


def built(ops: tuple[Op, ...], dims: int = 2) -> dict[str, nn.Module]:
    """The modules of `ops`, by name, in order (functional steps such as the add have none); ops named
    `NAME.0`, `NAME.1`, ... become the items of a ModuleList `NAME`."""
    layers: dict[str, nn.Module] = {}
    for op in ops:
        if not op.module:
            continue
        name, _, index = op.name.partition(".")
        if not index:
            layers[name] = build(op, dims)
            continue
        items = layers.setdefault(name, nn.ModuleList())
        if not isinstance(items, nn.ModuleList) or index != str(len(items)):
            raise ValueError(f"plan op {op.name}: list items must be numbered 0, 1, ... in order")
        items.append(build(op, dims))
    return layers
