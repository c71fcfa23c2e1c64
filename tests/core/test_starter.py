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
from core.model.starter import load_starter, starter_path
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
