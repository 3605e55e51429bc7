"""`netspec train`: its options (one per training setting, generated from TrainSettings) and its launcher."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from netspec.cli_args import positive
from netspec.errors import NetspecError, stopped
from netspec.feasible import check_training
from netspec.gate import Admitted
from netspec.limits import Limits
from netspec.runs import Run
from netspec.settings import TrainSettings, load_settings
from netspec.torchrun import is_main_process, launched


def add_train_options(train: argparse.ArgumentParser) -> None:
    """--config, one option per setting (default: the file's value, else the recipe's), --resume and --nproc."""
    train.add_argument(
        "--config", type=Path, metavar="FILE", help="a YAML file of training settings (options below override it)"
    )
    for name, field in TrainSettings.model_fields.items():
        option = f"--{name.replace('_', '-')}"
        if field.annotation is bool:
            text = f"{field.description} (default: {'on' if field.default else 'off'})"
            train.add_argument(option, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        text = f"{field.description}" + ("" if field.default is None else f" (default {field.default})")
        if get_origin(field.annotation) is Literal:
            train.add_argument(option, choices=get_args(field.annotation), default=None, help=text)
            continue
        kind = _kind(field.annotation)
        metavars: dict[object, str] = {int: "N", float: "X"}
        metavar = metavars.get(kind, "DIR" if name in ("data_dir", "out") else name.upper())
        train.add_argument(option, type=kind, default=None, metavar=metavar, help=text)
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument(
        "--nproc",
        type=positive,
        default=1,
        metavar="N",
        help="processes on this machine, launched through torchrun (default 1)",
    )


def _kind(annotation: Any) -> Callable[[str], Any]:
    """The command-line type of a setting: int, float or str (for `str | None`)."""
    if annotation in (int, float, str):
        return annotation  # type: ignore[no-any-return]
    return next(a for a in get_args(annotation) if a is not type(None))  # type: ignore[no-any-return]


def settings_from(args: argparse.Namespace) -> TrainSettings:
    given = {name: getattr(args, name) for name in TrainSettings.model_fields if getattr(args, name) is not None}
    return load_settings(args.config, given)


def run_train(args: argparse.Namespace, admitted: Admitted, limits: Limits, argv: Sequence[str]) -> int:
    """Train here, or with --nproc N > 1 (and not already under torchrun), launch N processes through torchrun."""
    settings = settings_from(args)
    spec, spec_files = admitted.spec, admitted.files
    here = launched()
    check_training(admitted.analysis, limits, settings.batch_size, here.world if here else args.nproc)
    reads = [*spec_files, *([args.config] if args.config else [])]  # the run's files may replace none of them
    run = Run.of(spec, settings, reads)
    if args.nproc > 1 and here is None:
        with run.locked():  # once, here, rather than from inside torchrun
            run.check(spec, settings, args.resume)
        return launch(args.nproc, argv)
    from netspec.trainer import train

    try:
        result = train(admitted.analysis, settings, args.resume, reads, spec_files)
    except KeyboardInterrupt as exc:
        word, code = stopped(exc)
        if is_main_process():
            print(f"\n{word}; {_kept(run)}", file=sys.stderr)
        return code
    if is_main_process():
        print(f"\nresults in {result.out}: metrics.jsonl, curves.png, last and best checkpoints")
    return 0


def _kept(run: Run) -> str:
    """What an interrupted run left: its manifest names the last committed epoch (--resume finishes a commit
    that was under way)."""
    try:
        epoch = run.read_manifest().epoch
    except NetspecError:
        return f"{run.folder} is damaged"
    return f"{run.folder} holds epoch {epoch}: continue with --resume" if epoch else "no epoch completed"


def launch(nproc: int, argv: Sequence[str]) -> int:
    """torchrun on this machine (--standalone: a local rendezvous), driven in this process: each worker runs this
    same command, and an interrupt or a failed worker ends in the workers' one-line message, not in torchrun's
    traceback or error report. The workers report (rank 0 prints); this returns their exit code."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser
    from torch.distributed.run import run as torchrun

    # torchrun's default, stated here so that it does not print a banner about it; its warnings are the workers'.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    for name in list(logging.root.manager.loggerDict):  # each of torchrun's modules sets its logger's own level
        if name.startswith("torch.distributed.elastic"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    command = ["--standalone", f"--nproc-per-node={nproc}", "-m", "netspec", *_without_nproc(argv)]
    try:
        torchrun(get_args_parser().parse_args(command))  # type: ignore[no-untyped-call]
    except ChildFailedError as failed:
        codes = [failure.exitcode for failure in failed.failures.values()]
        return 130 if -signal.SIGINT in codes or 130 in codes else max(1, *codes)
    except (SignalException, KeyboardInterrupt):
        return 130  # the terminal interrupted the workers too; rank 0 said what the run folder holds
    return 0


def _without_nproc(argv: Sequence[str]) -> list[str]:
    """The command for each process: the same, less --nproc (torchrun would take it for its --nproc-per-node)."""
    out, skip = [], False
    for arg in argv:
        if not skip and arg != "--nproc" and not arg.startswith("--nproc="):
            out.append(arg)
        skip = arg == "--nproc"
    return out
