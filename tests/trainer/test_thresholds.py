"""MCC threshold tuning against direct formulas and hand cases (docs/papers-recipe.md §1.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.learning.thresholds import (
    DEFAULT_GRID,
    expected_f1_thresholds,
    grid_counts,
    make_grid,
    mcc,
    tune_thresholds,
)

PAPER_GRID = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]


def _hand_mcc(tp: int, tn: int, fp: int, fn: int) -> float:
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return 0.0 if den == 0 else (tp * tn - fp * fn) / math.sqrt(den)


def _brute_force(
    y: np.ndarray, s: np.ndarray, grid: list[float]
) -> tuple[list[float], list[float]]:
    """Per label: loop over the grid, predict p >= t, keep the first best MCC."""
    best_t, best_m = [], []
    for c in range(y.shape[1]):
        top_t, top_m = grid[0], -2.0
        for t in grid:
            tp = tn = fp = fn = 0
            for truth, score in zip(y[:, c], s[:, c], strict=True):
                pred = score >= t
                tp += bool(truth and pred)
                tn += bool(not truth and not pred)
                fp += bool(not truth and pred)
                fn += bool(truth and not pred)
            value = _hand_mcc(tp, tn, fp, fn)
            if value > top_m:
                top_t, top_m = t, value
        best_t.append(top_t)
        best_m.append(top_m)
    return best_t, best_m


def test_default_grid_is_the_papers_grid_exactly() -> None:
    assert DEFAULT_GRID.tolist() == PAPER_GRID
    assert len(DEFAULT_GRID) == 14
    assert make_grid(0.1, 0.3, 0.1).tolist() == [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match="bad grid"):
        make_grid(0.5, 0.1, 0.05)


def test_mcc_matches_hand_formula() -> None:
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, size=(200, 4))
    counts[:5, 0] = 0  # some zero rows/columns in the confusion matrix
    counts[5:10, [0, 2]] = 0
    counts[10:12] = 0
    got = mcc(counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3])
    expected = [_hand_mcc(*map(int, row)) for row in counts]
    assert got.tolist() == pytest.approx(expected, abs=1e-12)
    assert mcc(10, 10, 0, 0) == pytest.approx(1.0)
    assert mcc(0, 0, 10, 10) == pytest.approx(-1.0)
    assert mcc(5, 0, 5, 0) == 0.0  # constant truth and prediction: undefined -> 0


def test_known_optimum_and_ties_pick_smallest_threshold() -> None:
    # positives 0.42, 0.5, 0.61 ; negatives 0.1, 0.2, 0.33: any t in (0.33, 0.42] is perfect
    s = np.array([[0.42], [0.5], [0.61], [0.1], [0.2], [0.33]])
    y = np.array([[1], [1], [1], [0], [0], [0]])
    result = tune_thresholds(y, s, default=0.5)
    assert result.thresholds.tolist() == [0.35]  # 0.35 and 0.40 tie at MCC 1
    assert result.mcc.tolist() == pytest.approx([1.0])
    assert result.tuned.tolist() == [True]
    assert (result.n_positives.tolist(), result.n_negatives.tolist()) == ([3], [3])


def test_tuning_uses_greater_or_equal() -> None:
    s = np.array([[0.45], [0.5], [0.6], [0.44], [0.2], [0.3]])
    y = np.array([[1], [1], [1], [0], [0], [0]])
    # only t = 0.45 separates, and only because 0.45 >= 0.45
    assert tune_thresholds(y, s, default=0.5).thresholds.tolist() == [0.45]


def test_all_zero_mcc_gives_smallest_grid_value() -> None:
    s = np.full((8, 1), 0.9)  # predicted positive at every grid value
    y = np.array([[1], [0], [1], [0], [1], [0], [1], [0]])
    result = tune_thresholds(y, s, default=0.5)
    assert result.thresholds.tolist() == [0.05]
    assert result.mcc.tolist() == [0.0]
    assert result.tuned.tolist() == [True]


def test_too_few_examples_keep_the_default() -> None:
    s = np.array(
        [[0.9, 0.8, 0.7], [0.8, 0.1, 0.6], [0.1, 0.2, 0.65], [0.2, 0.3, 0.1], [0.3, 0.2, 0.2]]
    )
    y = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 1], [0, 0, 0], [0, 0, 0]])
    result = tune_thresholds(
        y, s, default=np.array([0.4, 0.45, 0.5]), min_positives=2, min_negatives=2
    )
    assert result.tuned.tolist() == [True, False, True]  # label 1 has one positive
    assert result.thresholds[1] == 0.45
    assert math.isnan(result.mcc[1])
    strict = tune_thresholds(y, s, default=0.3)  # defaults 3 and 3: nobody has 3 negatives
    assert strict.tuned.tolist() == [False, False, False]
    assert strict.thresholds.tolist() == [0.3, 0.3, 0.3]


def test_mask_is_respected() -> None:
    # known: positives 0.42, 0.5, 0.61 and negatives 0.1, 0.2, 0.33 (perfect at 0.35)
    # hidden: negatives in the middle, and one positive with no score at all
    s = np.array([0.42, 0.5, 0.61, 0.1, 0.2, 0.33, 0.45, 0.55, 0.48, 0.52, 0.58, np.nan])
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    known = np.arange(12) < 6
    result = tune_thresholds(y[:, None], s[:, None], default=0.5, mask=known[:, None])
    assert result.thresholds.tolist() == [0.35]
    assert result.n_negatives.tolist() == [3]
    assert result.n_positives.tolist() == [3]
    full = tune_thresholds(y[:11, None], s[:11, None], default=0.5)
    best_t, best_m = _brute_force(y[:11, None], s[:11, None], PAPER_GRID)
    assert full.thresholds.tolist() == best_t == [0.6]
    assert full.mcc.tolist() == pytest.approx(best_m)


def test_matches_brute_force_on_random_data() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((60, 7)) < 0.3).astype(int)
    s = np.clip(0.35 * y + rng.random((60, 7)) * 0.6, 0, 1)
    s[:, 3] = np.round(s[:, 3], 2)  # scores on the grid itself
    result = tune_thresholds(y, s, default=0.5)
    best_t, best_m = _brute_force(y, s, PAPER_GRID)
    assert result.tuned.all()
    assert result.thresholds.tolist() == best_t
    assert result.mcc.tolist() == pytest.approx(best_m, abs=1e-12)


def test_grid_counts_shapes_and_totals() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random((30, 4)) < 0.4).astype(int)
    s = rng.random((30, 4))
    tp, tn, fp, fn = grid_counts(y, s)
    assert tp.shape == (14, 4)
    assert ((tp + tn + fp + fn) == 30).all()
    assert tp[4, 2] == int(((s[:, 2] >= 0.25) & (y[:, 2] == 1)).sum())
    assert fp[9, 1] == int(((s[:, 1] >= 0.5) & (y[:, 1] == 0)).sum())


def test_validation_errors() -> None:
    y = np.zeros((3, 2))
    s = np.zeros((3, 2))
    with pytest.raises(ValueError, match="ascending"):
        tune_thresholds(y, s, default=0.5, grid=[0.5, 0.1])
    with pytest.raises(ValueError, match="default"):
        tune_thresholds(y, s, default=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="0 and 1"):
        tune_thresholds(y + 0.5, s, default=0.5)
    with pytest.raises(ValueError, match="finite"):
        tune_thresholds(y, s + np.nan, default=0.5)


def test_ten_thousand_photos_three_hundred_labels_give_one_threshold_each() -> None:
    # Speed is measured in benchmarks/bench_retrain.py, not here.
    rng = np.random.default_rng(3)
    y = rng.random((10_000, 300)) < 0.05
    s = rng.random((10_000, 300)).astype(np.float32)
    mask = rng.random((10_000, 300)) < 0.8
    result = tune_thresholds(y, s, default=0.5, mask=mask)
    assert result.thresholds.shape == (300,)
    assert result.tuned.all()  # about 400 known positives per label: every label is tuned


def _brute_expected_f1(s, y, ver, grid, scale=1.0):
    """Per label: loop over the grid and the photos, the module docstring's counts."""
    out = []
    for c in range(s.shape[1]):
        best_t, best_f = None, -1.0
        for t in grid:
            tp = fp = fn = 0.0
            for score, truth, known in zip(s[:, c], y[:, c], ver[:, c], strict=True):
                if known:
                    tp += truth and score >= t
                    fp += (not truth) and score >= t
                    fn += truth and score < t
                elif score >= t:
                    tp, fp = tp + scale * score, fp + scale * (1 - score)
                else:
                    fn += scale * score
            f1 = 2 * tp / max(2 * tp + fp + fn, 1e-12)
            if f1 > best_f + 1e-12:
                best_t, best_f = t, f1
        out.append((best_t, best_f))
    return out


