"""Fit the album's residual head (``core.model.residual``) from verdicts, mostly confirmations.

For each label the user worked on (any verified entry, hierarchy applied), one logistic model
on centred, L2-normalised pooled features learns a correction ``w . u(x) + b`` on top of the
prior's logit. Rows are the photos with verdicts plus a seeded sample of the others:

* verified entries: target 1 or 0, weight 1;
* photos nobody judged for that label are *unlabelled*, never plain negatives:
  - a label the prior knows: target = the prior's own score, weight ``unlabelled_weight``,
    fitted with the soft-target cross-entropy (``unlabelled_loss``; its gradient in the logit
    is ``p - p0``): the correction stays small where the user said nothing, and a retrain
    does not lift unjudged photos off the store's 0.01 floor (under the asymmetric loss a
    score below its 0.05 margin had no loss, and drifted up on nearly every photo);
  - a label the prior cannot see (sky, the user's own labels): target 0, with the unlabelled
    rows together weighing as much as the label's positives (positive-unlabelled learning:
    the unlabelled are mostly, not all, negatives; ranking is what is learned here, the
    threshold below turns it into tags).

All labels are fitted jointly with L-BFGS (the problems are separable; one run solves them all),
with an L2 penalty on ``w``. The loss comes from ``trainer.learning.losses`` (default ``asl``, the
asymmetric loss; any other is selectable).

A label the prior cannot see gets a prototype instead of a fit (``ResidualConfig.prototype``) until
``prototype_until`` (150) of its photos have verdicts: the direction of its confirmed photos' mean
feature, ``w = beta * p / |p|``, moved away from its rejected photos' mean when there are any (``p =
m+/|m+| - rejection_weight m-/|m-|``, Rocchio's relevance feedback; the rejections also count in its
threshold, below). Nothing is learned from the unlabelled photos, so no look-alike is pushed down as
a negative, and one label of a 100,000-photo album costs a matrix-vector product. Its logit is
scaled by the spread of the unlabelled photos' scores (``beta = prototype_slope / spread``, the
median unlabelled photo at ``-prototype_offset``), so the score reads like the other labels'. The
feature it reads, when the caller gives ``ProtoFeatures``, is the parts of ``core.model.terms`` side
by side, each weighted by its share (``SHARES``) and the whole normalised: the *power-normalised*
pooled features (square roots, centred on the album's mean, L2-normalised: few-shot prototypes gain
from damping the few large activations), the *semantic* ones (the square roots of the backbone's
ImageNet probabilities), and the three parts of the *appearance* descriptor
(``core.model.appearance``: a colour histogram, the colour layout of three bands, the backbone's
middle stage), which carry the sky, fog, forest or night that ImageNet's classes do not name.
Without them it reads ``u(x)``. On the photo set's dev half (201 photos, 10 labels the prior cannot
see, 10 users each) the semantic part lifted average precision by 0.01-0.02 at every k over the
pooled one alone, and the appearance parts by 0.04-0.09 more (0.41/0.47/0.53/0.47 ->
0.47/0.55/0.58/0.55 at k = 3/5/10/20; ``benchmarks/bench_photoset.py --split dev``,
``--no-appearance`` for the previous features). When the photos' descriptors hold patches
(``core.model.patches``; ``ProtoFeatures.patches``), a prototype also scores each photo by its best
positions of the middle stage against the confirmed photos' mean position, and sums the two
standardised scores weighted by how far each lifts the confirmed photos (``prototype``): on the
photo set's holdout, confirm-only F1 0.38/0.39/0.48/0.58 -> 0.40/0.40/0.50/0.62 at k = 3/5/10/20
(``benchmarks/bench_photoset.py --no-patches`` for the prototype without them).

A prototype beat the logistic fit with rejections at every size the photo set has: on its dev half
(12 labels the prior cannot see, 10 users), a user who rejects up to k/2 of the wrong photos a
confirm-only label showed got F1/precision 0.31/0.26, 0.35/0.39, 0.47/0.54, 0.50/0.48 at k =
3/5/10/20 from the fit (worse than confirming alone at k <= 10), 0.36/0.33, 0.44/0.48, 0.56/0.70,
0.60/0.74 from the prototype moved by 0.3 (0.38/0.37, 0.41/0.48, 0.50/0.72, 0.56/0.85 not moved;
0.36/0.34, 0.43/0.50, 0.54/0.70, 0.60/0.82 moved by 0.15); sky at k = 40 and 60 (20 and 30
rejections) 0.77 and 0.81 from the fit, 0.82 and 0.86 from the prototype. Where a fit overtakes
it was not measured (the set has no label with more verdicts); ``prototype_until`` is a guess above
the largest size measured, and the starter's fits (every dev photo verified) stay fits.

Thresholds come from out-of-fold scores (leave-one-out for prototypes): the rows (unlabelled
sample included) are dealt into folds, and each fold's rows are scored by a model fitted on the
others. For a label with ``k`` out-of-fold positive scores, recall at threshold t is estimated
as ``r(t)``, the share of them at or above t; ``n_U(t)`` unlabelled photos score at or above t.
Precision among the unlabelled photos is estimated two ways:

* from the positives: if ``m`` unlabelled photos are positives scored like the confirmed ones,
  ``n_U(t) >= m r(t)`` for every t, so ``m_hat = min_t n_U(t) / r(t)`` (over t with
  ``r(t) >= min_recall``) bounds ``m``, and ``P_pos(t) = m_hat r(t) / (n_U(t) + rejected above
  t)``: the share of the photos the threshold would tag without a verdict that are right.
  (An earlier rule counted the confirmed photos among the tagged ones, which flatters a small
  album: 5 confirmations among 31 photos read as precision 0.73 where 3 of 6 were right.)
  With few positives ``r`` is coarse and ``m_hat`` loose: this estimate is optimistic;
* from the unlabelled photos alone: most of them are negatives, and negatives score
  symmetrically about the unlabelled median ``m0`` (on the logit), so the negatives above t
  are about as many as the unlabelled photos below ``2 m0 - t`` (positives rarely score that
  low): ``P_mirror(t) = 1 - (that count + rejected above t) / (n_U(t) + rejected above t)``.
  It needs no positive at all, and it is cautious where positives are many (they lift the
  median), but optimistic where the negatives' scores are skewed upward (a small album's few
  look-alikes of another kind).

For a fitted label the two are blended by how many positives there are, ``w = k / (k +
trust_positives)``: ``P(t) = w P_pos'(t) + (1 - w) P_mirror(t)``, where ``P_pos'`` also counts
the ``k`` confirmed photos as tagged and right. For a prototype the threshold is where *both*
estimates reach the target: each fails in its own way and the lower one is the safer. Either
way it is the lowest threshold whose estimate reaches ``target_precision`` — aiming at a
stated precision, never a fixed 0.5. On the photo set's dev half (249 photos, 10 users) the
lower of the two raised confirm-only precision from 0.30/0.36/0.42/0.39 to 0.33/0.44/0.49/0.49
at k = 3/5/10/20 at an F1 within 0.01; for fitted labels (with rejections; 254 photos, 3
users) it cost F1 0.07 at k = 5 and 10, so they keep the blend.

Both estimates trust the unlabelled photos' upper tail to look like their lower half; a
shoulder of look-alikes (orange photos beside sunsets, trees beside forests) breaks that, and
the threshold lands inside it. So a prototype's threshold also goes no lower than the peak of
a score model's expected F1 (``prototype_precision="mixture"``, the default;
``mixture_index``): the unlabelled scores as heavy-tailed negatives plus positives scored like
the confirmed ones out-of-fold, their share fitted by EM. On the dev half (12 labels the prior
cannot see, 10 users each; 254 photos) F1/precision went from 0.36/0.34, 0.39/0.42,
0.45/0.49, 0.45/0.47 to 0.37/0.36, 0.40/0.44, 0.46/0.52, 0.47/0.54 at k = 3/5/10/20. The
model's peak alone, without the estimates' floor, gave 0.02 more F1 at k >= 5 and 0.01-0.02
less precision at k <= 5; its own precision is not calibrated enough to aim at a target (with
normal negatives, thresholds where it read 0.7 reached 0.26-0.33). The peak is of F-beta with
beta 0.7 (``mixture_beta``), precision weighing twice as much as recall: on the dev half (579-photo
set, 13 and 32 concepts, three kinds of user, k = 3-20, 6 seeds) it raised precision in all 24
cells by 0.004-0.037 against beta 1, with F1 within 0.006 either way; beta 0.5 gave 0.02-0.06
more precision but cost F1 0.005-0.013. On the holdout, after the choice: precision +0.007 to
+0.023 in all 12 cells, F1 within 0.005 at k <= 5 and 0.012-0.017 lower at k = 20.

A prototype of one confirmed photo has nothing to estimate from: its lone photo's score is its
own (the cosine of a photo with itself), so every estimate above reads recall 1 at every
threshold, and the threshold it gave tagged the top few percent of the album, at precision
0.30-0.39 on the photo set's dev half (13 new labels and 32 concepts taught as new, 6 seeds; 3-5
photos of 297, so thousands in a 100,000-photo album). A keyword imported from one photo's
metadata is such a label. Its threshold is ``LONE_THRESHOLD`` instead, which only near-copies of
the photo reach (6.6 spreads above the median photo); a second confirmed photo lets it spread.
Teach mode still ranks the album by the prototype and asks about the nearest photos first.

Trust grows with evidence: a prototype with ``k`` confirmed photos tags at most ``4 k^2`` of the
album's unjudged photos (``spread_cap``, ``spread_power``; 16 at k=2, 100 at k=5, 1,600 at
k=20), its most alike ones, whatever its estimates say. The cap is counted on the served scores
of every photo given (``cap_spread``), not on the fit's sample of unlabelled rows: counted on a
sample of 2,000 among 100,000 synthetic photos, caps of 16, 36 and 100 let 72, 106 and 300
photos through. Both precision estimates are optimistic
for a concept that is rare in the album (its look-alikes stand above the mirrored lower half of
the unjudged photos, and the positives' bound on how many are true is loose): five confirmed
photos of a concept on 0.6 % of the photo set's photos tagged 4.8 % of them at precision 0.06
(``benchmarks/bench_rare_labels.py``), which at 100,000 photos is thousands of wrong tags per
label. The cap bounds that at any album size. In an album of a few hundred photos it binds
mostly at k <= 3: on the photo set's dev half (4 seeds, 13 new labels and 32 concepts taught
as new, confirm-only and rejecting shown) it raised precision at k=3 by 0.067-0.069 in all four
cells (F1 -0.014 to +0.023) and moved no cell at k >= 5 by more than 0.008; ``2 k^2`` cost up
to 0.045 F1 at k=3-5 and ``4 k`` up to 0.084 at k=3-10. Teach mode and the retrain report say
when the cap binds: confirming more photos widens it.

A label the prior knows has a calibrated score to lean on: its threshold maximises the
expected F1 of the out-of-fold scores (``prior_thresholds="expected-f1"``,
``trainer.learning.thresholds.expected_f1_thresholds``): verified photos count as the user
said, an unjudged one scoring ``s`` is a positive with probability ``s`` (the anchored fit
keeps it near the prior's score). A label the prior knows with no confirmed photo keeps its
threshold (NaN here).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import NDArray

from core.model.patches import TOP, PatchTerm, best_positions, normalised_positions
from core.model.residual import EPS, prior_logits
from core.model.terms import PARTS, SCALED, PrototypeTerms, normalise
from core.threads import on_one_core
from trainer.learning.losses import anchored_loss, multilabel_loss
from trainer.learning.thresholds import expected_f1_thresholds

logger = logging.getLogger(__name__)

#: Thresholds are picked on this grid.
GRID = np.round(np.arange(0.02, 0.99, 0.01), 2)
#: A prototype of a single confirmed photo tags unjudged photos only at or above this score: near
#: copies of that photo (see the module docs).
LONE_THRESHOLD = 1.0 - EPS
#: Weight of each part's features in a prototype (dev-tuned, see the module docs); a part the
#: album's descriptors lack is left out.
SHARES = {"power": 1.0, "semantic": 0.5, "colour": 0.5, "layout": 0.3, "middle": 0.5}
#: Parts kept as coordinates in the album's principal directions: the 1,000 semantic features,
#: whose (N, 1000) array would be the largest thing a large album's retrain holds.
REDUCED = ("semantic",)
#: A ``REDUCED`` part is kept in this many principal directions.
SEMANTIC_DIMS = 256
#: The patches' positions are kept in this many principal directions (``PatchSource``).
PATCH_DIMS = 64
#: A spread limit stands this far above the score of the first unjudged photo it leaves out.
SPREAD_MARGIN = 1e-6
#: Photos (a seeded sample) the semantic mean and principal directions are computed from.
SEMANTIC_SAMPLE = 4096
#: Photos classified at a time when the semantic features of an album are computed.
SEMANTIC_CHUNK = 8192


@dataclass(frozen=True)
class ResidualConfig:
    """How corrections are fitted.

    Attributes:
        loss: A loss name of ``trainer.learning.losses`` (default ``asl``: asymmetric).
        l2: Penalty on the correction's weights (features are unit length).
        unlabelled_sample: Most photos without verdicts used as unlabelled rows.
        unlabelled_weight: Weight of a prior-known label's own score on an unlabelled row.
        unlabelled_loss: Loss of those rows, toward the prior's score (``bce``: the soft-target
            cross-entropy, which holds the score at the prior's; None: ``loss`` itself, as
            before, whose negative margin let scores below 0.05 drift up).
        prior_thresholds: Thresholds of prior-known labels: ``expected-f1`` (verified rows as
            the user said, unjudged ones by their own score,
            ``trainer.learning.thresholds.expected_f1_thresholds``) or ``pu`` (as the labels
            the prior cannot see).
        unlabelled_balance: For a label the prior cannot see, the unlabelled rows together
            weigh this many times its positives.
        folds: Folds for out-of-fold scores.
        iterations: L-BFGS iterations per fit.
        target_precision: Precision the threshold of a trained label aims at.
        min_recall: Smallest estimated recall the positives' precision estimate is read at.
        prototype_precision: ``both``: a prototype's threshold is where the lower of the two
            precision estimates reaches the target (see the module docs); ``mixture``: the
            same, but never below the peak of a two-part score model's expected F-beta
            (``mixture_index``); ``blend``: where their blend reaches it, as for fitted labels.
        trust_positives: Positives at which the blended estimates weigh the same.
        prototype: Labels the prior cannot see get a prototype, not a fit, while they have
            fewer than ``prototype_until`` verified photos (confirmed and rejected).
        prototype_until: See ``prototype``.
        rejection_weight: A prototype's direction moves away from the mean of its rejected
            photos by this much (the unit mean of the confirmed ones minus this times the unit
            mean of the rejected ones; Rocchio's relevance feedback).
        spread_cap: A prototype with ``k`` confirmed photos tags at most
            ``spread_cap * k ** spread_power`` of the album's unjudged photos (None: no cap;
            see the module docs).
        spread_power: See ``spread_cap``.
        prototype_slope: A prototype's logit rises this much per spread of unlabelled scores.
        prototype_offset: A prototype scores the median unlabelled photo ``-offset`` (logit).
        mixture_beta: The F-beta a ``mixture`` threshold maximises (below 1: precision counts
            more than recall).
        mixture_tail: Degrees of freedom of the Student t the unlabelled photos' standardised
            scores follow, positives apart (a heavier tail than a normal's: look-alikes).
        mixture_shrink: The positives' score spread is shrunk toward the unlabelled photos'
            by this many pseudo-positives.
        seed: Seed of the sample and the folds.
    """

    loss: str = "asl"
    l2: float = 3e-2
    unlabelled_sample: int = 2000
    unlabelled_weight: float = 0.3
    unlabelled_loss: str | None = "bce"
    prior_thresholds: str = "expected-f1"
    unlabelled_balance: float = 1.0
    folds: int = 5
    iterations: int = 30
    target_precision: float = 0.7
    min_recall: float = 0.4
    prototype_precision: str = "mixture"
    trust_positives: float = 5.0
    prototype: bool = True
    prototype_slope: float = 2.0
    prototype_offset: float = 4.0
    mixture_beta: float = 0.7
    mixture_tail: float = 10.0
    mixture_shrink: float = 3.0
    prototype_until: int = 150
    rejection_weight: float = 0.3
    spread_cap: float | None = 4.0
    spread_power: float = 2.0
    seed: int = 0


@dataclass
class LabelProblem:
    """Aligned arrays for the labels being fitted.

    Attributes:
        u: (R, D) normalised pooled features of the rows.
        offset: (R, C) prior logit times alpha (0 for labels the prior cannot see).
        targets: (R, C) in [0, 1].
        weights: (R, C) >= 0.
        verified: (R, C) the user's own entries.
        rows: (R,) row indices into the album's photo arrays.
        anchored: (R, C) bool, entries whose target is the prior's own score (the unlabelled
            rows of prior-known labels), fitted with ``ResidualConfig.unlabelled_loss``; None:
            every entry with ``ResidualConfig.loss``.
    """

    u: torch.Tensor
    offset: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor
    verified: NDArray[np.bool_]
    rows: NDArray[np.int64]
    anchored: torch.Tensor | None = None


@dataclass(frozen=True)
class ProtoPart:
    """One part of the prototype features (``core.model.terms.PARTS``).

    A photo's feature for this part is ``f = normalise(input / scale, mean)`` (``scale`` only
    for ``core.model.terms.SCALED`` parts). With a ``basis`` (orthonormal columns (K, d)) it
    is kept as its coordinates ``f @ basis`` in the album's ``d`` principal directions (4 times
    smaller for the 1,000 semantic features); a prototype direction on the coordinates is the
    weight ``basis @ p`` on ``f``, so what the served head computes equals what the trainer did.

    Attributes:
        name: The part.
        mean: (K,) the album's mean of ``input / scale``.
        scale: (K,) or None.
        basis: (K, d) or None (``values`` are ``f`` itself).
        values: (N, d) the photos' features (or coordinates), in the order given.
    """

    name: str
    mean: torch.Tensor
    scale: torch.Tensor | None
    basis: torch.Tensor | None
    values: torch.Tensor

    @property
    def share(self) -> float:
        return SHARES[self.name]


@dataclass(frozen=True)
class PatchSource:
    """The photos' patches (``core.model.patches``) as a prototype's patch term reads them:
    every position normalised (``normalised_positions``) and kept as its coordinates in the
    album's ``d`` principal directions of positions, so a refit scores 100,000 photos with one
    small product. A direction ``p`` (d,) on the coordinates is the weight ``basis @ p`` on the
    positions, which the served head reads in full: what it computes equals what the trainer
    did.

    Attributes:
        mean: (C,) the album's mean square-rooted position, positions are centred on.
        basis: (C, d) orthonormal columns.
        coords: (N, P, d) every photo's positions in those directions.
    """

    mean: torch.Tensor
    basis: torch.Tensor
    coords: torch.Tensor

    @property
    def count(self) -> int:
        return int(self.coords.shape[0])

    def positions(self, rows: NDArray[np.int64]) -> torch.Tensor:
        """Coordinates (len(rows), P, d) of rows' positions."""
        return self.coords[torch.from_numpy(np.asarray(rows, dtype=np.int64))]

    def logits(self, weight: NDArray[np.float32]) -> torch.Tensor:
        """(N, L) what patch weights (L, d) on the coordinates add to every photo's logits."""
        on = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32))
        return best_positions(self.coords, on)

    def term(self, weight: NDArray[np.float32]) -> PatchTerm:
        """The served head's ``PatchTerm`` for weights (L, d) on the coordinates."""
        on = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32))
        return PatchTerm(on @ self.basis.T, self.mean)


