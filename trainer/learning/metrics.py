"""Multi-label evaluation with the papers' conventions (docs/papers-recipe.md §1.3 and §2.4).

For each label c, over the known entries of its column:

* macro precision ``P = mean_c TP_c / (PredPos_c + 1e-7)`` (a label never predicted
  contributes 0), macro recall ``R = mean_c TP_c / (GT_c + 1e-7)``;
* ``F1 = 2 P R / (P + R + 1e-7)`` from the *averaged* P and R, not the mean of per-label
  F1s (ASL's validate.py uses the latter; the parham1998 papers use this one);
* ``N+`` = number of labels with ``TP_c > 0``;
* micro ("per-image", "overall") P, R, F1: the same formulas on counts summed over all
  known (image, label) pairs;
* mAP: per label, AP = mean over its positives of the precision at the rank of that
  positive, scores sorted descending; mAP = mean AP over labels with at least one
  positive. Reported as a fraction in [0, 1] (the papers print 100 x mAP). Tied scores are
  ranked as one group (every tied item counts as retrieved together), so the value does
  not depend on the order of the input; without ties this is exactly the papers' formula.

Predictions are ``score > threshold`` (strict, as at the papers' test time), with one
threshold for all labels or one per label.

Which labels enter the macro averages: by default the labels with at least one known
positive (a label with no positive has no recall, and its precision says nothing about
how it finds things). ``include_absent=True`` averages over every column, which is
exactly the papers' evaluation_metrics.py. On the papers' datasets every label occurs in
the test split, so both give the same numbers there. mAP always skips labels without
positives (the papers' code would produce NaN for them).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)

EPS = 1e-7


@dataclass(frozen=True)
class Metrics:
    """Threshold metrics and mAP of one evaluation.

    Attributes:
        precision: Macro (per-label averaged) precision.
        recall: Macro recall.
        f1: ``2PR/(P+R+1e-7)`` of the macro P and R.
        n_plus: Number of labels with at least one true positive.
        mean_ap: Mean average precision in [0, 1]; NaN when no label has a positive.
        micro_precision: Precision over all known (image, label) pairs.
        micro_recall: Recall over all known pairs.
        micro_f1: F1 of the micro P and R.
        n_labels: Number of labels in the macro averages.
        n_images: Number of images (rows) evaluated.
    """

    precision: float
    recall: float
    f1: float
    n_plus: int
    mean_ap: float
    micro_precision: float
    micro_recall: float
    micro_f1: float
    n_labels: int
    n_images: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a plain dict (JSON-friendly except for NaN mAP)."""
        return asdict(self)


def f1_score(precision: float, recall: float) -> float:
    """``2PR/(P+R+1e-7)``, the papers' F1 of an averaged P and R."""
    return float(2.0 * precision * recall / (precision + recall + EPS))


def _check_inputs(
    y_true: ArrayLike, scores: ArrayLike, mask: ArrayLike | None
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.bool_]]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 2 or y.shape != s.shape:
        raise ValueError(f"y_true {y.shape} and scores {s.shape} must be the same (N, C)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    m = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != y.shape:
        raise ValueError(f"mask {m.shape} must match y_true {y.shape}")
    if not np.isfinite(s[m]).all():
        raise ValueError("scores of known entries must be finite")
    return y.astype(bool) & m, s, m


def _thresholds(thresholds: ArrayLike, n_labels: int) -> NDArray[np.float64]:
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        return np.full(n_labels, float(t))
    if t.shape != (n_labels,):
        raise ValueError(f"thresholds must be a scalar or ({n_labels},), got {t.shape}")
    return t


def average_precision(
    y_true: ArrayLike, scores: ArrayLike, mask: ArrayLike | None = None
) -> NDArray[np.float64]:
    """AP per label (see the module docstring); NaN for labels without a known positive.

    Args:
        y_true: (N, C) 0/1 ground truth.
        scores: (N, C) scores, higher meaning more likely.
        mask: Optional (N, C) bool, True where the entry is known; others are ignored.

    Returns:
        (C,) average precision per label.
    """
    pos, s, m = _check_inputs(y_true, scores, mask)
    n_rows = s.shape[0]
    if n_rows == 0:
        return np.full(s.shape[1], np.nan)
    ranked = np.where(m, s, -np.inf)  # unknown entries sink below every known one
    order = np.argsort(-ranked, axis=0, kind="stable")
    sorted_scores = np.take_along_axis(ranked, order, axis=0)
    sorted_pos = np.take_along_axis(pos, order, axis=0)
    hits = np.cumsum(sorted_pos, axis=0)
    # index of the last item of each tie group: everything tied is retrieved together
    rows = np.arange(n_rows)[:, None]
    group_end = np.broadcast_to(rows, s.shape).copy()
    group_end[:-1][sorted_scores[:-1] == sorted_scores[1:]] = n_rows
    group_end = np.minimum.accumulate(group_end[::-1], axis=0)[::-1]
    precision_at = np.take_along_axis(hits, group_end, axis=0) / (group_end + 1.0)
    n_pos = pos.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(sorted_pos, precision_at, 0.0).sum(axis=0) / n_pos
    return np.where(n_pos > 0, ap, np.nan)


def evaluate(
    y_true: ArrayLike,
    scores: ArrayLike,
    thresholds: ArrayLike = 0.5,
    mask: ArrayLike | None = None,
    *,
    include_absent: bool = False,
) -> Metrics:
    """Macro/micro precision, recall, F1, N+ and mAP of thresholded scores.

    Args:
        y_true: (N, C) 0/1 ground truth.
        scores: (N, C) scores (probabilities when thresholds are probabilities).
        thresholds: A scalar or a (C,) array; predicted iff ``score > threshold``.
        mask: Optional (N, C) bool, True where the ground truth is known (e.g. verified
            tags); per-label and micro counts use only known entries.
        include_absent: Average macro P and R over every label, also those without a
            known positive (the papers' exact formula) instead of only labels with one.

    Returns:
        The ``Metrics``.

    Raises:
        ValueError: Inconsistent shapes, non-binary ground truth or non-finite scores.
    """
    pos, s, m = _check_inputs(y_true, scores, mask)
    pred = (s > _thresholds(thresholds, s.shape[1])[None, :]) & m
    tp = (pred & pos).sum(axis=0)
    pred_pos = pred.sum(axis=0)
    gt = pos.sum(axis=0)

    labels = np.ones(gt.shape, dtype=bool) if include_absent else gt > 0
    n_labels = int(labels.sum())
    if n_labels:
        precision = float(np.mean(tp[labels] / (pred_pos[labels] + EPS)))
        recall = float(np.mean(tp[labels] / (gt[labels] + EPS)))
    else:
        precision = recall = 0.0
    micro_p = float(tp.sum() / (pred_pos.sum() + EPS))
    micro_r = float(tp.sum() / (gt.sum() + EPS))
    ap = average_precision(pos, s, m)
    mean_ap = float(np.nanmean(ap)) if np.any(gt > 0) else float("nan")
    metrics = Metrics(
        precision=precision,
        recall=recall,
        f1=f1_score(precision, recall),
        n_plus=int((tp > 0).sum()),
        mean_ap=mean_ap,
        micro_precision=micro_p,
        micro_recall=micro_r,
        micro_f1=f1_score(micro_p, micro_r),
        n_labels=n_labels,
        n_images=int(s.shape[0]),
    )
    logger.debug("evaluated %d images x %d labels: %s", s.shape[0], s.shape[1], metrics)
    return metrics
