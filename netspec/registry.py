"""The block-type registry: names a spec may use in `type`, known without importing torch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

ORDERS = ("post", "pre")


def _resolve(target: Any) -> Any:
    """A "module:attr" string imported on first use, or the object itself."""
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target


@dataclass(frozen=True)
class BlockType:
    """What the validator, the analysis and the compiler need to know about a block type.

    `forms` maps an activation order ('post', 'pre') to (block class, static description). Either may be a
    "module:attr" string, imported only when needed, so that validating a spec never imports torch. The
    description, a function of netspec.anatomy's kind, lets `netspec summary` count the block without torch.
    """

    name: str
    expansion: int
    grouped: bool
    has_1x1_stride: bool
    forms: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def block_class(self, order: str) -> type:
        return _resolve(self.forms[order][0])  # type: ignore[no-any-return]

    def description(self, order: str) -> Any:
        """The static description of the `order` form, or None when the type was registered without one."""
        return _resolve(self.forms[order][1])


_REGISTRY: dict[str, BlockType] = {}


def register_block(
    name: str,
    *,
    post: Any,
    pre: Any = None,
    describe_post: Any = None,
    describe_pre: Any = None,
    expansion: int = 1,
    grouped: bool = False,
    has_1x1_stride: bool = False,
) -> BlockType:
    """Make `type: <name>` available in specs. Raises on a name that is already registered.

    `post` and `pre` are block classes taking the keyword arguments of netspec.blocks.BasicBlock. The optional
    `describe_*` functions mirror them for `netspec summary` (see netspec.anatomy.basic). `grouped` says
    whether the block honours groups and width_per_group; `has_1x1_stride` whether it can stride on a 1x1 conv.
    """
    if name in _REGISTRY:
        raise ValueError(f"block type '{name}' is already registered")
    forms = {"post": (post, describe_post)} | ({"pre": (pre, describe_pre)} if pre is not None else {})
    entry = BlockType(name, expansion, grouped, has_1x1_stride, forms)
    _REGISTRY[name] = entry
    return entry


def block_type(name: str) -> BlockType:
    return _REGISTRY[name]


def block_names() -> list[str]:
    return sorted(_REGISTRY)


register_block(
    "basic",
    post="netspec.blocks:BasicBlock",
    pre="netspec.blocks:PreActBasicBlock",
    describe_post="netspec.anatomy:basic",
    describe_pre="netspec.anatomy:preact_basic",
    expansion=1,
)
register_block(
    "bottleneck",
    post="netspec.blocks:Bottleneck",
    pre="netspec.blocks:PreActBottleneck",
    describe_post="netspec.anatomy:bottleneck",
    describe_pre="netspec.anatomy:preact_bottleneck",
    expansion=4,
    grouped=True,
    has_1x1_stride=True,
)
