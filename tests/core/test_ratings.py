"""Ratings and flags (issue 15.7): set and undone, searched, imported from XMP and written
back, with pyexiv2 as the independent reader and writer."""

from __future__ import annotations

import os

import numpy as np
import pyexiv2
import pytest
from PIL import Image

from core import browse
from core.db import ratings
from core.db.schema import MIGRATIONS
from core.db.tagstore import Scored
from core.errors import QueryError
from core.library import Library
from core.media.sidecars import sidecar_path
from core.pipeline.enrich import Enricher


def _photo(lib: Library, name: str, colour: str = "red") -> int:
    Image.new("RGB", (16, 12), colour).save(lib.root / name)
    pid = lib.store.add_photo(name, (lib.root / name).stat().st_size, 1)
    lib.store.record_scores(
        [Scored(pid, 16, 12, None, f"h{pid}", np.array([0.9]), None)],
        [lib.label_id("cat")],
        "fake@1",
        0,
    )
    return pid


def _query(lib: Library, text: str) -> set[int]:
    return {r.id for r in browse.grid_rows(lib, text)}


def test_the_migration_adds_the_columns(library: Library) -> None:
    assert library.store.db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    columns = {r[1] for r in library.store.db.query("PRAGMA table_info(photos)")}
    assert {"rating", "flag"} <= columns


def test_set_search_and_undo(library: Library) -> None:
    a, b, c = (_photo(library, f"{n}.png") for n in "abc")
    assert ratings.set_marks(library.store, [a, b], rating=4) is not None
    ratings.set_marks(library.store, [c], rating=2)
    ratings.set_marks(library.store, [a], flag=ratings.PICK)
    ratings.set_marks(library.store, [b], flag=ratings.REJECT)
    assert ratings.set_marks(library.store, [b], flag=ratings.REJECT) is None  # no change
    assert _query(library, "rating:>=4") == {a, b}
    assert _query(library, "rating:2") == {c}
    assert _query(library, "rating:<4") == {c}
    assert _query(library, "rating:0") == set()
    assert _query(library, "flag:pick") == {a}
    assert _query(library, "flag:reject") == {b}
    assert _query(library, "flag:none") == {c}
    assert _query(library, "cat rating:4 -flag:reject") == {a}
    assert set(library.search_ids("rating:>=4").tolist()) == {a, b}
    for bad, message in (
        ("rating:6", "0 to 5"),
        ("rating:good", "bad rating"),
        ("flag:maybe", "bad flag"),
        ("rating:4..2", "ends before"),
    ):
        with pytest.raises(QueryError, match=message):
            browse.grid_rows(library, bad)
    with pytest.raises(ValueError):
        ratings.set_marks(library.store, [a], rating=7)
    step = library.undo()  # the reject
    assert step is not None and step.kind == "ratings" and step.photos == [b]
    assert _query(library, "flag:reject") == set()
    library.undo()
    assert _query(library, "flag:pick") == set()
    library.redo()
    assert _query(library, "flag:pick") == {a}


def test_round_trip_through_xmp(library: Library) -> None:
    a, b, _c = (_photo(library, f"{n}.png") for n in "abc")
    ratings.set_marks(library.store, [a], rating=4, flag=ratings.PICK)
    ratings.set_marks(library.store, [b], rating=1, flag=ratings.REJECT)
    report = library.export_xmp()
    assert report.written == 2  # c has nothing to write
    with pyexiv2.Image(os.fspath(sidecar_path(library.root / "a.png"))) as image:
        xmp = image.read_xmp()
    assert xmp["Xmp.xmp.Rating"] == "4"
    assert xmp["Xmp.xmpDM.pick"] == "1" and xmp["Xmp.digiKam.PickLabel"] == "3"
    with pyexiv2.Image(os.fspath(sidecar_path(library.root / "b.png"))) as image:
        xmp = image.read_xmp()
    assert (xmp["Xmp.xmp.Rating"], xmp["Xmp.xmpDM.pick"]) == ("1", "-1")
    assert xmp["Xmp.digiKam.PickLabel"] == "1"
    assert library.export_xmp().written == 0  # nothing changed since


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Xmp.xmp.Rating": "3", "Xmp.xmpDM.pick": "1"}, (3, 1)),
        ({"Xmp.xmp.Rating": "-1"}, (None, -1)),  # Lightroom's and Bridge's reject
        ({"Xmp.xmp.Rating": "5", "Xmp.digiKam.PickLabel": "1"}, (5, -1)),  # digiKam's
        ({"Xmp.digiKam.PickLabel": "3"}, (None, 1)),
    ],
)
def test_import_reads_what_other_apps_wrote(
    library: Library, fields: dict, expected: tuple
) -> None:
    pid = _photo(library, "shot.jpg".replace("jpg", "png"))
    path = library.root / "shot.png"
    sidecar = sidecar_path(path)
    sidecar.write_text(
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.'
        'org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>',
        encoding="utf-8",
    )
    with pyexiv2.Image(os.fspath(sidecar)) as image:
        image.modify_xmp(fields)
    enricher = Enricher(library.store)
    extra = enricher.inspect(path, Image.open(path))
    enricher.imported([pid], [extra])
    assert ratings.marks(library.store, [pid])[pid] == expected
    # an import never overwrites what is set: the user's marks win
    ratings.set_marks(library.store, [pid], rating=2, flag=0)
    enricher.imported([pid], [extra])
    assert ratings.marks(library.store, [pid])[pid] == (2, 0)
