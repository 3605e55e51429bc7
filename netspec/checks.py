"""Cross-field rules of a spec, each reported at the field a person would change: those of the settings alone
(`problems`, run when a Spec is validated) and those of the network's plan (`plan_problems`, run by the gate on
the one plan it makes), so they hold for any registered block type."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from pydantic import ValidationError

from netspec.errors import did_you_mean, quote_choices, unprintable
from netspec.kinds import KINDS, NORMS
from netspec.messages import field_problems
from netspec.network import NetworkPlan, StageArgs, stages, stem
from netspec.places import setting_field, stage_name
from netspec.plan import Op, leaves
from netspec.registry import block_type

if TYPE_CHECKING:
    from netspec.spec import BlockSettings, Spec

Problem = tuple[str, str]  # (dotted field path, message)


def problems(spec: Spec) -> list[Problem]:
    """Every cross-field problem of an otherwise well-typed spec; block options first, as plans need them."""
    early = _option_problems(spec) + axes_problems(spec)
    if early:
        return _first_per_field(early)
    found = _norm_groups(stem(spec), "block.norm_groups", "the stem")
    for stage in stages(spec):
        found += _stage_problems(stage)
    found += _feature_problems(spec)
    found += _input_problems(spec)
    if spec.head.pool == "none" and (spec.head.classes or spec.head.hidden) and spec.features is None:
        found.append(("head.pool", "a classifier needs a global pool: set pool to avg or max, or classes to 0"))
    return _first_per_field(found)


def _first_per_field(found: list[Problem]) -> list[Problem]:
    first_per_field = {path: message for path, message in reversed(found)}
    return [(path, first_per_field[path]) for path in dict.fromkeys(path for path, _ in found)]


def _sized_fields(spec: Spec) -> list[tuple[str, object]]:
    """(field, value) of every size the spec gives per spatial axis."""
    fields: list[tuple[str, object]] = [("input.size", spec.input.size), ("block.kernel", spec.block.kernel)]
    for i, conv in enumerate(spec.stem.convs or ()):
        fields += [(f"stem.convs.{i}.kernel", conv.kernel), (f"stem.convs.{i}.stride", conv.stride)]
        fields.append((f"stem.convs.{i}.padding", conv.padding))
    for i, stage in enumerate(spec.stages):
        fields += [(f"stages.{i}.stride", stage.stride), (f"stages.{i}.kernel", getattr(stage, "kernel", None))]
        fields.append((f"stages.{i}.dilation", stage.dilation))
    return fields


def axes_problems(spec: Spec) -> list[Problem]:
    """Sizes given per axis, one per spatial axis of the network; the layers that exist in 2-D only, in 2-D."""
    n, found = spec.dims, list[Problem]()
    for path, value in _sized_fields(spec):
        if isinstance(value, tuple) and len(value) != n:
            message = f"gives {len(value)} sizes for a network of {n} spatial axes (dims: {n}); give one number, or {n}"
            found.append((path, message))
    if found:
        return found
    blur = KINDS["blur"].dims
    if n not in blur and spec.stem.pool_kind() == "max_blur":
        found.append(("stem.pool", f"max_blur's blur pool is {_axes(blur)} only; use pool: max for dims {n}"))
    for i, (stage, block) in enumerate(zip(spec.stages, spec.stage_blocks(), strict=True)):
        found += _block_axes(block, n, partial(setting_field, i, stage.model_fields_set))
        if isinstance(stage.dilation, tuple) and not block_type(block.type).kernels:
            message = f"{block.type} blocks take one dilation for every axis; one per axis is for basic and bottleneck"
            found.append((f"stages.{i}.dilation", message))
    return found


def _block_axes(block: BlockSettings, n: int, where: Callable[[str], str]) -> list[Problem]:
    """A stage's block settings that a network of `n` spatial axes cannot have."""
    kind, found = block_type(block.type), list[Problem]()
    if n not in kind.dims:
        found.append((where("type"), f"{block.type} blocks are planned in {_axes(kind.dims)} only, not dims {n}"))
    if block.kernel != 3 and not kind.kernels:
        found.append((where("kernel"), f"{block.type} blocks have 3 on every axis; kernel is for basic and bottleneck"))
    if block.aa != "none" and n not in KINDS[block.aa].dims:
        found.append((where("aa"), f"the blur pool is {_axes(KINDS[block.aa].dims)} only; use aa: none for dims {n}"))
    if n not in NORMS[block.norm].dims:
        found.append(
            (where("norm"), f"{block.norm} norm is {_axes(NORMS[block.norm].dims)} only; use batch for dims {n}")
        )
    if block.conv == "2plus1d" and n != 3:
        found.append((where("conv"), f"2plus1d factorises 3-D convs (space, then time); it needs dims: 3, not {n}"))
    return found


