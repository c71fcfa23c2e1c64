"""HEIC/HEIF, AVIF and camera RAW photos decode like JPEGs: upright once, with their date."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.db.tagstore import TagStore
from core.errors import ImageError
from core.media import formats
from core.media.imaging import decode, is_photo_name
from core.media.thumbnails import ThumbnailCache
from core.pipeline.indexer import Indexer
from tests.fakes import FakeTagger, fake_model
from tests.photo_files import looks_upright, write_dng, write_oriented

TAKEN = "2023:07:14 10:22:03"
needs_heif = pytest.mark.skipif(
    ".heic" not in formats.EXTRA_SUFFIXES, reason="pillow-heif is not installed"
)
needs_avif = pytest.mark.skipif(
    ".avif" not in formats.EXTRA_SUFFIXES, reason="this Pillow has no AVIF support"
)
needs_raw = pytest.mark.skipif(
    ".dng" not in formats.EXTRA_SUFFIXES, reason="rawpy is not installed"
)


@pytest.mark.parametrize(
    "name",
    [
        "IMG_1.HEIC",
        "a.heif",
        "b.avif",
        "c.CR2",
        "d.nef",
        "e.arw",
        "f.dng",
        "g.raf",
        "h.rw2",
        "i.orf",
    ],
)
def test_new_formats_are_photo_names(name):
    assert is_photo_name(name)
    assert not is_photo_name("IMG_1.jpg.xmp")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_with_each_exif_orientation_decodes_upright(tmp_path, orientation):
    path = write_oriented(tmp_path / f"o{orientation}.jpg", orientation, taken=TAKEN)
    decoded = decode(path, min_side=40)
    assert looks_upright(decoded.image)
    assert (decoded.width, decoded.height) == (120, 80)
    assert decoded.taken_at == "2023-07-14T10:22:03"


@needs_heif
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_heic_with_a_rotation_is_turned_once(tmp_path, orientation):
    path = write_oriented(tmp_path / "IMG_2.HEIC", orientation, taken=TAKEN)
    with Image.open(path) as raw:  # the container really is rotated
        assert raw.format == "HEIF"
    decoded = decode(path, min_side=40)
    assert looks_upright(decoded.image)
    assert (decoded.width, decoded.height) == (120, 80)
    assert decoded.taken_at == "2023-07-14T10:22:03"


@needs_avif
@pytest.mark.parametrize("orientation", [1, 6, 7])
def test_avif_with_a_rotation_is_turned_once(tmp_path, orientation):
    path = write_oriented(tmp_path / "b.avif", orientation, taken=TAKEN, quality=90)
    decoded = decode(path, min_side=40)
    assert looks_upright(decoded.image)
    assert (decoded.width, decoded.height) == (120, 80)
    assert decoded.taken_at == "2023-07-14T10:22:03"


@needs_raw
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
@pytest.mark.parametrize("jpeg", [True, False], ids=["jpeg-preview", "bitmap-preview"])
def test_raw_uses_its_embedded_preview_turned_by_the_raw_orientation(tmp_path, orientation, jpeg):
    path = write_dng(tmp_path / "IMG_3.dng", orientation, jpeg_preview=jpeg)
    decoded = decode(path, min_side=40)
    assert looks_upright(decoded.image)
    assert (decoded.width, decoded.height) == (512, 340)  # the sensor, upright
    assert decoded.taken_at == "2021-05-06T07:08:09"


@needs_raw
def test_raw_without_a_usable_preview_is_demosaiced(tmp_path):
    decoded = decode(write_dng(tmp_path / "tiny.dng", 6, preview_width=32), min_side=40)
    assert decoded.image.width > decoded.image.height  # LibRaw turned it
    assert (decoded.width, decoded.height) == (512, 336)


@needs_raw
@pytest.mark.parametrize(
    "data, reason",
    [
        (b"not a raw file at all" * 10, "unsupported format"),
        (b"II*\x00" + b"\x00" * 60, "unsupported format"),
    ],
)
def test_bad_raw_files_give_a_clear_reason(tmp_path, data, reason):
    path = tmp_path / "bad.nef"
    path.write_bytes(data)
    with pytest.raises(ImageError) as caught:
        decode(path)
    assert caught.value.reason in (reason, "corrupt image", "truncated image")


class UprightTagger(FakeTagger):
    """Scores "cat" 1 when the model input shows the test card upright (red top-left)."""

    def score_features(self, features: np.ndarray) -> np.ndarray:
        return self._scores

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = batch.shape[2] // 2
        top_left = batch[:, :, :half, :half].reshape(len(batch), 3, -1).mean(axis=2)
        top_right = batch[:, :, :half, half:].reshape(len(batch), 3, -1).mean(axis=2)
        ok = (
            (top_left[:, 0] > 150)
            & (top_left[:, 1] < 90)
            & (top_right[:, 1] > 150)
            & (top_right[:, 0] < 90)
        )
        self._scores = np.stack([ok, ok, ~ok], axis=1).astype(np.float32)
        return top_left.astype(np.float32), self._scores


@pytest.fixture
def store(tmp_path: Path) -> TagStore:
    s = TagStore(tmp_path / "data" / "album.db")
    animal = s.upsert_label("animal", parent_id=None, kind="builtin", threshold=0.5)
    s.upsert_label("cat", parent_id=animal, kind="builtin", threshold=0.5)
    s.upsert_label("beach", parent_id=None, kind="builtin", threshold=0.5)
    yield s
    s.close()


def test_every_format_and_orientation_is_tagged_and_thumbnailed_upright(tmp_path, store):
    album = tmp_path / "album"
    for orientation in range(1, 9):
        write_oriented(album / f"jpeg/o{orientation}.jpg", orientation)
    expected = 8
    if ".heic" in formats.EXTRA_SUFFIXES:
        write_oriented(album / "phone/IMG_4.HEIC", 6, taken=TAKEN)
        expected += 1
    if ".avif" in formats.EXTRA_SUFFIXES:
        write_oriented(album / "phone/IMG_5.avif", 8, quality=90)
        expected += 1
    if ".dng" in formats.EXTRA_SUFFIXES:
        write_dng(album / "camera/IMG_6.dng", 6)
        expected += 1
    thumbs = ThumbnailCache(tmp_path / "data" / "thumbs")
    tagger = UprightTagger()
    tagger.backbone.crop_pct = 0.875  # the centre square keeps both top quarters' colours
    summary = Indexer(album, store, lambda: fake_model(store, tagger), thumbs).run()
    assert summary.tagged == expected and summary.errors == 0
    cat = next(r.id for r in store.labels() if r.name == "cat")
    for photo in store.photos():
        assert photo.status == "ok", photo.path
        assert (cat, True, False) in store.tags_of(photo.id), f"{photo.path} not upright"
        with Image.open(thumbs.get(photo.path, photo.size, photo.mtime_ns)) as thumb:
            assert looks_upright(thumb), f"{photo.path}: thumbnail not upright"
    if ".heic" in formats.EXTRA_SUFFIXES:
        assert store.photo_by_path("phone/IMG_4.HEIC").taken_at == "2023-07-14T10:22:03"
