"""Targets from verdicts and scores: policy semantics, pseudo-labels, missing weights, folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.db.store import LabelRow
from core.db.tagstore import Scored, TagStore, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED, Evidence, LabelPolicy
from trainer.album.targets import (
    LabelTree,
    TargetConfig,
    assign_folds,
    blocked,
    build_targets,
    climb,
    load_training_data,
)

# animal(0) ─ dog(1) ─ poodle(2); animal ─ cat(3); vehicle(4); Grandma(5, a user label)
ROWS = [
    LabelRow(10, "animal", None, "builtin", 0.5, ()),
    LabelRow(11, "dog", 10, "builtin", 0.4, ()),
    LabelRow(12, "poodle", 11, "builtin", 0.3, ()),
    LabelRow(13, "cat", 10, "builtin", 0.3, ()),
    LabelRow(14, "vehicle", None, "builtin", 0.5, ()),
    LabelRow(15, "Grandma", None, "user", 0.5, ()),
]
TREE = LabelTree.from_rows(ROWS)


def test_tree_columns_and_ancestor_matrix():
    assert TREE.names == ("animal", "dog", "poodle", "cat", "vehicle", "Grandma")
    assert TREE.parents.tolist() == [-1, 0, 1, 0, -1, -1]
    assert TREE.defaults.tolist() == [0.5, 0.4, 0.3, 0.3, 0.5, 0.5]
    m = TREE.ancestor_matrix()
    assert m[2].tolist() == [1, 1, 1, 0, 0, 0]  # poodle: itself, dog, animal
    assert m[5].tolist() == [0, 0, 0, 0, 0, 1]
    order = TREE.top_down()
    assert order.index(0) < order.index(1) < order.index(2)


def test_climb_and_blocked_agree_with_label_policy():
    """Vectorised ``has`` equals LabelPolicy on random verdict patterns."""
    rng = np.random.default_rng(3)
    ids = [int(i) for i in TREE.ids]
    policy = LabelPolicy({r.id: r.parent_id for r in ROWS}, {i: 0.5 for i in ids})
    for _ in range(300):
        verdicts = rng.choice([0, 0, CONFIRMED, REJECTED], size=len(ids))
        ours = climb(TREE, (verdicts == CONFIRMED)[None, :], (verdicts == REJECTED)[None, :])[0]
        evidence = [Evidence(i, None, int(v)) for i, v in zip(ids, verdicts, strict=True) if v]
        theirs = {t.label_id for t in policy.tags(evidence) if t.verified}
        assert {ids[j] for j in np.flatnonzero(ours)} == theirs


def test_blocked_is_the_rejected_label_and_its_subtree():
    rejected = np.zeros((1, 6), dtype=bool)
    rejected[0, 1] = True  # dog
    assert np.flatnonzero(blocked(TREE, rejected)[0]).tolist() == [1, 2]


def _targets(verdicts: list[list[int]], scores: list[list[float]], **config):
    return build_targets(
        TREE,
        np.array(verdicts, dtype=np.int8),
        np.array(scores, dtype=np.float32),
        TREE.defaults,
        TargetConfig(**config),
    )


def test_confirmed_and_rejected_are_verified_at_full_weight():
    t = _targets([[0, 0, 1, 0, -1, 0]], [[0.0] * 6])
    assert t.verified[0].tolist() == [True, True, True, False, True, False]
    assert t.targets[0].tolist() == [1, 1, 1, 0, 0, 0]
    assert t.weights[0, t.verified[0]].tolist() == [1, 1, 1, 1]


def test_rejecting_a_parent_blocks_a_confirmed_child():
    t = _targets([[0, -1, 1, 0, 0, 0]], [[0.0] * 6])
    assert t.targets[0, [1, 2]].tolist() == [0, 0]  # dog rejected → poodle negative too
    assert t.verified[0, [1, 2]].all()
    assert not t.verified[0, 0]  # nothing says anything about "animal"


def test_model_tags_become_pseudo_positives_with_their_ancestors():
    # cat scored 0.9 (>= 0.3): pseudo cat and pseudo animal; vehicle 0.4 < 0.5: missing
    t = _targets([[0] * 6], [[0.2, 0.0, 0.0, 0.9, 0.4, 0.0]], pseudo_weight=0.25)
    assert t.pseudo[0].tolist() == [True, False, False, True, False, False]
    assert t.targets[0].tolist() == [1, 0, 0, 1, 0, 0]
    assert t.weights[0, [0, 3]].tolist() == [0.25, 0.25]
    assert not t.verified.any()


def test_verdicts_override_the_model():
    t = _targets([[0, 0, 0, -1, 0, 0]], [[0.9, 0.0, 0.0, 0.9, 0.0, 0.0]])
    assert t.targets[0, 3] == 0 and t.verified[0, 3] and t.weights[0, 3] == 1
    assert not t.pseudo[0, 3]


def test_missing_labels_are_weighted_by_how_unlikely_they_are():
    """A label that usually comes with the photo's labels counts less as a negative."""
    n = 40
    verdicts = np.zeros((n, 6), dtype=np.int8)
    scores = np.zeros((n, 6), dtype=np.float32)
    scores[:, 1] = 0.9  # every photo is a dog (pseudo dog + animal)
    verdicts[:20, 5] = CONFIRMED  # half of them: Grandma confirmed
    t = build_targets(
        TREE, verdicts, scores, TREE.defaults, TargetConfig(missing_weight=0.5, smoothing=0.0)
    )
    grandma_missing = t.weights[20:, 5]
    vehicle_missing = t.weights[20:, 4]
    assert np.allclose(grandma_missing, 0.5 * (1 - 20 / 40))
    assert np.allclose(vehicle_missing, 0.5)  # never seen with dogs: a confident negative
    assert (t.weights[~t.verified & ~t.pseudo] <= 0.5).all()


