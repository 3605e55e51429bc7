"""Make a small image folder to fine-tune on: PATH/train/CLASS/*.png and PATH/val/CLASS/*.png, four classes
told apart by colour and stripe direction, with noise. Usage: python docs/examples/make_images.py PATH"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = {"red_rows": (0, 200, 60, 60), "red_columns": (1, 200, 60, 60), "blue_rows": (0, 60, 60, 200)}
CLASSES |= {"blue_columns": (1, 60, 60, 200)}
SIZE, TRAIN, VAL = 80, 60, 20


def image(axis: int, colour: tuple[int, int, int], rng: np.random.Generator) -> Image.Image:
    """Stripes of `colour` along rows (axis 0) or columns (axis 1), at a random phase and period, with noise."""
    period, phase = rng.integers(6, 14), rng.integers(0, 14)
    lines = (np.arange(SIZE) + phase) % period < period // 2
    mask = np.broadcast_to(lines[:, None] if axis == 0 else lines[None, :], (SIZE, SIZE))
    pixels = np.where(mask[..., None], colour, 128) + rng.normal(0, 40, (SIZE, SIZE, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def main(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", TRAIN), ("val", VAL)):
        for name, (axis, *colour) in CLASSES.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                image(axis, (colour[0], colour[1], colour[2]), rng).save(folder / f"{i:03d}.png")
    print(f"{root}: {len(CLASSES)} classes, {TRAIN} training and {VAL} validation images each")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
