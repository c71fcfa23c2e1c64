"""Confirm-only prototypes on their parts (pooled, semantic, appearance), as trained and served.

A prototype reads the square roots of the pooled features (centred, normalised), the square
roots of the backbone's ImageNet probabilities (centred, normalised; the trainer keeps them as
coordinates in the album's principal directions while the served head reads the full 1,000
numbers) and the appearance descriptor's three parts. These tests run the real default
backbone's classifier on synthetic descriptors and check that trainer and head agree, that a
head file keeps every part, and that a head written before the parts existed still loads.
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
from core.model.residual import EPS, ResidualHead
from core.model.tagger import Backbone, PriorHead, Tagger
from core.model.terms import PARTS, normalise, semantic
from core.model.versions import prior_label_names
from trainer.album.residual import descriptor_prototype_features
from trainer.learning.residual_fit import (
    SHARES,
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


def _descriptors(tagger: Tagger, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors of ``tagger``'s layout (pooled, appearance, then patches) drawn around 8
    clusters."""
    backbone, appearance = tagger.backbone, tagger.appearance
    assert appearance is not None and tagger.regions is None
    pooled, cluster = _pooled(n, backbone.feature_dim, seed)
    rng = np.random.default_rng(seed + 100)
    colour = rng.dirichlet(np.full(appearance.widths["colour"], 0.2), size=8)[cluster]
    layout = rng.normal(50, 20, size=(8, appearance.widths["layout"]))[cluster]
    layout = layout + rng.normal(0, 5, size=layout.shape)
    middle, _ = _pooled(n, appearance.widths["middle"], seed + 7)
    look = np.concatenate([colour, layout, middle], axis=1).astype(np.float32)
    assert tagger.patches is not None
    patches, _ = _pooled(n, tagger.patches.width, seed + 13)
    # four positions carry a pattern of the photo's cluster
    pattern = rng.gamma(1.0, 1.0, size=(8, tagger.patches.middle_dim)).astype(np.float32)
    positions = patches.reshape(n, tagger.patches.positions, tagger.patches.middle_dim)
    positions[:, :4] += 3.0 * pattern[cluster][:, None, :]
    return np.concatenate([pooled, look, patches], axis=1), cluster


@pytest.fixture(scope="module")
def tagger(backbone_prior) -> Tagger:
    backbone, prior = backbone_prior
    return Tagger(backbone, prior)


def test_prototype_features_are_the_full_features_seen_through_the_basis(tagger):
    backbone = tagger.backbone
    assert tagger.appearance is not None
    assert tagger.patches is not None
    assert tagger.feature_dim == (
        backbone.feature_dim + tagger.appearance.width + tagger.patches.width
    )
    d, _ = _descriptors(tagger, 700)
    pooled = torch.from_numpy(d[:, : backbone.feature_dim])
    q = semantic(backbone, pooled)
    assert q.shape == (700, backbone.num_classes)
    assert torch.allclose((q * q).sum(dim=1), torch.ones(700), atol=1e-4)  # sqrt of probabilities
    f = descriptor_prototype_features(d, tagger)
    assert [p.name for p in f.parts] == list(PARTS)
    part = {p.name: p for p in f.parts}
    sem = part["semantic"]
    assert sem.basis is not None and sem.basis.shape[0] == backbone.num_classes
    dims = sem.basis.shape[1]
    assert torch.allclose(sem.basis.T @ sem.basis, torch.eye(dims), atol=1e-4)
    assert torch.allclose(part["power"].values, normalise(pooled.sqrt(), pooled.sqrt().mean(0)))
    slices = tagger.appearance.slices(tagger.appearance_start)
    layout = torch.from_numpy(d[:, slices["layout"]])
    assert part["layout"].scale is not None  # divided by its spread, then centred
    assert torch.allclose(part["layout"].scale, layout.std(dim=0, correction=0), rtol=1e-4)
    colour = torch.from_numpy(d[:, slices["colour"]]).sqrt()
    assert torch.allclose(part["colour"].values, normalise(colour, colour.mean(0)), atol=1e-5)
    # any direction on the prototype's feature is weights on each part's full features
    width = sum(p.values.shape[1] for p in f.parts)
    direction = np.random.default_rng(1).normal(size=width).astype(np.float32)
    on = f.split(direction)
    terms = f.terms({k: v[None, :] for k, v in on.items()})
    x = torch.from_numpy(d)
    full = sum(
        terms.features(name, backbone, x, tagger.appearance_start) @ torch.from_numpy(on[name])
        for name in PARTS
    )
    rows = f.rows(np.arange(700))
    assert torch.allclose(full, rows @ torch.from_numpy(direction), atol=1e-4)
    # the parts weigh their shares; the feature is about unit long
    assert rows.shape == (700, width)
    assert float(rows.norm(dim=1).max()) <= 1.0 + 1e-4
    assert SHARES["power"] == max(SHARES.values())
    with pytest.raises(ValueError, match="at least one photo"):
        prototype_features({"power": lambda rows: pooled[rows]}, 0)
    with pytest.raises(ValueError, match="unknown prototype parts"):
        prototype_features({"texture": lambda rows: pooled[rows]}, 700)