def test_expected_f1_counts_verified_photos_as_said_and_the_rest_by_their_score():
    rng = np.random.default_rng(4)
    s = rng.random((60, 3))
    y = (rng.random((60, 3)) < 0.3).astype(np.float32)
    ver = rng.random((60, 3)) < 0.4
    ver[:, 2] = False  # no verified positive: not tuned
    grid = make_grid(0.05, 0.95, 0.05)
    result = expected_f1_thresholds(s, y, ver, grid=grid, unlabelled_scale=3.0)
    want = _brute_expected_f1(s, y > 0.5, ver, grid, scale=3.0)
    for c in range(2):
        assert result.thresholds[c] == pytest.approx(want[c][0])
        assert result.f1[c] == pytest.approx(want[c][1])
    assert np.isnan(result.thresholds[2]) and result.precision[2] == 0.0


def test_expected_f1_follows_the_evidence():
    grid = make_grid(0.05, 0.95, 0.05)
    # unjudged photos the model thinks unlikely, two confirmed ones at 0.3: the threshold
    # goes down to them; a rejected one at 0.6 with the confirmed ones at 0.7 keeps it above
    s = np.array([[0.3], [0.3], [0.02], [0.03], [0.05], [0.01]])
    y = np.array([[1.0], [1.0], [0], [0], [0], [0]])
    ver = np.array([[True], [True], [False], [False], [False], [False]])
    low = expected_f1_thresholds(s, y, ver, grid=grid).thresholds[0]
    assert 0.05 < low <= 0.3  # below the confirmed photos, above every unjudged one
    s2 = np.array([[0.7], [0.7], [0.6], [0.02]])
    y2 = np.array([[1.0], [1.0], [0.0], [0.0]])
    ver2 = np.array([[True], [True], [True], [False]])
    assert expected_f1_thresholds(s2, y2, ver2, grid=grid).thresholds[0] == pytest.approx(0.65)
    with pytest.raises(ValueError):
        expected_f1_thresholds(s, y, ver[:3], grid=grid)
