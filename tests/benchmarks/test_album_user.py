"""The whole-album user benchmark (benchmarks/bench_album_user.py): its scoring and its user."""

from __future__ import annotations

import pytest

from benchmarks.bench_album_user import (
    half_of,
    index_album,
    judge,
    macro_f1,
    new_labels,
    scores,
    shown,
)
from benchmarks.bench_photoset import closed
from benchmarks.photoset import EXTRA_LABELS
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from tests.photoset_photos import fetched_photos


def test_scores_count_tagged_right_and_missed_per_concept() -> None:
    tags = {"a": {"dog", "animal"}, "b": {"animal"}, "c": set(), "d": {"dog"}}
    truth = {"a": {"dog", "animal"}, "b": {"cat", "animal"}, "c": {"dog"}, "d": set()}
    out = scores(tags, truth, ["dog", "animal", "cat", "sky"])
    assert out["dog"] == (2, 2, 0.5, 0.5, 0.5)
    assert out["animal"] == (2, 2, 1.0, 1.0, 1.0)
    assert out["cat"] == (1, 0, 0.0, 0.0, 0.0)
    assert "sky" not in out  # no photo has it: not scored
    assert macro_f1([out["dog"], out["animal"]]) == pytest.approx(0.75)


def test_halves_are_fixed_by_name_and_both_used() -> None:
    names = [f"photo-{i}.jpg" for i in range(40)]
    assert [half_of(n) for n in names] == [half_of(n) for n in names]
    assert {half_of(n) for n in names} == {0, 1}


def test_new_labels_are_the_extras_the_vocabulary_cannot_name() -> None:
    fresh = new_labels()
    assert fresh < set(EXTRA_LABELS)
    assert "cloud" not in fresh  # an alias of sky
    assert "grass" in fresh


def test_the_thorough_user_confirms_every_true_label_and_rejects_every_wrong_one(tmp_path) -> None:
    photos = fetched_photos(6)[:6]
    summary = index_album(photos, tmp_path / "album")
    assert summary.errors == 0
    with Library(tmp_path / "album") as library:
        names = [p.path.name for p in photos]
        before = shown(library, names)
        confirmed, rejected = judge(library, photos)
        assert confirmed >= sum(len(p.labels) for p in photos)
        wrong = 0
        for photo in photos:
            verdicts = {t.label: t.verdict for t in library.tags(library.photo(photo.path.name))}
            truth = closed(photo.labels, library.vocabulary)
            own = {library.vocabulary.resolve(label) for label in photo.labels}
            assert all(verdicts.get(name) == CONFIRMED for name in own)
            for label in before[photo.path.name] - truth:
                assert verdicts.get(label) == REJECTED, (photo.id, label)
                wrong += 1
        assert rejected >= wrong
