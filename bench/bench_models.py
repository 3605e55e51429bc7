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
MODELS = ("resnet50", "resnet152")


def paired(a: Callable[[], object], b: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median seconds of a and of b, run alternately (a first on even rounds, b first on odd ones)."""
    for _ in range(warmup):
        a(), b()
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(repeats):
        for which in (0, 1) if i % 2 == 0 else (1, 0):
            start = time.perf_counter()
            (a if which == 0 else b)()
            times[which].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def pair(name: str) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    reference = getattr(torchvision.models, name)()
    model = netspec.build(name)
    model.load_state_dict(reference.state_dict())
    return model, reference


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


def rows(repeats: int) -> list[tuple[str, str, str, str, str]]:
    """(measure, netspec, torchvision, ratio, target) rows."""
    out = []
    for name in MODELS:
        model, reference = pair(name)
        model.eval(), reference.eval()
        x = torch.randn(2, 3, 224, 224)
        with torch.no_grad():
            identical = torch.equal(model(x), reference(x))
        out.append((f"{name}: eval outputs bit-identical (same weights)", "yes" if identical else "NO", "", "", "yes"))
        for batch in (1, 8):
            ns, tv = paired(forward(model, batch), forward(reference, batch), repeats)
            out.append(
                (
                    f"{name}: eval forward, batch {batch} (ms)",
                    f"{ns * 1e3:.1f}",
                    f"{tv * 1e3:.1f}",
                    f"{ns / tv:.3f}",
                    "<= 1.03",
                )
            )
        model.train(), reference.train()
        ns, tv = paired(train_step(model, 8), train_step(reference, 8), repeats)
        out.append(
            (f"{name}: training step, batch 8 (ms)", f"{ns * 1e3:.0f}", f"{tv * 1e3:.0f}", f"{ns / tv:.3f}", "<= 1.03")
        )
        # Building is mostly random initialisation and fresh memory: the first builds in a process pay for the
        # allocator growing, so warm up longer, and repeat more.
        builders = (lambda name=name: netspec.build(name), lambda name=name: getattr(torchvision.models, name)())
        ns, tv = paired(*builders, 3 * repeats, warmup=3)
        out.append((f"{name}: build (ms)", f"{ns * 1e3:.0f}", f"{tv * 1e3:.0f}", f"{ns / tv:.3f}", "<= 1.10"))
        ns_mb, tv_mb = peak_rss_mb("netspec", name), peak_rss_mb("torchvision", name)
        out.append(
            (
                f"{name}: peak memory, build + training step (MB)",
                f"{ns_mb:.0f}",
                f"{tv_mb:.0f}",
                f"{ns_mb / tv_mb:.3f}",
                "",
            )
        )
    model, reference = pair("resnet50")
    optimized = netspec.optimize_for_inference(model)
    opt, tv = paired(forward(optimized, 8), forward(reference.eval(), 8), 2 * repeats + 1)
    out.append(
        (
            "resnet50 optimised for inference: eval forward, batch 8 (ms)",
            f"{opt * 1e3:.1f}",
            f"{tv * 1e3:.1f}",
            f"{tv / opt:.2f}x throughput",
            ">= 1.25x",
        )
    )
    meta = statistics.median(_timed(lambda: netspec.build("resnet152", device="meta")) for _ in range(repeats))
    out.append(("resnet152 built on the meta device (ms)", f"{meta * 1e3:.0f}", "", "", "< 100"))
    for args in (["validate", "specs/resnet50.yaml"], ["summary", "resnet152"]):
        out.append(
            (
                f"`netspec {' '.join(args)}` wall time, process start included (s)",
                f"{cli_seconds(args, repeats):.2f}",
                "",
                "",
                "",
            )
        )
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
