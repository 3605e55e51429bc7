"""A person's image folder as a training set: PATH/CLASS/... image files, found by a walk that follows each real
folder once, and read by a loader that names the file it could not read and bounds pixels by memory.

torchvision's ImageFolder walks links without end (two links to `.` in a class folder never finish) and its
loader's errors do not name the file; an image's pixels are bounded only by PIL's decompression-bomb check, which
lets through images of 2 GB. Errors here are ImageError, one line naming the file, also from loader workers.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from netspec.errors import NetspecError
from netspec.feasible import free_memory
from netspec.files import open_regular

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's
BYTES_PER_PIXEL = 16  # the decoded image (up to 4 bands), its RGB copy and the float tensors made from it
_WRAPPED = re.compile(r"^Caught ImageError in DataLoader worker process \d+\.\nOriginal Traceback", re.DOTALL)


class ImageError(NetspecError):
    """An image that could not be read, named. Raised in a loader worker, torch's DataLoader raises it again in the
    training process with the worker's whole traceback as its message: that is cut back to the original line."""

    def __init__(self, message: str) -> None:
        if _WRAPPED.match(message):
            last = message.strip().splitlines()[-1]
            message = last.partition("ImageError: ")[2] or last
        super().__init__(message)


def pixel_cap(processes: int) -> int:
    """The most pixels one image may have: PIL's own limit, or less where `processes` decoding at once would not
    fit in the memory free here."""
    free = free_memory()
    cap = Image.MAX_IMAGE_PIXELS or 1 << 62
    return int(min(cap, free // (BYTES_PER_PIXEL * processes))) if free else int(cap)


def load_rgb(path: Path, max_pixels: int) -> Image.Image:
    """The image at `path` as RGB, decoded only if it has at most `max_pixels` pixels; ImageError naming the file."""
    try:
        with open_regular(path) as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the cap below is the check
            image = Image.open(handle)  # reads the header only
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(f"{path}: {width} x {height} pixels, more than netspec reads ({max_pixels:,} at most)")
            return image.convert("RGB")  # decodes: a truncated file fails here
    except NetspecError as exc:
        raise ImageError(str(exc)) from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file PIL can read (empty, damaged or of another kind)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: more than netspec reads ({max_pixels:,} pixels at most): {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # UnidentifiedImageError is an OSError
        reason = str(exc).replace(f"'{path}'", "it").replace(str(path), "it")
        raise ImageError(f"{path}: cannot read it as an image ({reason})") from None


def image_files(folder: Path) -> list[Path]:
    """The image files under `folder`, in sorted order, following links but entering each real folder once."""
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        info = os.stat(root)
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []  # a link back to a folder already walked: neither its files nor its folders again
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs.sort()
        found += [Path(root) / name for name in sorted(files) if name.lower().endswith(EXTENSIONS)]
    return found


class ImageFiles(Dataset[Any]):
    """(image, class index) for every image under root/CLASS/, classes in sorted order, as ImageFolder gives."""

    def __init__(self, root: Path, transform: Callable[[Image.Image], Any], max_pixels: int) -> None:
        self.classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
        if not self.classes:
            raise NetspecError(f"{root}: no class folders (PATH/train/CLASS/image.png)")
        self.samples = [(path, i) for i, name in enumerate(self.classes) for path in image_files(root / name)]
        empty = [name for i, name in enumerate(self.classes) if not any(c == i for _, c in self.samples)]
        if empty:
            raise NetspecError(f"{root / empty[0]}: no image files ({', '.join(EXTENSIONS)})")
        self.transform, self.max_pixels = transform, max_pixels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        return self.transform(load_rgb(path, self.max_pixels)), label
