"""Bulk re-scoring (core.db.rescoring) against the one-photo-at-a-time way it replaced.

A real SQLite store with a label tree, photos with scores, confirmations, rejections, cleared
verdicts, a hidden photo and a label of the user's own; new scores are written by
``TagStore.record_rescored`` and, on a copy of the same file, by the old per-photo path
(``_replace_scores`` then LabelPolicy in Python, ``_refresh``). Stored scores agree within the
rescoring tolerance, every tag and ``tagged`` flag exactly, and no verdict or log row moves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.db.rescoring import SCORE_TOLERANCE, LabelColumns, derive
from core.db.tagstore import Scored, TagStore, VerdictChange
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED, Evidence, LabelPolicy

TREE = {
    "animal": None,
    "dog": "animal",
    "poodle": "dog",
    "cat": "animal",
    "beach": None,
    "sea": "beach",
    "Grandma": None,
}
PHOTOS = 60


def _ids(store: TagStore) -> dict[str, int]:
    return {r.name: r.id for r in store.labels()}


@pytest.fixture
def album(tmp_path: Path) -> Path:
    """An album file: 60 scored photos, verdicts of every kind, one photo hidden."""
    path = tmp_path / "album.db"
    store = TagStore(path)
    for name, parent in TREE.items():
        store.upsert_label(
            name,
            parent_id=_ids(store)[parent] if parent else None,
            kind="user" if name == "Grandma" else "builtin",
            threshold=0.3 + 0.05 * len(name) % 0.4,
        )
    store.add_model(0, "fake@1", None, {}, {}, activate=True)
    names = _ids(store)
    label_ids = list(names.values())
    rng = np.random.default_rng(5)
    photos = [store.add_photo(f"p{i:02d}.jpg", 1, 1) for i in range(PHOTOS)]
    scores = rng.random((PHOTOS, len(label_ids))) ** 3  # many below the floor, a few high
    store.record_scores(
        [
            Scored(p, 8, 8, None, f"h{p}", s, np.zeros(4, np.float32))
            for p, s in zip(photos, scores, strict=True)
        ],
        label_ids,
        "fake@1",
        0,
    )
    changes = []
    for p in photos[:40]:
        for lab in rng.choice(label_ids, 2, replace=False):
            changes.append(VerdictChange(p, int(lab), int(rng.choice([CONFIRMED, REJECTED]))))
    store.set_verdicts(changes)
    store.set_verdicts([VerdictChange(c.photo_id, c.label_id, NO_VERDICT) for c in changes[:6]])
    store.set_verdicts([VerdictChange(photos[45], names["Grandma"], CONFIRMED)])
    store.mark_missing([photos[50]])
    store.close()
    return path


def _state(store: TagStore) -> tuple[dict, list, list, list]:
    rows = store.db.query("SELECT photo_id, label_id, score, verdict, source FROM photo_labels")
    scores = {(p, lab): (s, v, src) for p, lab, s, v, src in rows}
    tags = store.db.query(
        "SELECT label_id, photo_id, direct, verified FROM photo_tags ORDER BY 1, 2"
    )
    tagged = store.db.query("SELECT id, tagged, model_version FROM photos ORDER BY id")
    log = store.db.query("SELECT * FROM verdict_log ORDER BY id")
    return scores, tags, tagged, log


def _naive(
    store: TagStore,
    photos: list[int],
    scores: np.ndarray,
    label_ids: list[int],
    only: list[int] | None,
) -> None:
    """The old way: per photo, replace the (scoped) rows, then LabelPolicy per photo."""
    ids = np.asarray(label_ids, dtype=np.int64)
    with store.db.write() as db:
        conn = db.conn
        conn.executemany("UPDATE photos SET model_version = 1 WHERE id = ?", [(p,) for p in photos])
        for pid, row in zip(photos, scores, strict=True):
            if only is None:
                store._replace_scores(conn, pid, ids, row, "t")
                continue
            scope = ",".join(str(i) for i in only)
            conn.execute(
                "DELETE FROM photo_labels WHERE photo_id = ? AND verdict = 0 AND "
                f"source = 'model' AND label_id IN ({scope})",
                (pid,),
            )
            conn.execute(
                f"UPDATE photo_labels SET score = NULL WHERE photo_id = ? AND "
                f"label_id IN ({scope})",
                (pid,),
            )
            for lab, s in zip(ids, row, strict=True):
                if int(lab) in only and s >= 0.01:
                    conn.execute(
                        "INSERT INTO photo_labels (photo_id, label_id, score, "
                        "verdict, source, updated_at) VALUES (?, ?, ?, 0, 'model', "
                        "'t') ON CONFLICT (photo_id, label_id) DO UPDATE SET "
                        "score = excluded.score",
                        (pid, int(lab), float(s)),
                    )
        store._refresh(conn, photos, store.policy())


@pytest.mark.parametrize("scope", ["all", "some"])
def test_bulk_rescoring_equals_the_per_photo_way(album: Path, tmp_path: Path, scope: str):
    copy = Path(shutil.copy(album, tmp_path / "naive.db"))
    bulk, naive = TagStore(album), TagStore(copy)
    names = _ids(bulk)
    photos = [r[0] for r in bulk.db.query("SELECT id FROM photos ORDER BY id")]
    label_ids = [names[n] for n in ("animal", "dog", "poodle", "cat", "beach", "sea")]
    rng = np.random.default_rng(11)
    old = np.array([[_score(bulk, p, lab) for lab in label_ids] for p in photos])
    new = np.clip(old + rng.normal(0, 0.2, old.shape) * (rng.random(old.shape) < 0.5), 0, 1)
    new[:, 2] = old[:, 2] + 0.0004  # within the tolerance: not rewritten
    new[:5] = 0.0  # every score gone
    only = None if scope == "all" else [names["dog"], names["poodle"], names["sea"]]
    before = _state(bulk)
    written = bulk.record_rescored(photos, new.astype(np.float32), label_ids, 1, only=only)
    _naive(naive, photos, new.astype(np.float32), label_ids, only)
    got, want = _state(bulk), _state(naive)
    assert got[1] == want[1] and len(got[1]) > 20  # the same tags, exactly
    assert got[2] == want[2]  # the same tagged flags and versions
    assert got[3] == want[3] == before[3]  # the verdict log untouched
    assert got[0].keys() == want[0].keys()
    for key, (s, verdict, source) in got[0].items():
        ws, wv, wsrc = want[0][key]
        assert (verdict, source) == (wv, wsrc), key
        assert (s is None) == (ws is None), key
        if s is not None:
            assert abs(s - ws) <= SCORE_TOLERANCE + 1e-6, key
    verdicts = {k: v[1:] for k, v in before[0].items() if v[1] != 0}
    assert {k: got[0][k][1:] for k in verdicts} == verdicts  # every verdict as it was
    assert written.scores_updated + written.scores_inserted + written.scores_deleted > 0
    assert written.scores_updated < len(photos) * len(label_ids)  # not everything rewritten
    bulk.close()
    naive.close()


def test_a_second_identical_rescore_writes_nothing(album: Path):
    store = TagStore(album)
    names = _ids(store)
    photos = [r[0] for r in store.db.query("SELECT id FROM photos ORDER BY id")]
    label_ids = list(names.values())
    scores = np.random.default_rng(2).random((len(photos), len(label_ids))).astype(np.float32)
    store.record_rescored(photos, scores, label_ids, 1)
    again = store.record_rescored(photos, scores, label_ids, 1)
    assert (
        again.scores_deleted,
        again.scores_updated,
        again.scores_inserted,
        again.tags_deleted,
        again.tags_inserted,
    ) == (0, 0, 0, 0, 0)
    store.close()


def _score(store: TagStore, photo: int, label: int) -> float:
    rows = store.db.query(
        "SELECT score FROM photo_labels WHERE photo_id = ? AND label_id = ?", (photo, label)
    )
    return float(rows[0][0]) if rows and rows[0][0] is not None else 0.0


def test_array_derivation_matches_the_policy_on_random_evidence():
    """``derive`` against LabelPolicy.tags on 300 random photos of a 12-label tree."""
    rng = np.random.default_rng(0)
    parents = {1: None, 2: 1, 3: 2, 4: 2, 5: 1, 6: None, 7: 6, 8: 7, 9: None, 10: 9, 11: 10, 12: 3}
    thresholds = {i: float(t) for i, t in zip(parents, rng.uniform(0.1, 0.7, 12), strict=True)}
    policy = LabelPolicy(parents, thresholds)
    labels = LabelColumns.of(parents, policy)
    n = 300
    score = np.where(rng.random((n, 12)) < 0.6, rng.random((n, 12)), np.nan)
    verdict = rng.choice([0, 0, 0, 0, CONFIRMED, REJECTED], size=(n, 12)).astype(np.int8)
    has, direct, verified = derive(score, verdict, labels)
    for i in range(n):
        evidence = [
            Evidence(
                int(labels.ids[c]),
                None if np.isnan(score[i, c]) else float(score[i, c]),
                int(verdict[i, c]),
            )
            for c in range(12)
        ]
        want = {(t.label_id, t.direct, t.verified) for t in policy.tags(evidence)}
        got = {
            (int(labels.ids[c]), bool(direct[i, c]), bool(verified[i, c]))
            for c in np.flatnonzero(has[i])
        }
        assert got == want, i


def test_a_threshold_change_rederives_only_scores_between_the_two_thresholds(album: Path):
    """Set, move, undo and redo one label's threshold: after each, the tags equal every
    photo's re-derivation (refresh_all_tags), though only photos whose score lies between
    the old and the new threshold were looked at."""
    store = TagStore(album)
    query = "SELECT label_id, photo_id, direct, verified FROM photo_tags ORDER BY 1, 2"
    dog = _ids(store)["dog"]
    before = store.policy().threshold(dog)
    steps = [
        lambda: store.set_manual_threshold("dog", 0.05),
        lambda: store.set_manual_threshold("Dog", 0.6),
        store.undo_threshold,
        store.undo_threshold,
        store.redo_threshold,
        lambda: store.set_manual_threshold("dog", None),
    ]
    for step in steps:
        step()
        got = store.db.query(query)
        store.refresh_all_tags()
        assert store.db.query(query) == got
    assert store.policy().threshold(dog) == before
    assert store._judged_by_threshold(store.db.read(), dog, 0.3, 0.3) == []
    store.close()
