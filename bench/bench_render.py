"""Wall time of `netspec render` for ResNet-152 at each level of detail, to SVG, interpreter start included.

Each run is a fresh process; levels are interleaved; the median and worst of N runs are reported.
Usage: python bench/bench_render.py [--runs 5] [--spec resnet152]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETAILS = ("stage", "block", "layer")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spec", default="resnet152")
    args = parser.parse_args()
    times: dict[str, list[float]] = {d: [] for d in DETAILS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            for detail in DETAILS:
                command = [sys.executable, "-m", "netspec", "render", args.spec, "-o", f"{tmp}/d.svg"]
                start = time.perf_counter()
                subprocess.run([*command, "--detail", detail], cwd=ROOT, check=True, capture_output=True)
                times[detail].append(time.perf_counter() - start)
    print("| detail | median (s) | worst (s) |\n| --- | ---: | ---: |")
    for detail, samples in times.items():
        print(f"| {detail} | {statistics.median(samples):.2f} | {max(samples):.2f} |")
    print(f"\n`netspec render {args.spec} -o x.svg --detail D`, {args.runs} runs each, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
