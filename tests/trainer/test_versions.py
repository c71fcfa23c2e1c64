"""Model versions: atomic writes, champion/challenger, the training lock, rollback targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.errors import ModelVersionError, StoreError
from core.library import Library
from core.model.tagger import LinearHead
from core.versions import find_version, rollback_target, servable
from trainer.album.versions import (
    F1_TOLERANCE,
    TrainingBusyError,
    decide,
    next_version,
    training_lock,
    write_version,
)

BACKBONE = "fake@1"


@pytest.fixture
def library(tmp_path: Path) -> Library:
    album = tmp_path / "album"
    album.mkdir()
    lib = Library(album, tmp_path / "data")
    lib.store.add_model(0, BACKBONE, None, {}, {"kind": "prior"}, activate=True)
    yield lib
    lib.close()


def _head(labels: tuple[str, ...] = ("cat", "dog"), value: float = 0.5) -> LinearHead:
    return LinearHead(labels, torch.full((len(labels), 4), value), torch.zeros(len(labels)),
                      BACKBONE)


def test_decide_keeps_a_worse_challenger_out():
    before = {"f1": 0.60, "n_labels": 3}
    assert decide(before, {"f1": 0.70, "n_labels": 3}).activate
    assert decide(before, {"f1": 0.60 - F1_TOLERANCE / 2, "n_labels": 3}).activate
    worse = decide(before, {"f1": 0.50, "n_labels": 3})
    assert not worse.activate and "worse" in worse.reason and "0.500 vs 0.600" in worse.reason
    assert decide(before, {"f1": 0.50, "n_labels": 3}, force=True).activate


def test_decide_without_held_out_tags_activates_and_says_why():
    decision = decide({}, {})
    assert decision.activate and "too few" in decision.reason
    assert decide({"f1": 0.5}, {"f1": None, "n_labels": 0}).activate


def test_write_version_saves_the_head_and_the_row(library: Library):
    version = write_version(library.store, library.data_dir, _head(), {"cat": 0.35},
                            {"f1": 0.8}, activate=True)
    assert version == 1
    path = library.data_dir / "models" / "v1.safetensors"
    loaded = LinearHead.load(path)
    assert loaded.label_names == ("cat", "dog") and loaded.backbone_id == BACKBONE
    row = library.store.active_model()
    assert row.version == 1 and row.head_file == "models/v1.safetensors"
    assert row.thresholds == {"cat": 0.35} and row.metrics["f1"] == 0.8
    assert row.metrics["head"] == "linear"
    assert library.store.policy().threshold(library.label_id("cat")) == pytest.approx(0.35)


def test_a_version_that_is_not_better_is_kept_inactive(library: Library):
    version = write_version(library.store, library.data_dir, _head(), {}, {}, activate=False)
    assert library.store.active_model().version == 0
    assert [m.version for m in library.store.models()] == [0, version]


def test_an_interrupted_write_leaves_the_active_model_alone(library: Library, monkeypatch):
    def crash(*args, **kwargs):
        raise StoreError("disk full")

    monkeypatch.setattr(library.store, "add_model", crash)
    with pytest.raises(StoreError):
        write_version(library.store, library.data_dir, _head(value=1.0), {}, {}, activate=True)
    monkeypatch.undo()
    assert library.store.active_model().version == 0
    assert next_version(library.store) == 1  # the number is free again
    write_version(library.store, library.data_dir, _head(value=2.0), {}, {}, activate=True)
    head = LinearHead.load(library.data_dir / "models" / "v1.safetensors")
    assert float(head.weight[0, 0]) == 2.0  # the orphan file was replaced
    assert not list((library.data_dir / "models").glob("*.tmp"))


def test_versions_are_never_reused(library: Library):
    for _ in range(3):
        write_version(library.store, library.data_dir, _head(), {}, {}, activate=True)
    assert next_version(library.store) == 4
    assert sorted(p.name for p in (library.data_dir / "models").glob("v*")) == [
        "v1.safetensors", "v2.safetensors", "v3.safetensors"]


def test_one_training_per_album(tmp_path: Path):
    with training_lock(tmp_path):
        with pytest.raises(TrainingBusyError), training_lock(tmp_path):
            pass
    with training_lock(tmp_path):  # released after use
        pass


def test_rollback_goes_to_the_newest_usable_older_version(library: Library):
    write_version(library.store, library.data_dir, _head(), {}, {}, activate=True)  # v1
    library.store.add_model(2, BACKBONE, "models/v2.attention.safetensors", {},
                            {"head": "attention"}, activate=False)
    write_version(library.store, library.data_dir, _head(), {}, {}, activate=True)  # v3
    assert rollback_target(library) == 1  # v2 cannot tag photos
    assert not servable(find_version(library, 2)) and servable(find_version(library, 0))
    library.store.activate_model(0)
    with pytest.raises(ModelVersionError, match="oldest"):
        rollback_target(library)
    with pytest.raises(ModelVersionError, match="no model version 9"):
        find_version(library, 9)
