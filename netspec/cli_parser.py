"""The `netspec` command's options: every command, and the flags each takes, typed (netspec.cli_args). No torch."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from netspec.cli_args import EXPORT_FORMATS, Parser, amount, limit, positive
from netspec.cli_bench import add_bench_options
from netspec.cli_train import add_train_options
from netspec.cli_weights import add_weights_options
from netspec.drawing import DETAILS
from netspec.limits import Limits
from netspec.report import DEPTHS, FORMATS


def parser() -> argparse.ArgumentParser:
    """Every command and its options."""
    parser = Parser(prog="netspec", description="Describe, build and inspect ResNet-family networks.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check spec files (does not import torch)")
    validate.add_argument("specs", nargs="+", metavar="SPEC", help="spec file or builtin name")
    _add_set(validate)
    _build_options(_spec_command(commands, "build", "build the network, print its summary, optionally save weights"))
    _export_options(_spec_command(commands, "export", "write a deployable file: torchscript, onnx or safetensors"))
    render = _spec_command(commands, "render", "draw the architecture: .svg, .png, .pdf or .dot")
    render.add_argument("-o", "--output", type=Path, required=True, help="the diagram file; its suffix sets the format")
    _add_diagram_options(render)
    summary = _spec_command(commands, "summary", "shapes, parameters and MACs from the spec (does not import torch)")
    summary.add_argument("--batch", type=positive, default=1, help="batch size for MACs and memory (default 1)")
    summary.add_argument("--depth", choices=DEPTHS, default="stage", help="rows per stage, block or layer")
    summary.add_argument("--format", choices=FORMATS, default="table", help="table, markdown or json")
    diff = commands.add_parser("diff", help="what changes between two specs (does not import torch)")
    diff.add_argument("a", metavar="A", help="spec file or builtin name")
    diff.add_argument("b", metavar="B", help="spec file or builtin name")
    _add_size(diff)
    _add_limit(diff)
    bench = _spec_command(commands, "bench", "time the network each way it runs here (eager, TorchScript, ONNX...)")
    add_bench_options(bench)
    train = commands.add_parser("train", help="train the network (SGD + StepLR; torchrun for several processes)")
    train.add_argument("spec", metavar="SPEC", help="spec file or builtin name")
    _add_set(train)
    add_train_options(train)
    commands.add_parser("list", help="list the builtin specs")
    schema = commands.add_parser("schema", help="print the JSON Schema of spec files")
    schema.add_argument("-o", "--output", type=Path, help="write it to a file instead")
    return parser


class Sizes(argparse.Action):
    """--input-size 224, or one size per axis (--input-size 16 112 112): an int, or a tuple of them."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option: str | None = None) -> None:
        setattr(namespace, self.dest, values[0] if len(values) == 1 else tuple(values))


def _spec_command(commands: Any, name: str, text: str) -> argparse.ArgumentParser:
    """A command on one spec, with --input-size, --set and --limit."""
    command: argparse.ArgumentParser = commands.add_parser(name, help=text)
    command.add_argument("spec", metavar="SPEC", help="spec file, builtin name, or model file (.safetensors)")
    _add_size(command)
    _add_set(command)
    return command


def _build_options(build: argparse.ArgumentParser) -> None:
    build.add_argument("-o", "--output", type=Path, help="save the weights (.pt or .safetensors)")
    add_weights_options(build)
    build.add_argument("--max-params", type=amount, help="same as --limit params=N (default 2e9)")
    build.add_argument("--device", default="cpu", help="where to build: cpu, cuda, or meta (no memory for weights)")
    build.add_argument("--optimize", choices=["inference"], help="fold norms into convs and use channels_last")
    build.add_argument("--diagram", type=Path, help="also draw the architecture to this file (.svg, .png, .pdf, .dot)")
    _add_diagram_options(build)


def _export_options(export: argparse.ArgumentParser) -> None:
    export.add_argument(
        "--format", required=True, choices=list(EXPORT_FORMATS), help="torchscript, onnx or safetensors"
    )
    export.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    add_weights_options(export)
    export.add_argument("--optimize", choices=["inference"], help="fold norms into convs first")


def _add_size(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--input-size",
        type=positive,
        nargs="+",
        action=Sizes,
        metavar="SIZE",
        help="input size: one number for every axis, or one per axis (default: the spec's input.size)",
    )


def _add_diagram_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--detail", choices=DETAILS, default="stage", help="stage, block or layer (default stage)")
    command.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom or left to right")
    command.add_argument("--expand", action="store_true", help="draw every block instead of collapsing repeats")


def _add_set(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a field, e.g. stages.2.depth=23"
    )
    _add_limit(command)


def _add_limit(command: argparse.ArgumentParser) -> None:
    defaults = {f.name: getattr(Limits(), f.name) for f in fields(Limits)}
    names = ", ".join(f"{name} ({f'{value:,}' if value else 'the free memory'})" for name, value in defaults.items())
    command.add_argument(
        "--limit", action="append", type=limit, default=[], metavar="NAME=VALUE", help=f"raise a limit: {names}"
    )