def test_the_head_serves_a_prototype_as_the_trainer_scored_it(tagger, tmp_path):
    backbone, prior = tagger.backbone, tagger.head
    assert isinstance(prior, PriorHead)
    n = 600
    d, cluster = _descriptors(tagger, n, seed=2)
    mean, u = normalised_features(d[:, : backbone.feature_dim])
    proto = descriptor_prototype_features(d, tagger)
    chosen = np.flatnonzero(cluster == 3)[:5]
    verified = np.zeros((n, 1), dtype=bool)
    targets = np.zeros((n, 1), dtype=np.float32)
    verified[chosen, 0], targets[chosen, 0] = True, 1.0
    zeros = np.zeros((n, 1), np.float32)
    fitted = fit_residual(u, zeros, np.array([False]), targets, verified, features=proto)
    assert fitted.prototype_weights is not None
    assert set(fitted.prototype_weights) == set(PARTS)
    assert all(np.abs(w).sum() > 0 for w in fitted.prototype_weights.values())
    assert not fitted.weight.any()  # a prototype reads its parts, not u(x)
    assert proto.patches is not None and fitted.patch_weight is not None
    assert np.abs(fitted.patch_weight[0]).sum() > 0  # and its best positions
    extra = fitted.prototype_logits(proto)
    trainer_scores = score(u, zeros, np.array([False]), fitted.weight, fitted.bias, extra)[:, 0]
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
    bias = torch.zeros(count)
    bias[-1] = float(fitted.bias[0])
    every = proto.zero_weights(count)
    for name, w in fitted.prototype_weights.items():
        every[name][-1] = w[0]
    alpha = torch.tensor([1.0] * (count - 1) + [0.0])
    on_patches = np.zeros((count, fitted.patch_weight.shape[1]), np.float32)
    on_patches[-1] = fitted.patch_weight[0]
    head = ResidualHead(
        names,
        prior,
        weight,
        bias,
        alpha,
        mean,
        tagger.feature_key,
        proto.terms(every),
        proto.patches.term(on_patches),
    )
    Tagger(backbone, head)  # the head reads the descriptors the prior's tagger caches
    features = torch.from_numpy(d)
    served = head.scores(backbone, features).numpy()
    assert np.allclose(served[:, -1], trainer_scores, atol=1e-4)
    # labels nobody taught keep the prior's score (clamped to [EPS, 1 - EPS] for the logit)
    expected = np.clip(prior.scores(backbone, features).numpy(), EPS, 1 - EPS)
    assert np.allclose(served[:, :-1], expected, atol=1e-5)

    path = tmp_path / "head.safetensors"
    head.save(path)
    loaded = ResidualHead.load(path, prior)
    assert loaded.prototypes is not None and loaded.prototypes.parts == PARTS
    assert loaded.patches is not None
    assert torch.equal(loaded.patches.weight, head.patches.weight)
    assert loaded.patches.weight[-1].abs().sum() > 0
    assert np.array_equal(loaded.scores(backbone, features).numpy(), served)
    # a head whose prior keeps no appearance cannot read those parts
    plain_prior = PriorHead(prior.label_names, _membership(), regional=False, appearance=False)
    with pytest.raises(ModelLoadError, match=r"appearance|patches"):
        ResidualHead.load(path, plain_prior).check(backbone, tagger.feature_key)
    # a file with half a patch term is refused, not served without it
    tensors = safetensors.torch.load_file(str(path))
    with safetensors.safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
    del tensors["patches_mean"]
    half = tmp_path / "half.safetensors"
    safetensors.torch.save_file(tensors, str(half), metadata)
    with pytest.raises(ModelLoadError, match="patch term needs both"):
        ResidualHead.load(half, prior)


