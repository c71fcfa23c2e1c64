"""The training pipeline end to end on a synthetic album (fake features, fake backbone).

Fast stand-in for tests/e2e/test_learning.py: the store, targets, cross-fitting, thresholds,
evaluation, version writing and re-scoring are real; only the backbone is a fake whose
"features" are made up, so no image is decoded and no network is loaded. It exercises the
plain linear head (``--head linear``); the default residual head needs the real prior and is
covered by tests/e2e/test_learning.py and tests/trainer/test_residual_fit.py.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch

import core.library
from core.db.store import Status
from core.db.tagstore import Scored, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.model.tagger import LinearHead
from core.model.versions import ActiveModel
from tests.fakes import FakeBackbone
from trainer.__main__ import main as trainer_main
from trainer.album.train import NothingToLearnError, TrainOptions, train

DIM = 16


def LINEAR(**kwargs) -> TrainOptions:  # reads like the options it builds
    """Options for the plain linear head with the loss it was tuned with."""
    return TrainOptions(head="linear", loss="weighted_bce", **kwargs)


@dataclass
class _HeadTagger:
    """A tagger that scores fake features with a stored linear head."""

    head: LinearHead
    backbone: FakeBackbone = field(default_factory=FakeBackbone)

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.head.label_names

    def score_features(self, features: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.asarray(features, dtype=np.float32))
        return torch.sigmoid(x @ self.head.weight.T + self.head.bias).numpy()


def _fake_loader(store, vocabulary, data_dir, choice) -> ActiveModel:
    active = store.active_model()
    head = LinearHead.load(Path(data_dir) / active.head_file)
    ids = {r.name.lower(): r.id for r in store.labels()}
    return ActiveModel(
        _HeadTagger(head),
        tuple(ids[n.lower()] for n in head.label_names),
        active.version,
        active.backbone,
    )


@pytest.fixture
def album(tmp_path: Path, monkeypatch) -> Path:
    """60 photos in three look-alike groups; the model tagged group 0 "cat", group 1 "dog"."""
    monkeypatch.setattr(core.library, "load_active_model", _fake_loader)
    root = tmp_path / "album"
    root.mkdir()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, DIM)) * 3
    group = np.arange(60) % 3
    features = (centres[group] + rng.normal(size=(60, DIM))).astype(np.float32)
    with Library(root) as library:
        store = library.store
        store.add_model(0, FakeBackbone().id, None, {}, {"kind": "prior"}, activate=True)
        photos = [store.add_photo(f"p{i:02d}.jpg", 10, 0) for i in range(60)]
        labels = [library.label_id("cat"), library.label_id("dog")]
        scores = np.stack([group == 0, group == 1], axis=1).astype(np.float32) * 0.9
        store.record_scores(
            [
                Scored(p, 8, 8, None, f"h{p}", s, f)
                for p, s, f in zip(photos, scores, features, strict=True)
            ],
            labels,
            "fake@1",
            0,
        )
        library.create_label("Grandma")  # she is in group 2
        grandma = library.label_id("Grandma")
        store.set_verdicts(
            [
                VerdictChange(p, grandma, CONFIRMED if g == 2 else REJECTED)
                for p, g in zip(photos[:30], group[:30], strict=True)
            ]
        )
    return root


def test_training_learns_the_users_label_and_rescores_the_album(album: Path):
    events: list[tuple[str, int, int]] = []
    outcome = train(album, LINEAR(epochs=10), lambda *e: events.append(e))
    assert outcome.version == 1 and outcome.activated
    assert outcome.after["f1"] > outcome.before["f1"] == 0.0
    assert 0.05 <= outcome.thresholds["Grandma"] <= 0.70
    assert events[0][0] == "loading" and events[-1][0] == "rescoring"
    with Library(album) as library:
        assert library.store.active_model().version == 1
        head = LinearHead.load(library.data_dir / "models" / "v1.safetensors")
        assert "Grandma" in head.label_names and head.feature_dim == DIM
        photos = library.store.photos(Status.OK)
        assert {p.model_version for p in photos} == {1}
        unjudged = photos[30:]  # nobody said anything about these
        found = [p.id for p in library.search("Grandma")]
        assert {p.id for p in unjudged[2::3]} <= set(found)  # group 2
        assert not {p.id for p in unjudged if (p.id - photos[0].id) % 3 != 2} & set(found)


def test_same_seed_same_version(album: Path, tmp_path: Path):
    heads = []
    for run in range(2):
        data_dir = tmp_path / f"copy{run}"
        shutil.copytree(album / ".albumtag", data_dir)
        train(album, LINEAR(data_dir=data_dir, seed=3, epochs=3, folds=2, rescore=False))
        heads.append(LinearHead.load(data_dir / "models" / "v1.safetensors"))
    assert torch.equal(heads[0].weight, heads[1].weight)
    assert torch.equal(heads[0].bias, heads[1].bias)


def test_training_reads_verdicts_and_never_writes_them(album: Path):
    with Library(album) as library:
        before = sorted(library.store.verdict_rows())
    train(album, LINEAR(epochs=3, folds=2))
    with Library(album) as library:
        assert sorted(library.store.verdict_rows()) == before


def test_no_verdicts_means_nothing_to_learn(album: Path, capsys):
    with Library(album) as library:
        library.store.set_verdicts(
            [VerdictChange(p, lab, 0) for p, lab, _ in library.store.verdict_rows()]
        )
    with pytest.raises(NothingToLearnError, match="nothing to learn from yet"):
        train(album, LINEAR())
    assert trainer_main(["train", str(album)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "trainer: nothing to learn from yet: confirm or reject some tags first"


def test_json_progress_is_one_object_per_line(album: Path, capsys):
    assert (
        trainer_main(
            [
                "train",
                str(album),
                "--json-progress",
                "--epochs",
                "3",
                "--seed",
                "1",
                "--folds",
                "2",
                "--head",
                "linear",
                "--loss",
                "weighted_bce",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines]
    assert events[-1]["event"] == "done" and events[-1]["version"] == 1
    assert {e["event"] for e in events[:-1]} == {"progress"}


def test_bad_arguments_exit_2(album: Path, capsys):
    assert trainer_main(["train", str(album), "--loss", "nope"]) == 2
    assert trainer_main(["train", str(album / "missing")]) == 2
    assert trainer_main(["train", str(album), "--epochs", "0"]) == 2
    capsys.readouterr()
