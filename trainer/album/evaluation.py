"""Thresholds for a new version, and its metrics next to the active version's.

Thresholds, per label, in this order:

1. **verified** — MCC (``trainer.learning.thresholds``, grid 0.05…0.70, smallest tie) on the
   out-of-fold scores of the user's verified tags, when the label has at least 3 verified
   positives and 3 verified negatives. Out-of-fold scores come from heads that never saw
   those tags, so this is tuning on held-out data (the papers tuned on their training set,
   docs/papers-recipe.md §1.2 — a pitfall).
2. **calibrated** — otherwise, MCC of the new head's scores against the tags the *active*
   version gave on photos nobody judged: the threshold at which the new version keeps tagging
   like the one the user has been living with. Needs 3 such tags and 3 photos without.
3. **default** — otherwise the label's default threshold from the vocabulary.

Metrics (the window's keys: precision, recall, f1, n_plus, map, n_photos, n_labels; the papers'
macro conventions of ``trainer.learning.metrics``) are computed on verified tags the training
did not see: for the new version its out-of-fold scores, decided with thresholds tuned on the
*other* folds only; for the active version its stored scores and current thresholds. When
enough tags were verified after the active version was trained, only those are compared (the
active version learned from the older ones).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trainer.album.targets import TrainingData
from trainer.learning.metrics import evaluate
from trainer.learning.thresholds import tune_thresholds

logger = logging.getLogger(__name__)

#: Verified positives that tags unseen by the active version must hold to be compared alone.
MIN_FRESH_POSITIVES = 5


@dataclass(frozen=True)
class Thresholds:
    """Chosen thresholds and where each came from.

    Attributes:
        values: (L,) the threshold per label.
        verified: (L,) tuned on verified tags.
        calibrated: (L,) calibrated on the active version's tags (and not verified-tuned).
    """

    values: NDArray[np.float64]
    verified: NDArray[np.bool_]
    calibrated: NDArray[np.bool_]

    def as_dict(self, names: tuple[str, ...]) -> dict[str, float]:
        """{label name: threshold} of every label that did not keep its vocabulary default."""
        chosen = self.verified | self.calibrated
        return {name: float(self.values[j]) for j, name in enumerate(names) if chosen[j]}


def fallback_thresholds(data: TrainingData, scores: NDArray[np.float32]) -> Thresholds:
    """Steps 2 and 3: calibration against the active version's tags, else the default.

    Args:
        data: The training data (its ``targets.pseudo`` are the active version's tags).
        scores: (N, L) the new head's scores on every row.
    """
    t = data.targets
    result = tune_thresholds(
        t.pseudo.astype(np.int8), scores, default=data.tree.defaults, mask=~t.verified
    )
    none = np.zeros(len(data.tree.names), dtype=bool)
    return Thresholds(result.thresholds, none, result.tuned)


def choose_thresholds(
    data: TrainingData, folds: NDArray[np.int64], oof: NDArray[np.float32], fallback: Thresholds
) -> Thresholds:
    """Step 1 on top of the fallback: MCC on the out-of-fold scores of verified tags."""
    rows = folds >= 0
    if not rows.any():
        return fallback
    result = tune_thresholds(
        data.targets.targets[rows].astype(np.int8),
        oof[rows],
        default=fallback.values,
        mask=data.targets.verified[rows],
    )
    return Thresholds(result.thresholds, result.tuned, fallback.calibrated & ~result.tuned)


def compare(
    data: TrainingData, folds: NDArray[np.int64], oof: NDArray[np.float32], fallback: Thresholds
) -> tuple[dict, dict, str]:
    """Metrics of the active version and of the new one on held-out verified tags.

    Returns:
        ``(before, after, note)``; both dicts are empty when no photo has verified tags in a
        fold; ``note`` says so when all verified tags were compared although the active version
        had learned from some of them.
    """
    rows = np.flatnonzero(folds >= 0)
    if rows.size == 0:
        return {}, {}, ""
    y = data.targets.targets[rows] > 0.5
    mask, note = data.unseen[rows], ""
    if int((mask & y).sum()) < MIN_FRESH_POSITIVES:
        mask = data.targets.verified[rows]
        if data.unseen[rows].sum() < mask.sum():
            note = " (compared on all your verified tags; the active version learned from some)"
    before = summary(
        y,
        data.old_scores[rows],
        mask,
        decided=data.old_scores[rows] >= data.old_thresholds[None, :],
    )
    decided = nested_decisions(data, folds[rows], rows, oof[rows], fallback)
    after = summary(y, oof[rows], mask, decided=decided)
    return before, after, note


def nested_decisions(
    data: TrainingData,
    folds: NDArray[np.int64],
    rows: NDArray[np.int64],
    scores: NDArray[np.float32],
    fallback: Thresholds,
) -> NDArray[np.bool_]:
    """Each fold's scores against thresholds tuned on the *other* folds' verified tags."""
    y = data.targets.targets[rows].astype(np.int8)
    known = data.targets.verified[rows]
    decided = np.zeros(scores.shape, dtype=bool)
    for fold in np.unique(folds):
        mine, others = folds == fold, folds != fold
        t = tune_thresholds(
            y[others], scores[others], default=fallback.values, mask=known[others]
        ).thresholds
        decided[mine] = scores[mine] >= t[None, :]
    return decided


def summary(
    y: NDArray[np.bool_],
    scores: NDArray[np.float32],
    mask: NDArray[np.bool_],
    *,
    decided: NDArray[np.bool_],
) -> dict:
    """The window's metric keys: P/R/F1/N+ of the decisions, mAP of the scores."""
    ranked = evaluate(y, scores, 0.5, mask)
    counted = evaluate(y, decided.astype(np.float64), 0.5, mask)
    mean_ap = float(ranked.mean_ap) if np.isfinite(ranked.mean_ap) else None
    return {
        "precision": round(counted.precision, 4),
        "recall": round(counted.recall, 4),
        "f1": round(counted.f1, 4),
        "n_plus": int(counted.n_plus),
        "map": None if mean_ap is None else round(mean_ap, 4),
        "n_photos": int(mask.any(axis=1).sum()),
        "n_labels": int(counted.n_labels),
    }
