"""Indexers for the indexing child's ``--indexer`` option in tests (Qt-free, fake model).

``python -m app.indexchild ALBUM --indexer tests.app.child_indexers:fake`` indexes with the
fake tagger of ``tests.fakes``, ``ALBUMTAG_FAKE_DELAY`` seconds per batch of two standing in
for inference time; ``broken`` fails as an indexer that cannot start would.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from core.library import Library
from core.pipeline.indexer import Indexer
from tests.fakes import FakeTagger, fake_model


@dataclass
class SlowTagger(FakeTagger):
    delay: float = 0.0

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        time.sleep(self.delay)  # stands in for inference (torch lets go of the GIL too)
        return super().run(batch)


def fake(library: Library, workers: int | None) -> Indexer:
    tagger = SlowTagger(delay=float(os.environ.get("ALBUMTAG_FAKE_DELAY", "0")))
    return Indexer(
        library.root,
        library.store,
        lambda: fake_model(library.store, tagger),
        library.thumbnails,
        workers=workers,
        batch_size=2,
    )


def broken(library: Library, workers: int | None) -> Indexer:
    raise OSError("no model here")
