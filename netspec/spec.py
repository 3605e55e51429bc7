"""The spec language, version 1: pydantic models only (no torch, no file I/O)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from netspec.checks import problems
from netspec.errors import did_you_mean, unprintable
from netspec.families.regnet import RegNetDesign, expanded
from netspec.kinds import ACTIVATIONS, NORMS, per_axis
from netspec.registry import block_names

SUPPORTED_VERSIONS = (1,)


def _default_limits() -> Any:
    from netspec.limits import Limits  # which imports this module

    return Limits()


if TYPE_CHECKING:
    Activation = str
    Norm = str
else:  # the names netspec.plan knows, as literals, so that the schema lists them
    Activation = Literal[tuple(ACTIVATIONS)]
    Norm = Literal[tuple(NORMS)]
Order = Literal["post", "pre"]
StrideAt = Literal["3x3", "1x1"]
Shortcut = Literal["A", "B", "C", "D"]
ShortcutPad = Literal["both", "end"]
Attention = Literal["none", "se", "eca"]
StemPreset = Literal["imagenet", "cifar", "deep", "deep_tiered", "none"]
Pool = Literal["max", "avg", "none"]
StemPool = Literal["max", "avg", "none", "max_zero_pad", "conv", "max_blur"]
AntiAlias = Literal["none", "blur"]
Conv = Literal["plain", "std", "2plus1d"]
Dims = Literal[1, 2, 3]
STEM_PRESETS: tuple[str, ...] = StemPreset.__args__  # type: ignore[attr-defined]

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
# A size per spatial axis: one number for every axis, or a list of one per axis (as many as the spec's dims).
Size = Positive | Annotated[tuple[Positive, ...], Field(strict=False, min_length=1)]
# Padding per spatial axis, or 'same': the output keeps the input's size (stride 1).
Padding = NonNegative | Annotated[tuple[NonNegative, ...], Field(strict=False, min_length=1)] | Literal["same"]


def _listed(description: str, **kwargs: Any) -> Any:
    """A field holding a YAML list: lax about list vs tuple, strict about the items."""
    return Field(strict=False, description=description, **kwargs)


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Input(_Model):
    """The input images: used for shapes and MACs, for the stem's input channels, and to normalize data."""

    channels: Positive = Field(3, description="input channels (3 for RGB)")
    size: Size = Field(
        224, description="nominal size, for shapes and MACs in summaries: one number for every axis, or one per axis"
    )
    mean: tuple[float, ...] | None = _listed(
        "per-channel mean subtracted from inputs in [0, 1] (default: ImageNet's)", default=None
    )
    std: tuple[Annotated[float, Field(gt=0)], ...] | None = _listed(
        "per-channel std inputs are divided by", default=None
    )

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std): as given, else ImageNet's for RGB (what torchvision's and timm's weights expect), else 0.5."""
        rgb = self.channels == 3
        mean = self.mean or (IMAGENET_MEAN if rgb else (0.5,) * self.channels)
        return mean, self.std or (IMAGENET_STD if rgb else (0.5,) * self.channels)


class StemConv(_Model):
    """One conv of an explicit stem; each is followed by norm and activation."""

    width: Positive = Field(description="output channels")
    # Before kernel and stride, which are checked against it.
    padding: Padding | None = Field(
        None,
        description="zeros added on each side of each axis: one number, one per axis, or same (stride 1: an even "
        "kernel pads one less before than after); default kernel // 2",
    )
    kernel: Size = Field(3, description="kernel size, one for every axis or one per axis; odd unless padding is given")
    stride: Size = Field(1, description="stride, one for every axis or one per axis")
    bias: bool = Field(False, description="give the conv a bias")

    @field_validator("kernel")
    @classmethod
    def _odd(cls, kernel: int | tuple[int, ...], info: ValidationInfo) -> int | tuple[int, ...]:
        even = any(k % 2 == 0 for k in (kernel if isinstance(kernel, tuple) else (kernel,)))
        if even and info.data.get("padding") is None:
            raise PydanticCustomError(
                "even_kernel", "an even kernel has no centre: give padding (a number, or same), or an odd kernel"
            )
        return kernel

    @field_validator("stride")
    @classmethod
    def _same_needs_stride_1(cls, stride: int | tuple[int, ...], info: ValidationInfo) -> int | tuple[int, ...]:
        if info.data.get("padding") == "same" and any(s != 1 for s in per_axis(stride, 1)):
            raise PydanticCustomError("same_stride", "padding: same keeps the size, so it needs stride 1")
        return stride


