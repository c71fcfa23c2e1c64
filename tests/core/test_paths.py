"""File names the file system allows but text does not: stored exactly, shown readably."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.library import Library
from core.paths import from_db, readable, to_db
from core.pipeline.enrich import Enricher
from core.pipeline.indexer import Indexer
from tests.fakes import fake_model

#: ``printf 'caf\xe9.png'``: Latin-1 bytes, not valid UTF-8.
LATIN1_NAME = os.fsdecode(b"caf\xe9.png")


def index_with_fake_model(library: Library) -> None:
    Indexer(
        library.root,
        library.store,
        lambda: fake_model(library.store),
        library.thumbnails,
        batch_size=4,
        workers=2,
        enricher=Enricher(library.store),
    ).run()


@pytest.fixture
def album(tmp_path: Path, real_photo_paths: dict[str, Path]) -> Path:
    root = tmp_path / "album"
    (root / os.fsdecode(b"d\xf6rfer")).mkdir(parents=True)
    shutil.copy2(real_photo_paths["chelsea"], root / LATIN1_NAME)
    shutil.copy2(real_photo_paths["coffee"], root / os.fsdecode(b"d\xf6rfer") / "coffee.png")
    shutil.copy2(real_photo_paths["rocket"], root / "rocket.jpg")
    return root


def test_paths_round_trip_through_the_database_form():
    for name in ("plain.jpg", "café.jpg", LATIN1_NAME, "a/b\udcff.png", "日本.png"):
        assert from_db(to_db(name)) == name
        readable(name).encode("utf-8")  # always printable
    assert to_db("café.jpg") == "café.jpg"  # ordinary names stay text
    assert to_db(LATIN1_NAME) == b"caf\xe9.png"
    assert readable(LATIN1_NAME) == "caf\\xe9.png"


def test_a_name_that_is_not_utf8_is_indexed_with_everything_else(album):
    with Library(album) as library:
        index_with_fake_model(library)
        photos = {p.path: p for p in library.store.photos()}
        assert set(photos) == {LATIN1_NAME, os.fsdecode(b"d\xf6rfer/coffee.png"), "rocket.jpg"}
        assert {p.status for p in photos.values()} == {"ok"}
        cat = library.photo(LATIN1_NAME)  # as the shell passes it
        assert library.photo("caf\\xe9.png") == cat  # as albumtag shows it
        assert any(view.has for view in library.tags(cat))
        assert [p.path for p in library.search("path:rfer")] == [
            os.fsdecode(b"d\xf6rfer/coffee.png")
        ]
        assert [p.path for p in library.search("path:" + os.fsdecode(b"\xf6r"))] == [
            os.fsdecode(b"d\xf6rfer/coffee.png")
        ]  # a search typed in the same encoding
    with Library(album) as library:  # a second run finds it unchanged, under the same name
        index_with_fake_model(library)
        assert library.store.count_photos() == {"ok": 3}


def test_the_name_is_shown_readably_by_the_command_line(album, capsys):
    from app.cli.cli import main

    with Library(album) as library:
        index_with_fake_model(library)
    assert main(["search", str(album), "path:caf"]) == 0
    assert capsys.readouterr().out.split() == ["caf\\xe9.png"]
    assert main(["tag", str(album), LATIN1_NAME, "+beach"]) == 0
    capsys.readouterr()
    assert main(["tags", str(album), "caf\\xe9.png"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("caf\\xe9.png") and "confirmed" in out
