"""netspec: describe ResNet-family networks in YAML; validate, build, summarize and draw them.

Importing netspec does not import torch: `build` imports it when it is called.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from netspec.analysis import analyze
from netspec.errors import Diagnostic, Mark, NetspecError, SpecError
from netspec.limits import Limits, cost_problems, field_problems, load_within
from netspec.loader import load_spec, with_overrides
from netspec.registry import register_block
from netspec.settings import TrainSettings, load_settings
from netspec.spec import Spec

if TYPE_CHECKING:
    import graphviz
    from torch import nn

    from netspec.compiler import ResNet
    from netspec.trainer import TrainResult

__all__ = [
    "Limits",
    "NetspecError",
    "Spec",
    "SpecError",
    "TrainSettings",
    "build",
    "diagram",
    "load_settings",
    "load_spec",
    "load_weights",
    "optimize_for_inference",
    "register_block",
    "train",
]
__version__ = "0.1.0"


def build(
    spec: Spec | str | os.PathLike[str], *, limits: Limits | None = None, device: str | None = None, **overrides: Any
) -> ResNet:
    """Build the nn.Module a spec describes.

    `spec` is a Spec, a path to a YAML file, or a builtin name ("resnet50"). Keyword overrides are deep-merged
    into the spec before validation, as `extends` does: `build("resnet50", head={"classes": 10})`. The spec is
    held to `limits` (default: Limits()) before anything is allocated. `device="meta"` builds the structure
    without allocating weights (for summaries and diagrams of very large networks).
    """
    import torch

    from netspec.compiler import compile_spec

    limits = limits or Limits()
    if isinstance(spec, Spec):
        spec = with_overrides(spec, overrides) if overrides else spec
        found = field_problems(spec, limits) or cost_problems(analyze(spec), limits)
        if found:
            raise SpecError(Diagnostic(Mark("<spec>"), path, message) for path, message in found)
    else:
        spec = load_within(spec, limits, overrides=overrides)[0]
    if device is None:
        return compile_spec(spec)
    # torch.device as a context routes every tensor op through Python: enter it only when asked to.
    with torch.device(device):
        return compile_spec(spec)


def optimize_for_inference(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """A copy of `model` for inference: BatchNorm folded into the conv before it, channels_last memory."""
    from netspec.optimize import optimize_for_inference as optimize

    return optimize(model, channels_last)


def train(
    spec: Spec | str | os.PathLike[str],
    settings: TrainSettings | str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    **overrides: Any,
) -> TrainResult:
    """Train a spec; return every epoch's metrics, the trained model and the results folder.

    `settings` is a TrainSettings, a YAML file of them, or None for the CIFAR-10 recipe; keyword overrides
    replace single settings: `train("cifar/resnet20", data="fake", epochs=2)`. Under torchrun, each process
    calls this and they train together (DistributedDataParallel); only rank 0 writes.
    """
    from netspec.trainer import train as _train

    if not isinstance(settings, TrainSettings):
        settings = load_settings(settings, overrides)
    elif overrides:
        settings = load_settings(None, settings.model_dump() | overrides)
    return _train(spec if isinstance(spec, Spec) else load_within(spec, Limits())[0], settings, resume)


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a .pt or .safetensors state_dict into `model` strictly (torchvision or timm layout, no pickled code)."""
    from pathlib import Path

    from netspec.weights import load_weights as _load

    _load(model, Path(path))


def diagram(
    spec_or_model: Spec | str | os.PathLike[str] | nn.Module,
    detail: str = "stage",
    *,
    rankdir: str = "TB",
    expand: bool = False,
    input_size: int | None = None,
) -> graphviz.Digraph:
    """The architecture diagram of a spec (built on the meta device) or of a built model, as a graphviz.Digraph.

    `detail` is 'stage', 'block' or 'layer'. Nothing is written: call `.source`, `.pipe(format="svg")` or
    `.render(...)` on the result. For a model, the input is 3 x 224 x 224 unless `input_size` says otherwise.
    """
    from torch import nn

    from netspec.render import render
    from netspec.structure import trace

    if isinstance(spec_or_model, nn.Module):
        size = input_size or 224
        return render(trace(spec_or_model, (3, size, size)), type(spec_or_model).__name__, detail, rankdir, expand)
    spec = spec_or_model if isinstance(spec_or_model, Spec) else load_spec(spec_or_model)
    return draw(spec, detail, rankdir, expand, input_size)


def draw(spec: Spec, detail: str, rankdir: str, expand: bool, input_size: int | None) -> graphviz.Digraph:
    """The diagram of `spec`'s network, built on the meta device (no memory for weights)."""
    import torch

    from netspec.analysis import NoDescription, analyze
    from netspec.compiler import compile_spec
    from netspec.render import render
    from netspec.structure import trace

    with torch.device("meta"):
        model = compile_spec(spec)
    size = input_size or spec.input.size
    try:
        shapes = {layer.path: layer.shape for layer in analyze(spec, size).layers}
    except NoDescription:
        shapes = None  # a block type without a static description: measure on the meta device
    return render(trace(model, (spec.input.channels, size, size), shapes), spec.name, detail, rankdir, expand)
