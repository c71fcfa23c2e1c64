"""Regional evidence on real photos: a photo with two clear objects gets both (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.labels.vocabulary import Vocabulary
from core.media.imaging import to_model_input
from core.model.tagger import Backbone, PriorHead, Tagger
from core.model.versions import prior_label_names

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    vocabulary = Vocabulary.load()
    names = prior_label_names(vocabulary)
    return Tagger(Backbone.load(), PriorHead(names, vocabulary.imagenet_membership(names)))


def _side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two photos in one frame, each a square half of it."""
    canvas = Image.new("RGB", (448, 224))
    canvas.paste(left.convert("RGB").resize((224, 224)), (0, 0))
    canvas.paste(right.convert("RGB").resize((224, 224)), (224, 0))
    return canvas


def test_two_objects_in_one_photo_are_both_tagged(tagger: Tagger, real_photo_paths) -> None:
    photo = _side_by_side(
        Image.open(real_photo_paths["chelsea"]), Image.open(real_photo_paths["imagenet_06_609"])
    )  # a cat, a jeep
    # the whole frame, not the centre crop, so both halves stay in view
    pixels = np.asarray(photo.resize((224, 224)), dtype=np.uint8).transpose(2, 0, 1)[None]
    pixels = np.ascontiguousarray(pixels)
    features, scores = tagger.run(pixels)
    names = list(tagger.label_names)
    vocabulary = Vocabulary.load()
    on = {n for n, s in zip(names, scores[0], strict=True) if s >= vocabulary[n].threshold}
    assert {"cat", "car"} <= on, sorted(on)
    # the global softmax alone gives the frame to one of them
    pooled = features[:, : tagger.backbone.feature_dim]
    alone = tagger.head.scores(tagger.backbone, torch.from_numpy(pooled)).numpy()[0]
    only = {n for n, s in zip(names, alone, strict=True) if s >= vocabulary[n].threshold}
    assert not {"cat", "car"} <= only, sorted(only)


def test_regional_evidence_is_cached_and_rescoring_matches(
    tagger: Tagger, real_photo_paths
) -> None:
    batch = np.stack(
        [
            to_model_input(Image.open(real_photo_paths[n]).convert("RGB"))
            for n in ("chelsea", "coffee")
        ]
    )
    features, scores = tagger.run(batch)
    start, end = tagger.backbone.feature_dim, tagger.appearance_start
    assert end - start == len(tagger.label_names)  # then the appearance descriptor
    assert ((features[:, start:end] >= 0) & (features[:, start:end] <= 1)).all()
    np.testing.assert_allclose(
        tagger.score_features(features.astype(np.float16)), scores, atol=5e-3
    )


def test_settings_override_the_constants_only_when_given() -> None:
    from core.model import regions

    torch.manual_seed(0)
    classifier = torch.nn.Linear(16, 10)
    membership = np.zeros((10, 3), dtype=np.float32)
    membership[:4, 0] = membership[4:7, 1] = membership[7:, 2] = 1
    region = regions.Regions(["a", "b", "c"], membership)
    fmap = torch.randn(2, 16, 9, 9)
    with torch.inference_mode():
        default = region.evidence(fmap, classifier)
        same = region.evidence(
            fmap,
            classifier,
            temperature=regions.TEMPERATURE,
            top_k=regions.TOP_K,
            grid=regions.GRID,
        )
        other = region.evidence(fmap, classifier, temperature=1.0, top_k=1, grid=0)
    torch.testing.assert_close(default, same)
    assert default.shape == other.shape == (2, 3)
    assert not torch.allclose(default, other)
    # a map larger than GRID is pooled to it; grid=0 keeps every position
    pooled = torch.nn.functional.adaptive_avg_pool2d(fmap, regions.GRID)
    with torch.inference_mode():
        torch.testing.assert_close(default, region.evidence(pooled, classifier))
    evidence = torch.tensor([[0.0, regions.FLOOR, 1.0]])
    torch.testing.assert_close(regions.calibrate(evidence), torch.tensor([[0.0, 0.0, 1.0]]))
    torch.testing.assert_close(regions.calibrate(evidence, 0.0), evidence)