def _axes(dims: tuple[int, ...]) -> str:
    return " and ".join(f"{d}-D" for d in dims)


def _option_problems(spec: Spec) -> list[Problem]:
    """Each block type validates its own `options` with the model it registered."""
    found: list[Problem] = []
    for i, (stage, block) in enumerate(zip(spec.stages, spec.stage_blocks(), strict=True)):
        model, own = block_type(block.type).options, getattr(stage, "options", None) or {}
        if model is None:
            if block.options:
                where = f"stages.{i}.options" if own else "block.options"
                found.append((where, f"{block.type} blocks take no options"))
            continue
        try:
            model.model_validate(block.options)
        except ValidationError as error:
            for path, message in field_problems(error, model):
                where = f"stages.{i}.options" if path.split(".")[0] in own else "block.options"
                found.append((f"{where}.{path}", message))
    return found


def _stage_problems(s: StageArgs) -> list[Problem]:
    block = s.block
    kind = block_type(block.type)
    where = s.field
    found: list[Problem] = []
    if not kind.grouped and (block.groups != 1 or block.width_per_group != 64):
        field = "groups" if block.groups != 1 else "width_per_group"
        message = f"{block.type} blocks take groups: 1 and width_per_group: 64 only; use type: bottleneck for groups"
        found.append((where(field), message))
    if block.order not in kind.forms:
        found.append((where("order"), f"{block.type} blocks have no {block.order}-activation form; use order: post"))
        return found
    if block.stride_at == "1x1" and not kind.has_1x1_stride:
        found.append((where("stride_at"), f"{block.type} blocks have no 1x1 conv to stride; use stride_at: 3x3"))
    ins, out = s.first.in_channels, s.first.out_channels
    if block.shortcut == "A" and out < ins:
        message = f"shortcut A pads channels with zeros and cannot reduce {ins} to {out}; use shortcut: B"
        found.append((where("shortcut"), message))
    if block.shortcut_bias and block.shortcut == "A":
        found.append((where("shortcut_bias"), "shortcut A has no conv to give a bias; use shortcut: B, C or D"))
    if block.shortcut_pad != "both" and block.shortcut != "A":
        message = f"shortcut_pad places shortcut A's zero channels; shortcut {block.shortcut} has none"
        found.append((where("shortcut_pad"), message))
    return found


def plan_problems(net: NetworkPlan) -> list[Problem]:
    """Group norms that do not split their channels, in any block of the planned network."""
    found: list[Problem] = []
    for stage in net.stages:
        s = stage.args
        for plan in stage.blocks:
            problem = _norm_groups(plan.ops, s.field("norm_groups"), f"stage {s.index}")
            if problem:
                found += problem
                break
    return _first_per_field(found)


def _norm_groups(ops: tuple[Op, ...], path: str, what: str) -> list[Problem]:
    """Group norms whose channels do not split into their groups: the first one, in forward order."""
    for op in leaves(ops):
        if op.kind == "norm" and op.variant == "group" and op.out % op.groups:
            return [(path, f"group norm with {op.groups} groups cannot split the {op.out} channels of {what}")]
    return []


def _input_problems(spec: Spec) -> list[Problem]:
    """A normalization value per input channel (a changed input.channels leaves an inherited mean behind)."""
    channels, found = spec.input.channels, list[Problem]()
    for name, given in (("mean", spec.input.mean), ("std", spec.input.std)):
        if given is not None and len(given) != channels:
            message = f"give one value per input channel: {channels}, not {len(given)} (input.channels changed?)"
            found.append((f"input.{name}", message))
    return found


def _feature_problems(spec: Spec) -> list[Problem]:
    """Features the network has, each once, in forward order; under printable, distinct keys."""
    features = spec.features
    if features is None:
        return []
    names = ["stem"] * bool(spec.stem.layers()) + [stage_name(i) for i in range(len(spec.stages))]
    if not features:
        return [("features", f"name at least one of {quote_choices(names)}")]
    keyed, found, last = isinstance(features, dict), list[Problem](), -1
    for i, name in enumerate(features):
        path = f"features.{name}" if keyed else f"features.{i}"
        if name not in names:
            found.append(
                (path, f"unknown feature '{name}'; choose from {quote_choices(names)}{did_you_mean(name, names)}")
            )
        elif names.index(name) <= last:
            found.append((path, f"'{name}' comes after '{names[last]}'; list features once each, in forward order"))
        last = max(last, names.index(name) if name in names else last)
    if isinstance(features, dict):
        for name, key in features.items():
            if not key or unprintable(key):
                found.append((f"features.{name}", "a key must be printable text, not empty"))
            elif key in list(features.values())[: list(features).index(name)]:
                first = next(n for n, k in features.items() if k == key)
                found.append((f"features.{name}", f"key '{key}' is already given to {first}"))
    return found
