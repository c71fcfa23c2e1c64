"""A confirm-only prototype's patch term (``core.model.patches``), fitted on synthetic albums.

What is asserted: a label that lives in part of the frame (the whole-photo features miss it)
is found through the photos' best positions; positions that say nothing about a label get
little or no weight, so they do not spoil what the whole-photo features find; and the scores
the trainer reads its threshold from are what the fit serves (``Fitted.prototype_logits``).
"""

from __future__ import annotations

import numpy as np
import torch

from trainer.learning.metrics import average_precision
from trainer.learning.residual_fit import (
    fit_residual,
    normalised_features,
    patch_source,
    prototype_features,
    score,
)

N, POSITIONS, CHANNELS, DIM = 600, 16, 32, 48


def _album(seed: int, *, pattern_in_patches: bool, pattern_in_pooled: bool):
    """Photos, a tenth of which are of the label: in their pooled features (a shared
    direction) and/or at a quarter of their positions, a different quarter in each photo
    (a shared pattern)."""
    rng = np.random.default_rng(seed)
    label = rng.random(N) < 0.1
    pooled = rng.gamma(1.0, 1.0, size=(N, DIM)).astype(np.float32)
    if pattern_in_pooled:
        pooled[label] += 3.0 * rng.gamma(1.0, 1.0, size=DIM).astype(np.float32)
    raw = rng.gamma(1.0, 1.0, size=(N, POSITIONS, CHANNELS)).astype(np.float32)
    if pattern_in_patches:
        pattern = 6.0 * rng.gamma(1.0, 1.0, size=CHANNELS).astype(np.float32)
        for photo in np.flatnonzero(label):
            raw[photo, rng.choice(POSITIONS, POSITIONS // 4, replace=False)] += pattern
    return label, pooled, torch.from_numpy(raw)


def _fit(label, pooled, raw, with_patches: bool, seed: int = 0):
    _, u = normalised_features(pooled)
    x = torch.from_numpy(pooled)
    proto = prototype_features({"power": lambda rows: x[torch.from_numpy(rows)].sqrt()}, N)
    if with_patches:
        source = patch_source(lambda rows: raw[torch.from_numpy(rows)], N, dims=CHANNELS)
        proto = type(proto)(proto.parts, source)
    chosen = np.random.default_rng(seed).choice(np.flatnonzero(label), 5, replace=False)
    verified = np.zeros((N, 1), dtype=bool)
    verified[chosen, 0] = True
    no_prior = np.zeros((N, 1), np.float32), np.array([False])
    fitted = fit_residual(u, *no_prior, verified.astype(np.float32), verified, features=proto)
    served = score(u, *no_prior, fitted.weight, fitted.bias, fitted.prototype_logits(proto))
    unseen = np.ones(N, dtype=bool)
    unseen[chosen] = False
    ap = float(average_precision(label[unseen, None], served[unseen])[0])
    return fitted, served[:, 0], ap


def test_a_label_in_part_of_the_frame_is_found_by_its_best_positions():
    for seed in range(3):
        label, pooled, raw = _album(seed, pattern_in_patches=True, pattern_in_pooled=False)
        _, _, without = _fit(label, pooled, raw, with_patches=False, seed=seed)
        fitted, served, with_patches = _fit(label, pooled, raw, with_patches=True, seed=seed)
        assert fitted.patch_weight is not None and np.abs(fitted.patch_weight).sum() > 0
        assert without < 0.4  # the whole-photo features hardly see it
        assert with_patches > 0.8
        # the photos the threshold was read on score as the fit serves them
        rows = fitted.problem.rows
        unjudged = ~fitted.problem.verified[:, 0]
        assert np.allclose(served[rows[unjudged]], fitted.oof[unjudged, 0], atol=1e-5)
        tagged = served >= fitted.thresholds[0]
        assert tagged[label].mean() > 0.5 and tagged[~label].mean() < 0.05


def test_positions_that_say_nothing_weigh_little_and_spoil_nothing():
    for seed in range(3):
        label, pooled, raw = _album(seed, pattern_in_patches=False, pattern_in_pooled=True)
        _, _, without = _fit(label, pooled, raw, with_patches=False, seed=seed)
        fitted, _, with_patches = _fit(label, pooled, raw, with_patches=True, seed=seed)
        assert fitted.patch_weight is not None
        on_patches = float(np.linalg.norm(fitted.patch_weight[0]))
        on_whole = sum(float(np.linalg.norm(w[0])) for w in fitted.prototype_weights.values())
        assert on_patches < 0.5 * on_whole
        assert with_patches > without - 0.03
