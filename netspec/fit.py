"""Does a block class fit its plan? Checked when a block type is registered and when a block is built, so
that a mismatch is reported by name instead of surfacing as a TypeError or AttributeError in forward."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from torch import nn

from netspec.errors import NetspecError
from netspec.plan import BlockArgs, BlockPlan, PlanError, PlanFunction

_MODULE_ATTRIBUTES = frozenset(vars(nn.Module()))
_USES: dict[type[nn.Module], frozenset[str]] = {}


class BlockFitError(NetspecError, TypeError):
    """A block class that cannot be built from its plan, or whose forward uses a layer the plan lacks."""


def uses(cls: type[nn.Module]) -> frozenset[str]:
    """The attributes `self.NAME` that cls.forward reads, less those every module or the class has."""
    if cls not in _USES:
        _USES[cls] = _read_uses(cls)
    return _USES[cls]


def _read_uses(cls: type[nn.Module]) -> frozenset[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.forward)))
    except (OSError, TypeError):  # defined where its source cannot be read (an interactive session)
        return frozenset()
    found = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
    }
    return frozenset(name for name in found if not hasattr(cls, name) and name not in _MODULE_ATTRIBUTES)


def check_fit(name: str, order: str, plan: PlanFunction, cls: Any, options: type[BaseModel] | None = None) -> None:
    """Raise BlockFitError unless `cls` is a netspec Block built from layers that `plan` gives, holding nothing else:
    a sample block (64 to 256 channels, strided, with the options' defaults) is planned and built on the meta
    device."""
    from netspec.blocks import Block

    where = f"block type '{name}' ({order}-activation)"
    if not (isinstance(cls, type) and issubclass(cls, Block)):
        raise BlockFitError(f"{where}: {cls!r} is not a subclass of netspec.blocks.Block")
    try:
        inspect.signature(cls).bind({})
    except TypeError:
        takes = ", ".join(inspect.signature(cls).parameters)
        raise BlockFitError(
            f"{where}: {cls.__name__}({takes}) cannot be built from a plan; it must take the plan's layers, "
            f"{cls.__name__}(layers), as netspec.blocks.Block does"
        ) from None
    try:
        defaults = options() if options is not None else None
    except ValidationError:
        return  # options without defaults: its blocks are checked as they are built
    sample = BlockArgs(64, 64, 256, stride=2, dilation=1, first_dilation=1, preact=order == "pre", options=defaults)
    try:
        planned = plan(sample)
    except PlanError:
        return  # these arguments do not suit the type; its blocks are checked as they are built
    except Exception as exc:  # a plan that reads what it was not given, say
        failure = f"{type(exc).__name__}: {exc}"
        raise BlockFitError(f"{where}: its plan function fails on a sample block: {failure}") from None
    given = {op.name.partition(".")[0] for op in planned.ops if op.module} | dict(planned.constants).keys()
    _check_uses(cls, name, given)
    _check_sample(cls, name, planned)


def _check_sample(cls: type[nn.Module], name: str, planned: BlockPlan) -> None:
    """Build the sample block on the meta device, and hold it to its plan."""
    import torch

    from netspec.layers import built

    with torch.device("meta"):
        layers = built(planned.ops)
        try:
            block = cls(layers, dict(planned.constants)) if planned.constants else cls(layers)
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
            raise BlockFitError(f"block type '{name}': {cls.__name__}(layers) fails: {failure}") from None
    check_holds(block, name, layers)


def check_holds(block: nn.Module, name: str, layers: Mapping[str, nn.Module]) -> None:
    """Raise BlockFitError if `block` holds parameters, buffers or modules besides its plan's layers: summaries,
    limits and diagrams count the plan, so a block may hold nothing else."""
    own = [n for n, _ in block.named_parameters(recurse=False)] + [n for n, _ in block.named_buffers(recurse=False)]
    own += [n for n, _ in block.named_children() if n not in layers]
    if own:
        raise BlockFitError(
            f"block type '{name}': {type(block).__name__} holds {', '.join(sorted(own))}, which its plan does not "
            "give; make each a layer of the plan (a module op declaring its parameters), so that summaries count it"
        )


def check_layers(cls: type[nn.Module], name: str, given: Iterable[str]) -> None:
    """Raise BlockFitError if cls.forward uses an attribute that is neither given (a layer or constant of
    its plan) nor optional."""
    _check_uses(cls, name, set(given))


def _check_uses(cls: type[nn.Module], name: str, given: set[str]) -> None:
    missing = sorted(uses(cls) - given - set(getattr(cls, "optional", ())))
    if missing:
        raise BlockFitError(
            f"block type '{name}': {cls.__name__}.forward uses {', '.join(missing)}, which its plan does not "
            f"give (it gives {', '.join(sorted(given))}); add them to the plan, or to {cls.__name__}.optional"
        )
