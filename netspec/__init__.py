"""netspec: describe ResNet-family networks in YAML; validate, build, summarize and draw them.

Importing netspec does not import torch: `build` imports it when it is called.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from netspec.errors import NetspecError, SpecError
from netspec.loader import load_spec, with_overrides
from netspec.registry import register_block
from netspec.spec import Spec

if TYPE_CHECKING:
    from torch import nn

    from netspec.compiler import ResNet

__all__ = ["NetspecError", "Spec", "SpecError", "build", "load_spec", "load_weights", "register_block"]
__version__ = "0.1.0"


def build(spec: Spec | str | os.PathLike[str], **overrides: Any) -> ResNet:
    """Build the nn.Module a spec describes.

    `spec` is a Spec, a path to a YAML file, or a builtin name ("resnet50"). Keyword overrides are deep-merged
    into the spec before validation, as `extends` does: `build("resnet50", head={"classes": 10})`.
    """
    from netspec.compiler import compile_spec

    if isinstance(spec, Spec):
        return compile_spec(with_overrides(spec, overrides) if overrides else spec)
    return compile_spec(load_spec(spec, overrides=overrides))


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a .pt or .safetensors state_dict into `model` strictly (torchvision or timm layout, no pickled code)."""
    from pathlib import Path

    from netspec.weights import load_weights as _load

    _load(model, Path(path))
