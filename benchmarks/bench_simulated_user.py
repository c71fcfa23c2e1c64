"""Learning from corrections: a simulated user on a labelled multi-label set (issue 4).

The set: ``trainer.papers.synth``'s Tux Paint scenes (photo cut-outs from Debian's
``tuxpaint-stamps-default`` pasted on photographic wallpapers; 2,400 train / 800 test
images, 29 labels, disjoint object instances between train and test). Every image is
turned once into pooled features of the album's default backbone
(``core.model.tagger.Backbone.load()``, EfficientNet-Lite0 at 224 px), cached on disk; all
training below is the album's own linear head on those features, built and fitted exactly
as ``trainer.album.train`` does (``trainer.learning.heads.LinearProbe`` with the label tree shared,
``trainer.learning.fit`` with ``TrainOptions``' defaults: 30 epochs, one-cycle Adam, lr 3e-3,
batch 512, dropout 0.3). The label tree is the scenes' own (animal > mammal > cattle...).

The training images are split 80/20 (seeded) into a fitting part and a validation part.

**A. Hidden labels.** 0%, 30% or 60% of the positive (image, label) pairs of the training
images are hidden (turned into negatives), uniformly at random. Losses: ``proposed``,
``asl``, ``bce`` treat every unobserved entry as a negative; ``weighted_bce`` is the ICMR
2020 CB-WCE (per-label positive weights, negatives weighted by 1 - P(c | the image's
observed labels)); ``proposed+album`` is the album trainer's weighting (unobserved entries
weigh 0.3 x that confidence) with the proposed loss. Test labels are complete. Reported:
macro F1 (from averaged P and R), N+ and mAP at threshold 0.5 and with per-label MCC
thresholds tuned on the validation part (whose labels are hidden the same way).

**B. A new user label.** The user confirms k = 5, 10, 20, 50 photos of a label in the
fitting part; nobody said anything about the rest of that label's column, which the album
weighs as "missing" (0.3 x CB-WCE confidence); the other labels are known. The user
labels are every label outside the tree (christmas, tool, vehicle...) plus, per seed, one
leaf of each tree (bird, fruit, flower...; a different leaf each seed). Labels in one fit
share no tree weights, so one fit per loss, k and seed simulates them all exactly as
separate runs would. Reported, averaged over labels and seeds: the label's test F1 at
0.5 (a new label keeps the default threshold: with only confirmations there are no
verified negatives to tune one on), its AP, and, as an upper bound only, its F1 at the
best threshold chosen on the test set (oracle).

Run: ``python benchmarks/bench_simulated_user.py`` (``--help`` for options). Prints the
tables and writes ``benchmarks/out/simulated_user.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.model.tagger import Backbone
from trainer.album.targets import LabelTree, TargetConfig
from trainer.album.train import TrainOptions
from trainer.learning.fit import Batches, fit, predict
from trainer.learning.heads import LinearProbe
from trainer.learning.metrics import average_precision, evaluate
from trainer.learning.missing import negative_confidence_weights, positive_class_weights
from trainer.learning.thresholds import tune_thresholds
from trainer.papers.datasets import read_split
from trainer.papers.synth import DEFAULT_CACHE, SceneConfig, generate, load_source
from trainer.papers.synth_sources import TUXPAINT_RULES, label_parents

logger = logging.getLogger("bench_simulated_user")

OUT = Path(__file__).resolve().parent / "out" / "simulated_user.json"
LOSSES_A = ("proposed", "asl", "bce", "weighted_bce", "proposed+album")
LOSSES_B = ("proposed", "asl", "bce", "weighted_bce")
RATIOS = (0.0, 0.3, 0.6)
SHOTS = (5, 10, 20, 50)
ALBUM = TargetConfig()
OPTIONS = TrainOptions()


def ensure_dataset(cache: Path, n_train: int, n_test: int, seed: int) -> Path:
    """The generated Tux Paint set under ``cache`` (made once; about 20 s)."""
    root = cache / "datasets" / f"tuxpaint-{n_train}-{n_test}-256-s{seed}"
    if not (root / "test.json").is_file():
        cutouts, backgrounds = load_source("tuxpaint", cache)
        generate(
            root,
            cutouts,
            backgrounds,
            n_train=n_train,
            n_test=n_test,
            name="Synthetic",
            seed=seed,
            config=SceneConfig(size=256),
        )
    return root


def extract(root: Path, names: list[str], backbone: Backbone, tag: str) -> np.ndarray:
    """Pooled features of ``names`` (squash-resized to the backbone's input), cached."""
    path = root / f"features-{backbone.id.replace('@', '-')}-{tag}.npy"
    if path.is_file():
        return np.load(path)
    size = backbone.input_size
    out = []
    for start in range(0, len(names), 32):
        batch = []
        for name in names[start : start + 32]:
            with Image.open(root / "images" / name) as im:
                rgb = im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
            batch.append(np.asarray(rgb).transpose(2, 0, 1))
        out.append(backbone.features(np.stack(batch)).cpu().numpy())
        if start // 32 % 20 == 0:
            logger.info("features %s: %d / %d", tag, start + len(batch), len(names))
    features = np.concatenate(out).astype(np.float32)
    np.save(path, features)
    return features


def hide(y: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` with round(ratio x #positives) positive entries, chosen uniformly, set to 0."""
    observed = y.copy()
    rows, cols = np.nonzero(y)
    n_hide = round(ratio * rows.size)
    pick = rng.choice(rows.size, size=n_hide, replace=False)
    observed[rows[pick], cols[pick]] = 0
    return observed


def label_tree(labels: list[str]) -> LabelTree:
    """The scenes' label tree (parents from the Tux Paint folder rules)."""
    parents = label_parents(TUXPAINT_RULES.values())
    column = {name: i for i, name in enumerate(labels)}
    parent_cols = [column.get(parents.get(name) or "", -1) for name in labels]
    return LabelTree(
        tuple(labels), np.arange(len(labels)), np.array(parent_cols), np.full(len(labels), 0.5)
    )


def train_head(
    data: dict,
    targets: np.ndarray,
    weights: np.ndarray,
    loss: str,
    seed: int,
    pos_weight: np.ndarray | None = None,
) -> torch.nn.Module:
    """A linear head made and fitted as ``trainer.album.train`` makes it (its defaults)."""
    x = data["x_fit"]
    torch.manual_seed(seed)
    feats = torch.from_numpy(x)
    prior = torch.from_numpy((weights * targets).sum(0) / np.maximum(weights.sum(0), 1e-6))
    ancestors = torch.from_numpy(data["tree"].ancestor_matrix()) if OPTIONS.share_tree else None
    model = LinearProbe(
        x.shape[1],
        targets.shape[1],
        mean=feats.mean(0),
        scale=float(feats.std(0).mean()),
        dropout=OPTIONS.dropout,
        prior=prior,
        ancestors=ancestors,
    )
    config = TrainOptions(loss=loss).fit_config(seed)
    pw = None if pos_weight is None else torch.from_numpy(pos_weight)
    fit(model, Batches.of(x, targets, weights), config, pos_weight=pw)
    return model


def loss_setup(kind: str, observed: np.ndarray) -> tuple[str, np.ndarray, np.ndarray | None]:
    """(loss name, per-entry weights, positive weights) of an experiment-A row."""
    ones = np.ones(observed.shape, dtype=np.float32)
    if kind == "weighted_bce":
        w_neg = negative_confidence_weights(observed)
        return (
            kind,
            np.where(observed > 0, 1.0, w_neg).astype(np.float32),
            positive_class_weights(observed),
        )
    if kind == "proposed+album":
        w_neg = ALBUM.missing_weight * negative_confidence_weights(
            observed, smoothing=ALBUM.smoothing
        )
        return "proposed", np.where(observed > 0, 1.0, w_neg).astype(np.float32), None
    return kind, ones, None


def experiment_a(data: dict, seeds: int) -> dict:
    """Hidden-label runs: {ratio: {loss: {metric: [one value per seed]}}}."""
    results: dict = {}
    for ratio in RATIOS:
        for kind in LOSSES_A:
            runs: dict[str, list[float]] = {}
            for seed in range(seeds):
                rng = np.random.default_rng(1000 * seed + int(100 * ratio))
                fit_obs, val_obs = hide(data["y_fit"], ratio, rng), hide(data["y_val"], ratio, rng)
                loss, weights, pos_weight = loss_setup(kind, fit_obs)
                model = train_head(data, fit_obs, weights, loss, seed, pos_weight)
                t = tune_thresholds(val_obs, predict(model, data["x_val"]), default=0.5).thresholds
                scores = predict(model, data["x_test"])
                for name, thr in (("0.5", 0.5), ("MCC", t)):
                    m = evaluate(data["y_test"], scores, thr)
                    for key, value in (("f1", m.f1), ("n_plus", m.n_plus), ("map", m.mean_ap)):
                        runs.setdefault(f"{key}@{name}", []).append(float(value))
                runs.setdefault("hidden_fraction", []).append(
                    float(1 - fit_obs.sum() / max(data["y_fit"].sum(), 1))
                )
            results.setdefault(str(ratio), {})[kind] = runs
            logger.info("A ratio %.1f %s: F1@0.5 %.3f", ratio, kind, np.mean(runs["f1@0.5"]))
    return results


def user_label_column(
    y: np.ndarray, c: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Column c with k confirmed positives, and its album weights (others known)."""
    confirmed = np.zeros(y.shape[0], dtype=np.float32)
    confirmed[rng.choice(np.flatnonzero(y[:, c]), size=k, replace=False)] = 1.0
    observed = y.copy()
    observed[:, c] = confirmed
    conf = negative_confidence_weights(observed, smoothing=ALBUM.smoothing)[:, c]
    weights = np.where(confirmed > 0, 1.0, ALBUM.missing_weight * conf)
    return confirmed, weights.astype(np.float32)


def user_labels(tree: LabelTree, y: np.ndarray, seed: int) -> list[int]:
    """Columns simulated together: labels outside any tree, and one leaf per tree."""
    parents = tree.parents
    has_child = np.zeros(len(tree.names), dtype=bool)
    has_child[parents[parents >= 0]] = True
    enough = y.sum(axis=0) >= max(SHOTS) + 10
    alone = [c for c in range(len(tree.names)) if parents[c] < 0 and not has_child[c]]
    chosen = [c for c in alone if enough[c]]
    for root in np.flatnonzero(has_child & (parents < 0)):
        leaves = [
            c
            for c in range(len(tree.names))
            if not has_child[c] and enough[c] and tree.ancestor_matrix()[c, root] > 0
        ]
        if leaves:
            chosen.append(leaves[seed % len(leaves)])
    return chosen


def experiment_b(data: dict, seeds: int) -> dict:
    """New-label runs: {k: {loss: {"f1": [...], "ap": [...], "f1_oracle": [...]}}}."""
    y = data["y_fit"]
    results: dict = {"labels": {}}
    for seed in range(seeds):
        columns = user_labels(data["tree"], y, seed)
        results["labels"][seed] = [data["labels"][c] for c in columns]
        for k in SHOTS:
            rng = np.random.default_rng(7000 + 100 * seed + k)
            targets, weights = y.copy(), np.ones(y.shape, dtype=np.float32)
            for c in columns:
                targets[:, c], weights[:, c] = user_label_column(y, c, k, rng)
            for loss in LOSSES_B:
                pos_weight = (
                    positive_class_weights(targets > 0.5, weights > 0)
                    if loss == "weighted_bce"
                    else None
                )
                model = train_head(data, targets, weights, loss, seed, pos_weight)
                per = _per_label(data["y_test"], predict(model, data["x_test"]), columns)
                entry = results.setdefault(str(k), {}).setdefault(loss, {})
                for key, values in per.items():
                    entry.setdefault(key, []).extend(values)
            logger.info(
                "B seed %d k=%d: proposed F1 %.3f",
                seed,
                k,
                np.mean(results[str(k)]["proposed"]["f1"]),
            )
    return results


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float((pred & truth).sum())
    p, r = tp / max(int(pred.sum()), 1), tp / max(int(truth.sum()), 1)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _per_label(y: np.ndarray, scores: np.ndarray, columns: list[int]) -> dict[str, list[float]]:
    ap = average_precision(y, scores)
    grid = np.linspace(0.01, 0.99, 99)
    out: dict[str, list[float]] = {"f1": [], "ap": [], "f1_oracle": []}
    for c in columns:
        truth = y[:, c] > 0
        out["f1"].append(_f1(scores[:, c] > 0.5, truth))
        out["ap"].append(float(ap[c]))
        out["f1_oracle"].append(max(_f1(scores[:, c] > t, truth) for t in grid))
    return out


def _fmt(values: list[float], digits: int = 3) -> str:
    return f"{np.mean(values):.{digits}f}±{np.std(values):.{digits}f}"


def print_tables(a: dict, b: dict, seeds: int, n_labels: int) -> None:
    """The README tables (mean ± sd over seeds; B over labels x seeds)."""
    print(f"\nA. Hidden positive labels ({seeds} seeds; {n_labels} labels; test labels complete)")
    print(
        f"{'hidden':>6}  {'loss':<15} {'F1@0.5':>12} {'N+@0.5':>8} {'F1@MCC':>12} "
        f"{'N+@MCC':>8} {'mAP':>12}"
    )
    for ratio, rows in a.items():
        for kind, r in rows.items():
            print(
                f"{float(ratio):>6.0%}  {kind:<15} {_fmt(r['f1@0.5']):>12} "
                f"{np.mean(r['n_plus@0.5']):>8.1f} {_fmt(r['f1@MCC']):>12} "
                f"{np.mean(r['n_plus@MCC']):>8.1f} "
                f"{_fmt([100 * v for v in r['map@0.5']], 1):>12}"
            )
    n_runs = len(b[str(SHOTS[0])][LOSSES_B[0]]["f1"])
    print(
        f"\nB. A new user label: its test F1@0.5 / AP / oracle-threshold F1 (upper bound) "
        f"vs confirmed photos ({n_runs} label runs: {len(b['labels'])} seeds)"
    )
    print(f"{'loss':<14}" + "".join(f"{'k=' + k:>22}" for k in map(str, SHOTS)))
    for loss in LOSSES_B:
        cells = [
            " / ".join(f"{np.mean(b[str(k)][loss][key]):.3f}" for key in ("f1", "ap", "f1_oracle"))
            for k in SHOTS
        ]
        print(f"{loss:<14}" + "".join(f"{c:>22}" for c in cells))


def load_data(root: Path, backbone: Backbone, val_fraction: float) -> dict:
    """Features and labels: fitting part, validation part and test."""
    train, test = read_split(root / "train.json"), read_split(root / "test.json")
    x = extract(root, [s.image_name for s in train.samples], backbone, "train")
    x_test = extract(root, [s.image_name for s in test.samples], backbone, "test")
    order = np.random.default_rng(0).permutation(len(train.samples))
    n_val = round(val_fraction * len(order))
    val, rest = np.sort(order[:n_val]), np.sort(order[n_val:])
    y = train.targets()
    return {
        "x_fit": x[rest],
        "y_fit": y[rest],
        "x_val": x[val],
        "y_val": y[val],
        "x_test": x_test,
        "y_test": test.targets(),
        "labels": list(train.labels),
        "tree": label_tree(list(train.labels)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--train", type=int, default=2400)
    parser.add_argument("--test", type=int, default=800)
    parser.add_argument("--seeds-a", type=int, default=3)
    parser.add_argument("--seeds-b", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the fits")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    clock = {"start": time.perf_counter()}
    root = ensure_dataset(args.cache, args.train, args.test, seed=0)
    clock["dataset"] = time.perf_counter()
    backbone = Backbone.load()
    data = load_data(root, backbone, val_fraction=0.2)
    clock["features"] = time.perf_counter()
    torch.set_num_threads(args.threads)
    a = experiment_a(data, args.seeds_a)
    clock["a"] = time.perf_counter()
    b = experiment_b(data, args.seeds_b)
    clock["b"] = time.perf_counter()
    print_tables(a, b, args.seeds_a, len(data["labels"]))
    steps = list(clock.values())
    seconds = {
        name: round(t - s, 1) for name, s, t in zip(list(clock)[1:], steps, steps[1:], strict=False)
    }
    print(f"\nwall time (s): {seconds}; dataset {root}; backbone {backbone.id}")
    write_json(
        args.out, {"dataset": str(root), "backbone": backbone.id, "seconds": seconds}, data, a, b
    )
    print(f"results written to {args.out}")
    return 0


def write_json(path: Path, run: dict, data: dict, a: dict, b: dict) -> None:
    """Everything measured, per seed, with the set's sizes and label tree."""
    labels = data["labels"]
    parents = {
        n: (labels[p] if p >= 0 else None)
        for n, p in zip(labels, data["tree"].parents, strict=True)
    }
    sizes = {k: int(v.shape[0]) for k, v in data.items() if k.startswith("x_")}
    result = {
        **run,
        "sizes": sizes,
        "labels": labels,
        "parents": parents,
        "hidden_labels": a,
        "user_label": b,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