class Stem(_Model):
    """The stem: a preset name, {preset, width, ...}, or an explicit list of convs and a pool."""

    preset: StemPreset | None = Field(
        None,
        description="imagenet, cifar, deep, deep_tiered, or none: the first stage takes the input (the default: "
        "imagenet)",
    )
    width: Positive | None = Field(None, description="output channels of a preset stem (default 64)")
    convs: tuple[StemConv, ...] | None = _listed("explicit convs, instead of a preset", min_length=1, default=None)
    pool: StemPool | None = Field(
        None,
        description="pool after the convs (default: max, but none for cifar); max_zero_pad: BiT's fixed padding; "
        "conv: a strided 3x3 conv, norm and activation instead (ResNet-RS); max_blur: a stride-1 max pool, then "
        "a blur pool that strides (Zhang 2019)",
    )
    norm: bool | None = Field(None, description="norm + activation after the last conv (default: post-act only)")

    @model_validator(mode="before")
    @classmethod
    def _preset_name(cls, data: Any) -> Any:
        return {"preset": data} if isinstance(data, str) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [{"enum": list(STEM_PRESETS), "type": "string"}, handler(schema)]}

    @model_validator(mode="after")
    def _preset_or_convs(self) -> Stem:
        if self.convs is not None and self.preset is not None:
            raise PydanticCustomError("stem_both", "give either a preset or convs, not both")
        if self.convs is not None and self.width is not None:
            raise PydanticCustomError("stem_width", "width belongs to a preset stem; set each conv's width instead")
        if self.preset == "none" and self.width is not None:
            raise PydanticCustomError("stem_width", "a none stem has no width; the first stage takes the input")
        multiple = {"deep": 2, "deep_tiered": 8}.get(self.preset or "", 1)
        if self.width is not None and self.width % multiple:
            raise PydanticCustomError("stem_width", f"a {self.preset} stem needs a width divisible by {multiple}")
        return self

    def layers(self) -> tuple[StemConv, ...]:
        """The stem's convs, with presets spelled out (deep and deep_tiered as in timm's ResNet-C/D/T)."""
        if self.convs is not None:
            return self.convs
        if self.preset == "none":
            return ()
        w = self.width or 64
        widths, kernel, stride = {
            "imagenet": ((w,), 7, 2),
            "cifar": ((w,), 3, 1),
            "deep": ((w // 2, w // 2, w), 3, 2),
            "deep_tiered": ((3 * (w // 8), w // 2, w), 3, 2),
        }[self.preset or "imagenet"]
        return tuple(StemConv(width=c, kernel=kernel, stride=stride if i == 0 else 1) for i, c in enumerate(widths))

    def pool_kind(self) -> StemPool:
        if self.pool is not None:
            return self.pool
        return "none" if self.convs is not None or self.preset in ("cifar", "none") else "max"


class BlockSettings(_Model):
    """Settings shared by every block; a stage may override any of them."""

    type: str = Field("basic", description=f"block type from the registry: {', '.join(block_names())}")
    order: Order = Field("post", description="post: norm/act after convs (v1); pre: before (v2, He et al. 2016)")
    stride_at: StrideAt = Field("3x3", description="bottleneck conv that strides: 3x3 (v1.5, torchvision) or 1x1")
    groups: Positive = Field(1, description="groups of the 3x3 conv (ResNeXt cardinality)")
    width_per_group: Positive = Field(64, description="channels per group at width 64 (ResNeXt 'd', wide ResNet)")
    expansion: Positive | None = Field(None, description="output channels / width (default: basic 1, bottleneck 4)")
    shortcut: Shortcut = Field("B", description="A: zero-pad identity, B: project on change, C: always, D: avgpool")
    shortcut_act: bool = Field(False, description="end projection shortcuts with the activation, after their norm")
    shortcut_bias: bool = Field(
        False, description="give the conv of projection shortcuts (B, C, D) a bias, as MONAI's bias_downsample does"
    )
    shortcut_pad: ShortcutPad = Field(
        "both",
        description="where shortcut A puts its zero channels: both (half before the input's, half after, as CIFAR "
        "ResNets do) or end (after them, as MONAI and Hara et al.'s 3-D ResNets do)",
    )
    conv: Conv = Field(
        "plain",
        description="plain; std: weight-standardised convs (Qiao et al. 2019), as in BiT; 2plus1d: each 3-D conv "
        "as a spatial one, norm, activation and a temporal one (Tran et al. 2018, torchvision's r2plus1d)",
    )
    kernel: Size = Field(
        3,
        description="kernel of the block's main convs: one for every axis, or one per axis; an even one pads 'same' "
        "(one less before than after), so the conv that strides needs an odd one",
    )
    aa: AntiAlias = Field(
        "none", description="blur: a strided block's 3x3 conv does not stride; a blur pool after it does (Zhang 2019)"
    )
    norm: Norm = Field("batch", description="batch, group, frozen_batch or none")
    norm_groups: Positive = Field(32, description="groups of group norm")
    act: Activation = Field("relu", description="activation function")
    attn: Attention = Field("none", description="attention: none, se (squeeze-excitation) or eca (efficient channel)")
    attn_ratio: Annotated[float, Field(gt=0.0, le=1.0)] = Field(0.0625, description="SE channel reduction ratio")
    attn_divisor: Positive = Field(8, description="SE reduced channels are rounded to a multiple of this")
    zero_init_last: bool = Field(False, description="zero-init the last norm (or conv) of each residual branch")
    drop_path: Rate = Field(0.0, description="stochastic depth rate of the last block; earlier blocks scale linearly")
    options: dict[str, Any] = Field(
        default_factory=dict, description="settings only this block type has (a table per type below)"
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, name: str) -> str:
        if name not in block_names():
            raise PydanticCustomError(
                "unknown_block",
                "unknown block type '{name}'{hint}",
                {"name": name, "hint": did_you_mean(name, block_names())},
            )
        return name


class _StageFields(_Model):
    """A run of `depth` blocks; the first one strides and changes width."""

    # A stage may also set any of BlockSettings' fields: Stage, below, adds an override field for each.

    depth: Positive = Field(description="number of blocks")
    width: Positive = Field(description="base width (torchvision's planes): outputs width x expansion channels")
    stride: Size = Field(description="stride of the stage's first block: one for every axis, or one per axis")
    dilation: Size = Field(
        1, description="dilation of the 3x3 convs after the first block: one for every axis, or one per axis"
    )

    def block_settings(self, defaults: BlockSettings) -> BlockSettings:
        """The network's block settings with this stage's overrides applied (options key by key)."""
        overrides = {k: getattr(self, k) for k in BlockSettings.model_fields if getattr(self, k) is not None}
        options = getattr(self, "options", None)
        if options is not None:
            overrides["options"] = {**defaults.options, **options}
        return BlockSettings.model_validate({**defaults.model_dump(), **overrides})


def _overrides() -> dict[str, Any]:
    """A stage's override of each block setting: its type, or None (the stage keeps `block`'s). Declared once, in
    BlockSettings, from which these fields, the schema and the docs follow."""
    fields: dict[str, Any] = {}
    for name, info in BlockSettings.model_fields.items():
        doc = (
            "overrides keys of block.options for this stage"
            if name == "options"
            else f"overrides block.{name} for this stage"
        )
        fields[name] = (info.rebuild_annotation() | None, Field(None, description=doc))
    return fields


if TYPE_CHECKING:
    Stage = _StageFields
else:
    Stage = create_model(
        "Stage", __base__=_StageFields, __doc__=_StageFields.__doc__, __module__=__name__, **_overrides()
    )


class Head(_Model):
    """Global pool, optional hidden layers, and the classifier."""

    pool: Pool = Field("avg", description="global pool: avg, max or none (none keeps the feature map)")
    norm: bool | None = Field(None, description="norm + activation before the pool (default: pre-activation only)")
    hidden: tuple[Positive, ...] = _listed("widths of hidden Linear layers before the classifier", default=())
    act: Activation = Field("relu", description="activation after each hidden layer")
    dropout: Rate = Field(0.0, description="dropout after each hidden layer, or before fc when there are none")
    classes: NonNegative = Field(1000, description="classifier outputs; 0: no classifier, the model returns features")


class Spec(_Model):
    """One network: format version, name, input, stem, block settings, stages and head."""

    netspec: int = Field(description="format version of the spec language; 1")
    name: str = Field(min_length=1, description="network name (default: the file name)")
    description: str = Field("", description="one line shown by `netspec list`")
    dims: Dims = Field(2, description="spatial axes: 1 (signals, time series), 2 (images) or 3 (video, volumes)")
    input: Input = Field(default_factory=Input, description="input channels, nominal size and normalization")
    stem: Stem = Field(default_factory=Stem, description="stem preset or explicit convs")
    block: BlockSettings = Field(default_factory=BlockSettings, description="block settings for every stage")
    stages: tuple[Stage, ...] = _listed("the stages, in order; stage i is layer{i+1}", min_length=1)
    head: Head = Field(default_factory=Head, description="pool and classifier")
    features: Annotated[tuple[str, ...], Field(strict=False)] | dict[str, str] | None = Field(
        None,
        description="return these outputs instead of classifying (stem, layer1, ...): a list, or a mapping of each "
        "to the key it is returned under; the network ends at the last one, without a head",
    )
    regnet: RegNetDesign | None = Field(
        None, description="a RegNet by its design parameters, expanded into stages and regnet blocks (no stages then)"
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_regnet(cls, data: Any, info: ValidationInfo) -> Any:
        """Stages and block options from `regnet`, whose values the spec then holds as stages; the design is held
        to the limits (the validation context's, else the defaults) before it is expanded."""
        if not isinstance(data, dict) or not isinstance(data.get("regnet"), dict):
            return data
        limits = (info.context or {}).get("limits") or _default_limits()
        return expanded(data, limits.blocks, limits.channels)

    @field_validator("name", "description")
    @classmethod
    def _printable(cls, text: str) -> str:
        bad = unprintable(text)
        if bad:  # names and descriptions are printed: escape sequences would drive the reader's terminal
            raise PydanticCustomError("control_character", "control character {c} is not allowed in text", {"c": bad})
        return text

    @field_validator("netspec")
    @classmethod
    def _version(cls, version: int) -> int:
        if version not in SUPPORTED_VERSIONS:
            supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
            raise PydanticCustomError(
                "version", "unsupported format version {v}; supported versions: {s}", {"v": version, "s": supported}
            )
        return version

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        found = problems(self)
        if found:
            summary = "; ".join(f"{path}: {msg}" for path, msg in found)
            raise PydanticCustomError("spec_problems", "{summary}", {"summary": summary, "problems": found})
        return self

    def stage_blocks(self) -> tuple[BlockSettings, ...]:
        """Each stage's block settings: `block` with that stage's overrides."""
        return tuple(stage.block_settings(self.block) for stage in self.stages)

    def input_shape(self, size: int | tuple[int, ...] | None = None) -> tuple[int, ...]:
        """One input's shape, (channels, *one size per axis), at `size` (default: input.size)."""
        return (self.input.channels, *per_axis(size or self.input.size, self.dims))

    def stem_width(self) -> int:
        """Channels out of the stem: its last conv's, or the input's when it has none."""
        convs = self.stem.layers()
        return convs[-1].width if convs else self.input.channels

    def stem_norm(self) -> bool:
        if self.stem.norm is not None:
            return self.stem.norm
        return self.block.order == "post" and bool(self.stem.layers())

    def final_norm(self) -> bool:
        return self.head.norm if self.head.norm is not None else self.block.order == "pre"
