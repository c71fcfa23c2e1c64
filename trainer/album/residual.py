"""The album's default training run: a residual head over the prior, fitted where the user spoke.

1. **loading** — cached descriptors, the active model's scores, the user's verdicts
   (``trainer.album.targets``); the prior's scores are recomputed from the descriptors.
2. **training** — ``trainer.learning.residual_fit`` for every label with a verified entry (one the
   prior cannot see needs a confirmed photo: ``learnable``); labels nobody judged keep the prior
   exactly (weight 0, bias 0), labels the prior cannot see and nobody taught stay off. The
   rows are the photos with verdicts and, on a large album, a sample of the others
   (``TargetConfig.unlabelled_rows``): the album's mean feature, its unlabelled counts and
   the report's tagged counts weigh each sampled row by the photos it stands for.
3. **thresholds** — per trained label, out of fold: the expected F1's best for a label the prior
   knows, the positive-unlabelled estimate aiming at a stated precision for the others
   (``trainer.learning.residual_fit``); every other label keeps the threshold it has now. A
   label whose verdicts grew by rejections alone since the active version tags no more photos
   than that version did (``no_wider``).
4. **evaluating** — out-of-fold decisions on the verified tags against the active version's
   stored scores, with how many photos and labels that rests on and a per-label table.
5. **saving**, 6. **rescoring** — as ``trainer.album.train`` (champion/challenger, atomic version).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.library import Library
from core.model.appearance import PARTS as APPEARANCE_PARTS
from core.model.patches import PatchTerm
from core.model.residual import EPS, ResidualHead
from core.model.tagger import PriorHead, Tagger
from core.model.terms import PARTS, PrototypeTerms, normalise, part_input
from core.training_events import FEW_PHOTOS
from trainer.album.evaluation import summary
from trainer.album.targets import TargetConfig, TrainingData
from trainer.learning.residual_fit import (
    GRID,
    Fitted,
    ProtoFeatures,
    ResidualConfig,
    fit_residual,
    normalised_features,
    patch_source,
    prototype_features,
    prototype_labels,
    score,
)

logger = logging.getLogger(__name__)

#: A threshold above every grid point (the vocabulary takes thresholds under 1): nothing more.
CEILING = 0.99

#: Photos without a verdict a residual run reads (a seeded sample on a larger album): the fit
#: uses ``ResidualConfig.unlabelled_sample`` of them; the rest make the album's mean feature
#: and the report's tagged counts estimates within a few per cent.
UNLABELLED_ROWS = 20_000
#: Photos whose cached descriptors are turned into one prototype part's input at a time.
DESCRIPTOR_CHUNK = 8192


@dataclass(frozen=True)
class ResidualRun:
    """What a residual fit produced, ready to save and report."""

    head: ResidualHead
    thresholds: dict[str, float]
    before: dict
    after: dict
    labels: list[dict]
    warning: str


class NotReadyError(ValueError):
    """The album's cached descriptors predate regional evidence: index it again."""


def sampled(config: TargetConfig) -> TargetConfig:
    """``config`` reading at most ``UNLABELLED_ROWS`` photos without a verdict (unless it
    already sets a number): loading and the prior's scores then do not grow with the album."""
    if config.unlabelled_rows is not None:
        return config
    return replace(config, unlabelled_rows=UNLABELLED_ROWS)


def prior_of(library: Library) -> PriorHead:
    """The prior head the active model uses or corrects."""
    head = library.model().tagger.head
    prior = head if isinstance(head, PriorHead) else getattr(head, "prior", None)
    if not isinstance(prior, PriorHead):
        raise NotReadyError(
            "the active version is an old linear head: run "
            "`albumtag models --activate 0` or index with --full first"
        )
    return prior


