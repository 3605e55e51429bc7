"""The `netspec` command: parse arguments, call the library, print. Imports torch only in `build`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from netspec.errors import NetspecError
from netspec.files import check_output, write_atomic
from netspec.loader import load_spec
from netspec.report import one_line, stage_table
from netspec.sources import builtin_names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netspec", description="Describe, build and inspect ResNet-family networks.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check spec files (does not import torch)")
    validate.add_argument("specs", nargs="+", metavar="SPEC", help="spec file or builtin name")
    _add_set(validate)

    build = commands.add_parser("build", help="build the network, print its summary, optionally save weights")
    build.add_argument("spec", metavar="SPEC", help="spec file or builtin name")
    build.add_argument("-o", "--output", type=Path, help="save the weights (.pt or .safetensors)")
    build.add_argument("--weights", type=Path, help="load a state_dict (torchvision or timm layout) strictly")
    build.add_argument("--input-size", type=int, help="image size for the shapes (default: the spec's input.size)")
    _add_set(build)

    commands.add_parser("list", help="list the builtin specs")
    schema = commands.add_parser("schema", help="print the JSON Schema of spec files")
    schema.add_argument("-o", "--output", type=Path, help="write it to a file instead")
    return parser


def _add_set(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a field, e.g. stages.2.depth=23"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(_COMMANDS[args.command](args))
    except NetspecError as exc:
        if args.debug:
            raise
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        if args.debug:
            raise
        print(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), file=sys.stderr)
        return 1


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for ref in args.specs:
        try:
            spec = load_spec(ref, args.set)
        except NetspecError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        print(f"{ref}: ok ({one_line(spec)})")
    return 1 if failed else 0


def _build(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec, args.set)
    from netspec.compiler import compile_spec
    from netspec.weights import check_format, load_weights, parameters_by_part, save_weights

    if args.output is not None:
        check_format(args.output)
        check_output(args.output, args.spec)
    model = compile_spec(spec)
    if args.weights is not None:
        load_weights(model, args.weights)
    print(stage_table(spec, parameters_by_part(model), args.input_size))
    notes = [f"weights loaded from {args.weights}"] if args.weights is not None else []
    if args.output is not None:
        save_weights(model, args.output)
        notes.append(f"weights written to {args.output}")
    if notes:
        print("", *notes, sep="\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    names = builtin_names()
    width = max(map(len, names), default=0)
    for name in names:
        print(f"{name.ljust(width)}  {load_spec(name).description}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from netspec.schema import schema_text

    if args.output is None:
        sys.stdout.write(schema_text())
    else:
        check_output(args.output)
        write_atomic(args.output, schema_text().encode())
    return 0


_COMMANDS = {"validate": _validate, "build": _build, "list": _list, "schema": _schema}