def _membership() -> np.ndarray:
    vocabulary = Vocabulary.load()
    return vocabulary.imagenet_membership(prior_label_names(vocabulary))


def test_a_head_of_the_pooled_and_semantic_parts_alone_loads_and_a_half_one_is_refused(
    backbone_prior, tmp_path: Path
):
    """A head file written before the appearance parts (power and semantic weights and means)
    loads and scores; an entry without its mean, or no part's, is refused."""
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
    assert head.prototypes is None
    x, _ = _pooled(20, dim, seed=3)
    features = torch.from_numpy(x)
    expected = prior.scores(backbone, features).clamp(EPS, 1 - EPS)
    assert torch.allclose(head.scores(backbone, features), expected, atol=1e-6)
    rng = np.random.default_rng(4)
    two = {
        "power_weight": torch.zeros(count, dim),
        "power_mean": torch.from_numpy(rng.uniform(0, 1, dim).astype(np.float32)),
        "semantic_weight": torch.zeros(count, 1000),
        "semantic_mean": torch.full((1000,), 0.03),
    }
    two["power_weight"][0, :5] = 1.0
    earlier = tmp_path / "earlier.safetensors"
    earlier.write_bytes(safetensors.torch.save({**plain, **two}, meta))
    head = ResidualHead.load(earlier, prior)
    assert head.prototypes is not None and head.prototypes.parts == ("power", "semantic")
    p = normalise(features.sqrt(), two["power_mean"])
    want = torch.sigmoid(torch.logit(expected[:, 0]) + p[:, :5].sum(dim=1))
    assert torch.allclose(head.scores(backbone, features)[:, 0], want, atol=1e-5)
    half = tmp_path / "half.safetensors"
    half.write_bytes(
        safetensors.torch.save({**plain, "semantic_weight": torch.zeros(count, 1000)}, meta)
    )
    with pytest.raises(ModelLoadError, match="each with weights and a mean"):
        ResidualHead.load(half, prior)
    odd = tmp_path / "odd.safetensors"
    odd.write_bytes(
        safetensors.torch.save({**plain, "texture_weight": torch.zeros(count, 3)}, meta)
    )
    with pytest.raises(ModelLoadError, match="unknown entry"):
        ResidualHead.load(odd, prior)


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
    assert fitted.prototype_weights is None
    direction = u[:4].sum(dim=0).numpy()
    cosine = (
        fitted.weight[0]
        @ direction
        / (np.linalg.norm(fitted.weight[0]) * np.linalg.norm(direction))
    )
    assert cosine > 0.999


def test_descriptors_read_a_chunk_at_a_time_give_the_same_prototype_features(tagger, monkeypatch):
    import trainer.album.residual as residual

    d, _ = _descriptors(tagger, 300)
    whole = descriptor_prototype_features(d.astype(np.float16), tagger)
    monkeypatch.setattr(residual, "DESCRIPTOR_CHUNK", 7)  # 43 chunks, the last one short
    chunked = descriptor_prototype_features(d.astype(np.float16), tagger)
    for a, b in zip(whole.parts, chunked.parts, strict=True):
        # the classifier's matrix products round alike only up to their blocking, and the
        # semantic part's minor principal directions carry that rounding (1e-4 here)
        tolerance = 5e-4 if a.name == "semantic" else 1e-5
        assert a.name == b.name and torch.allclose(a.values, b.values, atol=tolerance)
    assert whole.patches is not None and chunked.patches is not None
    assert torch.equal(whole.patches.coords, chunked.patches.coords)
