"""The trainer's version rules: champion/challenger and the training lock (writing and
activating versions: tests/core/test_model_versions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.album.versions import F1_TOLERANCE, TrainingBusyError, decide, training_lock


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


def test_one_training_per_album(tmp_path: Path):
    with training_lock(tmp_path), pytest.raises(TrainingBusyError), training_lock(tmp_path):
        pass
    with training_lock(tmp_path):  # released after use
        pass


def test_a_comparison_on_too_few_photos_activates_the_new_version():
    """Fewer than FEW_PHOTOS photos with held-out verdicts cannot judge a change (a photo or
    two decide it, and the active version saw some of the same verdicts): the new version, which
    holds all the corrections, is activated, and the reason says why."""
    from core.training_events import FEW_PHOTOS

    before = {"f1": 0.974}
    few = decide(before, {"f1": 0.947, "n_labels": 10, "n_photos": FEW_PHOTOS - 5})
    assert few.activate and "too few to compare" in few.reason and "0.947 vs 0.974" in few.reason
    enough = decide(before, {"f1": 0.947, "n_labels": 10, "n_photos": FEW_PHOTOS})
    assert not enough.activate and enough.reason.startswith("kept the active version")
