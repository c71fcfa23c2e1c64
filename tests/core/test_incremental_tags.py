"""Re-deriving tags touches only what changed: one label's threshold, the whole album in chunks."""

from __future__ import annotations

from core.db.tagstore import TagStore, VerdictChange
from core.labels.policy import CONFIRMED
from tests.core.test_tagstore import ids, score, store, tag_names  # noqa: F401 - the fixture


def _all_tags(store: TagStore) -> list[tuple]:
    return store.db.query(
        "SELECT photo_id, label_id, direct, verified FROM photo_tags ORDER BY photo_id, label_id"
    )


def test_a_threshold_change_re_derives_only_the_photos_scored_between_the_thresholds(
    store, monkeypatch
):
    a, b, c, d = (store.add_photo(f"{n}.jpg", 1, 1) for n in "abcd")
    score(store, a, dog=0.45, beach=0.9)
    score(store, b, cat=0.6)
    score(store, c, dog=0.2)
    score(store, d, dog=0.45)
    store.set_verdicts([VerdictChange(d, ids(store)["dog"], CONFIRMED)])  # a verdict wins
    seen: list[list[int]] = []
    refresh = TagStore._refresh
    monkeypatch.setattr(
        TagStore,
        "_refresh",
        lambda self, conn, pids, policy, lineage=None: (
            seen.append(list(pids)),
            refresh(self, conn, pids, policy, lineage),
        ),
    )
    store.set_manual_threshold("Dog", 0.5)
    # only a's dog score lies between the old and the new threshold: b has no dog score, c's
    # (0.2) is below both, and d's dog is decided by its verdict
    assert seen == [[a]]
    assert "dog" not in tag_names(store, a) and {"animal", "dog"} <= tag_names(store, d)
    assert "beach" in tag_names(store, a)  # its other tags stay
    incremental = _all_tags(store)
    store.refresh_all_tags()
    assert _all_tags(store) == incremental  # the same tags as re-deriving everything
    seen.clear()
    assert store.undo_threshold() == "dog" and seen == [[a]]
    assert {"animal", "dog"} <= tag_names(store, a)


def test_re_deriving_the_whole_album_in_chunks_gives_every_photo_its_tags(store, monkeypatch):
    photos = [store.add_photo(f"{i}.jpg", 1, 1) for i in range(7)]
    for i, photo in enumerate(photos):
        score(store, photo, dog=0.3 + 0.1 * i, cat=0.1)
    store.add_model(1, "fake@1", None, {"dog": 0.65}, {}, activate=True)
    seen: list[int] = []
    refresh = TagStore._refresh
    monkeypatch.setattr("core.db.tagstore._REFRESH_CHUNK", 3)
    monkeypatch.setattr(
        TagStore,
        "_refresh",
        lambda self, conn, pids, policy: (
            seen.append(len(pids)),
            refresh(self, conn, pids, policy),
        ),
    )
    store.refresh_all_tags()
    assert seen == [3, 3, 1]
    tagged = [p for p in photos if "dog" in tag_names(store, p)]
    assert tagged == photos[4:]  # scores 0.7, 0.8, 0.9 pass the new 0.65


def test_label_counts_are_kept_until_the_album_changes(store):
    a = store.add_photo("a.jpg", 1, 1)
    score(store, a, dog=0.9)
    dog = ids(store)["dog"]
    assert store.label_counts()[dog] == 1
    counted: list[str] = []
    store.db.read().set_trace_callback(counted.append)
    assert store.label_counts()[dog] == 1
    assert not [s for s in counted if "COUNT" in s]  # the kept counts, not a new pass
    b = store.add_photo("b.jpg", 1, 1)
    score(store, b, dog=0.8)  # a commit: the counts follow
    assert store.label_counts()[dog] == 2
    with store.db.write():  # inside a write: the uncommitted state, nothing kept
        store.set_verdicts([VerdictChange(b, dog, -1)])
        assert store.label_counts()[dog] == 1
    assert store.label_counts()[dog] == 1


def test_a_threshold_change_re_derives_the_label_and_its_ancestors_as_a_full_pass_would(store):
    """Random scores and verdicts (confirmations, rejections of a label and of its ancestors)
    over a three-level tree beside another root: after each of many threshold changes, the tags
    kept by re-deriving only the changed label's line (from its top ancestor's evidence) equal
    re-deriving every tag of every photo, and a photo stays tagged by its other labels."""
    import numpy as np

    from core.labels.policy import REJECTED

    names = ids(store)
    poodle = store.upsert_label("poodle", parent_id=names["dog"], kind="builtin", threshold=0.5)
    store.upsert_label("sea", parent_id=names["beach"], kind="builtin", threshold=0.3)
    assert poodle
    names = ids(store)
    rng = np.random.default_rng(0)
    photos = [store.add_photo(f"p{i}.jpg", 1, 1) for i in range(60)]
    for photo in photos:
        score(store, photo, **{n: float(rng.random()) for n in names if rng.random() < 0.7})
    changes = [
        VerdictChange(int(p), names[str(n)], int(rng.choice([CONFIRMED, REJECTED])))
        for p, n in zip(rng.choice(photos, 40), rng.choice(sorted(names), 40), strict=True)
    ]
    store.set_verdicts(changes)
    for step in range(12):
        label = sorted(names)[step % len(names)]
        store.set_manual_threshold(label, float(rng.uniform(0.1, 0.9)))
        incremental = _all_tags(store)
        flags = store.db.query("SELECT id, tagged FROM photos ORDER BY id")
        store.refresh_all_tags()
        assert _all_tags(store) == incremental, (step, label)
        assert store.db.query("SELECT id, tagged FROM photos ORDER BY id") == flags
