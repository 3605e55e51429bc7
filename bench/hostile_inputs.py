"""Replays the inputs of reliability round 3 (issue 21), each in a fresh process, and prints what each did: exit
code, lines on stderr, wall seconds, peak memory, files left behind. The bar: one line, exit 1 or 2 (or 0 where
working is the answer), under 2 GiB and 5 s plus torch's import, nothing left behind.

    python bench/hostile_inputs.py                  # this checkout
    python bench/hostile_inputs.py --old ../old     # another checkout's netspec/, to see what it did
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.bombs import checkpoint_bomb  # noqa: E402
from tests.test_hostile_images import _folder, _png, _truncated_jpeg  # noqa: E402

TINY = "netspec: 1\ninput: {size: 8}\nstem: {preset: cifar, width: 4}\nstages: [{depth: 1, width: 4, stride: 1}]\n"
TINY += "head: {classes: 2}\n"
FAKE = ["--data", "fake", "--fake-images", "16", "--batch-size", "8", "--epochs", "1", "--workers", "0"]
Setup = Callable[[Path], None]


def _write(name: str, text: str) -> Setup:
    return lambda d: (d / name).write_text(text) and None


def _user_files(d: Path) -> None:
    for name in ("spec.yaml", "settings.yaml", "metrics.jsonl", "curves.png", "best.safetensors"):
        (d / name).write_text("mine\n")
    (d / "tiny.yaml").write_text(TINY)


def _secret(d: Path) -> None:
    (d / ".env").write_text("API_KEY=sk-live-1234\n")
    (d / "link").symlink_to(d / ".env")
    for name, ref in (("env.yaml", ".env"), ("link.yaml", "link")):
        (d / name).write_text(f"netspec: 1\nextends: {ref}\n")


def _fifo(d: Path) -> None:
    os.mkfifo(d / "pipe")
    (d / "tiny.yaml").write_text(TINY)


def _bomb(d: Path) -> None:
    (d / "bomb.pt").write_bytes(checkpoint_bomb("fc.weight", (2 << 30) // 4))


def _regnet(design: str) -> Setup:
    return _write("r.yaml", f"netspec: 1\nextends: regnet_x_400mf\nregnet: {{{design}}}\n")


def _images(make: Callable[[Path], object], name: str) -> Setup:
    def setup(d: Path) -> None:
        _folder(d / "pics")
        make(d / "pics" / "train" / "red" / name)

    return setup


def _loops(d: Path) -> None:
    _folder(d / "pics")
    (d / "pics" / "train" / "red" / "a").symlink_to(".")
    (d / "pics" / "train" / "red" / "b").symlink_to(".")


IMAGES = ["train", "cifar/resnet20", "--set", "head.classes=2", "--data", "imagefolder:pics", "--epochs", "1"]
IMAGES += ["--batch-size", "2", "--out", "run"]
CASES: list[tuple[str, Setup | None, list[str], dict[str, str]]] = [
    ("train --out . over the user's 5 files", _user_files, ["train", "tiny.yaml", *FAKE, "--out", "."], {}),
    ("a 2 MB .pt inflating to 2 GiB", _bomb, ["build", "resnet18", "--weights", "bomb.pt"], {}),
    ("extends: .env", _secret, ["validate", "env.yaml"], {}),
    ("extends: a link without a suffix", _secret, ["validate", "link.yaml"], {}),
    ("regnet.depth: 1e9", _regnet("depth: 1000000000"), ["validate", "r.yaml"], {}),
    ("regnet.depth: 1e5", _regnet("depth: 100000"), ["validate", "r.yaml"], {}),
    ("regnet.wa: 1e308", _regnet("wa: 1.0e+308"), ["validate", "r.yaml"], {}),
    ("regnet.bottleneck_ratio: 1e-300", _regnet("bottleneck_ratio: 1.0e-300"), ["validate", "r.yaml"], {}),
    ("regnet.wm: .inf", _regnet("wm: .inf"), ["validate", "r.yaml"], {}),
    ("--limit macs=inf", None, ["validate", "resnet18", "--limit", "macs=inf"], {}),
    ("--max-params nan", None, ["build", "resnet18", "--max-params", "nan"], {}),
    ("bench --batch 20000", None, ["bench", "resnet18", "--batch", "20000"], {}),
    ("bench --batch 0", None, ["bench", "resnet18", "--batch", "0"], {}),
    (
        "export --input-size 12000",
        None,
        ["export", "resnet18", "--input-size", "12000", "--format", "onnx", "-o", "x.onnx"],
        {},
    ),
    (
        "bench --train at batch 1, 1 x 1 map",
        None,
        ["bench", "cifar/resnet20", "--train", "--batch", "1", "--input-size", "4"],
        {},
    ),
    (
        "export torchscript -o x.safetensors",
        None,
        ["export", "resnet18", "--format", "torchscript", "-o", "x.safetensors"],
        {},
    ),
    ("a decompression bomb PNG", _images(lambda p: _png(p, 30_000, 30_000, 1), "bomb.png"), IMAGES, {}),
    ("a truncated JPEG", _images(_truncated_jpeg, "cut.jpg"), IMAGES, {}),
    ("a zero-byte .png", _images(lambda p: p.write_bytes(b""), "empty.png"), IMAGES, {}),
    ("a 13370 x 13370 RGBA PNG", _images(lambda p: _png(p, 13_370, 13_370), "huge.png"), IMAGES, {}),
    ("two links to . in a class folder (works)", _loops, IMAGES, {}),
    ("a backbone given to train", _write("bb.yaml", TINY + "features: [stem]\n"), ["train", "bb.yaml", *FAKE], {}),
    ("--skip without --weights", _write("tiny.yaml", TINY), ["train", "tiny.yaml", *FAKE, "--skip", "fc"], {}),
    ("--out naming a FIFO", _fifo, ["train", "tiny.yaml", *FAKE, "--out", "pipe"], {}),
    ("RANK=1 summary (works)", None, ["summary", "cifar/resnet20"], {"RANK": "1"}),
    ("RANK=1 summary of a typo", None, ["summary", "resnet05"], {"RANK": "1"}),
    (
        "WORLD_SIZE=2 train (works)",
        _write("tiny.yaml", TINY),
        ["train", "tiny.yaml", *FAKE, "--out", "run"],
        {"WORLD_SIZE": "2"},
    ),
]


def run(argv: list[str], cwd: Path, env: dict[str, str], old: Path | None) -> dict[str, object]:
    environ = os.environ | env | ({"PYTHONPATH": str(old)} if old else {})
    command = [sys.executable, str(ROOT / "tests" / "measure.py"), "--timeout", "120", sys.executable, "-m", "netspec"]
    done = subprocess.run([*command, *argv], cwd=cwd, env=environ, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", type=Path, help="a checkout whose netspec/ to run instead")
    args = parser.parse_args()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)  # warm the disk cache: not counted below
    import_s = time.perf_counter() - started
    print(f"import torch in a fresh process: {import_s:.1f} s (warm)")
    print(f"{'input':<42} {'exit':>4} {'lines':>5} {'seconds':>7} {'peak MB':>8}  left behind / first line")
    for name, setup, argv, env in CASES:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            if setup:
                setup(work)
            before = {p.relative_to(work) for p in work.rglob("*")}
            result = run(argv, work, env, args.old)
            left = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.relative_to(work) not in before)
            err = str(result["err"])
            first = next((line for line in err.splitlines() if line.strip()), "")
            print(
                f"{name:<42} {result['code']:>4} {err.count(chr(10)):>5} {result['seconds']:>7.2f} "
                f"{int(result['peak']) / 1e6:>8.0f}  {', '.join(left) + ' | ' if left else ''}{first[:150]}"
            )


if __name__ == "__main__":
    main()