def patch_source(
    raw: Callable[[NDArray[np.int64]], torch.Tensor],
    count: int,
    row_weight: NDArray[np.floating] | None = None,
    dims: int = PATCH_DIMS,
    seed: int = 0,
) -> PatchSource:
    """A ``PatchSource`` of ``count`` photos whose raw positions ``raw(rows)`` gives. The mean
    position (each photo weighing ``row_weight``, None: alike) and the principal directions
    come from a seeded sample of ``SEMANTIC_SAMPLE`` photos, as a ``REDUCED`` part's do; the
    coordinates are computed ``SEMANTIC_CHUNK`` photos at a time."""
    if count <= 0:
        raise ValueError("patches need at least one photo")
    sample = _sample_rows(count, seed)
    probe = raw(sample)
    w = None if row_weight is None else torch.from_numpy(np.asarray(row_weight, np.float32)[sample])
    mean = _weighted_mean(probe.clamp_min(0.0).sqrt().mean(dim=1), w)
    probe = normalised_positions(probe, mean)
    basis = _principal_basis(probe.reshape(-1, probe.shape[-1]), dims)
    coords = torch.empty(count, probe.shape[1], basis.shape[1])
    for rows in _chunks(count):
        # normalised_positions(raw(rows), mean) @ basis, in place: the basis is orthonormal
        # but narrower, so the positions' lengths are taken before it and divided after
        x = raw(rows).clamp_(min=0.0).sqrt_().sub_(mean)
        length = torch.linalg.vector_norm(x, dim=2, keepdim=True).clamp_min_(1e-6)
        coords[int(rows[0]) : int(rows[-1]) + 1] = (x @ basis).div_(length)
    return PatchSource(mean, basis, coords)


