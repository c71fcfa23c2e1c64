"""How far the offline features carry a new label when every dev photo is labelled (issue 12).

A confirm-only label learns from k confirmed photos. This benchmark asks what the same features
give with far more than that: every dev photo of the labelled photo set, with its true negatives.
For each concept the prior cannot see (those ``bench_photoset`` part 2 reports), two scorers read
the prototype's features (``trainer.learning.residual_fit.ProtoFeatures``: pooled, semantic and
appearance parts side by side; the patch term left out):

* *probe*: a logistic model fitted on every dev photo (positives weighted up to the negatives'
  total, a small L2 penalty, L-BFGS), the best a linear read of these features does with full
  labels;
* *prototype*: the mean direction of every dev positive, the album's confirm-only scorer with k
  as large as dev allows.

Both are scored on holdout: average precision (AP), and F1 at the best threshold read off the
holdout itself (an oracle, so an upper bound on what any threshold rule reaches). A goal above
the probe's oracle F1 is out of reach of these features, however the labels are taught.

Run: ``python -m benchmarks.bench_feature_ceiling`` (about 40 s).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from benchmarks.bench_patch_prototypes import ap
from benchmarks.bench_photoset import described, prototype_features_of


def best_f1(truth: np.ndarray, scores: np.ndarray) -> float:
    """F1 at the best cut of ``scores`` (ties broken by order: an upper bound)."""
    order = np.argsort(-scores, kind="stable")
    found = np.cumsum(truth[order])
    precision = found / np.arange(1, len(scores) + 1)
    recall = found / max(int(truth.sum()), 1)
    return float(np.max(2 * precision * recall / np.maximum(precision + recall, 1e-12)))


def probe(x: torch.Tensor, y: np.ndarray, l2: float = 1e-3) -> torch.Tensor:
    """Weights (d + 1,) of a logistic model of ``y`` on ``x``, positives weighted up."""
    target = torch.from_numpy(y.astype(np.float32))
    weight = torch.zeros(x.shape[1] + 1, requires_grad=True)
    positive = (1 - target.mean()) / target.mean().clamp_min(1e-6)
    optimiser = torch.optim.LBFGS([weight], max_iter=200)

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = x @ weight[:-1] + weight[-1]
        loss = (
            torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target, pos_weight=positive
            )
            + l2 * (weight[:-1] ** 2).sum()
        )
        loss.backward()
        return loss

    optimiser.step(closure)
    return weight.detach()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dest", default=None, help="where the photo set is")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    started = time.perf_counter()
    data = described(args.dest)
    vocabulary, truth = data.vocabulary, data.truth
    proto = prototype_features_of(data.features, data.tagger, patches=False)
    x = proto.rows(np.arange(len(data.photos), dtype=np.int64))
    dev, holdout = np.array(data.dev), np.array(data.holdout)
    seen = set(data.tagger.label_names)
    concepts = sorted(
        c
        for c in set().union(*truth)
        if sum(c in truth[i] for i in dev) >= 3
        and sum(c in truth[i] for i in holdout) >= 2
        and (c not in vocabulary or c not in seen)
    )
    print(
        f"{len(data.photos)} photos ({len(dev)} dev, {len(holdout)} holdout); "
        f"{len(concepts)} concepts the prior cannot see; trained on every dev photo, read on "
        "holdout"
    )
    print(f"{'concept':<14} {'dev+':>4} {'hold+':>5}   probe AP  best F1   prototype AP  best F1")
    rows = []
    for concept in concepts:
        y = np.array([concept in t for t in truth])
        w = probe(x[dev], y[dev])
        probe_scores = (x[holdout] @ w[:-1] + w[-1]).numpy()
        direction = torch.nn.functional.normalize(x[dev[y[dev]]].mean(dim=0), dim=0)
        proto_scores = (x[holdout] @ direction).numpy()
        row = (
            ap(y[holdout], probe_scores),
            best_f1(y[holdout], probe_scores),
            ap(y[holdout], proto_scores),
            best_f1(y[holdout], proto_scores),
        )
        rows.append(row)
        print(
            f"{concept:<14} {int(y[dev].sum()):>4} {int(y[holdout].sum()):>5}   "
            f"{row[0]:>8.2f} {row[1]:>8.2f}   {row[2]:>12.2f} {row[3]:>8.2f}"
        )
    mean = np.mean(rows, axis=0)
    print(
        f"{'mean':<14} {'':>4} {'':>5}   {mean[0]:>8.3f} {mean[1]:>8.3f}   "
        f"{mean[2]:>12.3f} {mean[3]:>8.3f}"
    )
    print(
        f"\ncommand: python -m benchmarks.bench_feature_ceiling   "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
