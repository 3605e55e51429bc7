"""netspec against torchvision, side by side: forward latency, training step, build time, peak memory; the
optimised inference model; meta-device builds; the wall time of validate and summary. Writes
docs/performance.md. Timings on a shared machine are noisy, so each comparison alternates the two models
run by run in one process and reports medians of the paired runs.

Usage: python bench/bench_models.py [--repeats 7] [--output docs/performance.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

import netspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.opcount import eval_ops, python_calls, torchvision_pair, training_step_ops  # noqa: E402  # tests/ is not installed

Row = tuple[str, str, str, str, str]
MODELS = ("resnet50", "resnet152")


def paired(a: Callable[[], object], b: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, ...]:
    """Median seconds of a and of b, run alternately (a first on even rounds, b first on odd ones), and the median
    of the rounds' a / b ratios, which drifts less than the ratio of the medians when the machine's speed does."""
    for _ in range(warmup):
        a(), b()
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(repeats):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            start = time.perf_counter()
            result = (a if which == 0 else b)()
            times[which].append(time.perf_counter() - start)
            del result  # freeing a model is not part of building it
    ratio = statistics.median(x / y for x, y in zip(times[0], times[1], strict=True))
    return statistics.median(times[0]), statistics.median(times[1]), ratio


def first_build(name: str, repeats: int) -> tuple[float, ...]:
    """paired() over fresh processes: the seconds of the first build after `import torch, torchvision, netspec`,
    which is what a training script pays, free of what earlier builds left in the allocator."""
    code = "import time, torch, torchvision, netspec\nt = time.perf_counter()\n{}\nprint(time.perf_counter() - t)"
    builds = [f"netspec.build('{name}')", f"torchvision.models.{name}()"]
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(repeats):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            run = [sys.executable, "-c", code.format(builds[which])]
            times[which].append(float(subprocess.run(run, capture_output=True, check=True, text=True, cwd=ROOT).stdout))
    ratio = statistics.median(x / y for x, y in zip(times[0], times[1], strict=True))
    return statistics.median(times[0]), statistics.median(times[1]), ratio


def forward(model: nn.Module, batch: int) -> Callable[[], object]:
    x = torch.randn(batch, 3, 224, 224)

    def run() -> object:
        with torch.no_grad():
            return model(x)

    return run


def train_step(model: nn.Module, batch: int) -> Callable[[], object]:
    x, y = torch.randn(batch, 3, 224, 224), torch.randint(0, 1000, (batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def run() -> object:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return run


def peak_rss_mb(impl: str, name: str) -> float:
    """Peak resident memory of a fresh process that builds `name` and runs one training step at batch 8."""
    build = f"netspec.build('{name}')" if impl == "netspec" else f"torchvision.models.{name}()"
    code = (
        "import resource, torch, torchvision, netspec\n"
        f"m = {build}\n"
        "x, y = torch.randn(8, 3, 224, 224), torch.randint(0, 1000, (8,))\n"
        "torch.nn.functional.cross_entropy(m(x), y).backward()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(done.stdout.split()[-1])


def cli_seconds(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "netspec", *args], capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing(measure: str, ns: float, tv: float, ratio: float, target: str, scale: float = 1e3) -> Row:
    digits = 1 if ns * scale < 1000 else 0
    return (measure, f"{ns * scale:.{digits}f}", f"{tv * scale:.{digits}f}", f"{ratio:.3f}", target)


def counts(name: str) -> list[Row]:
    """What each model asks of torch, which repeats exactly where timings do not."""
    model, reference = torchvision_pair(name)
    out = []
    for label, run in (("training step", training_step_ops), ("eval forward", eval_ops)):
        ours, theirs = run(model), run(reference)
        same = "yes" if ours == theirs else "NO"
        out.append(
            (
                f"{name}: aten ops per {label} (batch 2, 64x64), same stream",
                f"{len(ours)}",
                f"{len(theirs)}",
                same,
                "same",
            )
        )
    ours_calls, their_calls = python_calls(model), python_calls(reference)
    out.append(
        (
            f"{name}: Python calls per eval forward",
            f"{ours_calls}",
            f"{their_calls}",
            f"{ours_calls / their_calls:.3f}",
            "<= 1",
        )
    )
    return out


def model_rows(name: str, repeats: int) -> list[Row]:
    model, reference = torchvision_pair(name)
    model.eval(), reference.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        identical = torch.equal(model(x), reference(x))
    out: list[Row] = [
        (f"{name}: eval outputs bit-identical (same weights)", "yes" if identical else "NO", "", "", "yes")
    ]
    out += counts(name)
    for batch in (1, 8):
        ratio = paired(forward(model, batch), forward(reference, batch), repeats)
        out.append(timing(f"{name}: eval forward, batch {batch} (ms)", *ratio, "<= 1.03"))
    model.train(), reference.train()
    ratio = paired(train_step(model, 8), train_step(reference, 8), repeats)
    out.append(timing(f"{name}: training step, batch 8 (ms)", *ratio, "<= 1.03"))
    out.append(timing(f"{name}: first build in a fresh process (ms)", *first_build(name, repeats), "<= 1.10"))
    # Later builds in one process reuse (or not) what earlier ones freed, so they measure the allocator as much as
    # the build: warm up longer and repeat more.
    builders = (lambda: netspec.build(name), lambda: getattr(torchvision.models, name)())
    out.append(timing(f"{name}: build, repeated in one process (ms)", *paired(*builders, 3 * repeats, warmup=3), ""))
    ns_mb, tv_mb = peak_rss_mb("netspec", name), peak_rss_mb("torchvision", name)
    out.append(
        (f"{name}: peak memory, build + training step (MB)", f"{ns_mb:.0f}", f"{tv_mb:.0f}", f"{ns_mb / tv_mb:.3f}", "")
    )
    return out


def rows(repeats: int) -> list[Row]:
    """(measure, netspec, torchvision, ratio, target) rows."""
    out = [row for name in MODELS for row in model_rows(name, repeats)]
    model, reference = torchvision_pair("resnet50")
    optimized = netspec.optimize_for_inference(model)
    opt, tv, ratio = paired(forward(optimized, 8), forward(reference.eval(), 8), 2 * repeats + 1)
    out.append(
        (
            "resnet50 optimised for inference: eval forward, batch 8 (ms)",
            f"{opt * 1e3:.1f}",
            f"{tv * 1e3:.1f}",
            f"{1 / ratio:.2f}x throughput",
            ">= 1.25x",
        )
    )
    meta = statistics.median(_timed(lambda: netspec.build("resnet152", device="meta")) for _ in range(repeats))
    out.append(("resnet152 built on the meta device (ms)", f"{meta * 1e3:.0f}", "", "", "< 100"))
    for args in (["validate", "specs/resnet50.yaml"], ["summary", "resnet152"]):
        seconds = f"{cli_seconds(args, repeats):.2f}"
        out.append((f"`netspec {' '.join(args)}` wall time, process start included (s)", seconds, "", "", ""))
    return out


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args()
    table = ["| measure | netspec | torchvision | ratio | target |", "| --- | ---: | ---: | ---: | --- |"]
    table += [f"| {' | '.join(row)} |" for row in rows(args.repeats)]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    machine = (
        f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, torchvision {torchvision.__version__}"
    )
    text = (
        (ROOT / "bench" / "performance_head.md")
        .read_text()
        .format(
            command=f"python bench/bench_models.py --repeats {args.repeats}", machine=machine, table="\n".join(table)
        )
    )
    args.output.write_text(text)
    print("\n".join(table))


if __name__ == "__main__":
    main()
