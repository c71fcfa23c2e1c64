"""Symbolic links: followed only inside the album; nothing outside it read or written, nothing
written through a link (the policy in README, "Links")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.db.store import Status
from core.library import Library
from core.media.sidecars import read_keywords
from core.paths import leaves_album, write_refusal
from core.pipeline.scanner import OUTSIDE_LINK
from tests.core.test_paths import index_with_fake_model

pyexiv2 = pytest.importorskip("pyexiv2")

EVIL_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:subject><rdf:Bag><rdf:li>from outside</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>
"""


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under a folder with its size, mtime and first bytes (links not followed)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        out[path.relative_to(folder).as_posix()] = (
            st.st_size,
            st.st_mtime_ns,
            path.read_bytes()[:64] if path.is_file() else b"",
        )
    return out


@pytest.fixture
def linked(tmp_path: Path, real_photo_paths: dict[str, Path]) -> tuple[Path, Path]:
    """An album with links of every kind, and the folder outside it they point at."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy2(real_photo_paths["coffee"], outside / "coffee.png")
    (outside / "evil.xmp").write_text(EVIL_XMP, encoding="utf-8")
    album = tmp_path / "album"
    (album / "sub").mkdir(parents=True)
    shutil.copy2(real_photo_paths["chelsea"], album / "chelsea.png")
    shutil.copy2(real_photo_paths["rocket"], album / "sub" / "rocket.jpg")
    (album / "to outside").symlink_to(outside)  # a folder link out
    (album / "to root").symlink_to("/")  # queued 5,431 files before
    (album / "coffee link.png").symlink_to(outside / "coffee.png")  # a file link out
    (album / "to sub").symlink_to(album / "sub")  # a folder link inside
    (album / "cat link.png").symlink_to("chelsea.png")  # a file link inside
    (album / "chelsea.png.xmp").symlink_to(outside / "evil.xmp")  # a sidecar link out
    return album, outside


def test_links_out_of_the_album_are_not_followed(linked):
    album, _outside = linked
    with Library(album) as library:
        index_with_fake_model(library)
        photos = {p.path: p for p in library.store.photos()}
        assert sorted(photos) == [
            "cat link.png",
            "chelsea.png",
            "coffee link.png",
            "sub/rocket.jpg",
        ]  # "to sub" is the same folder as "sub"
        assert photos["coffee link.png"].status == "error"
        assert photos["coffee link.png"].error == OUTSIDE_LINK
        assert {p.status for name, p in photos.items() if name != "coffee link.png"} == {"ok"}
        chelsea = library.photo("chelsea.png")
        assert "from outside" not in {v.label for v in library.tags(chelsea)}
        scan = library.indexer().run()
        assert scan.scan.skipped_dirs == ["to outside", "to root"]
        assert scan.as_dict()["links_not_followed"] == ["to outside", "to root"]
    assert not read_keywords(album / "chelsea.png")  # the linked sidecar is not read


def test_nothing_is_written_outside_the_album_nor_through_a_link(linked):
    album, outside = linked
    before = snapshot(outside)
    with Library(album) as library:
        index_with_fake_model(library)
        photos = library.store.photos(Status.OK)
        library.set_verdicts(photos, confirm=["cat"])
        sidecars = library.export_xmp()
        embedded = library.export_xmp(embedded=True)
    assert snapshot(outside) == before
    assert "symbolic link" in sidecars.errors["chelsea.png"]  # its sidecar is a link
    assert sidecars.written == 2  # sub/rocket.jpg.xmp and "cat link.png.xmp" (a real file)
    assert (album / "sub" / "rocket.jpg.xmp").is_file()
    assert not (album / "cat link.png.xmp").is_symlink()
    assert "symbolic link" in embedded.errors["cat link.png"]
    assert (album / "cat link.png").is_symlink()  # still a link, not replaced by a file
    assert embedded.written == 2  # chelsea.png and sub/rocket.jpg themselves


def test_write_refusal_and_leaves_album(tmp_path):
    album = tmp_path / "album"
    (album / "real").mkdir(parents=True)
    (album / "link").symlink_to(album / "real")
    (album / "real" / "a.jpg").write_bytes(b"x")
    assert write_refusal(album, "real/a.jpg") is None and write_refusal(album, "") is None
    assert "symbolic link" in write_refusal(album, "link/a.jpg")
    assert write_refusal(album, "../a.jpg") == "outside the album"
    real = os.path.realpath(album)
    assert not leaves_album(real, album / "link" / "a.jpg")
    assert leaves_album(real, album / ".." / "x") and leaves_album(real, "/")
    assert leaves_album(real, str(album) + "-sibling/a.jpg")
