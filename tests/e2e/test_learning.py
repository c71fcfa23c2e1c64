"""Acceptance: the album learns a label of the user's own from confirmed and rejected photos.

Real photos, the real default model, the real command: index the album, create "Mimi" (the
user's cat), confirm it on some photos of her and reject it on other photos, run
``python -m trainer train ALBUM --json-progress`` (its ``main``, in-process), then check the JSON
contract, the tuned threshold, Mimi's scores on photos nobody judged, that every verdict is
exactly as the user left it, and that rolling back and forward works.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.db.store import Status
from core.library import Library
from core.versions import activate_version
from tests.mimi_album import build_indexed_album
from trainer.__main__ import main as trainer_main
from trainer.album.train import TrainOptions, train

pytestmark = pytest.mark.slow

PHASES = ["loading", "training", "thresholds", "evaluating", "saving", "rescoring"]
METRIC_KEYS = {"precision", "recall", "f1", "n_plus", "map", "n_photos", "n_labels"}

CONFIRM = [
    "home/chelsea.png",
    "pets/mimi_face.jpg",
    "pets/mimi_mirror.jpg",
    "pets/mimi_dark.jpg",
    "pets/mimi_left.jpg",
]
REJECT = [
    "imagenet/imagenet_00_243.jpg",
    "imagenet/imagenet_16_251.jpg",  # two dogs
    "imagenet/imagenet_14_129.jpg",
    "imagenet/imagenet_01_559.jpg",
    "imagenet/imagenet_02_438.jpg",
    "imagenet/imagenet_04_949.jpg",
    "imagenet/imagenet_06_609.jpg",
    "imagenet/imagenet_08_915.jpg",
    "imagenet/imagenet_10_541.jpg",
    "home/astronaut.png",
]
HELD_OUT_MIMI = ["pets/mimi_zoom.jpg", "pets/mimi_grey.jpg", "pets/mimi_tilt.jpg"]
HELD_OUT_OTHERS = [
    "home/coffee.png",
    "home/rocket.jpg",
    "imagenet/imagenet_15_99.jpg",
    "imagenet/imagenet_17_22.jpg",
    "imagenet/imagenet_18_317.jpg",
    "imagenet/imagenet_07_609.jpg",
    "imagenet/imagenet_05_853.jpg",
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, real_photo_paths: dict[str, Path]) -> Path:
    """The real test photos plus Mimi's, indexed once with the real default model."""
    album = build_indexed_album(tmp_path_factory.mktemp("learning") / "album", real_photo_paths)
    with Library(album) as library:
        library.create_label("Mimi")
        library.set_verdicts([library.photo(p) for p in CONFIRM], confirm=["Mimi"])
        library.set_verdicts([library.photo(p) for p in REJECT], reject=["Mimi"])
    return album


@pytest.fixture
def album(indexed: Path, tmp_path: Path) -> Path:
    """A private copy of the indexed album (database included)."""
    return Path(shutil.copytree(indexed, tmp_path / "album"))


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _mimi(library: Library, path: str) -> tuple[float, bool]:
    view = next((v for v in library.tags(library.photo(path)) if v.label == "Mimi"), None)
    return (0.0, False) if view is None or view.score is None else (view.score, view.has)


def _check_contract(events: list[dict]) -> dict:
    progress, final = events[:-1], events[-1]
    assert all(set(e) == {"event", "phase", "done", "total"} for e in progress)
    assert all(e["event"] == "progress" and e["phase"] in PHASES for e in progress)
    seen = list(dict.fromkeys(e["phase"] for e in progress))
    assert seen == PHASES  # every phase, in order
    training = [(e["done"], e["total"]) for e in progress if e["phase"] == "training"]
    assert [d for d, _ in training] == sorted(d for d, _ in training)
    assert training[-1][0] == training[-1][1] > 0
    assert set(final) == {
        "event",
        "version",
        "activated",
        "reason",
        "before",
        "after",
        "labels",
        "warning",
    }
    assert final["event"] == "done"
    assert set(final["before"]) == METRIC_KEYS and set(final["after"]) == METRIC_KEYS
    return final


