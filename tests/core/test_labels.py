"""The label manager's operations (issue 15.5): every change undoable, verdicts kept, merges
unite verdicts, files stay consistent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core import label_ops as labels
from core.db.tagstore import Scored, VerdictChange
from core.errors import VocabularyError
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.media.sidecars import Keywords, read_keywords, write_keywords
from core.pipeline.keywords import LabelIndex


def _photo(lib: Library, path: str, **scores: float) -> int:
    pid = lib.store.add_photo(path, 100, 1)
    ids = lib.label_ids()
    lib.store.record_scores(
        [Scored(pid, 10, 10, None, f"h{pid}", np.array(list(scores.values()) or [0.0]), None)],
        [ids[n] for n in scores] or [ids["cat"]],
        "fake@1",
        0,
    )
    return pid


def _verdicts(lib: Library, name: str) -> dict[int, int]:
    lid = lib.label_id(name)
    return {p: v for p, lab, v in lib.store.verdict_rows() if lab == lid}


def _confirm(lib: Library, name: str, *photos: int, verdict: int = CONFIRMED) -> None:
    lid = lib.label_id(name)
    lib.store.set_verdicts([VerdictChange(p, lid, verdict) for p in photos])


def test_rename_a_typo_keeps_verdicts_and_undoes(library: Library) -> None:
    a, b = _photo(library, "a.jpg"), _photo(library, "b.jpg")
    library.create_label("Rexx", "dog")
    _confirm(library, "Rexx", a, b)
    edit = labels.rename(library, "Rexx", "Rex")
    assert edit.what == "Renamed Rexx to Rex"
    assert _verdicts(library, "Rex") == {a: CONFIRMED, b: CONFIRMED}
    assert library.vocabulary.resolve("Rexx") is None
    assert {
        r[0]
        for r in library.store.db.query(
            "SELECT photo_id FROM photo_tags WHERE label_id = ?", (library.label_id("Rex"),)
        )
    } == {a, b}
    step = library.undo()
    assert step is not None and step.kind == "labels"
    assert _verdicts(library, "Rexx") == {a: CONFIRMED, b: CONFIRMED}
    assert library.vocabulary.resolve("Rex") is None
    library.redo()
    assert _verdicts(library, "Rex") == {a: CONFIRMED, b: CONFIRMED}


def test_merge_unites_verdicts_and_reports_conflicts(library: Library) -> None:
    p1, p2, p3, p4 = (_photo(library, f"{i}.jpg") for i in range(4))
    library.create_label("Rex")
    library.create_label("Rexy")
    _confirm(library, "Rex", p1)
    _confirm(library, "Rexy", p2)  # confirmed under the source only
    _confirm(library, "Rexy", p3)
    _confirm(library, "Rex", p3, verdict=REJECTED)  # conflict: confirmed vs rejected
    _confirm(library, "Rexy", p4, verdict=REJECTED)
    edit = labels.merge(library, "Rexy", "Rex")
    assert edit.conflicts == 1 and "stay confirmed" in edit.what
    assert _verdicts(library, "Rex") == {p1: CONFIRMED, p2: CONFIRMED, p3: CONFIRMED, p4: REJECTED}
    assert library.vocabulary.resolve("Rexy") is None
    library.undo()
    assert _verdicts(library, "Rex") == {p1: CONFIRMED, p3: REJECTED}
    assert _verdicts(library, "Rexy") == {p2: CONFIRMED, p3: CONFIRMED, p4: REJECTED}
    # the verdict batches before the merge still undo, in order
    library.undo()
    assert _verdicts(library, "Rexy") == {p2: CONFIRMED, p3: CONFIRMED}


def test_delete_own_labels_only_and_bring_them_back(library: Library) -> None:
    a = _photo(library, "a.jpg")
    library.create_label("Family")
    library.create_label("Grandma", "Family")
    _confirm(library, "Family", a)
    with pytest.raises(VocabularyError, match="built-in"):
        labels.delete(library, "dog")
    edit = labels.delete(library, "Family")
    assert "1 verdict" in edit.what
    rows = {r.name: r for r in library.store.labels()}
    assert "Family" not in rows and rows["Grandma"].parent_id is None  # moved up
    library.undo()
    rows = {r.name: r for r in library.store.labels()}
    assert rows["Grandma"].parent_id == rows["Family"].id
    assert _verdicts(library, "Family") == {a: CONFIRMED}


def test_move_and_aliases(library: Library) -> None:
    library.create_label("Grandma")
    library.create_label("Crew")
    labels.move(library, "Grandma", "people")
    rows = {r.name: r for r in library.store.labels()}
    assert rows["Grandma"].parent_id == rows["people"].id
    with pytest.raises(VocabularyError, match="built-in"):
        labels.move(library, "dog", "Grandma")
    library.create_label("Junior", "Crew")
    with pytest.raises(VocabularyError, match="inside it"):
        labels.move(library, "Crew", "Junior")
    labels.set_aliases(library, "Grandma", ["Oma", "Nana"])
    assert library.vocabulary.resolve("oma") == "Grandma"
    with pytest.raises(VocabularyError, match="already names"):
        labels.set_aliases(library, "Crew", ["dog"])
    with pytest.raises(VocabularyError, match="already the label"):
        labels.rename(library, "Crew", "grandma")
    with pytest.raises(VocabularyError, match=r"\| or /"):
        labels.rename(library, "Crew", "a/b")
    library.undo()
    assert library.vocabulary.resolve("oma") is None


def test_sidecars_follow_at_the_next_write(library: Library) -> None:
    album = library.root
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(album / "a.jpg")
    a = _photo(library, "a.jpg")
    library.store.record_scores(
        [Scored(a, 8, 8, None, "h", np.array([0.0]), None)], [library.label_id("cat")], "fake@1", 0
    )
    library.create_label("Family")
    library.create_label("Rexx", "Family")
    _confirm(library, "Rexx", a)
    library.export_xmp()
    assert read_keywords(album / "a.jpg", embedded=False).paths == (("Family", "Rexx"),)
    labels.rename(library, "Rexx", "Rex")
    labels.move(library, "Rex", "dog")
    library.export_xmp()
    found = read_keywords(album / "a.jpg", embedded=False)
    assert found.paths == (("animal", "dog", "Rex"),)
    assert "Rexx" not in found.flat
    # an old file still naming Rexx imports as Rex and never makes Rexx again
    index = LabelIndex(library.store)
    assert index.resolve(("Rexx",)) == library.label_id("Rex")
    labels.delete(library, "Rex")
    assert LabelIndex(library.store).resolve(("Family", "Rexx")) is None
    assert library.vocabulary.resolve("Rexx") is None


def test_write_keywords_rewrites_a_moved_path_in_place(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"x")
    write_keywords(photo, [("Family", "Grandma"), ("zoo",)])
    write_keywords(photo, [("people", "Grandma"), ("zoo",)], rewrite=["Grandma"])
    assert read_keywords(photo, embedded=False).paths == (("people", "Grandma"), ("zoo",))
    assert Keywords() == Keywords() and not Keywords()