def test_folds_are_seeded_stratified_and_skip_unverified_rows():
    n = 30
    verdicts = np.zeros((n, 6), dtype=np.int8)
    verdicts[:9, 5] = CONFIRMED  # 9 Grandma photos
    verdicts[9:24, 5] = REJECTED
    t = build_targets(TREE, verdicts, np.zeros((n, 6), np.float32), TREE.defaults)
    folds = assign_folds(t, 3, seed=1)
    assert (folds[24:] == -1).all() and (folds[:24] >= 0).all()
    assert np.bincount(folds[:9], minlength=3).tolist() == [3, 3, 3]
    assert np.bincount(folds[9:24], minlength=3).tolist() == [5, 5, 5]
    assert np.array_equal(folds, assign_folds(t, 3, seed=1))
    assert not np.array_equal(folds, assign_folds(t, 3, seed=2))
    assert (assign_folds(t, 1, seed=1) == -1).all()


def test_too_few_verified_photos_for_folds():
    verdicts = np.zeros((5, 6), dtype=np.int8)
    verdicts[0, 5] = CONFIRMED
    t = build_targets(TREE, verdicts, np.zeros((5, 6), np.float32), TREE.defaults)
    assert (assign_folds(t, 3, seed=0) == -1).all()


@pytest.fixture
def store(tmp_path: Path) -> TagStore:
    s = TagStore(tmp_path / "album.db")
    ids = {}
    for row in ROWS:
        parent = ids.get(next((r.name for r in ROWS if r.id == row.parent_id), None))
        ids[row.name] = s.upsert_label(
            row.name, parent_id=parent, kind=row.kind, threshold=row.threshold
        )
    s.ids = ids  # type: ignore[attr-defined]
    yield s
    s.close()


def _index(store: TagStore, n: int, version: int, metrics: dict) -> list[int]:
    store.add_model(version, "fake@1", None, {}, metrics, activate=True)
    photos = [store.add_photo(f"p{i}.jpg", 10, 0) for i in range(n)]
    label_ids = list(store.ids.values())  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    store.record_scores(
        [
            Scored(
                p,
                8,
                8,
                None,
                f"h{p}",
                rng.random(6).astype(np.float32),
                np.full(4, i, dtype=np.float32),
            )
            for i, p in enumerate(photos)
        ],
        label_ids,
        "fake@1",
        version,
    )
    return photos


def test_load_training_data_aligns_rows_labels_and_verdicts(store: TagStore):
    photos = _index(store, 6, 0, {"kind": "prior"})
    grandma = store.ids["Grandma"]  # type: ignore[attr-defined]
    store.set_verdicts(
        [VerdictChange(photos[1], grandma, CONFIRMED), VerdictChange(photos[2], grandma, REJECTED)]
    )
    data = load_training_data(store)
    assert data.photo_ids.tolist() == photos
    assert data.features[:, 0].tolist() == list(range(6))  # row i has features == i
    j = data.tree.names.index("Grandma")
    assert data.targets.targets[[1, 2], j].tolist() == [1, 0]
    assert data.targets.verified[:, j].tolist() == [False, True, True, False, False, False]
    assert data.unseen[:, j].tolist() == data.targets.verified[:, j].tolist()  # prior saw none
    stored = {(p, lab): s for p, lab, s in store.score_rows()}
    cat = store.ids["cat"]  # type: ignore[attr-defined]
    assert data.old_scores[0, data.tree.names.index("cat")] == pytest.approx(
        stored.get((photos[0], cat), 0.0)
    )


