"""The composites benchmark's reading at the album's own per-label thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_regions import Evaluation, Obj
from core.labels.vocabulary import Vocabulary


def test_own_thresholds_read_each_label_at_its_threshold() -> None:
    vocabulary = Vocabulary.load()
    names = ["animal", "bird", "tool"]
    scenes = [
        [Obj("a", ("bird",), "bird", 900), Obj("b", ("tool",), "tool", 400)],
        [Obj("c", ("tool",), "tool", 700)],
    ]
    evaluation = Evaluation(scenes, names, vocabulary)
    assert evaluation.labels == ["bird", "tool"]  # animal is only an ancestor: not evaluated
    scores = np.array([[0.7, 0.65, 0.2], [0.1, 0.7, 0.4]])
    read = evaluation.at_thresholds(scores, np.array([0.5, 0.6, 0.3]))
    # tagged: bird on both scenes (one right), tool on the second (right); the first scene's
    # tool at 0.2 stays under its 0.3
    assert read["precision"] == pytest.approx(2 / 3)
    assert read["recall"][:2] == [1.0, 0.0]
    assert read["tags"] == pytest.approx(1.5)
    # one threshold for all (0.6) would have missed the second scene's tool: per label differs
    single = evaluation.at_thresholds(scores, np.full(3, 0.6))
    assert single["recall"][0] == pytest.approx(0.5)
