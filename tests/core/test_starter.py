"""The starter correction: shipped, safe to lose, and better than the plain prior on photos it
never saw (the labelled set's holdout part)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.bench_photoset import f1_of
from core.labels.vocabulary import Vocabulary
from core.library import Library
from core.model.starter import load_starter, starter_labels, starter_path
from core.model.versions import prior_head, usable_starter
from core.model.weights import DEFAULT_BACKBONE


def test_the_shipped_starter_loads_and_names_vocabulary_labels() -> None:
    starter = load_starter(starter_path())
    assert starter is not None
    vocabulary = Vocabulary.load()
    assert starter.labels and all(name in vocabulary for name in starter.labels)
    assert "sky" in starter.labels  # a label no ImageNet class feeds
    assert starter.backbone.startswith(DEFAULT_BACKBONE + "@")
    assert all(0 < t < 1 for t in starter.thresholds.values())
    assert starter.weight.shape == (len(starter.labels), starter.mean.shape[0])
    assert starter.terms is not None  # format 2: colour, layout and middle terms too


@pytest.mark.parametrize("content", [b"", b"not a safetensors file", b"\x00" * 64])
def test_a_broken_starter_is_ignored(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "starter.safetensors"
    path.write_bytes(content)
    assert load_starter(path) is None
    assert load_starter(tmp_path / "missing.safetensors") is None


@pytest.mark.slow
def test_a_new_album_uses_the_starter_and_its_thresholds(real_album: Path) -> None:
    with Library(real_album) as library:
        model = library.model()
        active = library.store.active_model()
        starter = load_starter(starter_path())
        assert active.metrics["starter"] == starter.digest
        assert active.thresholds["sky"] == pytest.approx(starter.thresholds["sky"])
        assert "sky" in model.tagger.label_names


@pytest.mark.slow
def test_an_album_re_scores_when_the_starter_changes(real_album: Path, monkeypatch) -> None:
    with Library(real_album) as library:
        library.model()
        first = library.store.active_model().version
    monkeypatch.setattr("core.model.versions.load_starter", lambda path: None)
    with Library(real_album) as library:
        library.model()
        active = library.store.active_model()
        assert active.version == first + 1 and active.metrics["starter"] is None


def _holdout():
    from benchmarks.bench_photoset import closed, describe
    from benchmarks.photoset import default_dest, load_photoset

    photos = [p for p in load_photoset(default_dest(), require_files=False) if p.split == "holdout"]
    if not all(p.path.is_file() for p in photos):
        message = "photo set not fetched: run python -m benchmarks.photoset.fetch"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    vocabulary = Vocabulary.load()
    features, tagger = describe([p.path for p in photos])
    return features, tagger, [closed(p.labels, vocabulary) for p in photos], vocabulary


@pytest.mark.slow
def test_the_starter_tags_sky_and_landscape_on_photos_it_never_saw() -> None:
    features, tagger, truth, vocabulary = _holdout()
    starter = usable_starter(vocabulary, tagger.backbone.id)
    assert starter is not None
    head = prior_head(vocabulary, starter)
    with torch.inference_mode():
        scores = head.scores(tagger.backbone, torch.from_numpy(features)).numpy()
        plain = tagger.head.scores(tagger.backbone, torch.from_numpy(features)).numpy()
    for label in ("sky", "landscape"):
        y = np.array([label in t for t in truth])
        after = f1_of(scores[:, head.label_names.index(label)] >= starter.thresholds[label], y)
        if label in tagger.label_names:
            column = plain[:, tagger.label_names.index(label)]
            before = f1_of(column >= vocabulary[label].threshold, y)
        else:
            before = 0.0  # the plain prior has no score for it at all
        assert after >= 0.5 and after > before + 0.1, (label, before, after)


@pytest.mark.slow
def test_the_quality_view_says_which_thresholds_come_from_the_starter(real_album: Path) -> None:
    from core.quality import label_quality

    with Library(real_album) as library:
        library.model()
        sources = {q.name: q.source for q in label_quality(library).labels}
    starter = load_starter(starter_path())
    assert all(sources[name] == "starter" for name in starter.labels)
    assert sources["cat"] == "prior"


def _starter_with_look(backbone, labels=("sky", "landscape")):
    """A small format-2 starter on random weights: u(x) and the appearance parts."""
    from core.model.appearance import Appearance
    from core.model.starter import Starter, digest_of
    from core.model.terms import PrototypeTerms

    rng = np.random.default_rng(0)
    widths = Appearance(backbone.middle_dim).widths
    count, dim = len(labels), backbone.feature_dim
    terms = PrototypeTerms(
        {
            n: torch.from_numpy(rng.normal(0, 1, (count, k)).astype(np.float32))
            for n, k in widths.items()
        },
        {n: torch.from_numpy(rng.uniform(0, 0.1, k).astype(np.float32)) for n, k in widths.items()},
        {"layout": torch.from_numpy(rng.uniform(1, 20, widths["layout"]).astype(np.float32))},
    )
    weight = torch.from_numpy(rng.normal(0, 1, (count, dim)).astype(np.float32))
    bias, alpha = torch.zeros(count), torch.tensor([0.0, 1.0])
    digest = digest_of(weight.numpy(), bias.numpy(), tuple(labels), terms)
    starter = Starter(
        tuple(labels),
        weight,
        bias,
        alpha,
        torch.zeros(dim),
        {"sky": 0.4, "landscape": 0.6},
        backbone.id,
        digest,
        terms,
    )
    return starter, digest_of(weight.numpy(), bias.numpy(), tuple(labels))


def test_a_starter_with_appearance_terms_round_trips_and_applies_them(
    tmp_path: Path, real_photo_paths
) -> None:
    """Format 2: weights on the appearance parts are saved, loaded, change the digest and the
    scores, and are read from the descriptor's appearance part; a format-1 file still loads."""
    from core.media.imaging import decode
    from core.model.starter import save_starter
    from core.model.tagger import Backbone, PriorHead, Tagger
    from core.model.versions import prior_label_names

    backbone = Backbone.load(device="cpu")
    starter, digest_without = _starter_with_look(backbone)
    assert starter.digest != digest_without  # the terms are part of what names it
    path = tmp_path / "starter.safetensors"
    save_starter(path, starter, {})
    loaded = load_starter(path)
    assert loaded is not None and loaded.terms is not None
    assert loaded.terms.parts == ("colour", "layout", "middle") and loaded.digest == starter.digest
    vocabulary = Vocabulary.load()
    names = prior_label_names(vocabulary, loaded)
    membership = vocabulary.imagenet_membership(names)
    with_terms = Tagger(backbone, PriorHead(names, membership, starter=loaded))
    prep = backbone.preprocessing
    crops = np.stack(
        [
            prep.pixels(decode(real_photo_paths[n], min_side=prep.min_side).image)
            for n in ("astronaut", "chelsea", "coffee", "rocket")
        ]
    )
    descriptors, scores = with_terms.run(crops)
    # the same correction by hand: the prior's logit (0 for sky) + w.u + terms on the look
    plain = PriorHead(names, membership)
    x = torch.from_numpy(descriptors)
    base = plain.scores(backbone, x)
    start = with_terms.appearance_start
    for j, label in enumerate(loaded.labels):
        column = names.index(label)
        p = base[:, column].clamp(1e-4, 1 - 1e-4)
        logit = loaded.alpha[j] * torch.log(p / (1 - p)) + float(loaded.bias[j])
        centred = x[:, : backbone.feature_dim] - loaded.mean
        logit = logit + (centred / centred.norm(dim=1, keepdim=True)) @ loaded.weight[j]
        for part in loaded.terms.parts:
            f = loaded.terms.features(part, backbone, x, start)
            logit = logit + f @ loaded.terms.weights[part][j]
        assert np.allclose(scores[:, column], torch.sigmoid(logit).numpy(), atol=1e-4), label
    # a head without the appearance descriptor cannot carry it
    with pytest.raises(ValueError, match="appearance"):
        PriorHead(names, membership, starter=loaded, appearance=False)
    # format 1 (pooled features only) still loads, with no terms
    import safetensors.torch

    old = tmp_path / "old.safetensors"
    tensors = {k: getattr(starter, k).contiguous() for k in ("weight", "bias", "alpha", "mean")}
    meta = {
        "format": "albumtag-starter/1",
        "labels": '["sky", "landscape"]',
        "thresholds": '{"sky": 0.4, "landscape": 0.6}',
        "backbone": backbone.id,
        "digest": digest_without,
    }
    old.write_bytes(safetensors.torch.save(tensors, meta))
    first = load_starter(old)
    assert first is not None and first.terms is None
    # an entry no part owns makes the file unusable, not the album
    odd = tmp_path / "odd.safetensors"
    odd.write_bytes(safetensors.torch.save({**tensors, "texture_weight": torch.zeros(2, 3)}, meta))
    assert load_starter(odd) is None


def test_the_starter_labels_are_read_without_torch(tmp_path: Path) -> None:
    """Which labels the shipped starter corrects (the window's "learns from your examples"
    hint leaves them out) comes from the file's header alone; a missing or broken file names
    none."""
    import subprocess
    import sys

    code = (
        "import sys; from core.model.starter import starter_labels; "
        "names = starter_labels(); assert 'torch' not in sys.modules; print(sorted(names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(sorted(load_starter(starter_path()).labels))
    (tmp_path / "broken.safetensors").write_bytes(b"\xff" * 64)
    assert starter_labels(tmp_path / "broken.safetensors") == frozenset()
    assert starter_labels(tmp_path / "missing.safetensors") == frozenset()
