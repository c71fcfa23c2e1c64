"""Training targets from the album: what the user said, what the model said, what nobody said.

For photo n and label c (L = every label of the album, the user's own included):

* **verified** — the user's verdicts, read with LabelPolicy's semantics: a confirmed label is
  positive together with its ancestors, a rejected label is negative together with its whole
  subtree, and a rejection blocks what lies below it (``core.labels.policy``). Target 1 or 0,
  weight 1.
* **pseudo** — tags the active model gave (score ≥ the label's current threshold, hierarchy
  closed) that nobody judged. Target 1 at ``pseudo_weight``.
* **missing** — everything else. Not a negative: nobody looked. Target 0 at
  ``missing_weight * (1 - P(c | P_n))`` (docs/papers-recipe.md §5.2, CB-WCE), where ``P_n`` is the
  photo's positive set (verified + pseudo) and P is counted over the album's photos
  (``trainer.learning.missing``). A label that usually comes with the photo's other labels
  counts little.

Held-out split: photos with at least one verified entry are dealt into ``k`` folds, seeded and
stratified so that each label's verified positives (and negatives) spread over the folds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.db.store import LabelRow
from core.db.tagstore import TagStore
from core.db.training_data import (
    feature_ids,
    feature_matrix,
    newest_verdict_log_id,
    score_triples,
    verdict_facts,
)
from core.labels.policy import CONFIRMED, REJECTED
from trainer.learning.missing import negative_confidence_weights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetConfig:
    """How much each kind of target counts.

    Attributes:
        pseudo_weight: Weight of a tag the model gave and nobody judged.
        missing_weight: Base weight of an unseen label (scaled by CB-WCE confidence).
        smoothing: Pseudo-count pulling rare label patterns toward the marginal frequency.
        unlabelled_rows: Most photos without a verdict read as rows (a seeded uniform sample;
            every photo with a verdict is always read); the other photos are represented by
            the sample (``TrainingData.row_weight``). None (the default) reads every photo;
            the residual run samples (``trainer.album.residual.sampled``).
        sample_seed: Seed of that sample.
        confidence_weights: Scale the missing entries' weights by CB-WCE confidence (the
            linear head's loss reads them). The residual fit reads only the verified entries,
            so its run and teach mode turn this off: on 100,000 photos and 251 labels with
            distinct tag sets the co-occurrence counts take about a minute.
    """

    pseudo_weight: float = 0.3
    missing_weight: float = 0.3
    smoothing: float = 1.0
    unlabelled_rows: int | None = None
    sample_seed: int = 0
    confidence_weights: bool = True


@dataclass(frozen=True)
class LabelTree:
    """Labels as columns: names, store ids, parent column (-1 for a root), default thresholds."""

    names: tuple[str, ...]
    ids: NDArray[np.int64]
    parents: NDArray[np.int64]
    defaults: NDArray[np.float64]

    @classmethod
    def from_rows(cls, rows: Sequence[LabelRow]) -> LabelTree:
        column = {r.id: i for i, r in enumerate(rows)}
        parents = [column.get(r.parent_id, -1) if r.parent_id is not None else -1 for r in rows]
        return cls(
            tuple(r.name for r in rows),
            np.array([r.id for r in rows], dtype=np.int64),
            np.array(parents, dtype=np.int64),
            np.array([r.threshold for r in rows], dtype=np.float64),
        )

    def ancestor_matrix(self) -> NDArray[np.float32]:
        """(L, L) with 1 where column a is row c itself or one of c's ancestors."""
        out = np.eye(len(self.names), dtype=np.float32)
        for c in range(len(self.names)):
            node, steps = int(self.parents[c]), 0
            while node >= 0 and steps < len(self.names):
                out[c, node] = 1.0
                node, steps = int(self.parents[node]), steps + 1
        return out

    def top_down(self) -> list[int]:
        """Columns ordered so that every parent comes before its children."""
        depth = np.zeros(len(self.names), dtype=np.int64)
        for c in range(len(self.names)):
            node, d = int(self.parents[c]), 0
            while node >= 0 and d <= len(self.names):
                node, d = int(self.parents[node]), d + 1
            depth[c] = d
        return [int(c) for c in np.argsort(depth, kind="stable")]


