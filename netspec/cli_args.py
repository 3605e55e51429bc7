"""The command line's grammar: a parser whose usage errors are one line (exit code 2), and the types of the values
its options take, each checked for range and finiteness where it is read. No torch."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import NoReturn

from netspec.errors import NetspecError, did_you_mean, printable, quote_list

# netspec.export's formats, named here to keep torch unimported, with the file names each is written to.
EXPORT_FORMATS = {"torchscript": (".pt", ".pth", ".ts"), "onnx": (".onnx",), "safetensors": (".safetensors",)}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option, not the whole usage text, and exits 2."""

    def error(self, message: str) -> NoReturn:
        print(printable(f"{self.prog}: {message} (see {self.prog} --help)"), file=sys.stderr)
        raise SystemExit(2)


def positive(text: str) -> int:
    """A whole number of at least 1 (a size, a batch, a count of threads)."""
    return _whole(text, 1)


def count(text: str) -> int:
    """A whole number of at least 0 (warm-up calls)."""
    return _whole(text, 0)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, got {value}")
    return value


def amount(text: str) -> int:
    """A whole, finite number of at least 1 that may be written as 2e9 (a limit: parameters, MACs, bytes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return int(text) if text.strip().lstrip("+").isdigit() else int(value)  # digits: exact, however many


def limit(text: str) -> tuple[str, int]:
    """('params', 1000) from --limit params=1e3."""
    from netspec.limits import Limits

    name, eq, value = text.partition("=")
    if not eq:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, such as params=5e9, got '{text}'")
    if name not in Limits.names():
        hint = did_you_mean(name, Limits.names())
        raise argparse.ArgumentTypeError(f"unknown limit '{name}'{hint}; limits: {', '.join(Limits.names())}")
    try:
        return name, amount(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: {exc}") from None


def check_export_name(output: Path, fmt: str) -> None:
    """An export's file name must say its format: a TorchScript archive named .safetensors would pass for a model
    file, which every command reads as a spec."""
    suffixes = EXPORT_FORMATS[fmt]
    if output.suffix not in suffixes:
        wanted = f"{output}: {fmt} is written to a {quote_list(suffixes)} file"
        raise NetspecError(
            f"{wanted}, not a {output.suffix} one" if output.suffix else f"{wanted}; give the name that suffix"
        )
