"""XMP sidecars and embedded keywords: reading, merging, writing, and importing as verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.media.sidecars import (
    HIERARCHICAL,
    SUBJECT,
    TAGS_LIST,
    Keywords,
    merge,
    parse,
    read_keywords,
    sidecar_path,
    sidecars_of,
    write_keywords,
)
from core.pipeline.keywords import LabelIndex, clean_name, import_keywords

pyexiv2 = pytest.importorskip("pyexiv2")

#: A sidecar as digiKam and Lightroom write them: flat, both hierarchies, and other fields.
DIGIKAM_LIGHTROOM_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmp:Rating="4"
    photoshop:City="Lisbon">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Summer trip</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag>
    <rdf:li>Family</rdf:li><rdf:li>Grandma</rdf:li><rdf:li>Places</rdf:li>
    <rdf:li>Portugal</rdf:li><rdf:li>sunny</rdf:li>
   </rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag>
    <rdf:li>Family|Grandma</rdf:li><rdf:li>Places|Portugal</rdf:li>
   </rdf:Bag></lr:hierarchicalSubject>
   <digiKam:TagsList><rdf:Seq>
    <rdf:li>Family/Grandma</rdf:li><rdf:li>Places/Portugal</rdf:li>
   </rdf:Seq></digiKam:TagsList>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "album" / "IMG_1.jpg"
    path.parent.mkdir()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path, quality=90)
    return path


def xmp_of(path: Path) -> dict:
    with pyexiv2.Image(str(path)) as image:
        return image.read_xmp()


def array_type(path: Path, key: str) -> str:
    with pyexiv2.Image(str(path)) as image:
        return image.read_xmp_detail()[key]["typeName"]


def test_parse_reads_both_hierarchies_and_keeps_only_loose_flat_keywords():
    found = parse(
        {
            SUBJECT: ["Family", "Grandma", "sunny", "Grandma"],
            HIERARCHICAL: ["Family|Grandma", "Places| Portugal "],
            TAGS_LIST: ["Family/Grandma", "People/Anna Smith"],
        }
    )
    assert found.paths == (("Family", "Grandma"), ("People", "Anna Smith"), ("Places", "Portugal"))
    assert found.flat == ("Family", "Grandma", "sunny")
    assert found.tags() == (*found.paths, ("sunny",))
    assert parse({SUBJECT: "single"}).flat == ("single",)
    assert not parse({})


def test_sidecar_names_follow_digikam_and_adobe(photo: Path):
    assert sidecar_path(photo).name == "IMG_1.jpg.xmp"
    assert sidecar_path(photo, "base").name == "IMG_1.xmp"
    assert sidecars_of(photo) == []
    (photo.parent / "IMG_1.XMP").write_text(DIGIKAM_LIGHTROOM_XMP, encoding="utf-8")
    shutil.copy(photo.parent / "IMG_1.XMP", sidecar_path(photo))
    assert [p.name for p in sidecars_of(photo)] == ["IMG_1.jpg.xmp", "IMG_1.XMP"]


def test_new_sidecar_has_flat_and_hierarchical_fields_with_the_right_array_types(photo: Path):
    original = photo.read_bytes()
    written = write_keywords(photo, [("animal", "cat"), ("Family", "Grandma")])
    assert written == sidecar_path(photo)
    xmp = xmp_of(written)
    assert xmp[SUBJECT] == ["animal", "cat", "Family", "Grandma"]
    assert xmp[HIERARCHICAL] == ["animal|cat", "Family|Grandma"]
    assert xmp[TAGS_LIST] == ["animal/cat", "Family/Grandma"]
    assert array_type(written, SUBJECT) == "XmpBag"
    assert array_type(written, HIERARCHICAL) == "XmpBag"
    assert array_type(written, TAGS_LIST) == "XmpSeq"
    assert photo.read_bytes() == original  # the original is never touched
    assert read_keywords(photo).paths == (("animal", "cat"), ("Family", "Grandma"))


def test_adobe_naming_writes_photo_xmp(photo: Path):
    written = write_keywords(photo, [("beach",)], naming="base")
    assert written == photo.with_suffix(".xmp")
    assert read_keywords(photo).tags() == (("beach",),)


def test_merge_keeps_other_fields_and_the_files_spelling(photo: Path):
    sidecar = sidecar_path(photo)
    sidecar.write_text(DIGIKAM_LIGHTROOM_XMP, encoding="utf-8")
    write_keywords(photo, [("place", "Portugal"), ("animal", "cat")], drop=["sunny"])
    xmp = xmp_of(sidecar)
    assert xmp["Xmp.xmp.Rating"] == "4"
    assert xmp["Xmp.photoshop.City"] == "Lisbon"
    assert xmp["Xmp.dc.title"] == {'lang="x-default"': "Summer trip"}
    # Portugal keeps the file's own path; the new tag is added; the dropped keyword is gone.
    assert xmp[HIERARCHICAL] == ["Family|Grandma", "Places|Portugal", "animal|cat"]
    assert xmp[TAGS_LIST] == ["Family/Grandma", "Places/Portugal", "animal/cat"]
    assert xmp[SUBJECT] == ["Family", "Grandma", "Places", "Portugal", "animal", "cat"]


def test_a_rejected_label_leaves_the_files_hierarchy():
    existing = Keywords(("Family", "Grandma", "x"), (("Family", "Grandma"),))
    flat, paths = merge(existing, [("animal", "dog")], drop=["grandma"])
    assert paths == [("animal", "dog")]
    assert flat == ["Family", "x", "animal", "dog"]


def test_unchanged_keywords_are_not_rewritten(photo: Path):
    sidecar = write_keywords(photo, [("animal", "cat")])
    before = sidecar.stat().st_mtime_ns, sidecar.read_bytes()
    assert write_keywords(photo, [("animal", "cat")]) is None
    assert (sidecar.stat().st_mtime_ns, sidecar.read_bytes()) == before
    assert write_keywords(photo.with_name("other.jpg"), []) is None  # nothing to write: no file
    assert not sidecar_path(photo.with_name("other.jpg")).exists()


def test_embedded_write_back_changes_the_photo_only_when_asked(photo: Path):
    write_keywords(photo, [("animal", "cat")], embedded=True)
    assert not sidecar_path(photo).exists()
    assert xmp_of(photo)[HIERARCHICAL] == ["animal|cat"]
    with Image.open(photo) as image:  # still a valid JPEG with its pixels
        assert image.size == (64, 48)


def test_embedded_xmp_and_iptc_keywords_are_read_with_the_sidecars(photo: Path):
    with pyexiv2.Image(str(photo)) as image:
        image.modify_iptc({"Iptc.Application2.Keywords": ["iptc word"]})
        image.modify_xmp({TAGS_LIST: ["Trips/Rome"]})
    sidecar_path(photo).write_text(DIGIKAM_LIGHTROOM_XMP, encoding="utf-8")
    found = read_keywords(photo)
    assert set(found.paths) == {("Family", "Grandma"), ("Places", "Portugal"), ("Trips", "Rome")}
    assert {"iptc word", "sunny"} <= set(found.flat)
    assert read_keywords(photo, embedded=False).paths == (
        ("Family", "Grandma"),
        ("Places", "Portugal"),
    )


def test_unreadable_metadata_is_skipped(photo: Path):
    sidecar_path(photo).write_bytes(b"\x00\xffnot xml at all")
    photo.with_suffix(".xmp").write_text(DIGIKAM_LIGHTROOM_XMP, encoding="utf-8")
    assert read_keywords(photo).paths == (("Family", "Grandma"), ("Places", "Portugal"))
    assert read_keywords(photo.with_name("missing.jpg")) == Keywords()


# -- keywords as labels and verdicts ------------------------------------------------------


@pytest.fixture
def library(photo: Path):
    with Library(photo.parent) as lib:
        lib.store.add_photo("IMG_1.jpg", 1, 1, status="ok")
        yield lib


def test_keywords_resolve_by_name_or_alias_and_unknown_ones_become_a_hierarchy(library):
    index = LabelIndex(library.store)
    dog = index.resolve(("Family", "dog"))  # a known leaf: no "Family" is made for it
    assert index.rows[dog].name == "dog"
    assert index.created == []
    assert index.rows[index.resolve(("Animals", "Puppies"))].name == "dog"  # aliases match
    grandma = index.resolve(("Family", "Grandma"))
    anna = index.resolve(("People", "Anna"))
    assert index.created == ["Family", "Grandma", "Anna"]
    assert index.path(grandma) == ("Family", "Grandma")
    assert index.path(anna) == ("people", "Anna")  # under the built-in root
    assert index.rows[grandma].kind == "user"
    assert index.resolve(("unknown",), create=False) is None
    assert clean_name('  "Quoted"   name ') == "Quoted name" and clean_name(' " ') is None


def verdicts(library, photo_id: int) -> dict[str, tuple[int, str]]:
    names = {r.id: r.name for r in library.store.labels()}
    return {
        names[lid]: (verdict, source)
        for lid, _, verdict, source in library.store.evidence(photo_id)
        if verdict
    }


def test_import_confirms_keywords_but_never_overrides_the_user(library):
    photo = library.store.photo_by_path("IMG_1.jpg")
    library.set_verdicts([photo], reject=["cat"], confirm=["beach"])
    library.set_verdicts([photo], confirm=["dog"])
    library.set_verdicts([photo], clear=["dog"])  # the user cleared it: stays cleared
    found = Keywords(("cat", "beach", "dog", "sunset"), (("Family", "Grandma"),))
    written, created = import_keywords(library.store, {photo.id: found})
    assert created == ["Family", "Grandma"]
    assert written == 2  # sunset and Grandma
    got = verdicts(library, photo.id)
    assert got["cat"] == (REJECTED, "user")
    assert got["beach"] == (CONFIRMED, "user")
    assert "dog" not in got
    assert got["sunset"] == (CONFIRMED, "import") and got["Grandma"] == (CONFIRMED, "import")
    assert not library.store.can_redo()
    library.store.undo()  # imports are not undo steps: undo reverts the user's clear instead
    assert verdicts(library, photo.id)["dog"] == (CONFIRMED, "user")
    tags = {
        r.name
        for r in library.store.labels()
        if r.id in {lid for lid, *_ in library.store.tags_of(photo.id)}
    }
    assert {"Family", "Grandma", "sunset"} <= tags
