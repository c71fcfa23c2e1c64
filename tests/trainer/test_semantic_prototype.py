"""Confirm-only prototypes on pooled + semantic features, as the trainer fits and the head serves.

The semantic half (square roots of the backbone's ImageNet probabilities, centred and normalised)
is kept by the trainer as coordinates in the album's principal directions; the served head reads
the full 1,000 numbers. These tests run the real default backbone's classifier on synthetic
pooled features and check that the two agree, that a head file keeps them, and that a head
written before the semantic weight existed still loads and scores as before.
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
    ResidualConfig,
    fit_residual,
    normalised_features,
    score,
    semantic_features,
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


def test_semantic_coordinates_are_the_full_features_seen_through_the_basis(backbone_prior):
    backbone, _ = backbone_prior
    x, _ = _pooled(700, backbone.feature_dim)
    pooled = torch.from_numpy(x)
    q = semantic(backbone, pooled)
    assert q.shape == (700, backbone.num_classes)
    assert torch.allclose((q * q).sum(dim=1), torch.ones(700), atol=1e-4)  # sqrt of probabilities
    sem = semantic_features(lambda rows: semantic(backbone, pooled[rows]), 700, dims=64)
    assert sem.coords.shape == (700, 64) and sem.basis.shape == (backbone.num_classes, 64)
    assert torch.allclose(sem.basis.T @ sem.basis, torch.eye(64), atol=1e-4)
    # any direction in the coordinates is a weight on the full features with the same scores
    p = np.random.default_rng(1).normal(size=64).astype(np.float32)
    full = normalise(q, sem.mean) @ torch.from_numpy(sem.weight_of(p))
    assert torch.allclose(full, sem.coords @ torch.from_numpy(p), atol=1e-4)
    with pytest.raises(ValueError, match="at least one photo"):
        semantic_features(lambda rows: q[rows], 0)


def test_the_head_serves_a_semantic_prototype_as_the_trainer_scored_it(backbone_prior, tmp_path):
    backbone, prior = backbone_prior
    n = 600
    x, cluster = _pooled(n, backbone.feature_dim, seed=2)
    pooled = torch.from_numpy(x)
    mean, u = normalised_features(x)
    sem = semantic_features(lambda rows: semantic(backbone, pooled[rows]), n)
    chosen = np.flatnonzero(cluster == 3)[:5]
    verified = np.zeros((n, 1), dtype=bool)
    targets = np.zeros((n, 1), dtype=np.float32)
    verified[chosen, 0], targets[chosen, 0] = True, 1.0
    zeros = np.zeros((n, 1), np.float32)
    fitted = fit_residual(u, zeros, np.array([False]), targets, verified, semantic=sem)
    assert fitted.semantic_weight is not None and np.abs(fitted.semantic_weight).sum() > 0
    trainer_scores = score(
        u, zeros, np.array([False]), fitted.weight, fitted.bias, sem, fitted.semantic_weight
    )[:, 0]
    # unjudged photos: the served score is the out-of-sample score the threshold was read on
    unjudged = ~fitted.problem.verified[:, 0]
    assert np.allclose(
        trainer_scores[fitted.problem.rows[unjudged]], fitted.oof[unjudged, 0], atol=1e-5
    )
    # the semantic half moves the scores: without it they differ
    plain = score(u, zeros, np.array([False]), fitted.weight, fitted.bias)[:, 0]
    assert np.abs(plain - trainer_scores).max() > 0.01

    label = "my own label"
    names = [*prior.label_names, label]
    count = len(names)
    weight = torch.zeros(count, backbone.feature_dim)
    weight[-1] = torch.from_numpy(fitted.weight[0])
    bias = torch.zeros(count)
    bias[-1] = float(fitted.bias[0])
    semantic_weight = torch.zeros(count, backbone.num_classes)
    semantic_weight[-1] = torch.from_numpy(fitted.semantic_weight[0])
    alpha = torch.tensor([1.0] * (count - 1) + [0.0])
    head = ResidualHead(
        names, prior, weight, bias, alpha, mean, backbone.id, semantic_weight, sem.mean
    )
    served = head.scores(backbone, pooled).numpy()
    assert np.allclose(served[:, -1], trainer_scores, atol=1e-4)
    # labels nobody taught keep the prior's score (clamped to [EPS, 1 - EPS] for the logit)
    expected = np.clip(prior.scores(backbone, pooled).numpy(), EPS, 1 - EPS)
    assert np.allclose(served[:, :-1], expected, atol=1e-5)

    path = tmp_path / "head.safetensors"
    head.save(path)
    loaded = ResidualHead.load(path, prior)
    assert loaded.semantic_weight is not None
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
    with pytest.raises(ModelLoadError, match="semantic_weight with semantic_mean"):
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


def test_prototypes_without_semantic_features_are_unchanged():
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
    assert fitted.semantic_weight is None
    direction = u[:4].sum(dim=0).numpy()
    cosine = (
        fitted.weight[0]
        @ direction
        / (np.linalg.norm(fitted.weight[0]) * np.linalg.norm(direction))
    )
    assert cosine > 0.999