def test_a_label_of_your_own_is_learned_and_nothing_you_said_changes(album: Path, capsys):
    with Library(album) as library:
        verdicts = sorted(library.store.verdict_rows())
        log = library.store.db.query("SELECT * FROM verdict_log ORDER BY id")
        builtin_before = {
            p: {v.label for v in library.tags(library.photo(p)) if v.has}
            for p in HELD_OUT_MIMI + HELD_OUT_OTHERS
        }
    capsys.readouterr()

    assert trainer_main(["train", str(album), "--json-progress"]) == 0
    done = _check_contract(_events(capsys.readouterr().out))
    assert done["version"] == 1 and done["activated"], done["reason"]
    assert done["before"]["f1"] == 0.0  # the prior head has never heard of Mimi
    assert done["after"]["f1"] >= 0.6 and done["after"]["n_photos"] == 15

    with Library(album) as library:
        active = library.store.active_model()
        assert active.version == 1 and active.metrics["head"] == "residual"
        mimi = {row["label"]: row for row in active.metrics["labels"]}["Mimi"]
        assert (mimi["confirmed"], mimi["rejected"], mimi["source"]) == (5, 10, "verified")
        threshold = active.thresholds["Mimi"]  # out-of-fold, aiming at a stated precision
        assert mimi["estimated_precision"] >= 0.7 and mimi["estimated_recall"] >= 0.3
        # where the threshold falls depends on the photos: above every score of a photo that
        # is not her, at or below every score of hers (judged or not)
        hers = [_mimi(library, p)[0] for p in CONFIRM + HELD_OUT_MIMI]
        others = [_mimi(library, p)[0] for p in REJECT + HELD_OUT_OTHERS]
        assert max(others) < threshold <= min(hers), (threshold, hers, others, mimi)
        assert library.store.policy().threshold(library.label_id("Mimi")) == threshold
        for path in HELD_OUT_MIMI:  # her photos nobody judged now carry her name
            score, has = _mimi(library, path)
            assert has and score >= threshold, (path, score, threshold, mimi)
        for path in HELD_OUT_OTHERS:
            score, has = _mimi(library, path)
            assert not has and score < threshold, (path, score, threshold)
        assert sorted(library.store.verdict_rows()) == verdicts  # verdicts are sacred
        assert library.store.db.query("SELECT * FROM verdict_log ORDER BY id") == log
        assert {p.model_version for p in library.store.photos(Status.OK)} == {1}
        kept = [
            len(
                builtin_before[p]
                & {v.label for v in library.tags(library.photo(p)) if v.has and v.label != "Mimi"}
            )
            / max(len(builtin_before[p]), 1)
            for p in builtin_before
        ]
        assert sum(kept) / len(kept) >= 0.7  # built-in tags mostly survive the new head

        activate_version(library, 0)  # roll back to the prior head ...
        assert _mimi(library, HELD_OUT_MIMI[0]) == (0.0, False)
        activate_version(library, 1)  # ... and forward again
        assert _mimi(library, HELD_OUT_MIMI[0])[1]
        assert sorted(library.store.verdict_rows()) == verdicts


def test_an_album_never_indexed_is_a_clear_bad_input(real_album: Path, capsys):
    Library(real_album).close()
    assert trainer_main(["train", str(real_album), "--json-progress"]) == 2
    captured = capsys.readouterr()
    events = _events(captured.out)
    assert events[-1] == {"event": "error", "message": "the album has no model yet: index it first"}
    assert all(e["event"] == "progress" for e in events[:-1])
    assert captured.err.strip().count("\n") == 0


def test_the_attention_pooling_head_trains_on_feature_maps(album: Path):
    """The optional head decodes the photos again, trains on maps, and is kept inactive."""
    events: list[str] = []
    outcome = train(
        album,
        TrainOptions(head="attention", attention_dim=32, epochs=2, folds=2),
        lambda phase, done, total: events.append(phase),
    )
    assert not outcome.activated and "linear" in outcome.reason
    assert set(outcome.after) == METRIC_KEYS and outcome.after["n_photos"] == 15
    assert list(dict.fromkeys(events)) == PHASES[:-1]
    with Library(album) as library:
        row = library.store.models()[-1]
        assert row.version == outcome.version and row.metrics["head"] == "attention"
        assert (library.data_dir / row.head_file).is_file()
        assert library.store.active_model().version == 0


