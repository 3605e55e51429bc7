"""The `netspec` command: parse arguments, call the library, print. Only `build` imports torch."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from netspec.cli_args import check_export_name
from netspec.cli_bench import run_bench
from netspec.cli_parser import parser
from netspec.cli_train import run_train
from netspec.cli_weights import load_chosen
from netspec.diff import render as render_diff
from netspec.drawing import check_diagram_format, diagram_bytes, draw
from netspec.errors import NetspecError, clear_interrupts, interrupt, printable, stopped
from netspec.feasible import check_memory
from netspec.files import Writer
from netspec.gate import Admitted, admit
from netspec.limits import Limits
from netspec.loader import load_spec
from netspec.report import one_line, summary
from netspec.sources import builtin_names
from netspec.torchrun import is_main_process


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        os.getcwd()  # every relative path, and every path shown relative to it, needs it
    except FileNotFoundError:
        print(
            "netspec: the working folder no longer exists (it was deleted or moved); cd into a folder that does",
            file=sys.stderr,
        )
        return 1
    args = parser().parse_args(argv)
    args.argv = argv
    # Ctrl-C and SIGTERM end a command as exceptions, raised where it is, so that what was under way is undone;
    # the handlers are this command's, and put back as they were when it returns (it may run inside a program).
    # A signal the process was started to ignore (a background job's SIGINT, nohup) stays ignored, as in Python.
    signals = [sig for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) is not signal.SIG_IGN]
    handlers = {sig: signal.signal(sig, interrupt) for sig in signals}
    hook, sys.unraisablehook = sys.unraisablehook, _quiet_interrupts(sys.unraisablehook)
    try:
        return _run(args)
    finally:
        clear_interrupts()
        sys.unraisablehook = hook
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _quiet_interrupts(hook: Any) -> Any:
    """`hook`, but silent about an interrupt raised in a finalizer: Python drops it there with a traceback, and
    netspec raises it again at the next batch, which ends the command in its one line."""

    def quiet(info: Any) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):
            hook(info)

    return quiet


def _run(args: argparse.Namespace) -> int:
    """The command, its errors as one line each and its exit code."""
    try:
        return int(_COMMANDS[args.command](args))
    except NetspecError as exc:
        if args.debug:
            raise
        if is_main_process():  # under torchrun, one copy of the message, not one per process
            print(printable(str(exc)), file=sys.stderr)  # file names and values may hold escape sequences
        return 1
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        word, code = stopped(exc)
        if is_main_process():
            print(f"\n{word}", file=sys.stderr)
        return code
    except OSError as exc:
        if args.debug:
            raise
        print(printable(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")), file=sys.stderr)
        return 1


def _validate(args: argparse.Namespace) -> int:
    failed = 0
    for ref in args.specs:
        try:
            admitted = _checked(args, ref)
        except NetspecError as exc:
            print(printable(str(exc)), file=sys.stderr)
            failed += 1
            continue
        print(printable(f"{ref}: ok ({one_line(admitted.spec, admitted.analysis)})"))
    return 1 if failed else 0


def _checked(args: argparse.Namespace, ref: str | None = None) -> Admitted:
    """The spec through the gate: refused, before anything is allocated, if over the limits or unbuildable."""
    return admit(ref or args.spec, _limits(args), getattr(args, "set", ()), size=getattr(args, "input_size", None))


def _limits(args: argparse.Namespace) -> Limits:
    """The defaults, raised by --limit and --max-params."""
    limits = Limits().raised(args.limit)
    if getattr(args, "max_params", None) is not None:
        limits = replace(limits, params=args.max_params)
    return limits


def _writer(admitted: Admitted, *also_read: Path | None) -> Writer:
    """The command's writer: it refuses to replace the spec, a file of its extends chain, or any other input."""
    return Writer([*admitted.files, *(path for path in also_read if path is not None)])


