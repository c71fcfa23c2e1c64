"""Build a realistic benchmark folder: 12 MP (4032×3024) camera JPEGs made from real photos.

Sources, best first: real photographs from Debian's wallpaper packages (``mate-backgrounds``,
``plasma-workspace-wallpapers``; fetched with ``apt-get download`` into a cache when apt is
there), then scikit-image's samples and foolbox's 20 ImageNet photos (always installed with the
test extras). Each output is a random 4:3 crop, scaled to 4032×3024, with mild sensor-like noise
(so it compresses like a camera file, 3–5 MB) and camera EXIF (make, model, capture time).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import subprocess
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

CACHE = Path.home() / ".cache" / "albumtag-bench" / "index"
SIZE = (4032, 3024)
WALLPAPER_PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers")


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _wallpapers() -> list[Path]:
    root = CACHE / "debs"
    root.mkdir(parents=True, exist_ok=True)
    for package in WALLPAPER_PACKAGES:
        unpacked = root / package
        if unpacked.is_dir():
            continue
        try:
            subprocess.run(
                ["apt-get", "download", package],
                cwd=root,
                check=True,
                capture_output=True,
                timeout=300,
            )
            deb = next(root.glob(f"{package}_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True, timeout=300)
        except (OSError, subprocess.SubprocessError, StopIteration) as exc:
            logger.warning("no wallpapers from %s: %s", package, exc)
    found = [p for p in root.rglob("*.jpg") if p.stat().st_size > 200_000]
    return sorted(found)


def source_photos() -> list[Path]:
    """Real photographs to cut benchmark photos from."""
    sources = _wallpapers()
    skimage = _package_dir("skimage")
    if skimage:
        sources += [
            skimage / "data" / n
            for n in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")
        ]
    foolbox = _package_dir("foolbox")
    if foolbox:
        sources += sorted((foolbox / "data").glob("imagenet_*.jpg"))
    return [p for p in sources if p.exists()]


def _exif(index: int) -> Image.Exif:
    exif = Image.Exif()
    taken = datetime(2024, 6, 1, 9, 0, 0) + timedelta(minutes=37 * index)
    exif[0x010F] = "Albumtag Bench"  # Make
    exif[0x0110] = "Synthetic 12MP"  # Model
    exif[0x0112] = 1  # Orientation
    exif[0x0132] = taken.strftime("%Y:%m:%d %H:%M:%S")  # DateTime
    exif.get_ifd(0x8769)[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")  # DateTimeOriginal
    return exif


def make_photo(src: Path, dest: Path, index: int) -> None:
    """One 12 MP camera-like JPEG cut from ``src`` (deterministic in ``index``)."""
    rng = random.Random(index)
    with Image.open(src) as im:
        im = im.convert("RGB")
        w, h = im.size
        frac = rng.uniform(0.5, 1.0)
        cw = min(w, int(h * 4 / 3)) * frac
        ch = cw * 3 / 4
        x, y = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        crop = im.resize(SIZE, Image.Resampling.BICUBIC, box=(x, y, x + cw, y + ch))
    noise = np.random.default_rng(index).standard_normal((SIZE[1], SIZE[0], 3), np.float32)
    pixels = np.asarray(crop, dtype=np.float32)
    pixels += noise * 4.0
    np.clip(pixels, 0, 255, out=pixels)
    partial = dest.with_name(dest.name + ".part")
    Image.fromarray(pixels.astype(np.uint8)).save(partial, "JPEG", quality=92, exif=_exif(index))
    partial.replace(dest)  # an interrupted build never leaves a half-written photo


def build(count: int) -> Path:
    """A folder of exactly ``count`` 12 MP JPEGs, made once (on every core), then reused.

    The photos live in one pool; each folder size is a folder of hard links to its first
    ``count`` photos, so the 200- and 300-photo folders share their files.
    """
    pool = CACHE / "pool-v2"
    pool.mkdir(parents=True, exist_ok=True)
    names = [f"IMG_{i:04d}.JPG" for i in range(count)]
    missing = [i for i, name in enumerate(names) if not (pool / name).exists()]
    if missing:
        sources = source_photos()
        if not sources:
            raise RuntimeError("no source photos: install the test extras (scikit-image, foolbox)")
        logger.warning("making %d benchmark photos in %s (once)", len(missing), pool)
        with ProcessPoolExecutor(os.cpu_count() or 1) as workers:
            list(
                workers.map(
                    make_photo,
                    [sources[i % len(sources)] for i in missing],
                    [pool / names[i] for i in missing],
                    missing,
                    chunksize=4,
                )
            )
    folder = CACHE / f"photos-v2-{count}"
    folder.mkdir(exist_ok=True)
    for name in names:
        if not (folder / name).exists():
            os.link(pool / name, folder / name)
    return folder
