"""Training settings: the CIFAR-10 recipe as defaults, validated like specs (pydantic models only, no torch)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from netspec import reader
from netspec.errors import Mark, SpecError, did_you_mean
from netspec.messages import describe, diagnostics, kind_of, walk_paths
from netspec.reader import Document

DATA_KINDS = ("cifar10", "fake", "imagefolder:", "ucr:", "npz:")  # the last three name a set after the colon


def _names(description: str) -> Any:
    return Field((), strict=False, description=description)


class TrainSettings(BaseModel):
    """How to train: data, the SGD + StepLR recipe, and where results go. Defaults are the CIFAR-10 recipe."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    data: str = Field(
        "cifar10",
        description="cifar10, fake (random inputs), imagefolder:PATH, or for 1-D networks ucr:NAME (a UCR/UEA set "
        "aeon ships) and npz:PATH (arrays x, y, x_test, y_test)",
    )
    data_dir: str = Field("data", description="where CIFAR-10 is found or downloaded to")
    epochs: int = Field(20, ge=1, description="passes over the training set")
    batch_size: int = Field(128, ge=1, description="global batch: split evenly across processes")
    lr: float = Field(0.02, gt=0, allow_inf_nan=False, description="SGD learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, allow_inf_nan=False, description="SGD momentum")
    nesterov: bool = Field(True, description="Nesterov momentum")
    weight_decay: float = Field(5e-4, ge=0, allow_inf_nan=False, description="L2 weight decay")
    step_size: int = Field(7, ge=1, description="epochs between learning-rate drops (StepLR)")
    gamma: float = Field(0.1, gt=0, le=1, allow_inf_nan=False, description="learning-rate factor at each drop")
    augment: bool = Field(True, description="random crop with padding and horizontal flip on training images")
    workers: int = Field(2, ge=0, description="data-loading worker processes per training process")
    seed: int = Field(0, ge=0, lt=1 << 32, description="seed for initialisation, shuffling and augmentation")
    fake_images: int = Field(1024, ge=1, description="training images with data: fake (a fifth as many to test)")
    device: str = Field("auto", description="auto (cuda when there is one), cpu, cuda or cuda:N")
    sync_bn: bool = Field(False, description="SyncBatchNorm across processes (torch supports it on GPUs only)")
    out: str | None = Field(None, description="results folder (default runs/SPEC_NAME)")
    amp: bool = Field(False, description="mixed precision: autocast to bfloat16 on CPUs, float16 on GPUs")
    amp_dtype: Literal["auto", "bfloat16", "float16"] = Field(
        "auto", description="the --amp dtype; float16 gets a gradient scaler"
    )
    channels_last: bool = Field(False, description="channels_last (NHWC) model and inputs")
    compile: bool = Field(False, description="torch.compile the model for training (compiles on the first steps)")
    weights: str | None = Field(None, description="start from this checkpoint (.pt or .safetensors)")
    pretrained: bool = Field(False, description="start from the builtin spec's published weights (docs/pretrained.md)")
    skip: tuple[str, ...] = _names("prefixes of the weights to leave out, comma-separated (fc: a new head)")
    freeze: tuple[str, ...] = _names("parts not trained, comma-separated: stem, layer1, ..., head or a module path")
    freeze_norms: bool = Field(False, description="every norm layer keeps its loaded statistics and weights")

    @field_validator("skip", "freeze", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """'stem,layer1' from the command line; a YAML list as it is."""
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _skip_needs_weights(self) -> TrainSettings:
        if self.skip and not (self.weights or self.pretrained):  # else it would silently skip nothing
            message = "leaves out part of the starting weights, but there are none: give --weights FILE or --pretrained"
            raise PydanticCustomError(
                "spec_problems", "{summary}", {"summary": message, "problems": [("skip", message)]}
            )
        return self

    @field_validator("data")
    @classmethod
    def _data(cls, data: str) -> str:
        if data in DATA_KINDS[:2] or any(data.startswith(kind) and len(data) > len(kind) for kind in DATA_KINDS[2:]):
            return data
        hint = did_you_mean(data, ["cifar10", "fake"])
        expected = "'cifar10', 'fake', 'imagefolder:PATH', 'ucr:NAME' or 'npz:PATH'"
        message = f"expected {expected}, got {describe(data)}{hint}"
        raise PydanticCustomError("netspec_data", message)

    @field_validator("device")
    @classmethod
    def _device(cls, device: str) -> str:
        if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
            return device
        # "gpu" is one letter from "cpu", but means the opposite
        hint = "; did you mean 'cuda'?" if device.startswith("gpu") else did_you_mean(device, ["auto", "cpu", "cuda"])
        raise PydanticCustomError("netspec_device", f"expected auto, cpu, cuda or cuda:N, got {describe(device)}{hint}")


def load_settings(
    path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
) -> TrainSettings:
    """Settings from an optional YAML file, then `overrides` (command-line options); errors at file:line:col."""
    doc = Document({}, values={(): Mark("<defaults>")})
    if path is not None:
        doc = reader.read_file(Path(path), os.fspath(path))
        if doc.data is None and not doc.values:  # nothing but comments: no settings
            doc.data, doc.values = {}, {(): Mark(os.fspath(path), 1, 1)}
        if not isinstance(doc.data, dict):
            message = f"training settings must be a mapping of fields (epochs, lr, ...), got {kind_of(doc.data)}"
            raise SpecError.at(doc.values[()], "", message)
    data = dict(doc.data)
    for key, value in (overrides or {}).items():
        data[key] = value
        for loc in walk_paths(value, (key,)):
            doc.keys[loc] = doc.values[loc] = Mark(f"--{key.replace('_', '-')}")
    try:
        return TrainSettings.model_validate(data)
    except ValidationError as exc:
        raise SpecError(diagnostics(exc, TrainSettings, Document(data, doc.keys, doc.values).locate)) from None
