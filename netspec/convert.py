"""Checkpoints in other libraries' layouts, renamed into netspec's (torchvision's) layout.

netspec names modules as torchvision does, so torchvision and timm `resnet.py` checkpoints load as they are;
timm's ResNetV2, torchvision's and timm's RegNets, torchvision's video ResNets and tsai's time-series ResNet are
renamed by the rules below (the table is in docs/weights.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from torch import Tensor

from netspec.errors import NetspecError

_V2_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^stem\.conv\."), lambda m: "conv1."),
    (re.compile(r"^stem\.conv(\d)\."), lambda m: f"conv1.{3 * (int(m[1]) - 1)}."),
    (re.compile(r"^stem\.norm(\d)\."), lambda m: f"conv1.{3 * (int(m[1]) - 1) + 1}."),
    (re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.norm(\d)\."), lambda m: f"layer{int(m[1]) + 1}.{m[2]}.bn{m[3]}."),
    (re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.conv(\d)\."), lambda m: f"layer{int(m[1]) + 1}.{m[2]}.conv{m[3]}."),
    (
        re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\.downsample\.conv\."),
        lambda m: f"layer{int(m[1]) + 1}.{m[2]}.downsample.?.",
    ),
    (re.compile(r"^norm\."), lambda m: "final_norm."),
    (re.compile(r"^head\.fc\."), lambda m: "fc."),
]


_REGNET_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^stem\.0\."), lambda m: "conv1."),
    (re.compile(r"^stem\.1\."), lambda m: "bn1."),
    (re.compile(r"^trunk_output\.block(\d+)\.block\d+-(\d+)\."), lambda m: f"layer{m[1]}.{m[2]}."),
]


_TIMM_REGNET_PARTS = {"conv1.conv": "f.a.0", "conv1.bn": "f.a.1", "conv2.conv": "f.b.0", "conv2.bn": "f.b.1"}
_TIMM_REGNET_PARTS |= {"se": "f.se", "conv3.conv": "f.c.0", "conv3.bn": "f.c.1"}
_TIMM_REGNET_PARTS |= {"downsample.conv": "proj.0", "downsample.bn": "proj.1"}
_TIMM_REGNET_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^stem\.conv\."), lambda m: "conv1."),
    (re.compile(r"^stem\.bn\."), lambda m: "bn1."),
    (
        re.compile(r"^s(\d+)\.b(\d+)\.(conv\d\.conv|conv\d\.bn|se|downsample\.conv|downsample\.bn)\."),
        lambda m: f"layer{m[1]}.{int(m[2]) - 1}.{_TIMM_REGNET_PARTS[m[3]]}.",
    ),
    (re.compile(r"^head\.fc\."), lambda m: "fc."),
]


# torchvision's video ResNets wrap each conv of a block with its norm: conv1 = Sequential(conv, norm, relu).
_VIDEO_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d)\.0\."), lambda m: f"{m[1]}.conv{m[2]}."),
    (re.compile(r"^(layer\d+\.\d+)\.conv(\d)\.1\."), lambda m: f"{m[1]}.bn{m[2]}."),
]


# tsai's time-series ResNet: resblock1..3, one block each, then gap (no parameters) and fc.
_TSAI_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^resblock(\d+)\."), lambda m: f"layer{m[1]}.0."),
]


def _video_stem(key: str, target: Mapping[str, Tensor]) -> str:
    """torchvision's video stem, stem.0 (conv), stem.1 (norm), ...: conv1 and bn1, or a multi-conv stem's
    conv1.0, conv1.1, conv1.3, ... with its last norm as bn1."""
    index, _, rest = key.removeprefix("stem.").partition(".")
    convs = [k for k in target if re.fullmatch(r"conv1\.\d+\.weight", k)]
    last = max((int(k.split(".")[1]) for k in convs), default=0)  # the stem's last conv; its norm is bn1
    if int(index) == last + 1:
        return f"bn1.{rest}"
    return f"conv1.{rest}" if not convs else f"conv1.{index}.{rest}"


def is_torchvision_video(state: Mapping[str, Tensor]) -> bool:
    return any(k.startswith("stem.") for k in state) and any(k.startswith("layer1.0.conv1.0.") for k in state)


def is_tsai_resnet(state: Mapping[str, Tensor]) -> bool:
    return any(k.startswith("resblock1.convblock1.") for k in state)


def is_timm_regnet(state: Mapping[str, Tensor]) -> bool:
    return any(k.startswith("s1.b1.") for k in state)


def is_timm_resnetv2(state: Mapping[str, Tensor]) -> bool:
    return any(k.startswith("stages.") for k in state) and any(k.startswith("stem.") for k in state)


def is_torchvision_regnet(state: Mapping[str, Tensor]) -> bool:
    return any(k.startswith("trunk_output.") for k in state)


def to_netspec_layout(state: Mapping[str, Tensor], target: Mapping[str, Tensor], path: str) -> dict[str, Tensor]:
    """`state` renamed to match `target` (a model's state_dict): DDP's `module.` prefix, timm's ResNetV2,
    torchvision's and timm's RegNets, torchvision's video ResNets, tsai's time-series ResNet."""
    renamed = {k.removeprefix("module."): v for k, v in state.items()}
    if len(renamed) < len(state):
        twice = sorted(k for k in state if k.startswith("module.") and k.removeprefix("module.") in state)
        raise NetspecError(f"{path}: the checkpoint holds both '{twice[0]}' and '{twice[0][7:]}'; which to load?")
    if is_torchvision_video(renamed):
        renamed = {_video_stem(k, target) if k.startswith("stem.") else k: v for k, v in renamed.items()}
        rules = _VIDEO_RULES
    elif is_torchvision_regnet(renamed):
        rules = _REGNET_RULES
    elif is_tsai_resnet(renamed):
        rules = _TSAI_RULES
    elif is_timm_regnet(renamed):
        rules = _TIMM_REGNET_RULES
    elif is_timm_resnetv2(renamed):
        rules = _V2_RULES
    else:
        return renamed
    out: dict[str, Tensor] = {}
    for key, value in renamed.items():
        for pattern, replace in rules:
            if pattern.match(key):
                key = pattern.sub(replace, key, count=1)
                break
        if ".downsample.?." in key:  # the projection's index depends on whether a pool precedes it
            key = key.replace(".?.", ".0.") if key.replace(".?.", ".0.") in target else key.replace(".?.", ".1.")
        if key in target and value.ndim == 4 and target[key].ndim == 2:
            value = value.flatten(1)  # a 1x1 conv classifier as a Linear
        if key in out:
            raise NetspecError(
                f"{path}: two of the checkpoint's tensors are named '{key}' once renamed; which to load?"
            )
        out[key] = value
    return out
