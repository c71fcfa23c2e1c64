"""Keyword files on hostile albums: long names, links, read-only folders, odd keywords."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.db.store import Status
from core.errors import VocabularyError
from core.library import Library
from core.media.sidecars import read_keywords, sidecars_of
from core.pipeline.keywords import clean_name
from tests.core.test_paths import index_with_fake_model

pyexiv2 = pytest.importorskip("pyexiv2")


def xmp_of(path: Path) -> dict:
    with pyexiv2.Image(str(path)) as image:
        return image.read_xmp()


FLAT_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:subject><rdf:Bag><rdf:li>{}</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>
"""

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
        [".albumtag", "rocket.jpg", "rocket.jpg.xmp", LONG_NAME]
    )


@pytest.mark.parametrize("keyword", ["pipe|split|me", "../../etc/passwd", "AC/DC | live"])
def test_a_flat_keyword_with_separators_keeps_its_shape_through_export_and_import(album, keyword):
    (album / "rocket.jpg.xmp").write_text(FLAT_XMP.format(keyword), encoding="utf-8")
    with Library(album) as library:
        labels_before = len(library.store.labels())
        index_with_fake_model(library)
        assert len(library.store.labels()) == labels_before + 1  # one label, not a path
        photo = library.photo("rocket.jpg")
        imported = [v for v in library.tags(photo) if v.source == "import"]
        assert len(imported) == 1 and len(imported[0].path) == 1
        name = imported[0].label
        assert name == keyword.replace("|", "\u00a6").replace("/", "\u2215")
        library.export_xmp()
        written = xmp_of(album / "rocket.jpg.xmp")
        assert written["Xmp.lr.hierarchicalSubject"] == [name]
        assert written["Xmp.digiKam.TagsList"] == [name]
        back = read_keywords(album / "rocket.jpg").tags()  # the file's own flat keyword too
        assert all(len(path) == 1 for path in back)
        assert {clean_name(path[0]) for path in back} == {name}
        library.store.mark_pending(tuple(Status))  # read the exported file again: no new labels
        index_with_fake_model(library)
        assert len(library.store.labels()) == labels_before + 1


def test_a_label_name_with_a_separator_is_refused(album):
    with Library(album) as library, pytest.raises(VocabularyError, match="cannot contain"):
        library.create_label("AC/DC")


@pytest.mark.parametrize(
    ("naming", "kind"), [("ext", "directory"), ("base", "directory"), ("ext", "named pipe")]
)
def test_a_sidecar_path_that_is_not_a_file_is_reported_as_what_it_is(
    album: Path, naming: str, kind: str
) -> None:
    """Not "corrupted image metadata" (exiv2's words): the path is a folder (or a pipe, which
    would block a reader). The other photos are written; the folder keeps what it holds."""
    shutil.copy2(album / "rocket.jpg", album / "other.jpg")
    odd = album / ("rocket.jpg.xmp" if naming == "ext" else "rocket.xmp")
    if kind == "directory":
        odd.mkdir()
        (odd / "notes.txt").write_text("mine\n", encoding="utf-8")
    else:
        os.mkfifo(odd)
    with Library(album) as library:
        index_with_fake_model(library)  # the index reads no keywords from it, and tags both
        assert library.store.count_photos() == {"ok": 2}
        library.set_verdicts(library.store.photos(), confirm=["rocket"])
        report = library.export_xmp(naming=naming)  # type: ignore[arg-type]
    assert report.written == 1 and list(report.errors) == ["rocket.jpg"]
    assert report.errors["rocket.jpg"] == f"{odd}: is a {kind}, not an XMP sidecar"
    assert read_keywords(album / "other.jpg", embedded=False).flat  # its sidecar was written
    if kind == "directory":
        assert [p.name for p in odd.iterdir()] == ["notes.txt"]
        assert (odd / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    else:
        assert odd.is_fifo()
