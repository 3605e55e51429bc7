"""The public functions of netspec, which the package re-exports: build, load, load_weights, train, summary, diagram,
list_specs, optimize_for_inference. Each passes a spec through the gate (netspec.gate) first; torch is imported
only by the functions that build a module."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from netspec.errors import NetspecError
from netspec.gate import admit
from netspec.limits import Limits
from netspec.settings import TrainSettings, load_settings
from netspec.spec import Spec

if TYPE_CHECKING:
    import graphviz
    from torch import Tensor, nn

    from netspec.compiler import ResNet
    from netspec.trainer import TrainResult
    from netspec.weights import LoadReport


def build(
    spec: Spec | str | os.PathLike[str],
    *,
    pretrained: bool = False,
    limits: Limits | None = None,
    device: str | None = None,
    **overrides: Any,
) -> ResNet:
    """Build the nn.Module a spec describes.

    `spec` is a Spec, a path to a YAML file or model file, or a builtin name ("resnet50"). Keyword overrides are
    deep-merged into the spec before validation, as `extends` does: `build("resnet50", head={"classes": 10})`,
    `build("resnet50", features=["layer2", "layer3", "layer4"])`. The spec is held to `limits` (default: Limits())
    before anything is allocated. `pretrained=True` loads the published weights of the builtin spec (or of the
    builtin it extends: docs/pretrained.md), all but the classifier when the head differs from theirs.
    `device="meta"` builds the structure without allocating weights (for summaries and diagrams of very large
    networks).
    """
    admitted = admit(spec, limits, overrides=overrides)  # before torch is imported: a refusal costs nothing
    if pretrained:
        from netspec.pretrained import weights_for

        weights_for(admitted.files)  # a spec without weights fails before anything is built
    import torch

    from netspec.compiler import compile_plan

    if device is None:
        model = compile_plan(admitted.plan)
    else:  # torch.device as a context routes every tensor op through Python: enter it only when asked to.
        with torch.device(device):
            model = compile_plan(admitted.plan)
    if pretrained:
        from netspec.weights import load_pretrained

        load_pretrained(model, admitted.files, admitted.spec)
    return model


def load(path: str | os.PathLike[str], *, limits: Limits | None = None) -> ResNet:
    """The model a model file holds (a .safetensors file netspec wrote: `build -o`, a training checkpoint, export),
    rebuilt from the spec in the file's metadata and loaded with its weights, with no spec file around. The
    embedded spec is held to `limits` as a spec file is."""
    from pathlib import Path

    from netspec.modelfile import SUFFIX, is_model_file

    if not is_model_file(path):
        raise NetspecError(f"{os.fspath(path)}: netspec.load reads a model file ({SUFFIX}); for a spec, use build")
    model = build(path, limits=limits)
    load_weights(model, Path(path))
    return model


def optimize_for_inference(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """A copy of `model` for inference: BatchNorm folded into the conv before it, channels_last memory."""
    from netspec.optimize import optimize_for_inference as optimize

    return optimize(model, channels_last)


def train(
    spec: Spec | str | os.PathLike[str],
    settings: TrainSettings | str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    limits: Limits | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a spec; return every epoch's metrics, the trained model and the results folder.

    `settings` is a TrainSettings, a YAML file of them, or None for the CIFAR-10 recipe; keyword overrides
    replace single settings: `train("cifar/resnet20", data="fake", epochs=2)`. The spec is held to `limits`
    first, as `build` does. Under torchrun, each process calls this and they train together
    (DistributedDataParallel); only rank 0 writes.
    """
    admitted = admit(spec, limits)
    reads: tuple[str | os.PathLike[str], ...] = admitted.files
    if not isinstance(settings, TrainSettings):
        reads += (settings,) if settings is not None else ()
        settings = load_settings(settings, overrides)
    elif overrides:
        settings = load_settings(None, settings.model_dump() | overrides)
    from netspec.feasible import check_training
    from netspec.torchrun import launched

    launch = launched()
    check_training(admitted.analysis, limits or Limits(), settings.batch_size, launch.world if launch else 1)
    from netspec.trainer import train as _train

    return _train(admitted.analysis, settings, resume, reads, admitted.files)


def load_weights(
    model: nn.Module,
    source: str | os.PathLike[str] | Mapping[str, Tensor],
    *,
    skip: Sequence[str] = (),
    strict: bool = True,
) -> LoadReport:
    """Load a state_dict into `model`: a .pt or .safetensors file (torchvision or timm layout, no pickled code is
    run) or a mapping of names to tensors. Keys under a `skip` prefix ("fc": fc.weight, fc.bias) keep the model's
    own values. Strict (the default): anything else missing, unexpected or of another shape raises NetspecError
    naming each key; otherwise it is left out. Returns what was loaded, skipped, missing and mismatched."""
    from pathlib import Path

    from netspec.weights import load_weights as _load

    return _load(model, source if isinstance(source, Mapping) else Path(source), skip, strict)


def diagram(
    spec_or_model: Spec | str | os.PathLike[str] | nn.Module,
    detail: str = "stage",
    *,
    rankdir: str = "TB",
    expand: bool = False,
    input_size: int | tuple[int, ...] | None = None,
    limits: Limits | None = None,
) -> graphviz.Digraph:
    """The architecture diagram of a spec (built on the meta device) or of a built model, as a graphviz.Digraph.

    `detail` is 'stage', 'block' or 'layer'. Nothing is written: call `.source`, `.pipe(format="svg")` or
    `.render(...)` on the result. For a model, the input is 3 x 224 x 224 unless `input_size` says otherwise.
    A spec is held to `limits` first, as `build` does.
    """
    if isinstance(spec_or_model, Spec | str | os.PathLike):
        from netspec.drawing import draw

        return draw(admit(spec_or_model, limits, size=input_size), detail, rankdir, expand, input_size)
    from netspec.render import render
    from netspec.structure import trace

    size = input_size or 224  # a model of any axes takes one size per axis; an int is an image's side
    shape = (3, *(size if isinstance(size, tuple) else (size, size)))
    return render(trace(spec_or_model, shape), type(spec_or_model).__name__, detail, rankdir, expand)


def summary(
    spec: Spec | str | os.PathLike[str],
    depth: str = "stage",
    *,
    format: str = "table",
    batch: int = 1,
    input_size: int | tuple[int, ...] | None = None,
    limits: Limits | None = None,
) -> str:
    """The summary `netspec summary` prints: every part's (or block's, or layer's, by `depth`) output shape,
    parameters and MACs, with the totals; `format` is 'table', 'markdown' or 'json'. No torch is imported."""
    from netspec.report import summary as report

    return report(admit(spec, limits, size=input_size).analysis, depth, format, batch)


def list_specs() -> list[str]:
    """The names of the builtin specs, as `build` and the command line take them ('resnet50', 'timm/resnet50d')."""
    from netspec.sources import builtin_names

    return builtin_names()
