"""core.media.thumbnails: real JPEG files in a cache folder under tmp_path, from several threads."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from core.media.imaging import decode, make_thumbnail
from core.media.thumbnails import ThumbnailCache
from tests.conftest import skimage_photo


def photo_thumbnail(name: str = "chelsea") -> Image.Image:
    return make_thumbnail(decode(skimage_photo(name)).image, 256)


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_put_then_get_round_trip(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    assert cache.get("home/cat.png", 1234, 5_000) is None
    stored = cache.put("home/cat.png", 1234, 5_000, photo_thumbnail())
    assert (
        cache.get("home/cat.png", 1234, 5_000)
        == stored
        == cache.path_for("home/cat.png", 1234, 5_000)
    )
    assert stored.parent.parent == tmp_path / "thumbs"
    assert stored.parent.name == stored.stem[:2]
    assert stored.suffix == ".jpg"
    with Image.open(stored) as image:
        assert image.format == "JPEG"
        assert image.mode == "RGB"
        assert image.size == (256, 170)  # chelsea is 451 by 300


def test_put_shrinks_a_large_image_and_flattens_alpha(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path, size=64)
    stored = cache.put("a.png", 1, 1, Image.new("RGBA", (640, 320), (0, 0, 0, 0)))
    with Image.open(stored) as image:
        assert image.size == (64, 32)
        assert image.getpixel((10, 10)) == (255, 255, 255)


def test_key_changes_with_every_part_of_the_photo_version(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path)
    base = cache.path_for("trips/2024/ø 1.jpg", 100, 1_700_000_000_000_000_000)
    assert cache.path_for("trips/2024/ø 1.jpg", 100, 1_700_000_000_000_000_001) != base
    assert cache.path_for("trips/2024/ø 1.jpg", 101, 1_700_000_000_000_000_000) != base
    assert cache.path_for("trips/2024/ø 2.jpg", 100, 1_700_000_000_000_000_000) != base
    assert (
        ThumbnailCache(tmp_path, size=128).path_for(
            "trips/2024/ø 1.jpg", 100, 1_700_000_000_000_000_000
        )
        != base
    )
    assert cache.path_for("trips/2024/ø 1.jpg", 100, 1_700_000_000_000_000_000) == base


def test_touched_photo_misses_the_old_thumbnail(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path)
    cache.put("cat.jpg", 10, 1, photo_thumbnail())
    assert cache.get("cat.jpg", 10, 2) is None
    assert cache.get("cat.jpg", 10, 1) is not None


def test_put_leaves_no_temporary_files(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path)
    for mtime in range(5):
        cache.put("cat.jpg", 10, mtime, photo_thumbnail())
    names = [p.name for p in all_files(tmp_path)]
    assert len(names) == 5
    assert not any(n.startswith(".") for n in names)


def test_failed_write_leaves_neither_temp_file_nor_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ThumbnailCache(tmp_path)
    thumb = photo_thumbnail()

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        cache.put("cat.jpg", 10, 1, thumb)
    assert all_files(tmp_path) == []
    assert cache.get("cat.jpg", 10, 1) is None


def test_failed_rewrite_keeps_the_previous_thumbnail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ThumbnailCache(tmp_path)
    stored = cache.put("cat.jpg", 10, 1, photo_thumbnail())
    before = stored.read_bytes()

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.put("cat.jpg", 10, 1, photo_thumbnail("coffee"))
    assert stored.read_bytes() == before
    assert all_files(tmp_path) == [stored]


def test_concurrent_puts_from_threads(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    thumbs = [photo_thumbnail(name) for name in ("chelsea", "coffee", "astronaut", "rocket")]

    def work(i: int) -> Path:
        # four photos, each written by eight threads at once, plus 32 distinct ones
        key = (f"p{i % 4}.jpg", 1, 1) if i < 32 else (f"q{i}.jpg", 1, 1)
        return cache.put(*key, thumbs[i % 4])

    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(work, range(64)))
    files = all_files(tmp_path / "thumbs")
    assert set(files) == set(paths)
    assert len(files) == 4 + 32
    for path in files:
        with Image.open(path) as image:
            image.load()  # every file is a complete JPEG
            assert max(image.size) == 256


def test_remove_and_prune(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path)
    thumb = photo_thumbnail()
    for mtime in range(4):
        cache.put("cat.jpg", 10, mtime, thumb)
    assert cache.remove("cat.jpg", 10, 0) is True
    assert cache.remove("cat.jpg", 10, 0) is False
    leftover = cache.path_for("cat.jpg", 10, 1).parent / ".tmp-crashed.jpg"
    leftover.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    fresh = cache.path_for("cat.jpg", 10, 1).parent / ".tmp-writing.jpg"
    fresh.write_bytes(b"in progress")
    keep = {cache.key_for("cat.jpg", 10, 3)}
    assert cache.prune(keep) == 3  # mtimes 1 and 2, and the crashed write
    assert set(cache.keys()) == keep
    assert fresh.exists()
    assert not leftover.exists()
    assert ThumbnailCache(tmp_path / "never-made").prune(set()) == 0
