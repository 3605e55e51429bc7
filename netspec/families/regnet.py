"""RegNet's block and its design space (Radosavovic et al. 2020), planned. No torch.

The block is torchvision's ResBottleneckBlock: a projection `proj` when the shape changes, and `f`, a 1x1
conv to width x bottleneck ratio, a 3x3 conv in groups of `group_width` channels, squeeze-excitation on
that inner width with channels relative to the block's input, and a 1x1 conv back; the layer names are
torchvision's inside the block, so its weights load through netspec.load_weights.

`expand` turns the paper's parameters (depth, w0, wa, wm, group width, bottleneck ratio) into stages, as
torchvision's BlockParams.from_init_params does.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from netspec.plan import BlockArgs, BlockPlan, Op, PlanError, act, conv, make_divisible, norm, strides

CLASSES = "netspec.families.regnet_block"
HUGE = 1e15  # channels: past any limit, and where a float still counts them exactly


class RegNetOptions(BaseModel):
    """Settings only RegNet blocks have."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    group_width: int = Field(8, ge=1, description="channels per group of the 3x3 conv")
    bottleneck_ratio: float = Field(1.0, gt=0.0, description="inner width / block width")
    se_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="SE channels / the block's input channels; 0: no SE")


def _conv_norm_act(name: str, ins: int, out: int, kernel: int, a: BlockArgs, relu: bool, **kw: Any) -> Op:
    """torchvision's conv-norm-activation block: a Sequential of conv, norm and (unless `relu` is False) activation."""
    layers = [conv("0", ins, out, kernel, style=a.style, **kw), norm("1", out, a.style)]
    layers += [act("2", out, a.style.act)] if relu else []
    return Op(name, "sequential", ins, out, children=tuple(layers))


def _squeeze_excitation(inner: int, squeeze: int) -> Op:
    """torchvision's SqueezeExcitation (avgpool, fc1, activation, fc2, scale_activation)."""
    layers = (
        Op("avgpool", "global_avgpool", inner, inner),
        conv("fc1", inner, squeeze, 1, bias=True),
        act("activation", squeeze, "relu"),
        conv("fc2", squeeze, inner, 1, bias=True),
        Op("scale_activation", "sigmoid", inner, inner),
        Op("mul", "mul", inner, inner, source="input"),
    )
    return Op("se", "composite", inner, inner, variant=f"{CLASSES}:SqueezeExcitation", children=layers)


