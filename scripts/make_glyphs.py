"""Write a small learnable image set in torchvision's ImageFolder layout, for trying `netspec train` offline.

Ten classes, the digits 0-9, each image one digit drawn in the font Pillow ships, at a random size, position,
angle and colour over a random background, with noise: a network must learn shapes, not colours. The images
are 32x32 like CIFAR-10's; the set is made from a seed, so every run writes the same files.

Usage: python scripts/make_glyphs.py data/glyphs [--train 300] [--val 60]   (images per class)
then:  netspec train cifar/resnet20 --data imagefolder:data/glyphs --no-augment
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 32


def glyph(digit: int, rng: random.Random) -> Image.Image:
    """One 32x32 RGB image of `digit`."""
    background = tuple(rng.randrange(256) for _ in range(3))
    ink = tuple((c + 96 + rng.randrange(64)) % 256 for c in background)  # far enough from the background to read
    canvas = Image.new("RGB", (SIZE * 2, SIZE * 2), background)
    font = ImageFont.load_default(size=rng.randrange(26, 42))
    draw = ImageDraw.Draw(canvas)
    draw.text((SIZE + rng.uniform(-6, 6), SIZE + rng.uniform(-6, 6)), str(digit), fill=ink, font=font, anchor="mm")
    canvas = canvas.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR, fillcolor=background)
    image = canvas.crop((SIZE // 2, SIZE // 2, SIZE * 3 // 2, SIZE * 3 // 2))
    noise = Image.effect_noise((SIZE, SIZE), rng.uniform(10, 40)).convert("RGB")
    return Image.blend(image, noise, 0.15).filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.6)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--train", type=int, default=300, help="training images per class")
    parser.add_argument("--val", type=int, default=60, help="validation images per class")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for split, count in (("train", args.train), ("val", args.val)):
        for digit in range(10):
            folder = args.folder / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                glyph(digit, rng).save(folder / f"{i:05d}.png")
    print(f"wrote {10 * (args.train + args.val)} images to {args.folder}")


if __name__ == "__main__":
    main()