def test_verdicts_a_trained_version_saw_are_not_unseen(store: TagStore):
    photos = _index(store, 4, 0, {"kind": "prior"})
    grandma = store.ids["Grandma"]  # type: ignore[attr-defined]
    store.set_verdicts([VerdictChange(photos[0], grandma, CONFIRMED)])
    seen_through = load_training_data(store).log_id
    store.add_model(1, "fake@1", None, {}, {"verdicts_through": seen_through}, activate=True)
    store.set_verdicts([VerdictChange(photos[1], grandma, REJECTED)])
    data = load_training_data(store)
    j = data.tree.names.index("Grandma")
    assert data.unseen[:, j].tolist() == [False, True, False, False]
    assert data.old_version == 1


def test_an_album_without_features_cannot_train(tmp_path: Path):
    s = TagStore(tmp_path / "empty.db")
    with pytest.raises(ValueError, match="index"):
        load_training_data(s)
    s.close()


def test_a_large_album_loads_every_judged_photo_and_a_sample_of_the_rest(store: TagStore):
    """With ``unlabelled_rows`` below the album's unjudged photos, the rows are every photo
    with a verdict plus a seeded sample; each row's data equals the full load's, and the row
    weights add up to the album."""
    from dataclasses import replace

    photos = _index(store, 40, 0, {"kind": "prior"})
    grandma = store.ids["Grandma"]  # type: ignore[attr-defined]
    judged = [photos[3], photos[17], photos[31]]
    store.set_verdicts(
        [VerdictChange(p, grandma, CONFIRMED) for p in judged[:2]]
        + [VerdictChange(judged[2], grandma, REJECTED)]
    )
    full = load_training_data(store)
    assert full.row_weight is None and full.album_photos == 40
    sampled = load_training_data(store, replace(TargetConfig(), unlabelled_rows=10))
    assert len(sampled.photo_ids) == 13 and set(judged) <= set(sampled.photo_ids.tolist())
    assert sampled.album_photos == 40
    weight = dict(zip(sampled.photo_ids.tolist(), sampled.row_weight.tolist(), strict=True))
    assert [weight[p] for p in judged] == [1.0, 1.0, 1.0]
    assert {w for p, w in weight.items() if p not in judged} == {37 / 10}
    rows = np.searchsorted(full.photo_ids, sampled.photo_ids)
    assert np.array_equal(sampled.features, full.features[rows])
    assert np.array_equal(sampled.old_scores, full.old_scores[rows])
    assert np.array_equal(sampled.targets.verified, full.targets.verified[rows])
    again = load_training_data(store, replace(TargetConfig(), unlabelled_rows=10))
    assert np.array_equal(again.photo_ids, sampled.photo_ids)  # seeded


def test_without_confidence_weights_the_verified_entries_are_the_same_and_missing_ones_flat():
    from trainer.album.targets import verified_targets

    rng = np.random.default_rng(2)
    n = 60
    verdicts = rng.choice([0, 0, 0, CONFIRMED, REJECTED], size=(n, len(ROWS))).astype(np.int8)
    scores = rng.random((n, len(ROWS))).astype(np.float32)
    weighted = build_targets(TREE, verdicts, scores, TREE.defaults, TargetConfig())
    flat = build_targets(
        TREE, verdicts, scores, TREE.defaults, TargetConfig(confidence_weights=False)
    )
    assert np.array_equal(weighted.verified, flat.verified)
    assert np.array_equal(weighted.targets, flat.targets)
    assert np.array_equal(weighted.pseudo, flat.pseudo)
    missing = ~flat.verified & ~flat.pseudo
    assert np.allclose(flat.weights[missing], TargetConfig().missing_weight)
    assert not np.allclose(weighted.weights[missing], TargetConfig().missing_weight)
    positive, verified = verified_targets(TREE, verdicts)  # what teach mode reads
    assert np.array_equal(verified, weighted.verified)
    assert np.array_equal(positive, (weighted.targets > 0.5) & weighted.verified)
