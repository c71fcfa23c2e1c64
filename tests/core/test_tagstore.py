"""The store's tag facts on a real SQLite file: scores, verdicts, effective tags, undo."""

from __future__ import annotations

import numpy as np
import pytest

from core.db.schema import MIGRATIONS
from core.db.tagstore import Scored, TagStore, VerdictChange
from core.errors import StoreError
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED


@pytest.fixture
def store(tmp_path) -> TagStore:
    s = TagStore(tmp_path / "album.db")
    animal = s.upsert_label("animal", parent_id=None, kind="builtin", threshold=0.5)
    dog = s.upsert_label("dog", parent_id=animal, kind="builtin", threshold=0.4)
    s.upsert_label("cat", parent_id=animal, kind="builtin", threshold=0.3)
    s.upsert_label("beach", parent_id=None, kind="builtin", threshold=0.5)
    assert dog
    s.add_model(0, "fake@1", None, {}, {}, activate=True)
    yield s
    s.close()


def ids(store: TagStore) -> dict[str, int]:
    return {r.name: r.id for r in store.labels()}


def score(store: TagStore, photo: int, **scores: float) -> None:
    names = ids(store)
    label_ids = [names[n] for n in scores]
    store.record_scores(
        [
            Scored(
                photo,
                10,
                10,
                None,
                f"h{photo}",
                np.array(list(scores.values())),
                np.zeros(4, np.float32),
            )
        ],
        label_ids,
        "fake@1",
        0,
    )


def tag_names(store: TagStore, photo: int) -> set[str]:
    names = {v: k for k, v in ids(store).items()}
    return {names[lid] for lid, _, _ in store.tags_of(photo)}


def test_schema_is_created_with_wal_and_foreign_keys(store, tmp_path):
    assert store.db.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.db.query("PRAGMA foreign_keys")[0][0] == 1
    assert store.db.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert store.integrity_check() == "ok"


def test_scores_become_tags_through_thresholds_and_hierarchy(store):
    pid = store.add_photo("a.jpg", 1, 1)
    score(store, pid, dog=0.45, cat=0.2, beach=0.1)
    assert tag_names(store, pid) == {"dog", "animal"}
    assert store.photo(pid).status == "ok"


def test_low_scores_are_not_stored(store):
    pid = store.add_photo("a.jpg", 1, 1)
    score(store, pid, dog=0.005, cat=0.5)
    assert {r[0] for r in store.evidence(pid)} == {ids(store)["cat"]}


def test_new_scores_never_overwrite_verdicts(store):
    pid = store.add_photo("a.jpg", 1, 1)
    score(store, pid, dog=0.9, cat=0.9)
    lid = ids(store)
    store.set_verdicts(
        [VerdictChange(pid, lid["dog"], REJECTED), VerdictChange(pid, lid["beach"], CONFIRMED)]
    )
    score(store, pid, dog=0.99, cat=0.05, beach=0.0)  # a re-index or another model
    verdicts = {r[0]: r[2] for r in store.evidence(pid)}
    assert verdicts[lid["dog"]] == REJECTED
    assert verdicts[lid["beach"]] == CONFIRMED
    assert tag_names(store, pid) == {"beach"}  # dog stays rejected, cat fell below threshold


def test_undo_and_redo_restore_verdicts_and_tags(store):
    pid = store.add_photo("a.jpg", 1, 1)
    score(store, pid, cat=0.9)
    lid = ids(store)
    assert store.set_verdicts([VerdictChange(pid, lid["cat"], REJECTED)]) == 1
    assert tag_names(store, pid) == set()
    assert store.undo() == [pid]
    assert tag_names(store, pid) == {"cat", "animal"}
    assert store.can_redo()
    assert store.redo() == [pid]
    assert tag_names(store, pid) == set()
    assert store.undo() == [pid]
    store.set_verdicts([VerdictChange(pid, lid["beach"], CONFIRMED)])  # drops the redo step
    assert not store.can_redo()
    assert store.undo() == [pid]
    assert store.undo() == []  # the cat rejection was already undone
    assert tag_names(store, pid) == {"cat", "animal"}


def test_a_no_op_verdict_is_not_an_undo_step(store):
    pid = store.add_photo("a.jpg", 1, 1)
    assert store.set_verdicts([VerdictChange(pid, ids(store)["cat"], NO_VERDICT)]) is None
    assert not store.can_undo()


