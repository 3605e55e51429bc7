"""`netspec bench`: its options, and its table or JSON (netspec.bench measures)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from netspec.gate import Admitted

INFERENCE = ("eager", "optimized", "torchscript", "onnxruntime", "compile")  # netspec.bench's, without torch
TRAINING = ("eager", "channels_last", "amp", "compile")
DEFAULT_PATHS = ("eager", "optimized", "torchscript", "onnxruntime")  # compile only when asked: it takes minutes


def add_bench_options(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("--batch", type=int, nargs="+", default=[1, 8], metavar="N", help="batch sizes (default 1 8)")
    bench.add_argument(
        "--paths",
        help=f"comma-separated, of {', '.join(INFERENCE)} (default: all but compile); with --train: of "
        f"{', '.join(TRAINING)} (default: all but compile)",
    )
    bench.add_argument("--train", action="store_true", help="time a training step instead of a forward pass")
    bench.add_argument("--warmup", type=int, default=3, metavar="N", help="untimed calls first (default 3)")
    bench.add_argument("--repeats", type=int, default=10, metavar="N", help="timed calls (default 10)")
    bench.add_argument("--format", choices=("table", "json"), default="table", help="table or json")


def run_bench(args: argparse.Namespace, admitted: Admitted) -> str:
    """Measure every chosen path, and torchvision's model (eager) beside them when the spec reproduces one."""
    import torch

    from netspec.bench import bench
    from netspec.compiler import compile_spec

    spec, paths = admitted.spec, _paths(args)
    if args.train and (spec.features is not None or spec.head.classes == 0):
        from netspec.errors import NetspecError

        raise NetspecError("bench --train times a classifier's step; this spec has no classifier")
    size = args.input_size or spec.input.size
    shape, batches = (spec.input.channels, size, size), tuple(args.batch)
    common = {"shape": shape, "train": args.train, "classes": spec.head.classes, "warmup": args.warmup}
    rows = []
    reference = _torchvision(admitted)
    if reference is not None:
        timed = bench(reference, ("eager",), batches, repeats=args.repeats, **common)
        rows += [("torchvision eager", t) for t in timed]
    timed = bench(lambda: compile_spec(spec), paths, batches, repeats=args.repeats, **common)
    rows += [(t.path, t) for t in timed]
    what = "training step" if args.train else "inference"
    header = f"{spec.name}: {what}, input {' x '.join(map(str, shape))}, {torch.get_num_threads()} threads, "
    header += f"median of {args.repeats} calls after {args.warmup} warm-up"
    return _json(header, rows) if args.format == "json" else _table(header, rows, batches)


def _paths(args: argparse.Namespace) -> tuple[str, ...]:
    """The paths asked for (default: every one available here but compile), checked with the counts."""
    from netspec.bench import available
    from netspec.errors import NetspecError, did_you_mean

    known = TRAINING if args.train else INFERENCE
    default = TRAINING[:-1] if args.train else DEFAULT_PATHS
    paths = tuple(p.strip() for p in args.paths.split(",")) if args.paths else available(default)
    unknown = [p for p in paths if p not in known]
    if unknown:
        hint = did_you_mean(unknown[0], list(known))
        raise NetspecError(f"bench: unknown path '{unknown[0]}'; choose from {', '.join(known)}{hint}")
    if any(b < 1 for b in args.batch) or args.repeats < 1 or args.warmup < 0:
        raise NetspecError("bench: counts must be >= 1")
    return paths


def _torchvision(admitted: Admitted) -> Any:
    """torchvision's constructor for a builtin top-level spec that reproduces a torchvision model, else None."""
    from netspec.sources import builtin_name

    name = builtin_name(admitted.files[0]) if admitted.files else None
    if name is None or admitted.spec.features is not None:
        return None
    import torchvision

    if name not in torchvision.models.list_models(torchvision.models):  # cifar/..., timm/... are not top-level
        return None
    return lambda: torchvision.models.get_model(name, num_classes=admitted.spec.head.classes)


def _baseline(rows: list[tuple[str, Any]], batch: int) -> tuple[str, float]:
    name = "torchvision eager" if any(n == "torchvision eager" for n, _ in rows) else "eager"
    return name, next(t.images_per_s for n, t in rows if n == name and t.batch == batch)


def _table(header: str, rows: list[tuple[str, Any]], batches: tuple[int, ...]) -> str:
    lines = [header, ""]
    lines.append(f"{'path':<18} {'batch':>5} {'median ms':>10} {'p10-p90 ms':>17} {'images/s':>9}  vs baseline")
    for name, t in rows:
        base = _baseline(rows, t.batch)[1]
        spread = f"{t.low * 1e3:.1f}-{t.high * 1e3:.1f}"
        lines.append(
            f"{name:<18} {t.batch:>5} {t.median * 1e3:>10.1f} {spread:>17} {t.images_per_s:>9.1f}  "
            f"{t.images_per_s / base:.2f}x"
        )
    lines.append("")
    for batch in batches:
        base_name, base = _baseline(rows, batch)
        name, best = max(((n, t) for n, t in rows if t.batch == batch), key=lambda r: r[1].images_per_s)
        lines.append(
            f"fastest at batch {batch}: {name}, {best.images_per_s:.1f} images/s, "
            f"{best.images_per_s / base:.2f}x {base_name}"
        )
    return "\n".join(lines)


def _json(header: str, rows: list[tuple[str, Any]]) -> str:
    items = [
        {
            "path": name,
            "batch": t.batch,
            "median_s": t.median,
            "p10_s": t.low,
            "p90_s": t.high,
            "repeats": t.repeats,
            "images_per_s": t.images_per_s,
            "vs_baseline": t.images_per_s / _baseline(rows, t.batch)[1],
        }
        for name, t in rows
    ]
    return json.dumps({"setup": header, "baseline": _baseline(rows, rows[0][1].batch)[0], "rows": items}, indent=1)
