"""The composites benchmark's reading at the album's own per-label thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_regions import Evaluation, Obj
from core.labels.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    scenes = [
        [Obj("a", ("bird",), "bird", 900), Obj("b", ("tool",), "tool", 400)],
        [Obj("c", ("tool",), "tool", 700)],
        [Obj("d", ("mammal",), "animal", 600)],
    ]
    return Evaluation(scenes, ["animal", "bird", "tool"], Vocabulary.load())


#: Scores of the three scenes for animal, bird, tool.
SCORES = np.array([[0.7, 0.65, 0.2], [0.1, 0.7, 0.4], [0.4, 0.62, 0.0]])


def test_each_label_at_its_own_threshold_and_parents_from_below(evaluation) -> None:
    assert evaluation.labels == ["animal", "bird", "tool"]
    read = evaluation.at_thresholds(SCORES, np.array([0.5, 0.6, 0.3]))
    # tagged (7): animal and bird on every scene (bird on puts animal on, as the album's policy
    # reads tags), tool on the second; right: the first scene's animal and bird, the second's
    # tool, the third's animal (under its own 0.5, but its bird is on)
    assert read["precision"] == pytest.approx(4 / 7)
    assert read["recall"][:2] == [1.0, 0.0]
    assert read["tags"] == pytest.approx(7 / 3)


def test_one_threshold_for_all_reads_differently(evaluation) -> None:
    read = evaluation.at_thresholds(SCORES, np.full(3, 0.6))
    # the second scene's tool (0.4) is missed at 0.6; the third's animal still comes from bird
    assert read["recall"][0] == pytest.approx(2 / 3)
