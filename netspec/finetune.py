"""Fine-tuning: start from a checkpoint or published weights, freeze parts of the network, hold norms in eval mode.

Part names are those of the summary: stem (everything before layer1), layer1..layerN, head (everything after the
last stage), or any module path ("layer4.2", "layer3.0.downsample"). A frozen part's parameters get no gradient
and are not given to the optimizer, and its norms keep their running statistics: a frozen part does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from netspec.analysis import Analysis
from netspec.errors import NetspecError, did_you_mean
from netspec.places import stage_index, stage_name
from netspec.settings import TrainSettings
from netspec.spec import Spec
from netspec.weights import LoadReport, load_pretrained, load_weights

NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def start_from(model: nn.Module, spec: Spec, settings: TrainSettings, files: Sequence[Path]) -> LoadReport | None:
    """The weights a run starts from, loaded into `model`: --weights FILE, or --pretrained (the published weights
    of the builtin spec among `files`, the spec's extends chain), but for --skip prefixes; None for none."""
    if settings.pretrained and settings.weights is not None:
        raise NetspecError("--pretrained and --weights both name the weights to start from; give one")
    if settings.pretrained:
        return load_pretrained(model, files, spec, settings.skip)
    if settings.weights is not None:
        return load_weights(model, Path(settings.weights), settings.skip)
    return None


def check_parts(analysis: Analysis, parts: Sequence[str]) -> None:
    """Refuse a --freeze part the analysed network does not have (before anything is built or written)."""
    spec, paths = analysis.spec, {layer.path for layer in analysis.layers}
    modules = {path.rsplit(".", i)[0] for path in paths for i in range(path.count(".") + 1)}
    known = ["stem", *(stage_name(i) for i in range(len(spec.stages))), "head"]
    for part in parts:
        if part not in known and part not in modules:
            hint = did_you_mean(part, [*known, *sorted(modules)])
            raise NetspecError(f"--freeze {part}: the network has no such part (stem, layerN, head or a module){hint}")


def _modules(model: nn.Module, part: str) -> list[nn.Module]:
    """The modules of a part: a child range for stem and head, else the module at that path."""
    if part not in ("stem", "head"):
        return [model.get_submodule(part)]
    children = list(model.named_children())
    stages = [i for i, (name, _) in enumerate(children) if stage_index(name) is not None]
    chosen = children[: stages[0]] if part == "stem" else children[stages[-1] + 1 :]
    return [module for _, module in chosen]


def freeze(model: nn.Module, parts: Sequence[str], norms: bool) -> list[nn.Module]:
    """Stop training `parts` (and every norm layer's parameters, when `norms`); the norm layers to hold in eval
    mode, which `train_mode` keeps there."""
    frozen = [module for part in parts for module in _modules(model, part)]
    held: list[nn.Module] = [m for module in frozen for m in module.modules() if isinstance(m, NORMS)]
    if norms:
        held = [m for m in model.modules() if isinstance(m, NORMS)]
        frozen += held
    for module in frozen:
        module.requires_grad_(False)
    return held


def train_mode(model: nn.Module, held: Sequence[nn.Module]) -> None:
    """model.train(), but for the norms that `freeze` holds: their statistics stay as loaded."""
    model.train()
    for module in held:
        module.eval()
