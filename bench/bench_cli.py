"""Wall time of the torch-free commands, interpreter start included: `netspec validate` and `netspec summary`.

Runs each command as a fresh process, interleaved, and reports the median and the worst of N runs, and whether
torch was imported. The many-stage specs (1,000 and 2,000 one-block stages, written to a temporary folder) show
that the cost grows linearly with the stages. Usage: python bench/bench_cli.py [--runs 11]
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
WORK = Path(tempfile.mkdtemp(prefix="netspec-bench-"))
COMMANDS = [
    ["validate", "specs/resnet50.yaml"],
    ["summary", "resnet152"],
    ["summary", "cifar/resnet1202"],
    ["summary", "cifar/resnet1202", "--depth", "layer"],
]
for _stages in (1000, 2000):
    _path = WORK / f"stages{_stages}.yaml"
    _path.write_text("netspec: 1\nstem: cifar\nstages:\n" + "  - {depth: 1, width: 16, stride: 1}\n" * _stages)
    COMMANDS += [["validate", str(_path)], ["summary", str(_path), "--depth", "block"]]
PROBE = "import sys; from netspec.cli import main; rc = main(sys.argv[1:]);"
PROBE += "sys.stderr.write('torch imported\\n' if 'torch' in sys.modules else ''); sys.exit(rc)"


def run(args: list[str]) -> tuple[float, bool]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, "torch imported" in done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {" ".join(c): [] for c in COMMANDS}
    torch_seen: dict[str, bool] = dict.fromkeys(times, False)
    for _ in range(runs):  # interleaved, so that machine noise spreads over every command alike
        for command in COMMANDS:
            seconds, imported = run(command)
            times[" ".join(command)].append(seconds)
            torch_seen[" ".join(command)] |= imported
    print("| command | median (s) | worst (s) | imports torch |\n| --- | ---: | ---: | --- |")
    for name, samples in times.items():
        imported = "yes" if torch_seen[name] else "no"
        shown = name.replace(str(WORK) + "/", "")
        print(f"| `netspec {shown}` | {statistics.median(samples):.3f} | {max(samples):.3f} | {imported} |")
    print(f"\n{runs} runs each, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
