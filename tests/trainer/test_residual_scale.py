"""The residual run on a sampled large album: which labels it fits, and album-wide estimates
from rows that stand for many photos (``trainer.album.residual``)."""

from __future__ import annotations

import numpy as np
import torch

from core.model.terms import normalise
from trainer.album.residual import _count, album_normalised, learnable
from trainer.album.targets import LabelTree, Targets, TrainingData


def _data(features: np.ndarray, row_weight: np.ndarray | None) -> TrainingData:
    n = len(features)
    tree = LabelTree(("a",), np.array([1]), np.array([-1]), np.array([0.5]))
    empty = np.zeros((n, 1), dtype=bool)
    targets = Targets(np.zeros((n, 1), np.float32), np.ones((n, 1), np.float32), empty, empty)
    return TrainingData(
        "fake@1",
        np.arange(n),
        features,
        tree,
        targets,
        empty,
        np.zeros((n, 1), np.float32),
        np.array([0.5]),
        0,
        0,
        row_weight,
    )


def test_a_label_the_prior_cannot_see_needs_a_confirmation_to_be_fitted():
    verified = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
    targets = np.array([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    has_prior = np.array([True, True, False, False])
    # column 0: prior, a positive; 1: prior, rejections only (the fit pushes it down where
    # rejected); 2: no prior, rejections only (silence agrees: not fitted); 3: nobody spoke
    assert learnable(verified, targets, has_prior).tolist() == [True, True, False, False]
    targets[0, 2] = 1
    assert learnable(verified, targets, has_prior).tolist() == [True, True, True, False]


def test_sampled_rows_weigh_the_album_mean_by_the_photos_they_stand_for():
    rng = np.random.default_rng(3)
    album = rng.random((1000, 6)).astype(np.float32) + np.arange(6, dtype=np.float32)
    judged = album[:10]
    sample = album[10:][rng.choice(990, 99, replace=False)]
    rows = np.concatenate([judged, sample])
    weight = np.concatenate([np.ones(10), np.full(99, 990 / 99)])
    mean, u = album_normalised(_data(rows, weight), 6)
    expected = (judged.sum(axis=0) + sample.sum(axis=0) * 990 / 99) / 1000
    assert np.allclose(mean.numpy(), expected, atol=1e-5)
    assert abs(float(mean.sum()) - float(album.mean(axis=0).sum())) < 0.05  # near the album's
    assert torch.allclose(u, normalise(torch.from_numpy(rows), mean))
    plain_mean, _ = album_normalised(_data(rows, None), 6)  # every photo a row: plain mean
    assert np.allclose(plain_mean.numpy(), rows.mean(axis=0), atol=1e-6)


def test_tagged_counts_scale_sampled_rows_to_the_album():
    weight = np.array([1.0, 1.0, 50.0, 50.0])
    assert _count(weight, np.array([True, False, True, False])) == 51
    assert _count(np.ones(3), np.array([True, True, False])) == 2


def test_the_residual_run_samples_unless_told_how_many_rows():
    from trainer.album.residual import UNLABELLED_ROWS, sampled
    from trainer.album.targets import TargetConfig

    assert TargetConfig().unlabelled_rows is None  # other runs read every photo
    assert sampled(TargetConfig()).unlabelled_rows == UNLABELLED_ROWS
    assert sampled(TargetConfig(unlabelled_rows=50)).unlabelled_rows == 50
