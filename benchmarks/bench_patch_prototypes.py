"""Confirm-only prototypes with and without their patch term (issue 12).

A confirm-only prototype (``trainer.learning.residual_fit.prototype``) reads each photo as one
vector: pooled features, ImageNet probabilities and the appearance parts, the middle stage
among them averaged over the whole crop. Its *patch term* (``core.model.patches``) also reads
the middle stage at 4 x 4 positions: a photo scores the mean of its 3 best positions against the
confirmed photos' mean position, and the prototype's score is the standardised sum of the two.
This benchmark fits each label both ways through the album's own fit and thresholds
(``fit_residual``) and reports ranking (average precision, AP) and tagging (F1, precision and
photos tagged at the threshold the fit picks).

The simulated user confirms k random dev photos of a concept; everything is read on the other
photos of ``--split`` (dev, or holdout, whose truth never chose anything). Concepts: "new",
those the prior cannot see with at least 5 dev photos, and "broad", every concept with 8-60
dev photos taught as new.

Run: ``python -m benchmarks.bench_patch_prototypes [--split dev|holdout] [--seeds 6]`` (about
two minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from benchmarks.bench_photoset import described, new_label, prototype_features_of
from trainer.learning.metrics import average_precision, f1_score
from trainer.learning.residual_fit import ResidualConfig, normalised_features

KS = (3, 5, 10, 20)


def ap(truth: np.ndarray, scores: np.ndarray) -> float:
    """Average precision of one label (``trainer.learning.metrics``: tied scores rank as one)."""
    return float(average_precision(truth[:, None], scores[:, None])[0])


def tagging(truth: np.ndarray, tagged: np.ndarray) -> tuple[float, float, int]:
    """F1, precision (0 when nothing is tagged) and photos tagged."""
    found = int((truth & tagged).sum())
    shown = int(tagged.sum())
    precision = found / shown if shown else 0.0
    recall = found / max(int(truth.sum()), 1)
    return f1_score(precision, recall), precision, shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "holdout"), default="dev")
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--dest", default=None, help="where the photo set is")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    started = time.perf_counter()
    data = described(args.dest)
    photos, vocabulary, features, tagger = data.photos, data.vocabulary, data.features, data.tagger
    with_patches = prototype_features_of(features, tagger)
    if with_patches.patches is None:
        raise SystemExit(f"{tagger.feature_key}: the descriptors hold no patches")
    variants = {"without": replace(with_patches, patches=None), "with": with_patches}
    _, u_all = normalised_features(features[:, : tagger.backbone.feature_dim])
    truth, dev = data.truth, data.dev
    scored_split = data.dev if args.split == "dev" else data.holdout
    n = len(photos)
    counts = {c: sum(c in truth[i] for i in dev) for c in set().union(*truth)}
    seen = set(tagger.label_names)
    sets = {
        "new": sorted(
            c for c, m in counts.items() if m >= 5 and (c not in vocabulary or c not in seen)
        ),
        "broad": sorted(c for c, m in counts.items() if 8 <= m <= 60),
    }
    print(
        f"photoset: {n} photos; read on {args.split} ({len(scored_split)} photos), "
        f"{args.seeds} seeds; {time.perf_counter() - started:.0f} s to describe"
    )
    config = ResidualConfig()
    for title, concepts in sets.items():
        print(f"\n{title} ({len(concepts)} concepts): without the patch term -> with it")
        for k in KS:
            runs: dict[str, list[tuple[float, float, float, int]]] = {v: [] for v in variants}
            for concept in concepts:
                y = np.array([concept in truth[i] for i in range(n)])
                pos = [i for i in dev if y[i]]
                if len(pos) < k + 2:
                    continue
                for seed in range(args.seeds):
                    chosen = np.random.default_rng(seed).choice(pos, k, replace=False)
                    verified = np.zeros((n, 1), dtype=bool)
                    verified[chosen, 0] = True
                    rows = np.setdiff1d(scored_split, chosen)
                    for name, proto in variants.items():
                        served, threshold = new_label(
                            u_all, verified.astype(np.float32), verified, config, seed, proto
                        )
                        tagged = served >= threshold
                        runs[name].append(
                            (ap(y[rows], served[rows]), *tagging(y[rows], tagged[rows]))
                        )
            if runs["with"]:
                a, b = (np.mean(runs[v], axis=0) for v in variants)
                print(
                    f"   k={k:<3} AP {a[0]:.3f} -> {b[0]:.3f}   F1 {a[1]:.3f} -> {b[1]:.3f}   "
                    f"precision {a[2]:.3f} -> {b[2]:.3f}   photos tagged {a[3]:.1f} -> {b[3]:.1f}"
                    f"   ({len(runs['with'])} runs)"
                )
    flags = " ".join(sys.argv[1:] if argv is None else argv)
    print(
        f"\ncommand: python -m benchmarks.bench_patch_prototypes {flags}".rstrip()
        + f"   ({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