def test_batch_verdicts_on_many_photos_are_one_undo_step(store):
    photos = [store.add_photo(f"{i}.jpg", 1, 1) for i in range(5)]
    lid = ids(store)["beach"]
    store.set_verdicts([VerdictChange(p, lid, CONFIRMED) for p in photos])
    # Photos waiting for the model are part of the album: the user's tags count at once.
    assert store.label_counts() == {lid: 5}
    assert sorted(store.undo()) == photos


def test_counts_follow_the_hierarchy(store):
    for i, s in enumerate([0.9, 0.35, 0.1]):
        score(store, store.add_photo(f"{i}.jpg", 1, 1), cat=s)
    counts = {n: store.label_counts().get(i, 0) for n, i in ids(store).items()}
    assert counts == {"animal": 2, "cat": 2, "dog": 0, "beach": 0}


def test_model_thresholds_override_defaults_at_read_time(store):
    pid = store.add_photo("a.jpg", 1, 1)
    score(store, pid, cat=0.35)
    assert "cat" in tag_names(store, pid)
    store.add_model(1, "fake@1", None, {"cat": 0.6}, {}, activate=True)
    store.refresh_all_tags()
    assert tag_names(store, pid) == set()


def test_verdicts_on_unknown_photos_are_refused_by_foreign_keys(store):
    with pytest.raises(StoreError):
        store.set_verdicts([VerdictChange(999, ids(store)["cat"], CONFIRMED)])


def test_activate_unknown_model_version_is_an_error(store):
    with pytest.raises(StoreError, match="no model version 7"):
        store.activate_model(7)


def test_a_newer_schema_is_refused(tmp_path):
    s = TagStore(tmp_path / "x.db")
    s.db._writer.execute("PRAGMA user_version = 99")
    s.close()
    with pytest.raises(StoreError, match="newer albumtag"):
        TagStore(tmp_path / "x.db")


def test_features_of_chosen_photos_come_in_id_order_across_lookup_chunks(store):
    names = ids(store)
    photos = [store.add_photo(f"p{i}.jpg", 1, i) for i in range(2000)]
    results = [
        Scored(p, 10, 10, None, f"h{p}", np.array([0.1]), np.full(4, i, np.float32))
        for i, p in enumerate(photos)
    ]
    store.record_scores(results, [names["beach"]], "fake@1", 0)
    broken = photos[5]
    store.record_error(broken, "corrupt: test")

    asked = photos[1990::-2] + photos[:3] + [photos[0], 10_000_000, broken]  # 999 + extras
    got_ids, blobs = store.features("fake@1", asked)
    expected = sorted(set(asked) - {10_000_000, broken})
    assert got_ids == expected and len(expected) > 900
    values = [np.frombuffer(b, dtype="<f2")[0] for b in blobs]
    assert values == [float(photos.index(p)) for p in expected]
    assert store.features("other@1", asked) == ([], [])
    assert store.features("fake@1", []) == ([], [])
    every, _ = store.features("fake@1")
    assert every == [p for p in photos if p != broken]


def test_update_file_is_one_transaction(store, monkeypatch):
    """The file's new facts and the refreshed tags commit together, or not at all."""
    pid = store.add_photo("a.jpg", 1, 1)
    score(store, pid, dog=0.9)

    def broken_refresh(*args: object) -> None:
        raise RuntimeError("refresh failed")

    monkeypatch.setattr(store, "_refresh", broken_refresh)
    with pytest.raises(RuntimeError, match="refresh failed"):
        store.update_file(pid, path="moved/a.jpg", size=2, mtime_ns=2, status="ok")
    row = store.db.query("SELECT path, size, mtime_ns FROM photos WHERE id = ?", (pid,))[0]
    assert tuple(row) == ("a.jpg", 1, 1)  # the file facts were rolled back with the tags
    monkeypatch.undo()
    store.update_file(pid, path="moved/a.jpg", size=2, mtime_ns=2, status="ok")
    row = store.db.query("SELECT path, size, mtime_ns FROM photos WHERE id = ?", (pid,))[0]
    assert tuple(row) == ("moved/a.jpg", 2, 2) and tag_names(store, pid) == {"dog", "animal"}
