"""An album of real photos plus seven photos of one cat ("Mimi"), indexed with the real model.

Shared by the teach-mode tests (the trainer's child and the window): the look-alikes of
``tests/e2e/test_learning.py`` without any verdict, so a test can teach a label from nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from core.library import Library
from tests.conftest import skimage_photo

MIMI = [
    "home/chelsea.png",
    "pets/mimi_face.jpg",
    "pets/mimi_mirror.jpg",
    "pets/mimi_dark.jpg",
    "pets/mimi_left.jpg",
    "pets/mimi_zoom.jpg",
    "pets/mimi_grey.jpg",
    "pets/mimi_tilt.jpg",
]


def build_indexed_album(album: Path, real_photo_paths: dict[str, Path]) -> Path:
    """Copy the real photos and Mimi's into ``album`` and index them (no verdicts)."""
    (album / "home").mkdir(parents=True)
    (album / "imagenet").mkdir()
    for name, src in real_photo_paths.items():
        folder = album / ("imagenet" if name.startswith("imagenet_") else "home")
        shutil.copy2(src, folder / f"{name}{src.suffix}")
    _cat_photos(album / "pets")
    with Library(album) as library:
        summary = library.indexer().run()
        assert summary.errors == 0 and summary.tagged == 31
    return album


def _cat_photos(folder: Path) -> None:
    """More photos of the same cat: crops, a mirror image, other light, a tilt, grey."""
    cat = Image.open(skimage_photo("chelsea")).convert("RGB")
    variants = {
        "face": cat.crop((60, 0, 330, 270)),
        "left": cat.crop((0, 20, 320, 300)),
        "mirror": ImageOps.mirror(cat),
        "dark": ImageEnhance.Brightness(cat).enhance(0.6),
        "zoom": cat.crop((100, 40, 300, 240)).resize((300, 300), Image.Resampling.LANCZOS),
        "grey": ImageOps.grayscale(cat).convert("RGB"),
        "tilt": cat.rotate(8, resample=Image.Resampling.BICUBIC, fillcolor=(90, 80, 70)),
    }
    folder.mkdir()
    for name, image in variants.items():
        image.save(folder / f"mimi_{name}.jpg", quality=90)