def train_residual(
    library: Library,
    data: TrainingData,
    config: ResidualConfig,
    columns: NDArray[np.int64] | None = None,
) -> ResidualRun:
    """Fit the residual head on ``data``; ``columns`` limits fitting to those labels."""
    model = library.model()
    backbone, prior = model.tagger.backbone, prior_of(library)
    if data.backbone != model.backbone_id:
        raise NotReadyError("cached features are from another model: index the album first")
    dim = backbone.feature_dim
    with torch.inference_mode():
        base = prior.scores(backbone, torch.from_numpy(data.features)).numpy()
    names = data.tree.names
    index = {n: i for i, n in enumerate(prior.label_names)}
    prior_col = np.array([index.get(n, -1) for n in names])
    has_prior = prior_col >= 0
    prior_all = np.where(has_prior[None, :], base[:, np.maximum(prior_col, 0)], 0.0)
    t = data.targets
    if columns is None:
        trained = np.flatnonzero(learnable(t.verified, t.targets, has_prior))
    else:
        trained = columns
    mean, u_all = album_normalised(data, dim)
    wanted = bool(
        prototype_labels(
            has_prior[trained], t.targets[:, trained], t.verified[:, trained], config
        ).any()
    )
    proto = album_prototype_features(data, model.tagger) if wanted else None
    weight_of = data.weights_per_row
    weight = np.zeros((len(names), dim), dtype=np.float32)
    bias = np.where(has_prior, 0.0, np.log(EPS / (1 - EPS))).astype(np.float32)
    thresholds = {n: float(data.old_thresholds[j]) for j, n in enumerate(names)}
    labels: list[dict] = []
    before: dict = {}
    after: dict = {}
    terms: PrototypeTerms | None = None
    patches: PatchTerm | None = None
    if trained.size:
        unlabelled = weight_of @ ~t.verified[:, trained]  # the album's, not the rows'
        fitted = fit_residual(
            u_all,
            prior_all[:, trained].astype(np.float32),
            has_prior[trained],
            t.targets[:, trained],
            t.verified[:, trained],
            config,
            unlabelled_total=unlabelled,
            features=proto,
            row_weight=weight_of,
        )
        weight[trained], bias[trained] = fitted.weight, fitted.bias
        found = fitted.prototype_weights
        if proto is not None and found is not None and any(w.any() for w in found.values()):
            every = proto.zero_weights(len(names))
            for key, part in found.items():
                every[key][trained] = part
            terms = proto.terms(every)
        found_patches = fitted.patch_weight
        if proto is not None and proto.patches is not None and found_patches is not None:
            on_patches = np.zeros((len(names), found_patches.shape[1]), np.float32)
            on_patches[trained] = found_patches
            patches = proto.patches.term(on_patches) if found_patches.any() else None
        for i, j in enumerate(trained):
            if np.isfinite(fitted.thresholds[i]):
                thresholds[names[j]] = float(fitted.thresholds[i])
        new_scores = score(
            u_all,
            prior_all[:, trained],
            has_prior[trained],
            fitted.weight,
            fitted.bias,
            fitted.prototype_logits(proto),
        )
        reported = active_report(library)
        for i, j in enumerate(trained):
            counts = verdict_counts(t.targets[:, j], t.verified[:, j])
            if grew_by_rejections(reported.get(names[j]), *counts):
                was = data.old_scores[:, j] >= data.old_thresholds[j]
                thresholds[names[j]] = no_wider(
                    new_scores[:, i], thresholds[names[j]], was, weight_of
                )
        before, after = _compare(data, fitted, trained, thresholds)
        labels = _label_report(data, fitted, trained, new_scores, thresholds)
    head = ResidualHead(
        names,
        prior,
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        torch.from_numpy(has_prior.astype(np.float32)),
        mean,
        model.backbone_id,
        terms,
        patches,
    )
    photos = int(t.verified[:, trained].any(axis=1).sum()) if trained.size else 0
    warning = (
        f"only {photos} photos with your verdicts: too few to judge the change "
        f"(about {FEW_PHOTOS} or more are needed)"
        if photos < FEW_PHOTOS
        else ""
    )
    return ResidualRun(head, thresholds, before, after, labels, warning)


