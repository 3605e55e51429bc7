"""The block-type registry: names a spec may use in `type`, known without importing torch.

A block type is a plan function (netspec.plan: the block's layers, torch-free) and a class that keeps only a
hand-written `forward` over those layers, for each activation order it has.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from netspec.block_plans import BasicOptions
from netspec.errors import NetspecError, printable
from netspec.families.regnet import RegNetOptions
from netspec.families.res2net import Res2NetOptions
from netspec.families.resnest import ResNeStOptions
from netspec.families.sknet import SelectiveKernelOptions
from netspec.families.tsc import TimeSeriesOptions
from netspec.plan import PlanFunction

ORDERS = ("post", "pre")


def _resolve(target: Any) -> Any:
    """A "module:attr" string imported on first use, or the object itself."""
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target


@dataclass(frozen=True)
class BlockType:
    """What the validator, the plan and the compiler need to know about a block type.

    `forms` maps an activation order ('post', 'pre') to (plan function, block class); either may be a
    "module:attr" string, imported only when needed, so that validating a spec never imports torch.
    """

    name: str
    expansion: int
    grouped: bool
    has_1x1_stride: bool
    forms: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    options: type[BaseModel] | None = None  # the settings only this type has, under `options:` in a spec
    dims: tuple[int, ...] = (1, 2, 3)  # the numbers of spatial axes its plan and forward work in
    kernels: bool = False  # it honours block.kernel (else its convs are 3 on every axis)

    def plan(self, order: str) -> PlanFunction:
        return _resolve(self.forms[order][0])  # type: ignore[no-any-return]

    def block_class(self, order: str) -> type:
        return _resolve(self.forms[order][1])  # type: ignore[no-any-return]


_REGISTRY: dict[str, BlockType] = {}


def register_block(
    name: str,
    *,
    post: tuple[Any, Any],
    pre: tuple[Any, Any] | None = None,
    expansion: int = 1,
    grouped: bool = False,
    has_1x1_stride: bool = False,
    options: type[BaseModel] | None = None,
    dims: tuple[int, ...] = (1, 2, 3),
    kernels: bool = False,
) -> BlockType:
    """Make `type: <name>` available in specs. Raises on a name that is already registered.

    `post` and `pre` are (plan function, block class) pairs: the plan function takes netspec.plan.BlockArgs and
    returns a BlockPlan; the class subclasses netspec.blocks.Block and defines `forward` over the plan's layers
    (see docs/adding-a-block-type.md). `grouped` says whether the block honours groups and width_per_group;
    `has_1x1_stride` whether it can stride on a 1x1 conv. `options`, a pydantic model, validates the settings
    only this type has (a spec's `options:`); plan functions receive it validated as BlockArgs.options.
    `dims` are the numbers of spatial axes it works in (BlockArgs.dims), `kernels` whether it honours
    BlockArgs.kernel.
    """
    _check_arguments(name, expansion, grouped, has_1x1_stride, options)
    if name in _REGISTRY:
        raise RegistrationError(f"block type '{name}' is already registered")
    forms = {"post": post} | ({"pre": pre} if pre is not None else {})
    for order, form in forms.items():
        if not (isinstance(form, tuple) and len(form) == 2):
            raise RegistrationError(f"register_block: {order} must be a (plan function, block class) pair")
        plan, cls = form
        if not isinstance(plan, str) and not isinstance(cls, str):
            from netspec.fit import check_fit  # imports torch: only for classes given as objects

            check_fit(name, order, plan, cls, options)
    entry = BlockType(name, expansion, grouped, has_1x1_stride, forms, options, tuple(dims), kernels)
    _REGISTRY[name] = entry
    return entry


class RegistrationError(NetspecError, ValueError):
    """register_block was given something a spec could not name or netspec could not build."""


NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")  # what a spec writes in block.type, read back as itself


def _check_arguments(name: object, expansion: object, grouped: object, has_1x1_stride: object, options: object) -> None:
    """Refuse, before anything is registered, what would break every later validation or build."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise RegistrationError(
            f"register_block: the name {printable(repr(name))} is not one a spec can write in block.type: a letter, "
            "then up to 63 letters, digits, '_', '-' or '.'"
        )
    if type(expansion) is not int or expansion < 1:
        raise RegistrationError(f"register_block: expansion must be a whole number of at least 1, got {expansion!r}")
    for flag, value in (("grouped", grouped), ("has_1x1_stride", has_1x1_stride)):
        if not isinstance(value, bool):
            raise RegistrationError(f"register_block: {flag} must be True or False, got {value!r}")
    if options is not None and not (isinstance(options, type) and issubclass(options, BaseModel)):
        raise RegistrationError(f"register_block: options must be a pydantic model class, got {options!r}")


def block_type(name: str) -> BlockType:
    return _REGISTRY[name]


def block_names() -> list[str]:
    return sorted(_REGISTRY)


register_block(
    "basic",
    post=("netspec.block_plans:basic", "netspec.blocks:BasicBlock"),
    pre=("netspec.block_plans:preact_basic", "netspec.blocks:PreActBasicBlock"),
    expansion=1,
    options=BasicOptions,
    kernels=True,
)
register_block(
    "bottleneck",
    post=("netspec.block_plans:bottleneck", "netspec.blocks:Bottleneck"),
    pre=("netspec.block_plans:preact_bottleneck", "netspec.blocks:PreActBottleneck"),
    expansion=4,
    grouped=True,
    has_1x1_stride=True,
    kernels=True,
)
register_block(
    "res2net",
    post=("netspec.families.res2net:res2net", "netspec.families.res2net_block:Res2NetBlock"),
    expansion=4,
    grouped=True,
    options=Res2NetOptions,
    dims=(2,),
)
register_block(
    "resnest",
    post=("netspec.families.resnest:resnest", "netspec.families.resnest_block:ResNeStBlock"),
    expansion=4,
    grouped=True,
    options=ResNeStOptions,
    dims=(2,),
)
register_block(
    "sk_basic",
    post=("netspec.families.sknet:sk_basic", "netspec.families.sknet_block:SelectiveKernelBasic"),
    expansion=1,
    options=SelectiveKernelOptions,
    dims=(2,),
)
register_block(
    "sk_bottleneck",
    post=("netspec.families.sknet:sk_bottleneck", "netspec.families.sknet_block:SelectiveKernelBottleneck"),
    expansion=4,
    grouped=True,
    options=SelectiveKernelOptions,
    dims=(2,),
)
register_block(
    "regnet",
    post=("netspec.families.regnet:regnet", "netspec.families.regnet_block:RegNetBlock"),
    expansion=1,
    options=RegNetOptions,
    dims=(2,),
)
register_block(
    "tsc",
    post=("netspec.families.tsc:tsc", "netspec.families.tsc_block:TimeSeriesBlock"),
    expansion=1,
    options=TimeSeriesOptions,
)
