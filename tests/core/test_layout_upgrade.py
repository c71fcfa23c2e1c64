"""An album indexed by an older version of the app (another descriptor layout) is brought up to
date by one ``index``: its photos are described again, verdicts kept, and it can be trained."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import core.model.tagger as tagger_module
import core.model.versions as versions
from core.library import Library
from core.model.tagger import PriorHead


class _OldPrior(PriorHead):
    """The prior head as the app built it before the appearance descriptor (and a starter)."""

    def __init__(self, *args, starter=None, appearance=True, **kwargs):
        super().__init__(*args, starter=None, appearance=False, **kwargs)


@pytest.mark.slow
def test_one_index_brings_an_old_album_up_to_date(
    tmp_path: Path, real_photo_paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    album = tmp_path / "album"
    album.mkdir()
    for name in ("chelsea", "coffee", "astronaut"):
        shutil.copy2(real_photo_paths[name], album / real_photo_paths[name].name)
    with monkeypatch.context() as old:
        old.setattr(tagger_module, "PriorHead", _OldPrior)
        old.setattr(versions, "model_stamp", lambda: "an older app")
        with Library(album) as library:
            assert library.indexer().run().tagged == 3
            key = library.model().backbone_id
            assert "+look-" not in key  # the old layout
            cat = library.photo("chelsea.png")
            library.set_verdicts([cat], confirm=["cat"])
    with Library(album) as library:
        summary = library.indexer().run()  # the upgraded app's first index
        assert summary.tagged == 3 and summary.errors == 0
        model = library.model()
        assert "+look-" in model.backbone_id and model.backbone_id != key
        ids, blobs = library.store.features(
            model.backbone_id, [p.id for p in library.store.photos()]
        )
        assert len(ids) == 3
        width = np.frombuffer(blobs[0], dtype="<f2").size
        assert width == model.tagger.feature_dim
        cat = library.photo("chelsea.png")
        assert any(v.label == "cat" and v.verdict == 1 for v in library.tags(cat))  # kept
    with Library(album) as library:
        indexer = library.indexer()
        again = indexer.run()
        assert again.tagged == 0 and indexer._model is None  # up to date: torch not loaded
    from trainer.album.train import TrainOptions, train

    outcome = train(album, TrainOptions(force=True))
    assert outcome.version is not None
