"""core.ops: every user change checks its input, writes through the store, and says what it
touched in a Changes record (real SQLite album, fake backbone: no torch)."""

from __future__ import annotations

import numpy as np
import pytest

from core import ops
from core.db import ratings
from core.db.tagstore import Scored
from core.errors import (
    InvalidEditError,
    ModelVersionError,
    PhotoNotFoundError,
    UnknownLabelError,
    VocabularyError,
)
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED
from core.library import Library


def _photo(lib: Library, path: str, **scores: float) -> int:
    pid = lib.store.add_photo(path, 100, 1)
    ids = lib.label_ids()
    names = list(scores) or ["cat"]
    lib.store.record_scores(
        [Scored(pid, 10, 10, None, f"h{pid}", np.array(list(scores.values()) or [0.0]), None)],
        [ids[n] for n in names],
        "fake@1",
        0,
    )
    return pid


def _verdict(lib: Library, pid: int, name: str) -> int:
    lid = lib.label_id(name)
    return next(
        (v for p, lab, v in lib.store.verdict_rows() if p == pid and lab == lid), NO_VERDICT
    )


def _tags(lib: Library, pid: int) -> set[str]:
    return {v.label for v in lib.tags(lib.store.photo(pid)) if v.has}


@pytest.fixture
def photos(library: Library) -> tuple[int, int]:
    return _photo(library, "a.jpg", dog=0.9, cat=0.1), _photo(library, "b.jpg", cat=0.8)


def test_confirm_reject_clear_say_which_photos_changed(library: Library, photos) -> None:
    a, b = photos
    changes = ops.confirm(library, [a, b], ["kitty"])  # an alias names the label
    assert changes.photos == (a, b) and changes.history and not changes.labels
    assert not changes.all_photos and not changes.model and changes.created is None
    assert _verdict(library, a, "cat") == CONFIRMED and "cat" in _tags(library, a)
    assert ops.confirm(library, [a], "cat") == ops.Changes("nothing changed")
    assert not ops.Changes("nothing changed").changed

    changes = ops.reject(library, [a], "dog")
    assert changes.photos == (a,) and _verdict(library, a, "dog") == REJECTED
    assert "dog" not in _tags(library, a)
    changes = ops.clear(library, [a], ["dog"])
    assert changes.photos == (a,) and _verdict(library, a, "dog") == NO_VERDICT
    assert "dog" in _tags(library, a)  # the model's score decides again

    mixed = ops.set_verdicts(library, [b], confirm=["dog"], reject=["cat"])
    assert mixed.photos == (b,) and mixed.history
    assert (_verdict(library, b, "dog"), _verdict(library, b, "cat")) == (CONFIRMED, REJECTED)


def test_verdict_ops_refuse_bad_input_before_writing(library: Library, photos) -> None:
    a, _ = photos
    log = library.store.verdict_rows()
    with pytest.raises(UnknownLabelError) as unknown:
        ops.confirm(library, [a], ["dgo"])
    assert "dog" in unknown.value.suggestions
    with pytest.raises(PhotoNotFoundError, match="photo id 999"):
        ops.confirm(library, [a, 999], ["dog"])
    with pytest.raises(InvalidEditError, match="no photos"):
        ops.confirm(library, [], ["dog"])
    with pytest.raises(InvalidEditError, match="whole number"):
        ops.confirm(library, ["a.jpg"], ["dog"])
    with pytest.raises(InvalidEditError, match="verdict"):
        ops.set_verdict(library, [a], ["dog"], 2)
    with pytest.raises(InvalidEditError, match="no label"):
        ops.set_verdicts(library, [a])
    assert library.store.verdict_rows() == log  # nothing was written
    assert not library.store.can_undo()
    library.store.mark_missing([a])  # deleted from the folder: kept, but not editable
    with pytest.raises(PhotoNotFoundError):
        ops.confirm(library, [a], ["dog"])


def test_confirm_suggestions_confirms_what_the_model_said(library: Library, photos) -> None:
    a, b = photos
    changes = ops.confirm_suggestions(library, [a, b])
    assert changes.photos == (a, b) and changes.history
    assert _verdict(library, a, "dog") == CONFIRMED and _verdict(library, b, "cat") == CONFIRMED
    assert _verdict(library, a, "cat") == NO_VERDICT  # below its threshold: not suggested
    assert not ops.confirm_suggestions(library, [a, b]).changed


