"""The weights options of `netspec build` and `export`: --weights FILE, --pretrained and --skip PREFIX."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from netspec.errors import NetspecError
from netspec.gate import Admitted
from netspec.modelfile import is_model_file


def add_weights_options(command: argparse.ArgumentParser) -> None:
    weights = command.add_mutually_exclusive_group()
    weights.add_argument("--weights", type=Path, help="load a state_dict (torchvision or timm layout) strictly")
    weights.add_argument(
        "--pretrained", action="store_true", help="load the builtin spec's published weights (docs/pretrained.md)"
    )
    command.add_argument(
        "--skip", action="append", default=[], metavar="PREFIX", help="leave these weights out, e.g. --skip fc"
    )


def load_chosen(args: argparse.Namespace, model: Any, admitted: Admitted) -> Any:
    """The weights the options name, loaded into `model` but for --skip prefixes: the load report, or None.
    A model file (the SPEC argument) brings its own weights unless --weights or --pretrained names others."""
    from netspec.weights import load_pretrained, load_weights

    if args.pretrained:
        return load_pretrained(model, admitted.files, admitted.spec, args.skip)
    weights = args.weights
    if weights is None and is_model_file(args.spec) and getattr(args, "device", "cpu") != "meta":
        weights = Path(args.spec)
    if weights is None:
        if args.skip:
            raise NetspecError("--skip leaves out part of the weights; give --weights FILE or --pretrained too")
        return None
    return load_weights(model, weights, args.skip)
