"""Images of extreme shapes: a few hundred bytes of PNG must not ask for gigabytes."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.media.imaging import decode, make_thumbnail, to_model_input

ROOT = Path(__file__).resolve().parents[2]


def strip(path: Path, size: tuple[int, int]) -> Path:
    """A tiny PNG of a huge, thin image (1x100000 pixels of RGB is 467 bytes)."""
    Image.new("RGB", size, (40, 90, 200)).save(path, optimize=True)
    return path


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (3, 70_000)])
def test_model_input_and_thumbnail_of_a_thin_strip_are_small(tmp_path, size):
    decoded = decode(strip(tmp_path / "strip.png", size))
    pixels = to_model_input(decoded.image, size=224, crop_pct=0.875)
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.uint8
    thumb = make_thumbnail(decoded.image, 256)
    assert max(thumb.size) == 256 and min(thumb.size) >= 1


def reference_input(image: Image.Image, size: int, crop_pct: float) -> np.ndarray:
    """timm's eval transform, written out (resize the short side, centre crop)."""
    scale = math.floor(size / crop_pct)
    w, h = image.size
    new = (scale, int(scale * h / w)) if w <= h else (int(scale * w / h), scale)
    resized = image.resize(new, Image.Resampling.BICUBIC)
    left, top = round((new[0] - size) / 2.0), round((new[1] - size) / 2.0)
    return np.asarray(resized.crop((left, top, left + size, top + size))).transpose(2, 0, 1)


def test_photos_and_panoramas_up_to_four_to_one_are_transformed_as_before(real_photo_paths):
    photo = decode(real_photo_paths["chelsea"]).image
    panorama = photo.resize((1200, 300))  # 4:1
    for image in (photo, panorama):
        assert np.array_equal(to_model_input(image), reference_input(image, 224, 0.875))
    longer = photo.resize((1800, 300))  # 6:1: only the centre is resized, the same centre
    diff = np.abs(to_model_input(longer).astype(int) - reference_input(longer, 224, 0.875))
    assert diff.mean() < 1.0


def test_indexing_a_thin_strip_stays_under_200_mb_above_baseline(tmp_path, real_photo_paths):
    album = tmp_path / "album"
    album.mkdir()
    shutil.copy2(real_photo_paths["chelsea"], album / "chelsea.png")
    strips = tmp_path / "strips"
    strips.mkdir()
    strip(strips / "strip.png", (1, 100_000))
    strip(strips / "wide.png", (100_000, 1))
    assert (strips / "strip.png").stat().st_size < 600
    script = textwrap.dedent(f"""
        import resource, sys
        from pathlib import Path
        from core.pipeline.indexer import Indexer
        from core.db.tagstore import TagStore
        from tests.fakes import fake_model
        store = TagStore(Path({str(tmp_path)!r}) / "data" / "album.db")
        for name in ("animal", "cat", "beach"):
            store.upsert_label(name, parent_id=None, kind="builtin", threshold=0.5)
        model = fake_model(store)
        indexer = Indexer(Path({str(album)!r}), store, lambda: model, batch_size=2)
        indexer.run()  # a real photo first: everything a run imports is loaded
        for strip in Path({str(strips)!r}).iterdir():
            strip.rename(indexer.root / strip.name)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        summary = indexer.run()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(summary.tagged, summary.errors, (peak - before) // 1024)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    tagged, errors, grown_mb = map(int, done.stdout.split())
    assert (tagged, errors) == (2, 0)
    assert grown_mb < 200
