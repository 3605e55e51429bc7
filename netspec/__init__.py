"""netspec: describe ResNet-family networks in YAML; validate, build, summarize and draw them.

Importing netspec does not import torch: `build` imports it when it is called. The functions are in netspec.api.
"""

from netspec.api import build, diagram, list_specs, load, load_weights, optimize_for_inference, summary, train
from netspec.errors import NetspecError, SpecError
from netspec.limits import Limits
from netspec.loader import load_spec
from netspec.registry import register_block
from netspec.settings import TrainSettings, load_settings
from netspec.spec import Spec
from netspec.version import __version__

__all__ = [
    "Limits",
    "NetspecError",
    "Spec",
    "SpecError",
    "TrainSettings",
    "__version__",
    "build",
    "diagram",
    "list_specs",
    "load",
    "load_settings",
    "load_spec",
    "load_weights",
    "optimize_for_inference",
    "register_block",
    "summary",
    "train",
]
