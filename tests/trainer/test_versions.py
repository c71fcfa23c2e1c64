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