def test_a_confirm_only_label_tags_unseen_look_alikes_and_leaves_the_rest(album: Path):
    """Five confirmations and no rejection: Mimi's unjudged photos get her name, the others
    do not, the threshold is not a 0.5 default, and a label nobody touched keeps its scores."""
    with Library(album) as library:
        library.create_label("Tibbles")
        library.set_verdicts([library.photo(p) for p in CONFIRM], confirm=["Tibbles"])
        coffee_before = _score(library, "home/coffee.png", "coffee")
        assert coffee_before > 0.5  # the prior knows this one
    outcome = train(album, TrainOptions(force=True))
    row = {r["label"]: r for r in outcome.labels}["Tibbles"]
    assert (row["confirmed"], row["rejected"], row["source"]) == (5, 0, "confirm-only")
    assert outcome.thresholds["Tibbles"] != 0.5
    with Library(album) as library:
        for path in HELD_OUT_MIMI:
            assert _has(library, path, "Tibbles"), path
        for path in HELD_OUT_OTHERS:
            assert not _has(library, path, "Tibbles"), path
        assert abs(_score(library, "home/coffee.png", "coffee") - coffee_before) < 1e-3


def _has(library: Library, path: str, label: str) -> bool:
    return any(v.label == label and v.has for v in library.tags(library.photo(path)))


def _score(library: Library, path: str, label: str) -> float:
    view = next((v for v in library.tags(library.photo(path)) if v.label == label), None)
    return 0.0 if view is None or view.score is None else view.score


def test_rescoring_only_the_changed_labels_equals_a_full_rescore(album: Path):
    """After training, only the labels the new head changes are rewritten; re-scoring every
    label of every photo from scratch gives the same rows and the same tags."""
    import threading

    from core.pipeline.indexer import IndexSummary

    query_user = (
        "SELECT photo_id, label_id, verdict, source, updated_at FROM photo_labels "
        "WHERE verdict != 0 OR source != 'model' ORDER BY 1, 2"
    )
    with Library(album) as library:
        user = (
            library.store.db.query(query_user),
            library.store.db.query("SELECT * FROM verdict_log ORDER BY id"),
        )
    train(album, TrainOptions(force=True))
    query_scores = (
        "SELECT photo_id, label_id, ROUND(score, 4), verdict FROM photo_labels "
        "ORDER BY photo_id, label_id"
    )
    query_tags = "SELECT photo_id, label_id, direct, verified FROM photo_tags ORDER BY 1, 2"
    with Library(album) as library:
        targeted = (library.store.db.query(query_scores), library.store.db.query(query_tags))
        # every verdict row and the verdict log exactly as the user left them
        assert (
            library.store.db.query(query_user),
            library.store.db.query("SELECT * FROM verdict_log ORDER BY id"),
        ) == user
        # the bulk writer's tags are LabelPolicy's, photo by photo, on the stored scores
        library.store.refresh_all_tags()
        assert library.store.db.query(query_tags) == targeted[1]
        with library.store.db.write() as db:
            db.conn.execute("UPDATE photos SET model_version = NULL")
        library.indexer().rescore(IndexSummary(), lambda p: None, threading.Event())
        full = (library.store.db.query(query_scores), library.store.db.query(query_tags))
    assert len(targeted[0]) > 0 and len(targeted[1]) > 0
    assert targeted[1] == full[1]  # the same tags
    # the same rows; labels left alone keep their stored scores, which a full re-score
    # recomputes with float32 round-off and the prior's clamp at 1 - 1e-4
    before = {(p, lab, v): score for p, lab, score, v in targeted[0]}
    after = {(p, lab, v): score for p, lab, score, v in full[0]}
    assert before.keys() == after.keys()
    assert max(abs((before[k] or 0) - (after[k] or 0)) for k in before) <= 1e-3