def _build(args: argparse.Namespace) -> int:
    admitted = _checked(args)
    analysis = admitted.analysis
    from netspec.weights import check_format, weights_bytes

    writer = _writer(admitted, args.weights)
    if args.output is not None:
        check_format(args.output)
        writer.check(args.output)
    if args.diagram is not None:
        check_diagram_format(args.diagram)
        writer.check(args.diagram)
    if args.device == "meta" and (args.output or args.weights or args.pretrained):
        raise NetspecError("a model built on the meta device has no weights to load or save; drop -o and the weights")
    if args.device != "meta":
        check_memory(analysis, _limits(args), 1, "weights", "build")
    model, report = _model(args, admitted)
    print(summary(analysis))
    notes = [str(report)] if report is not None else []
    if args.output is not None:
        described = admitted.spec if args.optimize != "inference" else None  # folded norms: not the spec's model
        writer.write(args.output, weights_bytes(model, args.output.suffix, described))
        notes.append(f"weights written to {args.output}")
    if args.diagram is not None:
        graph = draw(admitted, args.detail, args.rankdir, args.expand, args.input_size)
        writer.write(args.diagram, diagram_bytes(graph, args.diagram))
        notes.append(f"diagram written to {args.diagram}")
    if notes:
        print("", *notes, sep="\n")
    return 0


def _model(args: argparse.Namespace, admitted: Admitted) -> tuple[Any, Any]:
    """The built module, on --device, with --weights loaded, then optimised for inference if asked to; and the
    weights' load report (None without --weights)."""
    import torch

    from netspec.compiler import compile_plan
    from netspec.optimize import optimize_for_inference

    if args.device == "cpu":
        model = compile_plan(admitted.plan)
    else:  # torch.device as a context routes every tensor op through Python: only when asked to
        with torch.device(args.device):
            model = compile_plan(admitted.plan)
    report = load_chosen(args, model, admitted)  # the checkpoint's layout: before norms are folded into convs
    return optimize_for_inference(model) if args.optimize == "inference" else model, report


def _export(args: argparse.Namespace) -> int:
    check_export_name(args.output, args.format)
    admitted = _checked(args)
    spec, writer = admitted.spec, _writer(admitted, args.weights)
    writer.check(args.output)
    traced = args.format == "onnx"  # ONNX traces a forward pass at the input size; the others only save
    what = f"export --format {args.format}" + (f" --input-size {args.input_size}" if args.input_size else "")
    check_memory(admitted.analysis, _limits(args), 1, "tracing" if traced else "weights", what)
    from torch import nn

    from netspec.compiler import compile_plan
    from netspec.export import export_bytes
    from netspec.optimize import optimize_for_inference

    model: nn.Module = compile_plan(admitted.plan)
    report = load_chosen(args, model, admitted)
    if args.optimize == "inference":
        model = optimize_for_inference(model, channels_last=False)
    described = spec if args.optimize != "inference" else None  # folded norms: not the spec's model
    writer.write(args.output, export_bytes(model, args.format, spec.input_shape(args.input_size), described))
    print(*([str(report)] if report is not None else []), f"{args.output}: {spec.name} as {args.format}", sep="\n")
    return 0


def _render(args: argparse.Namespace) -> int:
    admitted = _checked(args)
    spec, writer = admitted.spec, _writer(admitted)
    check_diagram_format(args.output)
    writer.check(args.output)
    graph = draw(admitted, args.detail, args.rankdir, args.expand, args.input_size)
    writer.write(args.output, diagram_bytes(graph, args.output))
    print(f"{args.output}: {spec.name}, {args.detail} detail")
    return 0


def _summary(args: argparse.Namespace) -> int:
    analysis = _checked(args).analysis
    print(summary(analysis, args.depth, args.format, args.batch))
    return 0


def _diff(args: argparse.Namespace) -> int:
    a, b = (_checked(args, ref).analysis for ref in (args.a, args.b))
    print(render_diff(a, b))
    return 0


def _bench(args: argparse.Namespace) -> int:
    print(run_bench(args, _checked(args), _limits(args)))
    return 0


def _train(args: argparse.Namespace) -> int:
    return run_train(args, _checked(args), _limits(args), args.argv)


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
        Writer().write(args.output, schema_text().encode())
    return 0


_COMMANDS = {
    "validate": _validate,
    "build": _build,
    "export": _export,
    "render": _render,
    "summary": _summary,
    "diff": _diff,
    "train": _train,
    "bench": _bench,
    "list": _list,
    "schema": _schema,
}