def test_add_tag_makes_an_unknown_label_and_confirms_it(library: Library, photos) -> None:
    a, b = photos
    changes = ops.add_tag(library, [a, b], "Grandma", "people")
    assert changes.created == "Grandma" and changes.labels and changes.photos == (a, b)
    assert changes.history
    assert _verdict(library, a, "Grandma") == CONFIRMED and "people" in _tags(library, b)
    again = ops.add_tag(library, [a], "grandma")  # known now: a plain confirm, no new label
    assert again.created is None and not again.labels and not again.changed
    with pytest.raises(PhotoNotFoundError):
        ops.add_tag(library, [12345], "Our Dinghy")
    assert library.vocabulary.resolve("Our Dinghy") is None  # no label made for nothing
    with pytest.raises(VocabularyError, match=r"\|"):
        ops.add_tag(library, [a], "family|Anna")


def test_a_label_made_by_another_process_is_used_not_made_again(library: Library, photos) -> None:
    a, _ = photos
    with Library(library.root, library.data_dir) as other:  # the command line, meanwhile
        other.create_label("Anna", "people")
    changes = ops.add_tag(library, [a], "anna")
    assert changes.created is None and changes.photos == (a,)
    rows = [r for r in library.store.labels() if r.name.lower() == "anna"]
    assert len(rows) == 1 and rows[0].parent_id == library.label_id("people")
    assert _verdict(library, a, "Anna") == CONFIRMED


def test_create_label_says_whether_it_made_one(library: Library) -> None:
    made = ops.create_label(library, "  our   boat ", "vehicle")
    assert made.created == "our boat" and made.labels and not made.history
    assert library.vocabulary.resolve("Our Boat") == "our boat"
    assert ops.create_label(library, "OUR BOAT").created is None
    with pytest.raises(UnknownLabelError):
        ops.create_label(library, "Anna", "famly")
    with pytest.raises(VocabularyError):
        ops.create_label(library, "   ")


def test_undo_and_redo_report_the_kind_of_step(library: Library, photos) -> None:
    a, b = photos
    assert ops.undo(library) == ops.Changes("nothing to undo")
    ops.reject(library, [a], "dog")
    ops.set_marks(library, [b], rating=4)
    ops.create_label(library, "Rexx", "dog")
    ops.rename_label(library, "Rexx", "Rex")

    step = ops.undo(library)
    assert step.labels and step.all_photos and step.history and "Renamed" in step.what
    step = ops.undo(library)
    assert step.marks == (b,) and step.photos == () and step.history
    assert ratings.marks(library.store, [b])[b][0] is None
    step = ops.undo(library)
    assert step.photos == (a,) and step.history and _verdict(library, a, "dog") == NO_VERDICT
    step = ops.redo(library)
    assert step.photos == (a,) and _verdict(library, a, "dog") == REJECTED
    assert ops.redo(library).marks == (b,)
    assert ops.redo(library).labels
    assert ops.redo(library) == ops.Changes("nothing to redo")


def test_set_marks_checks_ratings_and_flags(library: Library, photos) -> None:
    a, b = photos
    changes = ops.set_marks(library, [a, b], rating=5, flag=ratings.PICK)
    assert changes.marks == (a, b) and changes.history and not changes.photos
    assert ratings.marks(library.store, [a])[a] == (5, ratings.PICK)
    assert not ops.set_marks(library, [a], rating=5).changed
    for bad in ({"rating": 6}, {"rating": -1}, {"rating": 2.5}, {"rating": True}, {"flag": 2}, {}):
        with pytest.raises(InvalidEditError):
            ops.set_marks(library, [a], **bad)
    assert ops.set_marks(library, [a], rating=np.int64(3)).marks == (a,)


