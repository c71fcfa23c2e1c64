"""Deterministic stand-ins for the model, so engine tests run in milliseconds.

The fake tagger scores an image from its colours: "warm" photos score high on cat, "blue" ones
on beach. Everything around it (store, imaging, indexer, policy) is real.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.db.tagstore import TagStore
from core.model.preprocess import Preprocessing
from core.model.versions import ActiveModel

FAKE_BACKBONE = "fake@1"


@dataclass
class FakeBackbone:
    input_size: int = 64
    crop_pct: float = 1.0
    id: str = FAKE_BACKBONE

    @property
    def preprocessing(self) -> Preprocessing:
        return Preprocessing(self.input_size, self.crop_pct, "bicubic", (0.5,) * 3, (0.5,) * 3)


@dataclass
class FakeTagger:
    """Features = mean RGB and brightness; scores = fixed functions of the features."""

    label_names: tuple[str, ...] = ("animal", "cat", "beach")
    backbone: FakeBackbone = field(default_factory=FakeBackbone)
    batches: list[int] = field(default_factory=list)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert batch.dtype == np.uint8 and batch.ndim == 4 and batch.shape[1] == 3
        self.batches.append(len(batch))
        means = batch.reshape(len(batch), 3, -1).mean(axis=2) / 255.0
        features = np.concatenate([means, means.mean(axis=1, keepdims=True)], axis=1)
        return features.astype(np.float32), self.score_features(features)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        r, b = features[:, 0], features[:, 2]
        cat = np.clip(r - b + 0.5, 0, 1)
        beach = np.clip(b - r + 0.5, 0, 1)
        return np.stack([cat, cat, beach], axis=1).astype(np.float32)


def fake_model(store: TagStore, tagger: FakeTagger | None = None, version: int = 0) -> ActiveModel:
    """An ActiveModel around a fake tagger, registered as the store's active version."""
    tagger = tagger or FakeTagger()
    if not any(m.version == version for m in store.models()):
        store.add_model(version, FAKE_BACKBONE, None, {}, {"kind": "fake"}, activate=True)
    ids = {r.name.lower(): r.id for r in store.labels()}
    return ActiveModel(tagger, tuple(ids[n] for n in tagger.label_names), version, FAKE_BACKBONE)
