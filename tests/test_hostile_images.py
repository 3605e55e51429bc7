"""Round 3, image folders: a file that is not a readable image is named in one line, from the training process or
a loader worker; pixels are bounded by memory before decoding; links are walked into each real folder once."""

from __future__ import annotations

import multiprocessing
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.measure import GiB, measured

pytestmark = pytest.mark.slow  # `make test-fast` leaves these out (docs/testing.md)

Cli = Callable[..., tuple[int, str, str]]


def _folder(root: Path, per_class: int = 2) -> Path:
    """root/train/{red,blue}/ and root/val/{red,blue}/, `per_class` 8 x 8 PNGs each."""
    for part in ("train", "val"):
        for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
            (root / part / name).mkdir(parents=True)
            for i in range(per_class):
                Image.new("RGB", (8, 8), colour).save(root / part / name / f"{i}.png")
    return root


def _png(path: Path, width: int, height: int, bands: int = 4) -> None:
    """A real width x height PNG of zeros (8-bit RGBA by default), written a row at a time: a file of about 65
    bytes a row, whatever its width, that decodes to width x height x bands bytes."""
    colour = {1: 0, 3: 2, 4: 6}[bands]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + width * bands)  # filter byte 0, then the row's samples
    deflate = zlib.compressobj(9)
    segment = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)  # every later row compresses the same
    first = segment
    later = zlib.compressobj(9)
    later.compress(row)
    repeated = later.flush(zlib.Z_FULL_FLUSH)
    stream = first + repeated * (height - 1) + deflate.flush()
    head = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", stream) + chunk(b"IEND", b""))


def _truncated_jpeg(path: Path) -> None:
    Image.new("RGB", (64, 64), (10, 200, 30)).save(path.with_suffix(".full.jpg"), quality=95)
    data = path.with_suffix(".full.jpg").read_bytes()
    path.with_suffix(".full.jpg").unlink()
    path.write_bytes(data[: len(data) // 2])


BAD: dict[str, tuple[str, Callable[[Path], object], str]] = {
    "truncated-jpeg": ("cut.jpg", _truncated_jpeg, "cannot read it as an image (Truncated File Read)"),
    "zero-bytes": ("empty.png", lambda p: p.write_bytes(b""), "not an image file PIL can read"),
    "not-an-image": ("notes.png", lambda p: p.write_text("my notes\n"), "not an image file PIL can read"),
    "fifo": ("pipe.png", lambda p: os.mkfifo(p), "a named pipe (FIFO), not a regular file"),
    "dangling-link": ("gone.png", lambda p: p.symlink_to(p.with_name("nowhere.png")), "no such file"),
    "decompression-bomb": ("bomb.png", lambda p: _png(p, 30_000, 30_000, 1), "more than netspec reads"),
}


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize("case", BAD)
def test_an_image_that_cannot_be_read_is_named_in_one_line(tmp_path: Path, cli: Cli, case: str, workers: str) -> None:
    root = _folder(tmp_path / "pics")
    name, make, fragment = BAD[case]
    bad = root / "train" / "red" / name
    make(bad)
    argv = ["train", "cifar/resnet20", "--set", "head.classes=2", "--data", f"imagefolder:{root}", "--epochs", "1"]
    code, out, err = cli(*argv, "--batch-size", "3", "--workers", workers, "--out", str(tmp_path / "run"))
    assert code == 1 and out == "" and err.count("\n") == 1 and err.startswith(f"{bad}: ") and fragment in err, err
    assert "Traceback" not in err and "DataLoader" not in err
    assert not (tmp_path / "run").exists()  # the run ended before its first epoch: nothing of it is left
    # Its loader's workers are stopped with it, not left to the garbage collector (which waits 5 s on each).
    assert multiprocessing.active_children() == []


def test_an_image_just_under_pils_limit_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    root = _folder(tmp_path / "pics")
    huge = root / "train" / "red" / "huge.png"
    _png(huge, 13_370, 13_370)  # 178,756,900 pixels: PIL warns, then decodes 715 MB (and RGB, and tensors)
    assert huge.stat().st_size < 2 << 20
    argv = ["train", "cifar/resnet20", "--set", "head.classes=2", "--data", f"imagefolder:{root}", "--epochs", "1"]
    run = measured([*argv, "--batch-size", "2", "--workers", "0", "--out", "run"], tmp_path)
    from netspec.images import pixel_cap

    cap = min(Image.MAX_IMAGE_PIXELS, pixel_cap(1))  # PIL's 89,478,485, unless memory is shorter
    assert (run.code, run.err) == (1, f"{huge}: 13370 x 13370 pixels, more than netspec reads ({cap:,} at most)\n")
    assert run.peak < 2 * GiB, run


def test_links_are_walked_into_each_real_folder_once(tmp_path: Path, cli: Cli) -> None:
    from netspec.images import ImageFiles, image_files

    root = _folder(tmp_path / "pics")
    red = root / "train" / "red"
    (red / "again").symlink_to(".")  # two links back to the class folder itself: a walk that follows them never ends
    (red / "and_again").symlink_to(".")
    (red / "deeper").mkdir()
    Image.new("RGB", (8, 8)).save(red / "deeper" / "2.png")
    (red / "deeper" / "up").symlink_to("..")
    assert [p.relative_to(red).as_posix() for p in image_files(red)] == ["0.png", "1.png", "deeper/2.png"]
    data = ImageFiles(root / "train", lambda image: image.size, 1 << 20)
    assert len(data) == 5 and data.classes == ["blue", "red"]
    assert data[4] == ((8, 8), 1)
    argv = ["train", "cifar/resnet20", "--set", "head.classes=2", "--data", f"imagefolder:{root}", "--epochs", "1"]
    code, _, err = cli(*argv, "--batch-size", "2", "--workers", "0", "--out", str(tmp_path / "run"))
    assert (code, err) == (0, "")


def test_the_extensions_are_torchvisions() -> None:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from netspec.images import EXTENSIONS

    assert EXTENSIONS == IMG_EXTENSIONS
