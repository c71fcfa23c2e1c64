"""Rejections alone never spread a label (trainer.album.residual: grew_by_rejections, no_wider).

A fit that cannot tell a label's photos from the ones the user rejected moves its confirmed
photos' out-of-fold scores down with each rejection, and the threshold followed them: reviewing
a label's wrong tags and training again could tag more photos than before.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.photoset_photos import fetched_photos
from trainer.album.residual import CEILING, grew_by_rejections, no_wider, verdict_counts


def test_no_wider_raises_the_threshold_until_no_more_photos_are_tagged() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    before = np.zeros(10, dtype=bool)
    before[:3] = True  # three photos were tagged
    ones = np.ones(10)
    assert no_wider(scores, 0.15, before, ones) == pytest.approx(0.61)  # 0.9, 0.8, 0.7
    assert no_wider(scores, 0.75, before, ones) == pytest.approx(0.75)  # already narrower
    # a sampled row stands for several photos: 3 rows of weight 2 are 6 photos
    weight = np.full(10, 2.0)
    assert no_wider(scores, 0.15, before, weight) == pytest.approx(0.61)
    # nothing was tagged and every photo scores high: nothing may be now
    assert no_wider(np.full(10, 0.995), 0.3, np.zeros(10, dtype=bool), ones) == CEILING


def test_only_labels_whose_verdicts_grew_by_rejections_alone_are_held() -> None:
    names = ["house", "people", "sky", "fog"]
    targets = np.zeros((6, 4), dtype=np.float32)
    verified = np.zeros((6, 4), dtype=bool)
    targets[:2] = 1.0
    verified[:4] = True  # each label: 2 confirmed, 2 rejected now
    report = [
        {"label": "house", "confirmed": 2, "rejected": 1},  # one more rejection: held
        {"label": "people", "confirmed": 1, "rejected": 1},  # a confirmation too: free
        {"label": "sky", "confirmed": 2, "rejected": 2},  # nothing new: free
    ]  # fog was not trained before: free
    by_label = {row["label"]: row for row in report}

    def held(reported: dict) -> set[str]:
        return {
            name
            for j, name in enumerate(names)
            if grew_by_rejections(
                reported.get(name), *verdict_counts(targets[:, j], verified[:, j])
            )
        }

    assert held(by_label) == {"house"}
    assert held({}) == set()


def test_reviewing_the_labels_the_report_names_never_makes_them_tag_more(tmp_path) -> None:
    """The real stack on real photos: a thorough user judges half of 80 photos, trains, rejects
    the wrong new tags of the labels the report names on that half, and trains again."""
    from benchmarks.bench_album_user import half_of, index_album, judge, review
    from core.library import Library
    from core.training_events import doubtful_labels
    from trainer.album.run import TrainOptions
    from trainer.album.teach import Teacher
    from trainer.album.train import train

    photos = [p for p in fetched_photos(80) if p.split == "dev"][:80]
    album = tmp_path / "album"
    index_album(photos, album)
    mine = [p for p in photos if half_of(p.path.name) == 0]
    with Library(album) as library:
        judge(library, mine)
    first = train(album, TrainOptions(force=True))
    named = [str(row["label"]) for row in doubtful_labels(first.labels)]
    with Library(album) as library:
        given = review(library, mine, named)
        # teach mode's live refit holds them the same way before any retrain
        then = {row["label"]: row for row in first.labels}
        taught = 0
        for name in named:
            fit = Teacher(library, name).refit()
            if fit.rejected > then[name]["rejected"] and fit.confirmed <= then[name]["confirmed"]:
                assert fit.likely <= then[name]["tagged_after"], (name, fit)
                taught += 1
        assert taught
    second = train(album, TrainOptions(force=True))
    rows = {row["label"]: row for row in second.labels}
    held = [
        name
        for name in named
        if rows[name]["rejected"] > next(r for r in first.labels if r["label"] == name)["rejected"]
        and rows[name]["confirmed"]
        <= next(r for r in first.labels if r["label"] == name)["confirmed"]
    ]
    assert given and held, "the review gave no rejections: the check would prove nothing"
    for name in held:
        assert rows[name]["tagged_after"] <= rows[name]["tagged_before"], rows[name]
