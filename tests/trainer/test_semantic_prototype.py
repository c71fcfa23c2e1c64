"""Confirm-only prototypes on power-normalised + semantic features, as trained and as served.

A prototype reads the square roots of the pooled features (centred, normalised) beside the square
roots of the backbone's ImageNet probabilities (centred, normalised), which the trainer keeps as
coordinates in the album's principal directions while the served head reads the full 1,000
numbers. These tests run the real default backbone's classifier on synthetic pooled features and
check that the two agree, that a head file keeps them, and that a head written before these
weights existed still loads and scores as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from core.errors import ModelLoadError
from core.labels.vocabulary import Vocabulary
from core.model.heads import RESIDUAL_HEAD_FORMAT
from core.model.residual import EPS, ResidualHead, normalise, semantic
from core.model.tagger import Backbone, PriorHead
from core.model.versions import prior_label_names
from trainer.learning.residual_fit import (
    SEMANTIC_SHARE,
    ResidualConfig,
    fit_residual,
    normalised_features,
    prototype_features,
    score,
)


@pytest.fixture(scope="module")
def backbone_prior() -> tuple[Backbone, PriorHead]:
    backbone = Backbone.load(device="cpu")
    vocabulary = Vocabulary.load()
    names = prior_label_names(vocabulary)
    prior = PriorHead(names, vocabulary.imagenet_membership(names), regional=False)
    return backbone, prior


def _pooled(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pooled-like features (non-negative) around 8 cluster centres, and the clusters."""
    rng = np.random.default_rng(seed)
    centres = rng.gamma(1.0, 0.6, size=(8, dim)).astype(np.float32)
    cluster = rng.integers(0, 8, size=n)
    noise = rng.gamma(1.0, 0.3, size=(n, dim)).astype(np.float32)
    return (centres[cluster] + noise).astype(np.float32), cluster


def test_prototype_features_are_the_full_features_seen_through_the_basis(backbone_prior):
    backbone, _ = backbone_prior
    x, _ = _pooled(700, backbone.feature_dim)
    pooled = torch.from_numpy(x)
    q = semantic(backbone, pooled)
    assert q.shape == (700, backbone.num_classes)
    assert torch.allclose((q * q).sum(dim=1), torch.ones(700), atol=1e-4)  # sqrt of probabilities
    f = prototype_features(pooled, lambda rows: semantic(backbone, pooled[rows]), dims=64)
    assert f.coords.shape == (700, 64) and f.basis.shape == (backbone.num_classes, 64)
    assert torch.allclose(f.basis.T @ f.basis, torch.eye(64), atol=1e-4)
    assert torch.allclose(f.power, normalise(pooled.sqrt(), pooled.sqrt().mean(dim=0)))
    # any direction on the prototype's feature is weights on the full features, same scores
    direction = np.random.default_rng(1).normal(size=backbone.feature_dim + 64)
    on_power, on_semantic = f.split(direction.astype(np.float32))
    full = f.power @ torch.from_numpy(on_power) + normalise(q, f.semantic_mean) @ torch.from_numpy(
        on_semantic
    )
    rows = f.rows(np.arange(700))
    assert torch.allclose(full, rows @ torch.from_numpy(direction.astype(np.float32)), atol=1e-4)
    # the semantic half weighs SEMANTIC_SHARE of the power half; the feature is about unit long
    assert rows.shape == (700, backbone.feature_dim + 64)
    assert float(rows.norm(dim=1).max()) <= 1.0 + 1e-4
    assert 0 < SEMANTIC_SHARE < 1
    with pytest.raises(ValueError, match="at least one photo"):
        prototype_features(pooled[:0], lambda rows: q[rows])


