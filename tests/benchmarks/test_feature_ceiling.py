"""The feature-ceiling benchmark's oracle F1 and its logistic probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.bench_feature_ceiling import best_f1, probe
from benchmarks.bench_patch_prototypes import ap


def test_best_f1_is_the_best_cut() -> None:
    truth = np.array([True, False, True, False])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    # cuts after 1, 2, 3, 4 photos: F1 0.667, 0.5, 0.8, 0.667
    assert best_f1(truth, scores) == pytest.approx(0.8)


def test_probe_separates_what_one_direction_separates() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    y = x[:, 3] > 0.8  # a rare class along one feature
    weight = probe(torch.from_numpy(x), y)
    scores = (torch.from_numpy(x) @ weight[:-1] + weight[-1]).numpy()
    assert ap(y, scores) > 0.95
    assert int(np.argmax(np.abs(weight[:-1].numpy()))) == 3
