"""Shared fixtures: real photos from scikit-image and foolbox, copied into temporary albums."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SKIMAGE_SAMPLES = {
    "chelsea": "chelsea.png",  # a tabby cat
    "coffee": "coffee.png",  # a cup of coffee
    "astronaut": "astronaut.png",  # Eileen Collins, a portrait
    "rocket": "rocket.jpg",  # a rocket on its launch pad
}


def missing_test_data(message: str) -> NoReturn:
    """Skip the calling test for want of its test data; in CI (``CI=true``) fail it instead,
    so that a run cannot go green with tests that never ran."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: missing test data fails the run)", pytrace=False)
    pytest.skip(message)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        missing_test_data(f"test photos need the package {name!r}; run the README's test command")
    return Path(next(iter(spec.submodule_search_locations)))


def skimage_photo(name: str) -> Path:
    """Path of a scikit-image sample photo, read from the installed package (no download)."""
    return _package_dir("skimage") / "data" / SKIMAGE_SAMPLES[name]


def foolbox_photos() -> list[tuple[Path, int]]:
    """The 20 ImageNet validation photos shipped inside foolbox, with their class index."""
    folder = _package_dir("foolbox") / "data"
    photos = []
    for path in sorted(folder.glob("imagenet_*_*.jpg")):
        photos.append((path, int(path.stem.rsplit("_", 1)[1])))
    if len(photos) != 20:
        missing_test_data(f"foolbox's data folder {folder} has {len(photos)} of its 20 photos")
    return photos


@pytest.fixture(scope="session")
def real_photo_paths() -> dict[str, Path]:
    """Named real photos: the scikit-image samples plus foolbox's ImageNet photos."""
    photos = {name: skimage_photo(name) for name in SKIMAGE_SAMPLES}
    for path, _ in foolbox_photos():
        photos[path.stem] = path
    return photos


@pytest.fixture
def real_album(tmp_path: Path, real_photo_paths: dict[str, Path]) -> Path:
    """A fresh album folder holding every real test photo (sub-folders included)."""
    album = tmp_path / "album"
    (album / "home").mkdir(parents=True)
    (album / "imagenet").mkdir()
    for name, src in real_photo_paths.items():
        dest_dir = album / ("imagenet" if name.startswith("imagenet_") else "home")
        shutil.copy2(src, dest_dir / f"{name}{src.suffix}")
    return album