def blocked(tree: LabelTree, rejected: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(N, L) True where the label or one of its ancestors is rejected."""
    out = rejected.copy()
    for c in tree.top_down():
        p = tree.parents[c]
        if p >= 0:
            out[:, c] |= out[:, p]
    return out


def climb(
    tree: LabelTree, starts: NDArray[np.bool_], rejected: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """LabelPolicy's ``has``: unblocked start labels and all their ancestors, (N, L)."""
    out = starts & ~blocked(tree, rejected)
    for c in reversed(tree.top_down()):
        p = tree.parents[c]
        if p >= 0:
            out[:, p] |= out[:, c]
    return out


@dataclass(frozen=True)
class Targets:
    """Targets and weights of every photo row (see the module docstring).

    Attributes:
        targets: (N, L) float32, 1 or 0.
        weights: (N, L) float32 loss weights.
        verified: (N, L) bool, the user's verdicts (direct or implied by the hierarchy).
        pseudo: (N, L) bool, positives taken from the active model.
    """

    targets: NDArray[np.float32]
    weights: NDArray[np.float32]
    verified: NDArray[np.bool_]
    pseudo: NDArray[np.bool_]

    @property
    def verified_rows(self) -> NDArray[np.bool_]:
        return self.verified.any(axis=1)


def verified_targets(
    tree: LabelTree, verdicts: NDArray[np.int8]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """The user's verdicts (N, L) read with the hierarchy: (positive, verified), both (N, L).
    All the residual fit reads (``trainer.learning.residual_fit.build_problem``): 0.17 s for
    100,000 photos and 251 labels, where ``build_targets`` with CB-WCE weights took a minute."""
    confirmed, rejected = verdicts == CONFIRMED, verdicts == REJECTED
    positive = climb(tree, confirmed, rejected)
    return positive, positive | blocked(tree, rejected)


def build_targets(
    tree: LabelTree,
    verdicts: NDArray[np.int8],
    scores: NDArray[np.float32],
    thresholds: NDArray[np.float64],
    config: TargetConfig = TargetConfig(),
) -> Targets:
    """Targets from verdicts (N, L) in {-1, 0, 1} and the active model's scores (N, L)."""
    positive, verified = verified_targets(tree, verdicts)
    rejected = verdicts == REJECTED
    given = (scores >= thresholds[None, :]) & (verdicts == 0)
    pseudo = climb(tree, given, rejected) & ~verified
    observed = positive | pseudo
    if config.confidence_weights:
        confidence = negative_confidence_weights(observed, smoothing=config.smoothing)
    else:
        confidence = np.where(observed, 0.0, 1.0).astype(np.float32)
    weights = np.where(
        verified, 1.0, np.where(pseudo, config.pseudo_weight, config.missing_weight * confidence)
    )
    return Targets(observed.astype(np.float32), weights.astype(np.float32), verified, pseudo)


@dataclass(frozen=True)
class TrainingData:
    """Everything a training run reads from the album, as aligned arrays.

    Attributes:
        backbone: Id of the backbone whose cached features these are.
        photo_ids: (N,) store ids of the rows.
        features: (N, D) float32 pooled features (float16, as cached, when read with
            ``half``: teach mode reads them once, a chunk at a time).
        tree: The label columns.
        targets: Targets and weights.
        unseen: (N, L) verified entries the active model version did not train on.
        old_scores: (N, L) the active model's stored scores (0 where none).
        old_thresholds: (L,) the thresholds the album uses now.
        old_version: The active version.
        log_id: Newest verdict-log id when the data was read.
        row_weight: (N,) how many of the album's photos each row stands for: 1 for every
            row when all photos were read; above 1 for the sampled photos without a verdict
            of a large album (``TargetConfig.unlabelled_rows``). Album-wide sums (the mean
            feature, counts of unlabelled or tagged photos) weigh rows by it.
    """

    backbone: str
    photo_ids: NDArray[np.int64]
    features: NDArray[np.floating]
    tree: LabelTree
    targets: Targets
    unseen: NDArray[np.bool_]
    old_scores: NDArray[np.float32]
    old_thresholds: NDArray[np.float64]
    old_version: int
    log_id: int
    row_weight: NDArray[np.float64] | None = None

    @property
    def weights_per_row(self) -> NDArray[np.float64]:
        """``row_weight``, or ones when every photo is a row."""
        if self.row_weight is None:
            return np.ones(len(self.photo_ids))
        return self.row_weight

    @property
    def album_photos(self) -> int:
        """Photos of the album the rows represent (with features of the active backbone)."""
        return round(float(self.weights_per_row.sum()))


def load_training_data(
    store: TagStore, config: TargetConfig = TargetConfig(), *, half: bool = False
) -> TrainingData:
    """Read features, scores and verdicts of the active backbone's photos and build targets.

    Rows are every photo with a verdict plus, on a large album, a seeded uniform sample of
    ``config.unlabelled_rows`` of the others (all of them on a smaller one): what a fit needs,
    read in bulk, so loading does not grow with the album.

    Raises:
        ValueError: No active model, or no cached features yet (the album was never indexed).
    """
    active = store.active_model()
    if active is None:
        raise ValueError("the album has no model yet: index it first")
    log_id = newest_verdict_log_id(store)  # before the verdicts: a later one counts as unseen
    facts = verdict_facts(store)
    eligible = feature_ids(store, active.backbone)
    if eligible.size == 0:
        raise ValueError("no photo has cached features yet: index the album first")
    judged = np.intersect1d(eligible, np.unique([f.photo_id for f in facts]).astype(np.int64))
    others = np.setdiff1d(eligible, judged, assume_unique=True)
    limit = config.unlabelled_rows
    row_weight = None
    if limit is not None and others.size > limit:
        rng = np.random.default_rng(config.sample_seed)
        sample = np.sort(rng.choice(others, limit, replace=False))
        wanted = np.union1d(judged, sample)
        row_weight = np.where(np.isin(wanted, judged), 1.0, others.size / limit)
        photo_ids, features = feature_matrix(store, active.backbone, wanted.tolist())
        if not np.array_equal(photo_ids, wanted):  # a photo changed while we read
            row_weight = row_weight[np.isin(wanted, photo_ids)]
    else:
        photo_ids, features = feature_matrix(store, active.backbone)
    tree = LabelTree.from_rows(store.labels())
    row = {int(p): i for i, p in enumerate(photo_ids)}
    col = {int(lab): j for j, lab in enumerate(tree.ids)}
    shape = (len(photo_ids), len(tree.names))
    scores = np.zeros(shape, dtype=np.float32)
    pids, lids, values = score_triples(store, None if row_weight is None else photo_ids)
    r, found_row = _index_of(photo_ids, pids)
    c, found_col = _index_of(tree.ids, lids)
    ok = found_row & found_col
    scores[r[ok], c[ok]] = values[ok]
    verdicts = np.zeros(shape, dtype=np.int8)
    fresh_verdicts = np.zeros(shape, dtype=np.int8)
    seen_through = _trained_through(active.metrics)
    for fact in facts:
        if fact.photo_id in row and fact.label_id in col:
            i, j = row[fact.photo_id], col[fact.label_id]
            verdicts[i, j] = fact.verdict
            if fact.log_id > seen_through:
                fresh_verdicts[i, j] = fact.verdict
    policy = store.policy()
    thresholds = np.array([policy.threshold(int(i)) for i in tree.ids], dtype=np.float64)
    targets = build_targets(tree, verdicts, scores, thresholds, config)
    fresh = climb(tree, fresh_verdicts == CONFIRMED, fresh_verdicts == REJECTED) | blocked(
        tree, fresh_verdicts == REJECTED
    )
    return TrainingData(
        active.backbone,
        photo_ids,
        features if half else features.astype(np.float32),
        tree,
        targets,
        fresh & targets.verified,
        scores,
        thresholds,
        active.version,
        log_id,
        row_weight,
    )


def _index_of(
    keys: NDArray[np.int64], values: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Position of each value in ``keys`` (unique ids) and whether it is there at all."""
    if keys.size == 0:
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    order = np.argsort(keys, kind="stable")
    at = np.minimum(np.searchsorted(keys[order], values), keys.size - 1)
    return order[at], keys[order][at] == values


def _trained_through(metrics: dict) -> int:
    """The newest verdict-log id a version trained on; -1 (nothing) for the prior head."""
    value = metrics.get("verdicts_through")
    return int(value) if isinstance(value, int | float) else -1


def assign_folds(targets: Targets, k: int, seed: int) -> NDArray[np.int64]:
    """Deal the photos with verified entries into ``k`` folds; -1 for the other rows.

    Rows go rarest label first; each goes to the fold holding the fewest verified entries of
    its rarest (label, polarity), then the fewest rows, then at random (seeded).
    """
    folds = np.full(targets.verified.shape[0], -1, dtype=np.int64)
    rows = np.flatnonzero(targets.verified_rows)
    if k < 2 or rows.size < k:
        return folds
    rng = np.random.default_rng(seed)
    # one column per (label, polarity): positives first, then negatives
    keys = np.concatenate(
        [targets.verified & (targets.targets > 0.5), targets.verified & (targets.targets < 0.5)],
        axis=1,
    )[rows]
    totals = keys.sum(axis=0)
    rarity = np.where(keys, totals[None, :], np.iinfo(np.int64).max)
    rarest = rarity.argmin(axis=1)
    order = np.lexsort((rng.random(rows.size), rarity.min(axis=1)))
    per_key = np.zeros((k, keys.shape[1]), dtype=np.int64)
    per_fold = np.zeros(k, dtype=np.int64)
    for idx in order:
        key = rarest[idx]
        score = np.lexsort((rng.random(k), per_fold, per_key[:, key]))
        fold = int(score[0])
        folds[rows[idx]] = fold
        per_key[fold] += keys[idx]
        per_fold[fold] += 1
    return folds
