"""`netspec bench`: its options, and its table or JSON (netspec.bench measures)."""

from __future__ import annotations

import argparse
import importlib.util
import json
from typing import Any

from netspec.bench_paths import INFERENCE, TRAINING
from netspec.cli_args import count, positive
from netspec.errors import NetspecError, did_you_mean
from netspec.feasible import check_batch_norm, check_memory
from netspec.gate import Admitted
from netspec.limits import Limits

DEFAULT_PATHS = ("eager", "optimized", "torchscript", "onnxruntime")  # compile only when asked: it takes minutes


def add_bench_options(bench: argparse.ArgumentParser) -> None:
    bench.add_argument(
        "--batch", type=positive, nargs="+", default=[1, 8], metavar="N", help="batch sizes (default 1 8)"
    )
    bench.add_argument(
        "--paths",
        help=f"comma-separated, of {', '.join(INFERENCE)} (default: all but compile); with --train: of "
        f"{', '.join(TRAINING)} (default: all but compile)",
    )
    bench.add_argument("--train", action="store_true", help="time a training step instead of a forward pass")
    bench.add_argument("--warmup", type=count, default=3, metavar="N", help="untimed calls first (default 3)")
    bench.add_argument("--repeats", type=positive, default=10, metavar="N", help="timed calls (default 10)")
    bench.add_argument(
        "--threads",
        type=positive,
        metavar="N",
        help="threads for torch and ONNX Runtime (default: torch's, one a core)",
    )
    bench.add_argument("--format", choices=("table", "json"), default="table", help="table or json")


def run_bench(args: argparse.Namespace, admitted: Admitted, limits: Limits) -> str:
    """Measure every chosen path, and torchvision's model (eager) beside them when the spec reproduces one; refuse
    before building anything what this machine cannot run."""
    spec, (paths, missing) = admitted.spec, _paths(args)
    if args.train and (spec.features is not None or spec.head.classes == 0):
        raise NetspecError("bench --train times a classifier's step; this spec has no classifier")
    largest = max(args.batch)
    check_memory(
        admitted.analysis, limits, largest, "training" if args.train else "inference", f"bench --batch {largest}"
    )
    if "onnxruntime" in paths:  # its graph is exported first, by tracing one image
        check_memory(admitted.analysis, limits, 1, "tracing", "bench --paths onnxruntime")
    if args.train:
        check_batch_norm(admitted.analysis, min(args.batch), f"bench --train --batch {min(args.batch)}")
    import torch

    from netspec.bench import bench
    from netspec.compiler import compile_plan

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    shape, batches = spec.input_shape(args.input_size), tuple(args.batch)
    common = {"shape": shape, "train": args.train, "classes": spec.head.classes, "warmup": args.warmup}
    rows = []
    reference = _torchvision(admitted)
    if reference is not None:
        timed = bench(reference, ("eager",), batches, repeats=args.repeats, **common)
        rows += [("torchvision eager", t) for t in timed]
    timed = bench(lambda: compile_plan(admitted.plan), paths, batches, repeats=args.repeats, **common)
    rows += [(t.path, t) for t in timed]
    what = "training step" if args.train else "inference"
    threads, calls = torch.get_num_threads(), args.repeats
    header = f"{spec.name}: {what}, input {' x '.join(map(str, shape))}, {threads} thread{'s' * (threads != 1)}, "
    header += f"median of {calls} call{'s' * (calls != 1)} after {args.warmup} warm-up"
    notes = [f"{path}: not installed here, not timed (pip install {path})" for path in missing]
    return _json(header, rows, notes) if args.format == "json" else _table(header, rows, batches, notes)


def _paths(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The paths asked for (default: every one but compile), and the default ones left out because what they need
    is not installed; a path asked for by name must run here."""
    known = TRAINING if args.train else INFERENCE
    default = TRAINING[:-1] if args.train else DEFAULT_PATHS
    if not args.paths:
        paths = available(default)
        return paths, tuple(p for p in default if p not in paths)
    paths = tuple(p.strip() for p in args.paths.split(","))
    unknown = [p for p in paths if p not in known]
    if unknown:
        hint = did_you_mean(unknown[0], list(known))
        raise NetspecError(f"bench --paths: unknown path '{unknown[0]}'; choose from {', '.join(known)}{hint}")
    absent = [p for p in paths if p not in available(paths)]
    if absent:
        raise NetspecError(f"bench --paths {absent[0]}: {absent[0]} is not installed here (pip install {absent[0]})")
    return paths, ()


def available(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The paths that can run here: ONNX Runtime only when it is installed (found without importing it)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return tuple(p for p in paths if p != "onnxruntime")
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


def _table(header: str, rows: list[tuple[str, Any]], batches: tuple[int, ...], notes: list[str]) -> str:
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
    return "\n".join([*lines, *notes])


def _json(header: str, rows: list[tuple[str, Any]], notes: list[str]) -> str:
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
    baseline = _baseline(rows, rows[0][1].batch)[0]
    return json.dumps({"setup": header, "baseline": baseline, "rows": items, "notes": notes}, indent=1)