def test_thresholds_by_hand_change_tags_and_undo_apart(library: Library, photos) -> None:
    a, _ = photos
    assert "cat" not in _tags(library, a)  # 0.1 is below cat's threshold
    changes = ops.set_threshold(library, "Kitty", 0.05)  # an alias, any case
    assert changes.thresholds == ("cat",) and changes.all_photos and not changes.history
    assert library.store.manual_thresholds() == {"cat": 0.05} and "cat" in _tags(library, a)
    assert not ops.set_threshold(library, "cat", 0.05).changed
    for bad in (1.5, -0.1, float("nan"), "high", True):
        with pytest.raises(InvalidEditError):
            ops.set_threshold(library, "cat", bad)
    with pytest.raises(UnknownLabelError):
        ops.set_threshold(library, "dgo", 0.5)
    reset = ops.reset_threshold(library, "cat")
    assert reset.thresholds == ("cat",) and library.store.manual_thresholds() == {}
    assert ops.undo_threshold(library).thresholds == ("cat",)
    assert library.store.manual_thresholds() == {"cat": 0.05}
    assert ops.redo_threshold(library).thresholds == ("cat",)
    assert ops.undo(library) == ops.Changes("nothing to undo")  # not on the tag undo stack


def test_label_manager_ops_report_labels_and_history(library: Library, photos) -> None:
    a, _ = photos
    ops.add_tag(library, [a], "Rexx", "dog")
    changes = ops.rename_label(library, "Rexx", "Rex")
    assert changes.labels and changes.all_photos and changes.history
    assert changes.what == "Renamed Rexx to Rex"
    same = ops.rename_label(library, "Rex", "Rex")
    assert not same.changed and "keeps its name" in same.what
    assert ops.set_aliases(library, "Rex", ["rexy"]).labels
    assert library.vocabulary.resolve("rexy") == "Rex"
    with pytest.raises(InvalidEditError):
        ops.set_aliases(library, "Rex", "rexy")
    ops.create_label(library, "Pets")
    assert ops.move_label(library, "Rex", "Pets").labels
    ops.add_tag(library, [a], "Rexie")
    merged = ops.merge_labels(library, "Rexie", "Rex")
    assert merged.labels and merged.moved == 1 and merged.conflicts == 0
    deleted = ops.delete_label(library, "Rex")
    assert deleted.history and deleted.moved == 1 and library.vocabulary.resolve("Rex") is None
    with pytest.raises(VocabularyError, match="built-in"):
        ops.rename_label(library, "dog", "doggo")
    with pytest.raises(UnknownLabelError):
        ops.delete_label(library, "nobody")


def test_activating_a_version_checks_it_is_usable(library: Library, photos) -> None:
    store = library.store
    store.add_model(
        1, "fake@1", "models/v1.safetensors", {}, {"head": "linear"}, activate=False
    )  # its head file was never written
    store.add_model(
        2, "fake@1", "models/v2.attention.safetensors", {}, {"head": "attention"}, activate=False
    )
    store.add_model(3, "fake@1", None, {"cat": 0.05}, {"kind": "prior"}, activate=False)
    with pytest.raises(ModelVersionError, match="version 1 cannot be used"):
        ops.activate_version(library, 1)
    with pytest.raises(ModelVersionError, match="attention head"):
        ops.activate_version(library, 2)
    with pytest.raises(ModelVersionError, match="no model version 9"):
        ops.activate_version(library, 9)
    with pytest.raises(InvalidEditError):
        ops.activate_version(library, "3")
    assert store.active_model().version == 0  # nothing changed

    a, _ = photos
    changes = ops.activate_version(library, 3)
    assert changes.model and changes.all_photos and not changes.history
    assert store.active_model().version == 3
    assert "cat" in _tags(library, a)  # version 3's thresholds apply at once
    assert not ops.activate_version(library, 3).changed
    with pytest.raises(ModelVersionError, match="version 1 cannot be used"):
        ops.rollback(library)  # to version 1, whose head file is missing: refused too
    assert store.active_model().version == 3
    assert ops.activate_version(library, 0).model and store.active_model().version == 0
    with pytest.raises(ModelVersionError, match="oldest"):
        ops.rollback(library)


def test_changes_combine() -> None:
    one = ops.Changes("made", labels=True, created="Anna")
    two = ops.Changes("confirmed", photos=(3, 1), history=True)
    both = one | two
    assert both.what == "confirmed" and both.created == "Anna" and both.photos == (1, 3)
    assert both.labels and both.history and both.changed
