"""The block-type registry: names a spec may use in `type`, known without importing torch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BlockType:
    """What the validator and the compiler need to know about a block type.

    `post` and `pre` are the block classes for post- and pre-activation, or "module:Class" strings that are
    imported only when a model is built, so that validating a spec never imports torch.
    """

    name: str
    expansion: int
    grouped: bool
    has_1x1_stride: bool
    post: Any
    pre: Any = None

    def block_class(self, order: str) -> type:
        """The class for `order` ('post' or 'pre'), imported on first use."""
        target = self.post if order == "post" else self.pre
        if target is None:
            raise ValueError(f"block type '{self.name}' has no {order}-activation form")
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
        return target  # type: ignore[no-any-return]


_REGISTRY: dict[str, BlockType] = {}


def register_block(
    name: str,
    *,
    post: Any,
    pre: Any = None,
    expansion: int = 1,
    grouped: bool = False,
    has_1x1_stride: bool = False,
) -> BlockType:
    """Make `type: <name>` available in specs. Raises on a name that is already registered.

    The classes take the keyword arguments that netspec.blocks.BasicBlock takes. `grouped` says whether the
    block honours groups and width_per_group; `has_1x1_stride` whether it can stride on a 1x1 conv.
    """
    if name in _REGISTRY:
        raise ValueError(f"block type '{name}' is already registered")
    entry = BlockType(name, expansion, grouped, has_1x1_stride, post, pre)
    _REGISTRY[name] = entry
    return entry


def block_type(name: str) -> BlockType:
    return _REGISTRY[name]


def block_names() -> list[str]:
    return sorted(_REGISTRY)


register_block("basic", post="netspec.blocks:BasicBlock", pre="netspec.blocks:PreActBasicBlock", expansion=1)
register_block(
    "bottleneck",
    post="netspec.blocks:Bottleneck",
    pre="netspec.blocks:PreActBottleneck",
    expansion=4,
    grouped=True,
    has_1x1_stride=True,
)
