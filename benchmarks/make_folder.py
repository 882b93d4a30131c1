"""Write a folder of class sub-folders of random-ish 64×64×3 PNGs for the streaming benchmark, once.

    python benchmarks/make_folder.py /work/bench-data/png5k 5000

Each image is a smooth random colour field (so PNG compresses it about as a
photo, not as noise or a flat colour), seeded by its index: the same folder
every time. A folder that already holds `count` PNGs is left alone.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

CLASSES = 10
SIZE = 64


def make_folder(root: str | Path, count: int, classes: int = CLASSES) -> Path:
    """`root/class_k/NNNNNN.png`, `count` images over `classes` classes; reused when complete."""
    from PIL import Image

    root = Path(root)
    done = root / ".complete"
    if done.is_file() and done.read_text() == str(count):
        return root
    for k in range(classes):
        (root / f"class_{k}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = np.random.default_rng(i)
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((SIZE, SIZE), Image.BILINEAR)
        pixels = np.clip(np.asarray(image, np.int16) + rng.integers(-12, 13, (SIZE, SIZE, 3)), 0, 255)
        Image.fromarray(pixels.astype(np.uint8)).save(root / f"class_{i % classes}" / f"{i:06d}.png")
    done.write_text(str(count))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("count", type=int)
    args = parser.parse_args()
    make_folder(args.folder, args.count)
    print(f"{args.folder}: {args.count} PNGs, {sum(f.stat().st_size for f in Path(args.folder).rglob('*.png')) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