def regnet(a: BlockArgs) -> BlockPlan:
    """proj (when the shape changes) + f: 1x1, grouped 3x3 (strided), SE, 1x1; activation after the add."""
    o = a.options if isinstance(a.options, RegNetOptions) else RegNetOptions()
    inner = round(a.out_channels * o.bottleneck_ratio)
    if inner % o.group_width:
        raise PlanError("width", f"the inner width {inner} is not a multiple of group_width {o.group_width}")
    if a.attn != "none":
        raise PlanError("attn", "regnet blocks place their SE inside, after the 3x3 conv: set options.se_ratio")
    f = [
        _conv_norm_act("a", a.in_channels, inner, 1, a, True),
        _conv_norm_act("b", inner, inner, 3, a, True, stride=a.stride, groups=inner // o.group_width),
    ]
    f += [_squeeze_excitation(inner, round(o.se_ratio * a.in_channels))] if o.se_ratio else []
    f += [_conv_norm_act("c", inner, a.out_channels, 1, a, False)]
    ops = [Op("f", "sequential", a.in_channels, a.out_channels, source="input", children=tuple(f))]
    if a.drop_path > 0:
        ops.append(Op("drop_path", "drop_path", a.out_channels, a.out_channels, p=a.drop_path))
    main = ops[-1].name
    if strides(a.stride) or a.in_channels != a.out_channels:
        ops.insert(0, _conv_norm_act("proj", a.in_channels, a.out_channels, 1, a, False, stride=a.stride))
    out = a.out_channels
    ops += [Op("add", "add", out, out, inplace=False, source=main), act("activation", out, a.style.act)]
    return BlockPlan(tuple(ops), inner, "f.c.1")


def expand(
    depth: int, w0: int, wa: float, wm: float, group_width: int, bottleneck_ratio: float, rounding: str = "pycls"
) -> list[dict[str, Any]]:
    """The stages of a RegNet from its design-space parameters: per-block widths on a quantised linear ramp,
    grouped into stages of equal width; widths then adjusted so that inner widths split into whole groups,
    rounded to the nearest multiple of the group width (pycls, the paper's code, and timm) or as torchvision
    does (up one more group when the nearest loses over a tenth)."""
    widths = [_width(i, w0, wa, wm) for i in range(depth)]
    widths = [int(round(w / 8) * 8) for w in widths]
    stages: list[dict[str, Any]] = []
    for width in widths:
        if stages and stages[-1]["width"] == width:
            stages[-1]["depth"] += 1
        else:
            stages.append({"depth": 1, "width": width, "stride": 2})
    for stage in stages:
        inner = int(stage["width"] * bottleneck_ratio)
        group = min(group_width, inner)
        nearest = round(inner / group) * group
        grouped = make_divisible(inner, group, round_limit=0.9) if rounding == "torchvision" else nearest
        stage["width"] = int(grouped / bottleneck_ratio)
        stage["options"] = {"group_width": group}
    return stages


class RegNetDesign(BaseModel):
    """A RegNet in the terms of its paper (Radosavovic et al. 2020), which netspec expands into `stages`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    depth: Annotated[int, Field(ge=1)] = Field(description="blocks in all")
    w0: Annotated[int, Field(ge=1)] = Field(description="the first block's width, a multiple of 8")
    wa: Annotated[float, Field(ge=0.0, strict=False)] = Field(description="the widths' linear slope")
    wm: Annotated[float, Field(gt=1.0, strict=False)] = Field(description="the step between stage widths")
    group_width: Annotated[int, Field(ge=1)] = Field(description="channels per group of the 3x3 convs")
    bottleneck_ratio: Annotated[float, Field(gt=0.0, strict=False)] = Field(1.0, description="inner / block width")
    se_ratio: Annotated[float, Field(ge=0.0, lt=1.0, strict=False)] = Field(
        0.0, description="SE channels / a block's input channels; 0: RegNetX, no SE"
    )
    group_rounding: Literal["pycls", "torchvision"] = Field(
        "pycls", description="inner widths to whole groups: the nearest (pycls, timm) or torchvision's rule"
    )

    @field_validator("w0")
    @classmethod
    def _quantised(cls, w0: int) -> int:
        if w0 % 8:
            raise PydanticCustomError("w0", "w0 must be a multiple of 8, as widths are quantised to 8")
        return w0

    def stages(self) -> list[dict[str, Any]]:
        return expand(
            self.depth, self.w0, self.wa, self.wm, self.group_width, self.bottleneck_ratio, self.group_rounding
        )

    def problems(self, blocks: int, channels: int) -> list[tuple[str, str]]:
        """(field, message) for values whose expansion would not end, would leave a block without channels, or would
        not fit `blocks` and `channels` (the limits): checked first, as expanding takes a step per block."""
        if self.depth > blocks:
            what = f"{self.depth:,} blocks in all"
            return [("depth", f"{what} exceeds the limit of {blocks:,}; raise it with --limit blocks={self.depth}")]
        slope = "wa" if self.wa else "w0"
        if _width(self.depth - 1, self.w0, self.wa, self.wm) > HUGE:  # widths only grow along the ramp
            return [(slope, f"the widths grow past 10^15 channels by block {self.depth}")]
        for i, width in enumerate(sorted({_width(b, self.w0, self.wa, self.wm) for b in range(self.depth)})):
            inner = round(width / 8) * 8 * self.bottleneck_ratio
            if not 1 <= inner <= HUGE:
                return [("bottleneck_ratio", f"gives stage {i}'s blocks an inner width of {inner:.3g} channels")]
        for i, stage in enumerate(self.stages()):
            inner = int(stage["width"] * self.bottleneck_ratio)
            widths = "w0" if i == 0 else slope  # the first stage is w0 wide; the slope makes the others
            field, size = (widths, stage["width"]) if stage["width"] >= inner else ("bottleneck_ratio", inner)
            if size > channels:
                message = f"gives stage {i} {size:,} channels, over the limit of {channels:,}"
                return [(field, f"{message}; raise it with --limit channels={size}")]
        return []


def expanded(data: dict[str, Any], blocks: int, channels: int) -> dict[str, Any]:
    """A spec's raw data with its `regnet` design expanded into stages and regnet blocks, once the design fits
    `blocks` and `channels` (the limits); a design that does not validate is left to be reported where it was
    written, when the field is validated."""
    if "stages" in data:
        raise PydanticCustomError("regnet_stages", "give either regnet or stages, not both")
    try:
        design = RegNetDesign.model_validate(data["regnet"])
    except ValidationError:
        return data
    found = [(f"regnet.{field}", message) for field, message in design.problems(blocks, channels)]
    if found:
        summary = "; ".join(f"{path}: {message}" for path, message in found)
        raise PydanticCustomError("spec_problems", "{summary}", {"summary": summary, "problems": found})
    block: dict[str, Any] = data["block"] if isinstance(data.get("block"), dict) else {}
    options = {"bottleneck_ratio": design.bottleneck_ratio, "se_ratio": design.se_ratio}
    block = {"type": "regnet", **block, "options": {**options, **block.get("options", {})}}
    return {**data, "regnet": None, "block": block, "stages": design.stages()}


def _width(block: int, w0: int, wa: float, wm: float) -> float:
    """Block `block`'s width on the quantised ramp, before rounding to 8 (math.inf where it overflows)."""
    try:
        return float(w0 * wm ** round(math.log((block * wa + w0) / w0) / math.log(wm)))
    except (OverflowError, ValueError):  # round(inf), or a power too large for a float
        return math.inf


def written_field(path: str) -> str:
    """The regnet field a person wrote behind a problem found at a field of a stage that the design expanded into:
    the depth for blocks, the widths' slope for everything a width makes (channels, parameters, MACs)."""
    if not path.startswith("stages"):
        return path
    return "regnet.depth" if path.endswith(".depth") else "regnet.wa"
