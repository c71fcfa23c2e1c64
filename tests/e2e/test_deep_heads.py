"""The fine-tuning head through the trainer's registry: real photos decoded again with the
backbone's own preprocessing, the whole network trained, the version kept and never served."""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors

from core.errors import ModelVersionError
from core.library import Library
from core.model.versions import activate
from tests.mimi_album import build_indexed_album
from trainer.album.train import HEADS, TrainOptions, train

pytestmark = pytest.mark.slow

CONFIRM = ["home/chelsea.png", "pets/mimi_face.jpg", "pets/mimi_mirror.jpg"]
REJECT = ["imagenet/imagenet_00_243.jpg", "imagenet/imagenet_16_251.jpg", "home/astronaut.png"]


def test_a_finetuned_network_is_saved_for_comparison_and_never_served(
    tmp_path: Path, real_photo_paths: dict[str, Path]
):
    album = build_indexed_album(tmp_path / "album", real_photo_paths)
    with Library(album) as library:
        library.create_label("Mimi")
        library.set_verdicts([library.photo(p) for p in CONFIRM], confirm=["Mimi"])
        library.set_verdicts([library.photo(p) for p in REJECT], reject=["Mimi"])
        before = library.store.active_model().version
    events: list[str] = []
    outcome = train(
        album,
        TrainOptions(head="finetune", epochs=1, folds=2, batch_size=16),
        lambda phase, done, total: events.append(phase),
    )
    assert not HEADS["finetune"].servable
    assert not outcome.activated and "prior, linear and residual heads only" in outcome.reason
    assert list(dict.fromkeys(events)) == [
        "loading",
        "training",
        "thresholds",
        "evaluating",
        "saving",
    ]
    with Library(album) as library:
        row = library.store.models()[-1]
        assert row.version == outcome.version and row.metrics["head"] == "finetune"
        assert row.head_file == f"models/v{row.version}.finetune.safetensors"
        with safetensors.safe_open(str(library.data_dir / row.head_file), "pt") as saved:
            assert saved.metadata()["head"] == "finetune"
            assert "inner.linear.weight" in set(saved.keys())
        with pytest.raises(ModelVersionError, match="finetune head"):
            activate(library.store, library.data_dir, row.version)
        assert library.store.active_model().version == before