def test_the_head_serves_a_semantic_prototype_as_the_trainer_scored_it(backbone_prior, tmp_path):
    backbone, prior = backbone_prior
    n = 600
    x, cluster = _pooled(n, backbone.feature_dim, seed=2)
    pooled = torch.from_numpy(x)
    mean, u = normalised_features(x)
    proto = prototype_features(pooled, lambda rows: semantic(backbone, pooled[rows]))
    chosen = np.flatnonzero(cluster == 3)[:5]
    verified = np.zeros((n, 1), dtype=bool)
    targets = np.zeros((n, 1), dtype=np.float32)
    verified[chosen, 0], targets[chosen, 0] = True, 1.0
    zeros = np.zeros((n, 1), np.float32)
    fitted = fit_residual(u, zeros, np.array([False]), targets, verified, features=proto)
    assert fitted.semantic_weight is not None and np.abs(fitted.semantic_weight).sum() > 0
    assert fitted.power_weight is not None and np.abs(fitted.power_weight).sum() > 0
    assert not fitted.weight.any()  # a prototype reads p(x) and s(x), not u(x)
    trainer_scores = score(
        u,
        zeros,
        np.array([False]),
        fitted.weight,
        fitted.bias,
        proto,
        fitted.power_weight,
        fitted.semantic_weight,
    )[:, 0]
    # unjudged photos: the served score is the out-of-sample score the threshold was read on
    unjudged = ~fitted.problem.verified[:, 0]
    assert np.allclose(
        trainer_scores[fitted.problem.rows[unjudged]], fitted.oof[unjudged, 0], atol=1e-5
    )
    # its look-alikes score above the others
    unseen = np.ones(n, dtype=bool)
    unseen[chosen] = False
    assert trainer_scores[(cluster == 3) & unseen].mean() > trainer_scores[cluster != 3].max() - 0.2

    label = "my own label"
    names = [*prior.label_names, label]
    count = len(names)
    weight = torch.zeros(count, backbone.feature_dim)
    weight[-1] = torch.from_numpy(fitted.weight[0])
    bias = torch.zeros(count)
    bias[-1] = float(fitted.bias[0])
    power_weight = torch.zeros(count, backbone.feature_dim)
    power_weight[-1] = torch.from_numpy(fitted.power_weight[0])
    semantic_weight = torch.zeros(count, backbone.num_classes)
    semantic_weight[-1] = torch.from_numpy(fitted.semantic_weight[0])
    alpha = torch.tensor([1.0] * (count - 1) + [0.0])
    head = ResidualHead(
        names,
        prior,
        weight,
        bias,
        alpha,
        mean,
        backbone.id,
        power_weight,
        proto.power_mean,
        semantic_weight,
        proto.semantic_mean,
    )
    served = head.scores(backbone, pooled).numpy()
    assert np.allclose(served[:, -1], trainer_scores, atol=1e-4)
    # labels nobody taught keep the prior's score (clamped to [EPS, 1 - EPS] for the logit)
    expected = np.clip(prior.scores(backbone, pooled).numpy(), EPS, 1 - EPS)
    assert np.allclose(served[:, :-1], expected, atol=1e-5)

    path = tmp_path / "head.safetensors"
    head.save(path)
    loaded = ResidualHead.load(path, prior)
    assert loaded.semantic_weight is not None and loaded.power_weight is not None
    assert np.array_equal(loaded.scores(backbone, pooled).numpy(), served)


def test_a_head_without_semantic_weight_loads_and_a_half_one_is_refused(
    backbone_prior, tmp_path: Path
):
    backbone, prior = backbone_prior
    names = list(prior.label_names)
    count, dim = len(names), backbone.feature_dim
    plain = {
        "weight": torch.zeros(count, dim),
        "bias": torch.zeros(count),
        "alpha": torch.ones(count),
        "mean": torch.zeros(dim),
    }
    meta = {
        "format": RESIDUAL_HEAD_FORMAT,
        "labels": json.dumps(names),
        "prior_labels": json.dumps(names),
        "backbone": backbone.id,
    }
    old = tmp_path / "old.safetensors"
    old.write_bytes(safetensors.torch.save(plain, meta))
    head = ResidualHead.load(old, prior)
    assert head.semantic_weight is None
    x, _ = _pooled(20, dim, seed=3)
    features = torch.from_numpy(x)
    expected = prior.scores(backbone, features).clamp(EPS, 1 - EPS)
    assert torch.allclose(head.scores(backbone, features), expected, atol=1e-6)
    half = tmp_path / "half.safetensors"
    half.write_bytes(
        safetensors.torch.save({**plain, "semantic_weight": torch.zeros(count, 1000)}, meta)
    )
    with pytest.raises(ModelLoadError, match="optionally all of"):
        ResidualHead.load(half, prior)
    with pytest.raises(ValueError, match="come together"):
        ResidualHead(
            names,
            prior,
            plain["weight"],
            plain["bias"],
            plain["alpha"],
            plain["mean"],
            backbone.id,
            torch.zeros(count, 1000),
        )


def test_prototypes_without_prototype_features_read_u():
    """Callers that give no semantic features (the starter builder) get the prototype on u."""
    rng = np.random.default_rng(5)
    x = np.maximum(rng.normal(size=(300, 32)), 0).astype(np.float32)
    _, u = normalised_features(x)
    verified = np.zeros((300, 1), dtype=bool)
    verified[:4] = True
    fitted = fit_residual(
        u,
        np.zeros((300, 1), np.float32),
        np.array([False]),
        verified.astype(np.float32),
        verified,
        ResidualConfig(),
    )
    assert fitted.semantic_weight is None and fitted.power_weight is None
    direction = u[:4].sum(dim=0).numpy()
    cosine = (
        fitted.weight[0]
        @ direction
        / (np.linalg.norm(fitted.weight[0]) * np.linalg.norm(direction))
    )
    assert cosine > 0.999