def learnable(
    verified: NDArray[np.bool_], targets: NDArray[np.float32], has_prior: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """(L,) labels a fit can learn something for: any verified entry on a label the prior
    scores, at least one verified positive on a label it cannot see.

    A label the prior cannot see starts silent (never tagged); with rejections alone (often
    only the hierarchy's: rejecting *people* rejects *portrait* too) silence already agrees
    with everything the user said, while a fit would only lift the label's score off the
    floor on every photo of the album.
    """
    positive = (verified & (targets > 0.5)).any(axis=0)
    return verified.any(axis=0) & (has_prior | positive)


def album_normalised(data: TrainingData, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The album's mean pooled feature and the rows' normalised features.

    When the rows are a sample of a large album, the mean weighs each row by the photos it
    stands for (an unbiased estimate of the album's mean); otherwise it is the plain mean.
    """
    if data.row_weight is None:
        return normalised_features(data.features[:, :dim])
    x = torch.from_numpy(np.ascontiguousarray(data.features[:, :dim], dtype=np.float32))
    w = torch.from_numpy(data.row_weight.astype(np.float32))
    mean = (w @ x) / w.sum()
    return mean, normalise(x, mean)


def album_prototype_features(data: TrainingData, tagger: Tagger) -> ProtoFeatures:
    """The rows' prototype features (``trainer.learning.residual_fit.ProtoFeatures``); the means
    weigh each sampled row by the photos it stands for, as ``album_normalised`` does."""
    return descriptor_prototype_features(data.features, tagger, data.row_weight)


def descriptor_prototype_features(
    descriptors: NDArray[np.floating],
    tagger: Tagger,
    row_weight: NDArray[np.floating] | None = None,
    *,
    parts: tuple[str, ...] = PARTS,
) -> ProtoFeatures:
    """Prototype features of photos from their descriptors (N, F): each of ``parts`` that
    ``tagger``'s descriptors hold (the appearance parts only when they carry it), and their
    patches when they hold them (the mean position weighs rows as the parts' means do)."""
    backbone = tagger.backbone
    start = tagger.appearance_start
    held = [p for p in parts if p not in APPEARANCE_PARTS or tagger.appearance is not None]

    def input_of(part: str) -> Callable[[NDArray[np.int64]], torch.Tensor]:
        def rows_of(rows: NDArray[np.int64]) -> torch.Tensor:
            # a chunk of whole descriptors at a time: all of them as float32 at once took
            # 2 GB of a 100,000-photo album for a part a quarter as wide
            out: torch.Tensor | None = None
            for at in range(0, len(rows), DESCRIPTOR_CHUNK):
                chunk = rows[at : at + DESCRIPTOR_CHUNK]
                x = torch.from_numpy(np.ascontiguousarray(descriptors[chunk], dtype=np.float32))
                got = part_input(part, backbone, x.to(backbone.device), start).cpu()
                if out is None:
                    out = torch.empty((len(rows), *got.shape[1:]), dtype=got.dtype)
                out[at : at + len(chunk)] = got
            return out if out is not None else torch.empty(0)

        return rows_of

    features = prototype_features({p: input_of(p) for p in held}, len(descriptors), row_weight)
    if tagger.patches is None or descriptors.shape[1] < tagger.feature_dim:
        return features
    layout, start = tagger.patches, tagger.patches_start
    stop = start + layout.width

    def raw(rows: NDArray[np.int64]) -> torch.Tensor:
        x = np.ascontiguousarray(descriptors[rows, start:stop], dtype=np.float32)
        return layout.positions_of(torch.from_numpy(x), 0)

    return replace(features, patches=patch_source(raw, len(descriptors), row_weight))


def changed_labels(old: object, new: ResidualHead) -> set[str] | None:
    """Labels whose scores may differ between the active head and ``new``; None = all.

    A label the new head leaves untouched (no correction, the prior's own logit) scores as
    the prior did; one the prior cannot see and nobody taught stays below the store's floor.
    Against an older residual head, a label is unchanged when both leave it untouched.
    """

    def untouched(head: ResidualHead) -> dict[str, bool]:
        plain = (head.weight.abs().sum(dim=1) == 0).numpy()
        if head.prototypes is not None:
            for extra in head.prototypes.weights.values():
                plain &= (extra.abs().sum(dim=1) == 0).numpy()
        if head.patches is not None:
            plain &= (head.patches.weight.abs().sum(dim=1) == 0).numpy()
        alpha, bias = head.alpha.numpy(), head.bias.numpy()
        prior_like = plain & (alpha == 1) & (bias == 0)
        silent = plain & (alpha == 0) & (bias <= np.log(EPS / (1 - EPS)) + 1e-6)
        return {
            n: bool(p or q) for n, p, q in zip(head.label_names, prior_like, silent, strict=True)
        }

    mine = untouched(new)
    if isinstance(old, PriorHead):
        theirs = {n: True for n in new.label_names}
    elif isinstance(old, ResidualHead) and old.prior.label_names == new.prior.label_names:
        theirs = untouched(old)
    else:
        return None
    return {n for n in new.label_names if not (mine[n] and theirs.get(n, False))}


def _compare(
    data: TrainingData, fitted: Fitted, trained: NDArray[np.int64], thresholds: dict[str, float]
) -> tuple[dict, dict]:
    """Active version vs out-of-fold decisions, on the verified entries of trained labels."""
    problem = fitted.problem
    rows = problem.rows
    mask = problem.verified
    keep = mask.any(axis=1)
    if not keep.any():
        return {}, {}
    rows, mask = rows[keep], mask[keep]
    y = data.targets.targets[np.ix_(rows, trained)] > 0.5
    old = data.old_scores[np.ix_(rows, trained)]
    old_t = data.old_thresholds[trained]
    new = fitted.oof[keep]
    new_t = np.array([thresholds[data.tree.names[j]] for j in trained])
    before = summary(y, old, mask, decided=old >= old_t[None, :])
    after = summary(y, new, mask, decided=new >= new_t[None, :])
    return before, after


def active_report(library: Library) -> dict[str, Mapping[str, Any]]:
    """The rows the active version's training reported (``metrics["labels"]``), by label;
    none for version 0."""
    active = library.store.active_model()
    rows = (active.metrics.get("labels") or []) if active is not None else []
    return {str(row.get("label")): row for row in rows}


def verdict_counts(targets: NDArray[np.float32], verified: NDArray[np.bool_]) -> tuple[int, int]:
    """Confirmed and rejected photos of one label's column (targets read where verified)."""
    confirmed = int((verified & (targets > 0.5)).sum())
    return confirmed, int(verified.sum()) - confirmed


def grew_by_rejections(reported: Mapping[str, Any] | None, confirmed: int, rejected: int) -> bool:
    """Whether a label's verdicts grew by rejections alone since the active version was trained:
    more rejected photos than its ``reported`` row (``active_report``, counted the same way)
    had, no more confirmed ones. A label that version did not train (or version 0) never."""
    if reported is None:
        return False
    return confirmed <= int(reported.get("confirmed", 0)) and rejected > int(
        reported.get("rejected", 0)
    )


def no_wider(
    scores: NDArray[np.floating],
    threshold: float,
    tagged_before: NDArray[np.bool_],
    weight: NDArray[np.float64],
) -> float:
    """The lowest threshold from ``threshold`` up (on the fit's grid) that tags no more photos
    than ``tagged_before`` did: rejections alone never spread a label.

    Why: a fit that cannot tell a label's photos from its rejected ones moves its confirmed
    photos' out-of-fold scores down with every rejection, and the threshold follows them, so
    rejecting wrong tags could tag more photos (on the photo set's dev half, reviewing the
    tags of the labels the report named: house 29 -> 41, people 65 -> 89).
    ``weight``: the photos each row stands for.
    """
    allowed = float(weight @ tagged_before)
    for t in GRID[threshold <= GRID]:
        if float(weight @ (scores >= t)) <= allowed:
            return float(t)
    return CEILING


def _label_report(
    data: TrainingData,
    fitted: Fitted,
    trained: NDArray[np.int64],
    new_scores: NDArray[np.floating],
    thresholds: dict[str, float],
) -> list[dict]:
    """Per trained label: evidence, threshold and how many photos it tags before/after
    (``new_scores``: every row's score from the fit, a column per trained label)."""
    t = data.targets
    weight = data.weights_per_row  # a sampled row counts for the photos it stands for
    caps = fitted.spread_caps
    report = []
    for i, j in enumerate(trained):
        name = data.tree.names[j]
        pos, neg = verdict_counts(t.targets[:, j], t.verified[:, j])
        cap = float(caps[i]) if caps is not None else math.nan
        report.append(
            {
                "label": name,
                "confirmed": pos,
                "rejected": neg,
                "source": "confirm-only" if neg == 0 else "verified",
                "threshold": round(thresholds[name], 3),
                "estimated_precision": round(float(fitted.estimated_precision[i]), 3),
                "estimated_recall": round(float(fitted.estimated_recall[i]), 3),
                "tagged_before": _count(weight, data.old_scores[:, j] >= data.old_thresholds[j]),
                "tagged_after": _count(weight, new_scores[:, i] >= thresholds[name]),
                # the most unjudged photos it may tag before more are confirmed, where that
                # held its threshold up (trainer.learning.residual_fit.spread_cap)
                "spread_cap": int(cap) if math.isfinite(cap) else None,
            }
        )
    return report


def _count(weight: NDArray[np.float64], tagged: NDArray[np.bool_]) -> int:
    """Photos of the album tagged: exact when every photo is a row, else the sample's count
    scaled to the album."""
    return round(float(weight @ tagged))
