"""Keyword files on hostile albums: long names, links, read-only folders, odd keywords."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.library import Library
from core.sidecars import read_keywords, sidecars_of
from tests.core.test_paths import index_with_fake_model

pyexiv2 = pytest.importorskip("pyexiv2")

#: The longest name Linux file systems allow (255 bytes): "name.jpg.xmp" cannot exist.
LONG_NAME = "r" * 251 + ".jpg"


@pytest.fixture
def album(tmp_path: Path, real_photo_paths: dict[str, Path]) -> Path:
    root = tmp_path / "album"
    root.mkdir()
    shutil.copy2(real_photo_paths["rocket"], root / "rocket.jpg")
    return root


def test_a_photo_whose_sidecar_name_is_too_long_is_tagged_and_its_sidecar_reported(album):
    shutil.copy2(album / "rocket.jpg", album / LONG_NAME)
    assert sidecars_of(album / LONG_NAME) == []
    assert not read_keywords(album / LONG_NAME)
    with Library(album) as library:
        index_with_fake_model(library)
        assert library.store.count_photos() == {"ok": 2}
        photos = [library.photo(name) for name in ("rocket.jpg", LONG_NAME)]
        library.set_verdicts(photos, confirm=["rocket"])
        report = library.export_xmp()
        assert report.written == 1 and (album / "rocket.jpg.xmp").is_file()
        assert list(report.errors) == [LONG_NAME]
        assert "no sidecar possible" in report.errors[LONG_NAME]
        embedded = library.export_xmp([photos[1]], embedded=True)  # the photo itself can be
        assert embedded.written == 1 and not embedded.errors
    assert read_keywords(album / LONG_NAME).flat
    assert sorted(p.name for p in album.iterdir()) == sorted(
        [".albumtag", "rocket.jpg", "rocket.jpg.xmp", LONG_NAME])
