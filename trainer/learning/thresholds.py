"""Per-label decision thresholds chosen by the Matthews correlation coefficient (MCC).

docs/papers-recipe.md §1.2: for each label and each threshold t of the grid
{0.05, 0.10, ..., 0.70} a photo is predicted positive iff ``score >= t``; the label gets
the t with the highest MCC, the *smallest* t among ties (so a label whose MCC is 0 at every
t gets 0.05). MCC is 0 when its denominator is 0 (as scikit-learn's matthews_corrcoef).

The album twist: only known entries count (``mask``, e.g. verified tags held out from
training), and a label with fewer than ``min_positives`` known positives or fewer than
``min_negatives`` known negatives keeps its ``default`` threshold.

Cost: one pass to bin every known score against the grid (``np.searchsorted``) and one
``np.bincount``, i.e. O(N*C + C*G); 10,000 photos x 300 labels take a few tens of ms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)


def make_grid(start: float = 0.05, stop: float = 0.70, step: float = 0.05) -> NDArray[np.float64]:
    """An inclusive grid ``start, start+step, ..., stop``, free of float drift.

    The number of points is rounded, and each point is rounded to 10 decimals, so
    ``make_grid()[2] == 0.15`` exactly (``np.arange`` would give 0.15000000000000002).

    Raises:
        ValueError: A non-positive step or ``stop < start``.
    """
    if step <= 0 or stop < start:
        raise ValueError(f"bad grid: start={start}, stop={stop}, step={step}")
    count = round((stop - start) / step) + 1
    return np.round(start + step * np.arange(count), 10)


DEFAULT_GRID: NDArray[np.float64] = make_grid()


@dataclass(frozen=True)
class ThresholdResult:
    """Tuned thresholds.

    Attributes:
        thresholds: (C,) the threshold per label (tuned, or the default).
        tuned: (C,) True where the threshold was chosen by MCC.
        mcc: (C,) the best MCC of tuned labels; NaN for labels that kept the default.
        n_positives: (C,) known positives per label.
        n_negatives: (C,) known negatives per label.
    """

    thresholds: NDArray[np.float64]
    tuned: NDArray[np.bool_]
    mcc: NDArray[np.float64]
    n_positives: NDArray[np.int64]
    n_negatives: NDArray[np.int64]


def mcc(tp: ArrayLike, tn: ArrayLike, fp: ArrayLike, fn: ArrayLike) -> NDArray[np.float64]:
    """Matthews correlation coefficient of confusion counts, elementwise; 0 if undefined.

    ``(TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))``, and 0 where the denominator
    is 0 (a constant prediction or a constant truth).
    """
    tp, tn, fp, fn = (np.asarray(a, dtype=np.float64) for a in (tp, tn, fp, fn))
    numerator = tp * tn - fp * fn
    denominator = np.sqrt((tp + fp) * (tp + fn)) * np.sqrt((tn + fp) * (tn + fn))
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def _defaults(default: ArrayLike, n_labels: int) -> NDArray[np.float64]:
    d = np.asarray(default, dtype=np.float64)
    if d.ndim == 0:
        return np.full(n_labels, float(d))
    if d.shape != (n_labels,):
        raise ValueError(f"default must be a scalar or ({n_labels},), got {d.shape}")
    return d.copy()


def grid_counts(
    y_true: ArrayLike,
    scores: ArrayLike,
    grid: ArrayLike = DEFAULT_GRID,
    mask: ArrayLike | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Confusion counts of ``score >= t`` for every grid value and label.

    Args:
        y_true: (N, C) 0/1 ground truth.
        scores: (N, C) scores.
        grid: (G,) ascending thresholds.
        mask: Optional (N, C) bool, True where the entry is known.

    Returns:
        ``(tp, tn, fp, fn)``, each (G, C).

    Raises:
        ValueError: Inconsistent shapes, non-binary truth, an unsorted grid or non-finite
            known scores.
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64)
    if y.ndim != 2 or y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and scores {s.shape} must be the same (N, C)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if g.ndim != 1 or g.size == 0 or not np.all(np.diff(g) > 0):
        raise ValueError("grid must be a non-empty, strictly ascending 1-D array")
    known = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if known.shape != y.shape:
        raise ValueError(f"mask {known.shape} must match y_true {y.shape}")
    if not np.isfinite(s[known]).all():
        raise ValueError("scores of known entries must be finite")

    n_grid, n_labels = g.size, y.shape[1]
    # level k = number of grid values <= score, so score >= g[j] <=> level > j
    level = np.searchsorted(g, s, side="right")
    cell = np.arange(n_labels)[None, :] * (n_grid + 1) + level
    is_pos = y.astype(bool)
    size = n_labels * (n_grid + 1)
    pos_hist = np.bincount(cell[known & is_pos], minlength=size).reshape(n_labels, n_grid + 1)
    neg_hist = np.bincount(cell[known & ~is_pos], minlength=size).reshape(n_labels, n_grid + 1)
    # count with level > j: reverse cumulative sum over levels j+1 .. G
    tp = np.cumsum(pos_hist[:, ::-1], axis=1)[:, ::-1][:, 1:].T
    fp = np.cumsum(neg_hist[:, ::-1], axis=1)[:, ::-1][:, 1:].T
    n_pos, n_neg = pos_hist.sum(axis=1), neg_hist.sum(axis=1)
    return tp, n_neg[None, :] - fp, fp, n_pos[None, :] - tp


def tune_thresholds(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    default: ArrayLike,
    mask: ArrayLike | None = None,
    grid: ArrayLike = DEFAULT_GRID,
    min_positives: int = 3,
    min_negatives: int = 3,
) -> ThresholdResult:
    """Pick each label's threshold by MCC on known entries (see the module docstring).

    Args:
        y_true: (N, C) 0/1 ground truth.
        scores: (N, C) probabilities.
        default: Scalar or (C,) thresholds kept by labels with too few known examples.
        mask: Optional (N, C) bool, True where the entry is known (verified).
        grid: Ascending candidate thresholds; the first (smallest) wins ties.
        min_positives: Known positives a label needs to be tuned.
        min_negatives: Known negatives a label needs to be tuned.

    Returns:
        The ``ThresholdResult``.

    Raises:
        ValueError: Inconsistent shapes or values (see ``grid_counts``).
    """
    g = np.asarray(grid, dtype=np.float64)
    tp, tn, fp, fn = grid_counts(y_true, scores, g, mask)
    n_labels = tp.shape[1]
    thresholds = _defaults(default, n_labels)
    n_pos, n_neg = tp[0] + fn[0], tn[0] + fp[0]
    tuned = (n_pos >= min_positives) & (n_neg >= min_negatives)

    table = mcc(tp, tn, fp, fn)  # (G, C)
    best = np.argmax(table, axis=0)  # first maximum = smallest threshold
    thresholds[tuned] = g[best[tuned]]
    best_mcc = np.where(tuned, table[best, np.arange(n_labels)], np.nan)
    logger.debug("tuned %d of %d label thresholds by MCC", int(tuned.sum()), n_labels)
    return ThresholdResult(
        thresholds=thresholds,
        tuned=tuned,
        mcc=best_mcc,
        n_positives=n_pos.astype(np.int64),
        n_negatives=n_neg.astype(np.int64),
    )


@dataclass(frozen=True)
class ExpectedF1:
    """Thresholds by expected F1 (``expected_f1_thresholds``).

    Attributes:
        thresholds: (C,) the threshold per label; NaN where a label has too few positives.
        f1: (C,) expected F1 at it (NaN where not tuned).
        precision: (C,) expected precision at it (0 where not tuned).
        recall: (C,) expected recall at it (0 where not tuned).
    """

    thresholds: NDArray[np.float64]
    f1: NDArray[np.float64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]


def expected_f1_thresholds(
    scores: ArrayLike,
    truth: ArrayLike,
    verified: ArrayLike,
    *,
    grid: ArrayLike,
    unlabelled_scale: ArrayLike = 1.0,
    min_positives: int = 1,
) -> ExpectedF1:
    """Per label, the threshold with the highest expected F1 over verified and unverified photos.

    A verified entry counts as what the user said (a confirmed photo scoring ``>= t`` is a
    true positive, one below it a miss; a rejected one above it a false positive). Where the
    user said nothing the score itself is read as the probability that the photo has the
    label: a photo scoring ``s >= t`` adds ``s`` true and ``1 - s`` false positives, one below
    adds ``s`` misses. This is the right reading for a score anchored to a calibrated prior
    (the residual fit holds unjudged photos at the prior's score); unverified photos sampled
    from a larger album weigh ``unlabelled_scale`` each. ``F1 = 2 TP / (2 TP + FP + FN)``,
    the smallest threshold wins ties.

    Args:
        scores: (N, C) out-of-fold probabilities.
        truth: (N, C) the verified targets (read where ``verified``; > 0.5 is positive).
        verified: (N, C) bool.
        grid: (G,) ascending thresholds.
        unlabelled_scale: Scalar or (C,): photos each unverified row stands for.
        min_positives: Verified positives a label needs; others get NaN.

    Raises:
        ValueError: Inconsistent shapes, an unsorted grid or non-finite scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64) > 0.5
    known = np.asarray(verified, dtype=bool)
    g = np.asarray(grid, dtype=np.float64)
    if s.ndim != 2 or y.shape != s.shape or known.shape != s.shape:
        raise ValueError(f"scores {s.shape}, truth {y.shape} and verified {known.shape} differ")
    if g.ndim != 1 or g.size == 0 or not np.all(np.diff(g) > 0):
        raise ValueError("grid must be a non-empty, strictly ascending 1-D array")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    n_labels, n_grid = s.shape[1], g.size
    scale = np.broadcast_to(np.asarray(unlabelled_scale, dtype=np.float64), (n_labels,))
    level = np.searchsorted(g, s, side="right")  # score >= g[j] <=> level > j
    cell = np.arange(n_labels)[None, :] * (n_grid + 1) + level
    size = n_labels * (n_grid + 1)

    def above(mask: NDArray[np.bool_], value: NDArray[np.float64]) -> NDArray[np.float64]:
        """(C, G) sum of ``value`` over entries in ``mask`` scoring >= each grid value."""
        counts = np.bincount(cell[mask], weights=value[mask], minlength=size)
        hist = counts.astype(np.float64).reshape(n_labels, n_grid + 1)
        return np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]

    ones = np.ones_like(s)
    unl = ~known
    p_unl = s * scale[None, :]
    n_unl = (1.0 - s) * scale[None, :]
    tp = above(known & y, ones) + above(unl, p_unl)
    fp = above(known & ~y, ones) + above(unl, n_unl)
    positives = (known & y).sum(axis=0) + np.where(unl, p_unl, 0.0).sum(axis=0)
    fn = positives[:, None] - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)
    best = np.argmax(f1, axis=1)  # first maximum = smallest threshold
    rows = np.arange(n_labels)
    tuned = (known & y).sum(axis=0) >= min_positives
    tp_b, fp_b, fn_b = tp[rows, best], fp[rows, best], fn[rows, best]
    return ExpectedF1(
        thresholds=np.where(tuned, g[best], np.nan),
        f1=np.where(tuned, f1[rows, best], np.nan),
        precision=np.where(tuned, tp_b / np.maximum(tp_b + fp_b, 1e-12), 0.0),
        recall=np.where(tuned, tp_b / np.maximum(tp_b + fn_b, 1e-12), 0.0),
    )
