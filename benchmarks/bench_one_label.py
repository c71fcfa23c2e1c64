"""How fast the residual trainer learns: one label of 100,000 photos, all of 10,000 (issue 12).

Synthetic descriptors: 1,280-d features drawn around 200 cluster centres (photos of one thing
look alike), as the album caches them. Timed, from features already in memory:

* one new label taught with 5 confirmations (teach mode's refit): the prototype on the
  power-normalised, semantic and appearance features, its threshold and scoring every photo,
  from features already prepared (teach mode prepares them once); normalising 100,000
  photos' features, and computing their prototype features (square roots, the classifier's
  probabilities through a random 1,280 x 1,000 layer like the backbone's, their principal
  directions, a random stand-in for the 402-value appearance descriptor, and the album mean
  of 4 x 4 x 192 random patches, ``core.model.patches``) are timed apart;
* the same label after 2 rejections too (still a prototype, moved away from them; a label is fitted
  from 150 verdicts on: ``trainer.learning.residual_fit``);
* a whole retrain: 10,000 photos, 60 labels with verdicts (20 confirmations and 5 rejections
  each), every other label untouched;
* reading the verdicts before each of teach mode's refits: the hierarchy applied to an
  album's verdicts (100,000 photos, 251 labels in a vocabulary-like tree). It used to build
  every target with CB-WCE weights, which the residual fit never reads: about a minute there.

Run: ``python -m benchmarks.bench_one_label [--rounds 5]``. Prints medians and ranges.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from trainer.album.targets import LabelTree, verified_targets
from trainer.learning.residual_fit import (
    ProtoFeatures,
    ResidualConfig,
    fit_residual,
    normalised_features,
    patch_source,
    prototype_features,
    score,
)


def album(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(200, 1280)).astype(np.float32)
    cluster = rng.integers(0, 200, size=n)
    x = centres[cluster] + 0.8 * rng.normal(size=(n, 1280)).astype(np.float32)
    return np.maximum(x, 0), cluster


_ALBUMS: dict[int, tuple[np.ndarray, torch.Tensor, ProtoFeatures]] = {}
#: A stand-in for the backbone's classifier (1,280 features to 1,000 classes), same cost.
_CLASSIFIER = torch.nn.Linear(1280, 1000)


def _semantic(pooled: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.softmax(_CLASSIFIER(pooled), dim=1).sqrt()


def features_of(x: np.ndarray, raw: torch.Tensor) -> ProtoFeatures:
    """Every part a prototype reads: the pooled features' square roots, the semantic ones,
    and a stand-in appearance descriptor of the album's widths (a histogram, a layout, the
    middle stage), drawn per cluster like the features."""
    pooled = torch.from_numpy(x)
    look = _appearance(x.shape[0])

    def taken(a: torch.Tensor, root: bool) -> Callable[[np.ndarray], torch.Tensor]:
        return lambda rows: (
            a[torch.from_numpy(rows)].clamp_min(0).sqrt() if root else a[torch.from_numpy(rows)]
        )

    inputs = {
        "power": taken(pooled, True),
        "semantic": lambda rows: _semantic(pooled[torch.from_numpy(rows)]),
        "colour": taken(look["colour"], True),
        "layout": taken(look["layout"], False),
        "middle": taken(look["middle"], True),
    }
    return replace(
        prototype_features(inputs, x.shape[0]),
        patches=patch_source(lambda rows: raw[torch.from_numpy(rows)].float(), x.shape[0]),
    )


def _patches(n: int) -> torch.Tensor:
    """(n, 16, 192) float16 patches, as the album caches them."""
    rng = np.random.default_rng(4)
    out = torch.empty(n, 16, 192, dtype=torch.float16)
    for start in range(0, n, 10_000):
        size = min(n, start + 10_000) - start
        chunk = np.maximum(rng.normal(size=(size, 16, 192)), 0).astype(np.float16)
        out[start : start + size] = torch.from_numpy(chunk)
    return out


def _appearance(n: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(3)
    colour = rng.dirichlet(np.full(192, 0.1), size=n).astype(np.float32)
    layout = rng.normal(size=(n, 18)).astype(np.float32)
    middle = np.maximum(rng.normal(size=(n, 192)), 0).astype(np.float32)
    return {
        k: torch.from_numpy(v)
        for k, v in (("colour", colour), ("layout", layout), ("middle", middle))
    }


def _normalised_album(n: int) -> tuple[np.ndarray, torch.Tensor, ProtoFeatures]:
    if n not in _ALBUMS:
        x, cluster = album(n)
        _ALBUMS[n] = (cluster, normalised_features(x)[1], features_of(x, _patches(n)))
    return _ALBUMS[n]


def preparing(n: int) -> float:
    x, _ = album(n)
    raw = _patches(n)
    started = time.perf_counter()
    features_of(x, raw)
    return time.perf_counter() - started


def normalising(n: int) -> float:
    x, _ = album(n)
    started = time.perf_counter()
    normalised_features(x)
    return time.perf_counter() - started


def one_label(n: int, rejections: int = 0) -> float:
    cluster, u, proto = _normalised_album(n)
    started = time.perf_counter()
    members = np.flatnonzero(cluster == 7)[:5]
    verified = np.zeros((n, 1), dtype=bool)
    verified[members] = True
    targets = verified.astype(np.float32)
    verified[np.flatnonzero(cluster == 8)[:rejections]] = True
    fitted = fit_residual(
        u,
        np.zeros((n, 1), np.float32),
        np.array([False]),
        targets,
        verified,
        ResidualConfig(),
        features=proto,
    )
    scores = score(
        u,
        np.zeros((n, 1), np.float32),
        np.array([False]),
        fitted.weight,
        fitted.bias,
        fitted.prototype_logits(proto),
    )
    assert scores.shape == (n, 1)
    return time.perf_counter() - started


def whole_retrain(n: int, labels: int) -> float:
    x, cluster = album(n, seed=1)
    rng = np.random.default_rng(2)
    started = time.perf_counter()
    _, u = normalised_features(x)
    verified = np.zeros((n, labels), dtype=bool)
    targets = np.zeros((n, labels), dtype=np.float32)
    for j in range(labels):
        pos = rng.choice(np.flatnonzero(cluster == j), 20, replace=False)
        neg = rng.choice(np.flatnonzero(cluster != j), 5, replace=False)
        verified[pos, j] = verified[neg, j] = True
        targets[pos, j] = 1.0
    prior = rng.uniform(0, 0.2, size=(n, labels)).astype(np.float32)
    fit_residual(u, prior, np.ones(labels, bool), targets, verified, ResidualConfig())
    return time.perf_counter() - started


def verdict_tree(labels: int, seed: int = 0) -> LabelTree:
    """A vocabulary-like tree: 10 roots, every other label under one of the first third."""
    rng = np.random.default_rng(seed)
    parents = [-1 if i < 10 else int(rng.integers(0, max(10, i // 3))) for i in range(labels)]
    names = tuple(f"label {i}" for i in range(labels))
    return LabelTree(names, np.arange(labels), np.array(parents), np.full(labels, 0.5))


def reading_verdicts(n: int, labels: int) -> float:
    """What teach mode does with the verdicts before every refit: the hierarchy applied to
    them (``verified_targets``), for 200 verdicts scattered over the album."""
    tree = verdict_tree(labels)
    rng = np.random.default_rng(3)
    verdicts = np.zeros((n, labels), np.int8)
    verdicts[rng.integers(0, n, 200), rng.integers(0, labels, 200)] = 1
    started = time.perf_counter()
    verified_targets(tree, verdicts)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    for name, run in (
        ("one label, 5 confirmations, 100,000 photos", lambda: one_label(100_000)),
        ("  + 2 rejections (a prototype)", lambda: one_label(100_000, 2)),
        ("normalising 100,000 photos (once per album)", lambda: normalising(100_000)),
        ("prototype features, 100,000 photos (once)", lambda: preparing(100_000)),
        ("whole retrain, 60 labels, 10,000 photos", lambda: whole_retrain(10_000, 60)),
        ("verdicts read, 100,000 photos, 251 labels", lambda: reading_verdicts(100_000, 251)),
    ):
        times = sorted(run() for _ in range(args.rounds))
        print(
            f"{name:<46} median {np.median(times):6.2f} s  "
            f"(range {times[0]:.2f}-{times[-1]:.2f}, {args.rounds} rounds)"
        )
    print(
        f"command: python -m benchmarks.bench_one_label --rounds {args.rounds}; "
        f"torch threads {torch.get_num_threads()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