@dataclass(frozen=True)
class ProtoFeatures:
    """The album's features as confirm-only prototypes read them (see the module docs): the
    parts' features side by side, each weighted by its share, ``[a_k f_k] / sqrt(sum a_k^2)``;
    and the photos' patches, when their descriptors hold them."""

    parts: tuple[ProtoPart, ...]
    patches: PatchSource | None = None

    @property
    def count(self) -> int:
        return int(self.parts[0].values.shape[0])

    def _norm(self) -> float:
        return math.sqrt(sum(part.share**2 for part in self.parts))

    def rows(self, rows: NDArray[np.int64]) -> torch.Tensor:
        """The prototype's feature (len(rows), sum of d) of rows."""
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        both = torch.cat([part.share * part.values[index] for part in self.parts], dim=1)
        return both / self._norm()

    def split(self, weight: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
        """A weight on ``rows``' feature as a weight (K,) on each part's ``f``."""
        out, start = {}, 0
        for part in self.parts:
            width = int(part.values.shape[1])
            on = torch.from_numpy(weight[start : start + width] * (part.share / self._norm()))
            start += width
            out[part.name] = (on if part.basis is None else part.basis @ on).numpy()
        return {k: v.astype(np.float32) for k, v in out.items()}

    def logits(self, weights: Mapping[str, NDArray[np.float32]]) -> torch.Tensor:
        """(N, C) what weights (C, K) on each part's ``f`` add to the photos' logits."""
        total = torch.zeros(self.count, next(iter(weights.values())).shape[0])
        for part in self.parts:
            on = torch.from_numpy(np.ascontiguousarray(weights[part.name]))
            if part.basis is not None:
                on = on @ part.basis  # (C, d)
            total += part.values @ on.T
        return total

    def terms(self, weights: Mapping[str, NDArray[np.float32]]) -> PrototypeTerms:
        """The served head's ``PrototypeTerms`` for weights (L, K) on each part's ``f``."""
        return PrototypeTerms(
            {p.name: torch.from_numpy(np.ascontiguousarray(weights[p.name])) for p in self.parts},
            {p.name: p.mean for p in self.parts},
            {p.name: p.scale for p in self.parts if p.scale is not None},
        )

    def zero_weights(self, count: int) -> dict[str, NDArray[np.float32]]:
        """Weights (count, K) of zero on every part."""
        widths = {p.name: p.mean.shape[0] for p in self.parts}
        return {n: np.zeros((count, k), dtype=np.float32) for n, k in widths.items()}


def prototype_features(
    inputs: Mapping[str, Callable[[NDArray[np.int64]], torch.Tensor]],
    count: int,
    row_weight: NDArray[np.floating] | None = None,
    dims: int = SEMANTIC_DIMS,
    seed: int = 0,
) -> ProtoFeatures:
    """``ProtoFeatures`` of ``count`` photos; ``inputs[part](rows)`` gives a part's input
    (len(rows), K) before scaling and centring (``core.model.terms.part_input``).

    Means (and scales) weigh each photo by ``row_weight`` when the photos stand for more of the
    album. A ``REDUCED`` part wider than ``dims`` is kept in its principal directions; its
    mean and directions come from a seeded sample of ``SEMANTIC_SAMPLE`` photos, and it is
    computed ``SEMANTIC_CHUNK`` photos at a time, so no (N, K) array of it is ever held.

    Raises:
        ValueError: No photo, or a part ``core.model.terms.PARTS`` does not know.
    """
    if count <= 0:
        raise ValueError("prototype features need at least one photo")
    unknown = [name for name in inputs if name not in PARTS]
    if unknown:
        raise ValueError(f"unknown prototype parts {unknown}")
    weights = None if row_weight is None else np.asarray(row_weight, dtype=np.float32)
    sample = _sample_rows(count, seed)
    parts = []
    for name in (n for n in PARTS if n in inputs):
        if name in REDUCED:
            probe = inputs[name](sample).to(torch.float32)
            if probe.shape[1] > dims:
                parts.append(_reduced_part(name, inputs[name], probe, sample, count, weights, dims))
                continue
        x = inputs[name](np.arange(count, dtype=np.int64)).to(torch.float32)
        w = None if weights is None else torch.from_numpy(weights)
        scale = None
        if name in SCALED:
            scale = _weighted_std(x, w).clamp_min(1e-6)
            x = x / scale
        mean = _weighted_mean(x, w)
        parts.append(ProtoPart(name, mean, scale, None, normalise(x, mean)))
    return ProtoFeatures(tuple(parts))


def _weighted_mean(x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """The mean of the rows of ``x``, each weighing ``w`` (None: alike)."""
    return x.mean(dim=0) if w is None else (w @ x) / w.sum().clamp_min(1e-12)


def _weighted_std(x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    if w is None:
        return x.std(dim=0, correction=0)
    return _weighted_mean((x - _weighted_mean(x, w)) ** 2, w).sqrt()


def _reduced_part(
    name: str,
    input_of: Callable[[NDArray[np.int64]], torch.Tensor],
    probe: torch.Tensor,
    sample: NDArray[np.int64],
    count: int,
    weights: NDArray[np.float32] | None,
    dims: int,
) -> ProtoPart:
    """A wide part kept in its ``dims`` principal directions (see ``prototype_features``)."""
    mean = _weighted_mean(probe, None if weights is None else torch.from_numpy(weights[sample]))
    basis = _principal_basis(normalise(probe, mean), dims)
    coords = torch.empty(count, dims)
    for rows in _chunks(count):
        coords[int(rows[0]) : int(rows[-1]) + 1] = (
            normalise(input_of(rows).to(torch.float32), mean) @ basis
        )
    return ProtoPart(name, mean, None, basis, coords)


def _sample_rows(count: int, seed: int) -> NDArray[np.int64]:
    """The sorted rows (a seeded sample of ``SEMANTIC_SAMPLE``, or all) means and principal
    directions are computed from."""
    rng = np.random.default_rng(seed)
    sample = (
        np.arange(count) if count <= SEMANTIC_SAMPLE else rng.choice(count, SEMANTIC_SAMPLE, False)
    )
    return np.sort(sample).astype(np.int64)


def _chunks(count: int) -> list[NDArray[np.int64]]:
    """Rows 0..count-1 in runs of ``SEMANTIC_CHUNK``."""
    return [
        np.arange(start, min(count, start + SEMANTIC_CHUNK), dtype=np.int64)
        for start in range(0, count, SEMANTIC_CHUNK)
    ]


def _principal_basis(flat: torch.Tensor, dims: int) -> torch.Tensor:
    """Orthonormal columns (K, dims): the ``dims`` leading principal directions of the rows
    ``flat`` (N, K), largest first; the identity when ``dims`` covers every feature."""
    if dims >= flat.shape[1]:
        return torch.eye(flat.shape[1])
    _, vectors = torch.linalg.eigh((flat.T @ flat).double())
    basis: torch.Tensor = vectors[:, -dims:].flip(1).to(torch.float32).contiguous()
    return basis


@dataclass(frozen=True)
class Fitted:
    """A fitted correction for C labels, thresholds and evidence."""

    weight: NDArray[np.float32]  # (C, D)
    bias: NDArray[np.float32]  # (C,)
    thresholds: NDArray[np.float64]  # (C,)
    oof: NDArray[np.float32]  # (R, C) out-of-fold scores of the problem's rows
    problem: LabelProblem
    estimated_precision: NDArray[np.float64]
    estimated_recall: NDArray[np.float64]
    seconds: float
    #: Per part of the ``ProtoFeatures`` given, weights (C, K) on its features (zero but for
    #: prototypes); None when none were given.
    prototype_weights: dict[str, NDArray[np.float32]] | None = None
    #: Weights (C, channels) of the prototypes' patch term; None without patches.
    patch_weight: NDArray[np.float32] | None = None
    #: (C,) the most unjudged photos a label may tag (``spread_cap``) where that raised its
    #: threshold, NaN elsewhere; None: not computed.
    spread_caps: NDArray[np.float64] | None = None

    def prototype_logits(
        self, features: ProtoFeatures | None, columns: NDArray[np.int64] | None = None
    ) -> torch.Tensor | None:
        """(N, C) what the prototype weights add to the logits of the photos ``features``
        describe (None when this fit has none); with ``columns``, (N, len(columns)) for
        those labels only."""
        if features is None or self.prototype_weights is None:
            return None
        weights = self.prototype_weights
        patch_weight = self.patch_weight
        if columns is not None:
            weights = {name: w[columns] for name, w in weights.items()}
            patch_weight = None if patch_weight is None else patch_weight[columns]
        out = features.logits(weights)
        if features.patches is not None and patch_weight is not None:
            used = np.flatnonzero(np.abs(patch_weight).sum(axis=1) > 0)
            if used.size:
                out[:, used] += features.patches.logits(patch_weight[used])
        return out


def build_problem(
    u_all: torch.Tensor,
    prior: NDArray[np.float32],
    has_prior: NDArray[np.bool_],
    targets: NDArray[np.float32],
    verified: NDArray[np.bool_],
    config: ResidualConfig,
) -> LabelProblem:
    """Rows and weights for labels given as columns.

    Args:
        u_all: (N, D) normalised pooled features of every photo.
        prior: (N, C) the prior's scores (ignored where ``has_prior`` is False).
        has_prior: (C,) whether the prior scores the label.
        targets: (N, C) verified targets (hierarchy applied); only read where verified.
        verified: (N, C) which entries the user verified.
    """
    rng = np.random.default_rng(config.seed)
    judged = np.flatnonzero(verified.any(axis=1))
    others = np.setdiff1d(np.arange(u_all.shape[0]), judged)
    if others.size > config.unlabelled_sample:
        others = np.sort(rng.choice(others, config.unlabelled_sample, replace=False))
    rows = np.concatenate([judged, others]).astype(np.int64)
    ver = verified[rows]
    p0 = np.clip(prior[rows], EPS, 1 - EPS)
    y = np.where(ver, targets[rows], np.where(has_prior[None, :], p0, 0.0)).astype(np.float32)
    positives = (ver & (targets[rows] > 0.5)).sum(axis=0)
    unlabelled = (~ver).sum(axis=0)
    balance = config.unlabelled_balance * positives / np.maximum(unlabelled, 1)
    w_unl = np.where(has_prior, config.unlabelled_weight, balance)
    w = np.where(ver, 1.0, w_unl[None, :]).astype(np.float32)
    offset = prior_offset(prior[rows], has_prior)
    anchored = ~ver & np.asarray(has_prior, dtype=bool)[None, :]
    return LabelProblem(
        u_all[rows],
        torch.from_numpy(offset),
        torch.from_numpy(y),
        torch.from_numpy(w),
        ver,
        rows,
        torch.from_numpy(anchored) if config.unlabelled_loss is not None else None,
    )


def prior_offset(prior: NDArray[np.floating], has_prior: NDArray[np.bool_]) -> NDArray[np.float32]:
    """The prior's logit (N, C) where the prior scores the label, 0 where it cannot: the
    served head's own formula (``core.model.residual.prior_logits``)."""
    logits = prior_logits(torch.from_numpy(np.ascontiguousarray(prior))).numpy()
    return np.where(has_prior[None, :], logits, 0.0).astype(np.float32)


def score(
    u: torch.Tensor,
    prior: NDArray[np.floating],
    has_prior: NDArray[np.bool_],
    weight: NDArray[np.float32],
    bias: NDArray[np.float32],
    extra: torch.Tensor | None = None,
) -> NDArray[np.float32]:
    """Scores (N, C) of photos: the prior's logit plus the fitted correction, through a sigmoid.

    Args:
        u: (N, D) normalised pooled features.
        prior: (N, C) the prior's scores (ignored where ``has_prior`` is False).
        has_prior: (C,).
        weight: (C, D) and bias (C,) of a fit.
        extra: (N, C) logits the prototypes add (``Fitted.prototype_logits``), or None.
    """
    with torch.no_grad():
        logits = torch.from_numpy(prior_offset(prior, has_prior)) + torch.from_numpy(bias)
        if weight.any():  # a prototype's weight is all on the prototype features
            logits = logits + u @ torch.from_numpy(weight).T
        if extra is not None:
            logits = logits + extra
        return torch.sigmoid(logits).numpy()


def solve(
    problem: LabelProblem, subset: NDArray[np.int64], config: ResidualConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (C, D) and bias (C,) fitted on the rows ``subset`` of ``problem``."""
    u, off = problem.u[subset], problem.offset[subset]
    y, w = problem.targets[subset], problem.weights[subset]
    anchored = None if problem.anchored is None else problem.anchored[subset]
    total = w.sum(dim=0).clamp_min(1e-6)
    count = y.shape[1]
    weight = torch.zeros(count, u.shape[1], requires_grad=True)
    bias = torch.zeros(count, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=config.iterations,
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_change=1e-6,
        tolerance_grad=1e-5,
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = off + u @ weight.T + bias
        if anchored is None:
            element = multilabel_loss(logits, y, kind=config.loss, weight=w, reduction="none")
        else:
            element = anchored_loss(
                logits,
                y,
                anchored,
                kind=config.loss,
                anchor=config.unlabelled_loss or "bce",
                weight=w,
            )
        loss = (element.sum(dim=0) / total).sum() + config.l2 * (weight * weight).sum()
        loss.backward()  # type: ignore[no-untyped-call]  # torch's stubs leave it untyped
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]  # LBFGS.step is untyped
    return weight.detach(), bias.detach()


def predict(
    problem: LabelProblem, subset: NDArray[np.int64], weight: torch.Tensor, bias: torch.Tensor
) -> NDArray[np.float32]:
    """Scores (len(subset), C) of rows of the problem."""
    with torch.no_grad():
        logits = problem.offset[subset] + problem.u[subset] @ weight.T + bias
        return torch.sigmoid(logits).numpy()


def assign_folds(problem: LabelProblem, k: int, seed: int) -> NDArray[np.int64]:
    """A fold per row: positives of each label spread evenly, the rest at random."""
    rng = np.random.default_rng(seed + 1)
    n = len(problem.rows)
    folds = rng.integers(0, k, size=n)
    positive = problem.verified & (problem.targets.numpy() > 0.5)
    order = np.argsort(positive.sum(axis=0))  # rarest label first
    done = np.zeros(n, dtype=bool)
    for column in order:
        members = np.flatnonzero(positive[:, column] & ~done)
        members = members[rng.permutation(members.size)]
        start = int(rng.integers(k))
        folds[members] = (start + np.arange(members.size)) % k
        done[members] = True
    return folds.astype(np.int64)


def prototype_labels(
    has_prior: NDArray[np.bool_],
    targets: NDArray[np.floating],
    verified: NDArray[np.bool_],
    config: ResidualConfig,
) -> NDArray[np.bool_]:
    """(C,) the labels ``fit_residual`` gives a prototype: the prior cannot see them, some photo
    confirms them, fewer than ``config.prototype_until`` photos have a verdict on them (and
    ``config.prototype`` is on)."""
    positives = (verified & (targets > 0.5)).any(axis=0)
    few = np.asarray(verified, dtype=bool).sum(axis=0) < config.prototype_until
    return np.asarray(
        config.prototype & ~np.asarray(has_prior, dtype=bool) & positives & few, dtype=bool
    )


def fit_residual(
    u_all: torch.Tensor,
    prior: NDArray[np.float32],
    has_prior: NDArray[np.bool_],
    targets: NDArray[np.float32],
    verified: NDArray[np.bool_],
    config: ResidualConfig = ResidualConfig(),
    unlabelled_total: NDArray[np.floating] | None = None,
    features: ProtoFeatures | None = None,
    row_weight: NDArray[np.floating] | None = None,
) -> Fitted:
    """Fit corrections for the label columns given, with out-of-fold thresholds.

    ``unlabelled_total`` (C,): photos of the album without a verdict per label, when the rows
    given are a sample of the album (default: counted on the rows). ``features``: the same
    photos' prototype features (rows in the order of ``u_all``), read by prototypes.
    ``row_weight`` (N,): how many of the album's photos each row of ``u_all`` stands for
    (default one each), for the spread cap (``cap_spread``).
    """
    if config.prototype_precision not in ("mixture", "both", "blend"):
        raise ValueError(f"unknown prototype_precision {config.prototype_precision!r}")
    if config.prior_thresholds not in ("expected-f1", "pu"):
        raise ValueError(f"unknown prior_thresholds {config.prior_thresholds!r}")
    started = time.perf_counter()
    problem = build_problem(u_all, prior, has_prior, targets, verified, config)
    n_rows, count = problem.targets.shape
    y = problem.targets.numpy()
    by_prototype = prototype_labels(has_prior, y, problem.verified, config)
    weight = np.zeros((count, problem.u.shape[1]), dtype=np.float32)
    bias = np.zeros(count, dtype=np.float32)
    oof = np.zeros((n_rows, count), dtype=np.float32)
    # a label nobody judged keeps w = 0, b = 0 exactly: nothing to learn, nothing may move
    fitted = np.flatnonzero(~by_prototype & problem.verified.any(axis=0))
    if fitted.size:
        part = columns_of(problem, fitted)
        weight[fitted], bias[fitted], oof[:, fitted] = _fit_logistic(part, config)
    prototype_weights = None
    rows_features = None
    patch_weight = None
    positions = None
    if features is not None:
        if features.count != u_all.shape[0]:
            raise ValueError(f"prototype features of {features.count} photos for {u_all.shape[0]}")
        prototype_weights = features.zero_weights(count)
        if by_prototype.any():
            rows_features = features.rows(problem.rows)
            if features.patches is not None:
                positions = features.patches.positions(problem.rows)
                patch_weight = np.zeros((count, positions.shape[2]), dtype=np.float32)
    for c in np.flatnonzero(by_prototype):
        w_c, bias[c], oof[:, c], patch_c = prototype(
            problem, int(c), config, rows_features, positions
        )
        if patch_weight is not None and patch_c is not None:
            patch_weight[c] = patch_c
        if features is None or prototype_weights is None:
            weight[c] = w_c
        else:
            for name, on in features.split(w_c).items():
                prototype_weights[name][c] = on
    if unlabelled_total is None:
        unlabelled_total = (~verified).sum(axis=0)
    totals = np.asarray(unlabelled_total, dtype=np.float64)
    known = np.asarray(has_prior, dtype=bool)
    if config.prior_thresholds == "pu":
        known = np.zeros(count, dtype=bool)
    thresholds, precision, recall = np.full(count, np.nan), np.zeros(count), np.zeros(count)
    by_pu = np.flatnonzero(~known)  # the others' thresholds come from expected F1 below
    if by_pu.size:
        part = columns_of(problem, by_pu)
        thresholds[by_pu], precision[by_pu], recall[by_pu] = pu_thresholds(
            part, oof[:, by_pu], totals[by_pu], config, by_prototype[by_pu]
        )
    if known.any():
        ver = problem.verified[:, known]
        scale = totals[known] / np.maximum((~ver).sum(axis=0), 1)
        best = expected_f1_thresholds(
            oof[:, known], y[:, known], ver, grid=GRID, unlabelled_scale=scale
        )
        thresholds[known], precision[known], recall[known] = (
            best.thresholds,
            best.precision,
            best.recall,
        )
    out = Fitted(
        weight,
        bias,
        thresholds,
        oof,
        problem,
        precision,
        recall,
        time.perf_counter() - started,
        prototype_weights,
        patch_weight,
    )
    if by_prototype.any():
        caps = cap_spread(out, by_prototype, u_all, features, verified, row_weight, config)
        out = replace(out, spread_caps=caps, seconds=time.perf_counter() - started)
    return out


def columns_of(problem: LabelProblem, columns: NDArray[np.int64]) -> LabelProblem:
    """The same rows, only the label columns given."""
    index = torch.from_numpy(np.asarray(columns, dtype=np.int64))
    return LabelProblem(
        problem.u,
        problem.offset[:, index],
        problem.targets[:, index],
        problem.weights[:, index],
        problem.verified[:, columns],
        problem.rows,
        None if problem.anchored is None else problem.anchored[:, index],
    )


def _fit_logistic(
    problem: LabelProblem, config: ResidualConfig
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Weight, bias and out-of-fold scores of a jointly fitted correction (L-BFGS)."""
    n_rows = len(problem.rows)
    positives = (problem.verified & (problem.targets.numpy() > 0.5)).sum(axis=0)
    k = int(min(config.folds, max(2, positives.max(initial=0))))
    folds = assign_folds(problem, k, config.seed)
    oof = np.zeros(tuple(problem.targets.shape), dtype=np.float32)
    splits = [(folds != fold, folds == fold) for fold in range(k)]
    splits = [(train, held) for train, held in splits if train.any() and held.any()]
    rows = [np.flatnonzero(train) for train, _ in splits] + [np.arange(n_rows)]
    solved = _side_by_side(lambda subset: solve(problem, subset, config), rows)
    for (_, held), (weight, bias) in zip(splits, solved, strict=False):
        at = np.flatnonzero(held)
        oof[at] = predict(problem, at, weight, bias)
    weight, bias = solved[-1]
    return weight.numpy(), bias.numpy(), oof


def _side_by_side(
    job: Callable[[NDArray[np.int64]], tuple[torch.Tensor, torch.Tensor]],
    inputs: list[NDArray[np.int64]],
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``job`` of every input, results in order: the fits are independent, so they run side by
    side, one per core (as many as torch's threads here), each on one torch thread.

    One L-BFGS fit is a string of mid-sized matrix products; on torch's shared thread team
    every product waits for both cores, and with other programs busy the team's busy-waiting
    made the fits 6 times slower than on one thread (``bench_retrain.py`` at 100,000 photos).
    Every fit computes what it would alone: the results do not depend on the number of workers.
    """
    workers = min(len(inputs), torch.get_num_threads())
    if workers <= 1:
        return [job(x) for x in inputs]
    with ThreadPoolExecutor(workers, thread_name_prefix="albumtag-fit") as pool:
        return list(pool.map(lambda x: on_one_core(job, x), inputs))


def prototype(
    problem: LabelProblem,
    column: int,
    config: ResidualConfig,
    features: torch.Tensor | None = None,
    positions: torch.Tensor | None = None,
) -> tuple[NDArray[np.float32], float, NDArray[np.float32], NDArray[np.float32] | None]:
    """A confirm-only label's prototype: weight, bias, scores of the problem's rows, and the
    weight of its patch term (None without ``positions``).

    The weight is on ``u`` (the problem's), or on ``features`` (R, F) of the rows when given
    (``ProtoFeatures.rows``). With ``positions`` (R, P, d) of the rows
    (``PatchSource.positions``), a photo's mean of its best positions against the confirmed
    photos' mean position (``core.model.patches``) is a second score; each score is
    standardised by the unlabelled rows' median and spread, and the label's score is their
    sum, each weighed by how far it lifts the confirmed photos (``_evidence_weights``),
    standardised again. Everything is linear in the two scores, so the served head holds
    it as the weight on ``u``, the patch weight and the bias.
    The positives' scores are leave-one-out (each against the prototype of the others; a lone
    positive keeps its own score); every other row is unlabelled for this label and never
    shaped the prototype, so its score is already out-of-sample.
    """
    y = problem.targets[:, column].numpy()
    members = np.flatnonzero(problem.verified[:, column] & (y > 0.5))
    rejected = np.flatnonzero(problem.verified[:, column] & (y <= 0.5))
    u = problem.u if features is None else features
    with torch.no_grad():
        own = u[torch.from_numpy(members)]
        total = own.sum(dim=0)
        away = torch.zeros_like(total)
        if rejected.size:
            away = u[torch.from_numpy(rejected)].sum(dim=0)
            away = config.rejection_weight * away / away.norm().clamp_min(1e-12)
        direction = total / total.norm().clamp_min(1e-12) - away
        direction = direction / direction.norm().clamp_min(1e-12)
        cosine = (u @ direction).numpy().astype(np.float64)
        if members.size > 1:
            rest = total[None, :] - own
            rest = rest / rest.norm(dim=1, keepdim=True).clamp_min(1e-12) - away[None, :]
            rest = rest / rest.norm(dim=1, keepdim=True).clamp_min(1e-12)
            cosine[members] = (own * rest).sum(dim=1).numpy()
    others = np.ones(len(cosine), dtype=bool)
    others[members] = False
    centre, spread = _centre_spread(cosine[others] if others.any() else cosine)
    if positions is None:
        beta = config.prototype_slope / spread
        b = -beta * centre - config.prototype_offset
        scores = 1.0 / (1.0 + np.exp(-(beta * cosine + b)))
        return (
            (beta * direction).numpy().astype(np.float32),
            float(b),
            scores.astype(np.float32),
            None,
        )
    patch_direction, patch = _patch_scores(positions, members)
    patch_centre, patch_spread = _centre_spread(patch[others] if others.any() else patch)
    z_whole = (cosine - centre) / spread
    z_patch = (patch - patch_centre) / patch_spread
    a, c = _evidence_weights(z_whole[members], z_patch[members])
    summed = a * z_whole + c * z_patch
    sum_centre, sum_spread = _centre_spread(summed[others] if others.any() else summed)
    slope = config.prototype_slope / sum_spread
    b = -slope * (a * centre / spread + c * patch_centre / patch_spread + sum_centre)
    b -= config.prototype_offset
    logits = slope * (a * cosine / spread + c * patch / patch_spread) + b
    scores = 1.0 / (1.0 + np.exp(-logits))
    return (
        (slope * a / spread * direction).numpy().astype(np.float32),
        float(b),
        scores.astype(np.float32),
        (slope * c / patch_spread * patch_direction).numpy().astype(np.float32),
    )


def _evidence_weights(
    whole: NDArray[np.float64], patches: NDArray[np.float64]
) -> tuple[float, float]:
    """Weights of a prototype's two standardised scores: each the median leave-one-out score
    of the confirmed photos under it (how far it lifts them above the unlabelled ones; no
    less than 0), as a linear discriminant weighs independent unit-variance scores by their
    mean shift. A lone confirmed photo's scores are its own, so one photo weighs both alike."""
    if whole.size < 2:
        return 1.0, 1.0
    a, c = max(float(np.median(whole)), 0.0), max(float(np.median(patches)), 0.0)
    return (a, c) if a + c > 0 else (1.0, 1.0)


def _centre_spread(reference: NDArray[np.float64]) -> tuple[float, float]:
    """Median and 1.4826 x median absolute deviation (at least 1e-6) of ``reference``."""
    centre = float(np.median(reference))
    return centre, max(1.4826 * float(np.median(np.abs(reference - centre))), 1e-6)


def _patch_scores(
    positions: torch.Tensor, members: NDArray[np.int64]
) -> tuple[torch.Tensor, NDArray[np.float64]]:
    """The unit direction (C,) of the members' mean position, and every row's mean of its best
    positions against it; a member's against the others' (leave-one-out, when there are)."""
    with torch.no_grad():
        own = positions[torch.from_numpy(members)].mean(dim=1)  # (k, C)
        direction = torch.nn.functional.normalize(own.mean(dim=0), dim=0)
        scores = best_positions(positions, direction[None, :])[:, 0]
        if members.size > 1:
            rest = torch.nn.functional.normalize(own.sum(dim=0)[None, :] - own, dim=1)
            at = positions[torch.from_numpy(members)]  # (k, P, C)
            against = (at * rest[:, None, :]).sum(dim=2)  # (k, P)
            top = min(TOP, at.shape[1])
            scores[torch.from_numpy(members)] = against.topk(top, dim=1).values.mean(dim=1)
    return direction, scores.numpy().astype(np.float64)


def pu_thresholds(
    problem: LabelProblem,
    oof: NDArray[np.float32],
    unlabelled_total: NDArray[np.int64] | NDArray[np.floating],
    config: ResidualConfig,
    prototypes: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per label: the lowest threshold whose estimated precision reaches the target;
    ``prototypes`` (C,) marks the columns whose scores are prototypes' (``prototype``); one
    with a single confirmed photo gets ``LONE_THRESHOLD``.

    Returns:
        thresholds, estimated precision and estimated recall at them (see the module docs).
    """
    y = problem.targets.numpy()
    count = y.shape[1]
    out = np.full(count, np.nan)
    precision, recall = np.zeros(count), np.zeros(count)
    grid_logit = _logit(GRID)
    lower = np.zeros(count, dtype=bool)  # the lower of the two estimates, not their blend
    mixture = np.zeros(count, dtype=bool)  # a two-part score model, not the estimates
    is_prototype = np.zeros(count, bool) if prototypes is None else np.asarray(prototypes, bool)
    if prototypes is not None and config.prototype_precision in ("both", "mixture"):
        lower = np.asarray(prototypes, dtype=bool)
    if prototypes is not None and config.prototype_precision == "mixture":
        mixture = np.asarray(prototypes, dtype=bool)
    for c in range(count):
        ver = problem.verified[:, c]
        pos = oof[ver & (y[:, c] > 0.5), c]
        neg = oof[ver & (y[:, c] <= 0.5), c]
        unl = oof[~ver, c]
        if pos.size == 0:
            continue
        if is_prototype[c] and pos.size == 1:  # nothing to estimate from: near copies only
            out[c], precision[c], recall[c] = LONE_THRESHOLD, 1.0, 0.0
            continue
        scale = unlabelled_total[c] / max(unl.size, 1)
        r = (pos[None, :] >= GRID[:, None]).mean(axis=1)
        n_u = (unl[None, :] >= GRID[:, None]).sum(axis=1) * scale
        n_n = (neg[None, :] >= GRID[:, None]).sum(axis=1)
        usable = r >= config.min_recall
        if not usable.any():
            usable = r > 0
        if not usable.any():  # no confirmed photo scores on the grid: they share nothing
            out[c] = float(GRID[-1])  # the most a threshold can ask, not tagging the album
            continue
        m_hat = float(np.min(n_u[usable] / r[usable]))
        k = pos.size
        from_unlabelled = mirror_precision(unl, grid_logit, scale, n_u, n_n)
        if not lower[c]:  # a fitted label's threshold (and every one's, before)
            tp = (k + m_hat) * r
            from_positives = np.where(r > 0, tp / np.maximum(k * r + n_u + n_n, 1e-9), 0.0)
            w = k / (k + config.trust_positives)
            est = w * from_positives + (1 - w) * from_unlabelled
        else:
            shown = n_u + n_n
            ratio = m_hat * r / np.maximum(shown, 1e-9)
            from_positives = np.where(shown > 0, np.minimum(ratio, 1.0), 1.0)
            est = np.minimum(from_positives, from_unlabelled)
        candidates = r > 0
        ok = candidates & (est >= config.target_precision)
        i = (
            int(np.flatnonzero(ok)[0])
            if ok.any()
            else int(np.argmax(np.where(candidates, est, -1)))
        )
        if mixture[c] and unl.size:  # never below where the score model's F-beta peaks
            i = max(i, mixture_index(pos, unl, config))
        out[c], precision[c], recall[c] = float(GRID[i]), float(est[i]), float(r[i])
    return out, precision, recall


def spread_cap(confirmed: int, config: ResidualConfig) -> float:
    """Most unjudged photos a label the prior cannot see may tag with ``confirmed`` photos
    (infinite without a cap); see the module docs."""
    if config.spread_cap is None:
        return math.inf
    return config.spread_cap * math.pow(confirmed, config.spread_power)


def cap_spread(
    fitted: Fitted,
    prototypes: NDArray[np.bool_],
    u_all: torch.Tensor,
    features: ProtoFeatures | None,
    verified: NDArray[np.bool_],
    row_weight: NDArray[np.floating] | None,
    config: ResidualConfig,
) -> NDArray[np.float64]:
    """Raise the threshold of each prototype (``prototypes`` (C,) marks them; ``fitted``'s
    thresholds and estimated recall change in place) until it tags at most ``spread_cap`` of
    the album's unjudged photos; returns that cap per label, NaN where it did not raise the
    threshold (and for every label that is not a prototype).

    Counted on the served scores of every row of ``u_all`` (``verified`` (N, C) marks the
    judged ones; ``row_weight`` the photos each row stands for), not on the fit's sample of
    unlabelled rows: at 100,000 photos a sampled row stands for 50 photos, too coarse for a
    cap of 16.
    """
    caps = np.full(len(fitted.thresholds), np.nan)
    problem = fitted.problem
    y = problem.targets.numpy()
    capped: list[tuple[int, NDArray[np.float32], float]] = []  # column, its positives, cap
    for column in np.flatnonzero(prototypes):
        pos = fitted.oof[problem.verified[:, column] & (y[:, column] > 0.5), column]
        cap = spread_cap(pos.size, config)
        if pos.size >= 2 and math.isfinite(cap) and fitted.thresholds[column] < LONE_THRESHOLD:
            capped.append((int(column), pos, cap))  # a lone photo tags only its near copies
    if not capped:
        return caps
    cols = np.array([c for c, _, _ in capped], dtype=np.int64)
    served = score(
        u_all,
        np.zeros((u_all.shape[0], cols.size), np.float32),
        np.zeros(cols.size, dtype=bool),
        fitted.weight[cols],
        fitted.bias[cols],
        fitted.prototype_logits(features, cols),
    )
    weight = np.ones(u_all.shape[0]) if row_weight is None else np.asarray(row_weight, float)
    for i, (c, pos, cap) in enumerate(capped):
        open_rows = ~verified[:, c]
        limit = spread_limit(served[open_rows, i], weight[open_rows], cap)
        if limit > fitted.thresholds[c]:
            fitted.thresholds[c], caps[c] = limit, cap
            fitted.estimated_recall[c] = float((pos >= limit).mean())
    return caps


def spread_limit(scores: NDArray[np.float32], weight: NDArray[np.floating], cap: float) -> float:
    """The lowest threshold at which the unjudged photos scoring at or above it, each row
    standing for ``weight`` photos, number at most ``cap``: just above the first row left out
    (the margin covers the float32 rounding by which two computations of one score differ)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    counted = np.cumsum(np.asarray(weight, dtype=np.float64)[order])
    keep = int(np.searchsorted(counted, cap + 1e-9, side="right"))
    if keep >= len(order):
        return 0.0
    return float(min(float(scores[order[keep]]) + SPREAD_MARGIN, 1.0))


def mixture_index(
    positives: NDArray[np.float32], unlabelled: NDArray[np.float32], config: ResidualConfig
) -> int:
    """Where on ``GRID`` a confirm-only label's threshold is, by a two-part model of its scores.

    On the logit, standardised by the unlabelled photos' median and spread (1.4826 times the
    median absolute deviation), an unlabelled photo's score ``z`` comes from the negatives, a
    Student t (``mixture_tail`` degrees of freedom: heavier-tailed than a normal, for the
    look-alikes), or from the positives, a normal with the mean of the positives'
    out-of-fold scores and their spread shrunk toward 1 (``mixture_shrink`` pseudo-positives).
    The share of positives among the unlabelled photos, ``pi``, is fitted by EM with both
    shapes held; each photo's posterior ``q`` of being a positive follows. The threshold is
    the grid point maximising the expected F-beta of tagging the photos above it, ``(1 + b^2)
    sum(q above) / (b^2 sum(q) + n above)``, with ``b = mixture_beta``.
    """
    z_u = _logit(unlabelled)
    centre, spread = _centre_spread(z_u)
    z_u = (z_u - centre) / spread
    z_p = (_logit(positives) - centre) / spread
    k = z_p.size
    variance = float(z_p.var(ddof=1)) if k > 1 else 1.0
    sd = math.sqrt((k * variance + config.mixture_shrink) / (k + config.mixture_shrink))
    nu = config.mixture_tail
    log_norm = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    negative = np.exp(log_norm - (nu + 1) / 2 * np.log1p(z_u**2 / nu))
    positive = np.exp(-0.5 * ((z_u - float(z_p.mean())) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))

    def posterior(share: float) -> NDArray[np.float64]:
        return share * positive / np.maximum(share * positive + (1 - share) * negative, 1e-300)

    share = 0.05
    for _ in range(50):
        share = float(np.clip(posterior(share).mean(), 1e-4, 0.5))
    q = posterior(share)
    above = unlabelled[None, :] >= GRID[:, None]  # (G, U)
    found = above.astype(np.float64) @ q
    shown = above.sum(axis=1)
    b2 = config.mixture_beta**2
    expected = (1 + b2) * found / np.maximum(b2 * q.sum() + shown, 1e-12)
    return int(np.argmax(expected))


def _logit(p: NDArray[np.float32]) -> NDArray[np.float64]:
    x = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(x) - np.log1p(-x)


def mirror_precision(
    unlabelled: NDArray[np.float32],
    grid_logit: NDArray[np.float64],
    scale: float,
    n_u: NDArray[np.float64],
    n_n: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Precision at each threshold with the negatives above it counted from below the median.

    Scores are compared on the logit. Negatives above t are estimated as the unlabelled photos
    below ``2 m0 - t`` (``m0`` the unlabelled median); at or below the median nothing is
    known, and the estimate is 0. Where nothing unlabelled or rejected is above t it is 1.
    """
    if unlabelled.size == 0:
        return np.ones_like(grid_logit)
    z = _logit(unlabelled)
    centre = float(np.median(z))
    below = np.sort(z)
    mirrored = np.searchsorted(below, 2 * centre - grid_logit, side="right") * scale
    wrong = mirrored + n_n
    shown = n_u + n_n
    est = np.where(shown > 0, 1 - wrong / np.maximum(shown, 1e-9), 1.0)
    return np.where(grid_logit > centre, np.clip(est, 0.0, 1.0), 0.0)


def normalised_features(pooled: NDArray[np.float32]) -> tuple[torch.Tensor, torch.Tensor]:
    """The album's mean pooled feature and every photo's normalised features."""
    x = torch.from_numpy(np.ascontiguousarray(pooled, dtype=np.float32))
    mean = x.mean(dim=0)
    return mean, normalise(x, mean)
