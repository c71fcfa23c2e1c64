"""Generate a multi-label dataset in the papers' JSON format from real photos, offline.

Each image is a random crop of a real photograph (the background) with 1 to
``max_objects`` labelled cut-outs pasted on it at random sizes and places; its labels are
the union of the pasted objects' labels (``trainer.papers.synth_sources`` says where the
cut-outs and backgrounds come from and how they are labelled).

Train and test use **disjoint object instances**: within each stratification group (a
stamp folder) about ``test_fraction`` of the instances are kept for the test images only,
so the test set measures generalisation to unseen objects of a known kind. Groups with
fewer than three instances are shared by both splits. The vocabulary is every label that
occurs in both splits (like the papers' datasets, where every word occurs in both), in
alphabetical order; other labels are dropped from the samples.

Everything is seeded: the same sources, sizes and seed give the same files. Output::

    <out>/images/{train,test}_NNNNN.jpg
    <out>/train.json  <out>/test.json  <out>/<name>_vocabulary.txt  <out>/synth_info.json

``synth_info.json`` also records sizes, label counts and the label tree (each label's
parent, from the cut-outs' label chains such as animal > mammal > cattle).

Command line: ``python -m trainer.papers.synth --source pip|tuxpaint --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from trainer.papers.datasets import Sample, Split, write_split, write_vocabulary
from trainer.papers.synth_sources import (
    Cutout,
    fetch_debian,
    label_parents,
    pip_backgrounds,
    pip_cutouts,
    tuxpaint_cutouts,
    wallpaper_backgrounds,
)

logger = logging.getLogger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "albumtag-bench"
OBJECT_COUNT_WEIGHTS = (0.3, 0.35, 0.25, 0.1)
"""Relative frequency of 1, 2, 3, 4... objects per image (truncated at ``max_objects``)."""


@dataclass(frozen=True)
class SceneConfig:
    """How scenes are drawn.

    Attributes:
        size: Side of the square output image in pixels.
        max_objects: Most cut-outs per image.
        min_scale: Smallest object size (longer side) as a fraction of ``size``.
        max_scale: Largest object size as a fraction of ``size``.
        max_overlap: Largest accepted overlap of two objects' boxes, as a fraction of the
            smaller box (a few placements are tried before accepting any).
    """

    size: int = 256
    max_objects: int = 4
    min_scale: float = 0.3
    max_scale: float = 0.6
    max_overlap: float = 0.3


def split_instances(
    cutouts: Sequence[Cutout], test_fraction: float, rng: np.random.Generator
) -> tuple[list[Cutout], list[Cutout]]:
    """Train and test pools of cut-outs, disjoint within groups of three or more."""
    groups: dict[str, list[Cutout]] = {}
    for cut in cutouts:
        groups.setdefault(cut.group, []).append(cut)
    train: list[Cutout] = []
    test: list[Cutout] = []
    for name in sorted(groups):
        members = groups[name]
        if len(members) < 3:
            train += members
            test += members
            continue
        order = rng.permutation(len(members))
        n_test = max(1, round(test_fraction * len(members)))
        test += [members[i] for i in order[:n_test]]
        train += [members[i] for i in order[n_test:]]
    return train, test


def _group_sampler(pool: Sequence[Cutout]) -> tuple[list[list[Cutout]], np.ndarray]:
    groups: dict[str, list[Cutout]] = {}
    for cut in pool:
        groups.setdefault(cut.group, []).append(cut)
    members = [groups[g] for g in sorted(groups)]
    weights = np.sqrt([len(m) for m in members])  # big groups more often, not proportionally
    return members, weights / weights.sum()


def _background(rng: np.random.Generator, photos: Sequence[Image.Image], size: int) -> Image.Image:
    photo = photos[int(rng.integers(len(photos)))]
    w, h = photo.size
    side = int(min(w, h) * rng.uniform(0.4, 1.0))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    crop = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(crop).enhance(rng.uniform(0.8, 1.2))


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / max(smaller, 1)


def _paste(
    rng: np.random.Generator,
    canvas: Image.Image,
    cut: Cutout,
    boxes: list[tuple[int, int, int, int]],
    config: SceneConfig,
) -> None:
    image = cut.image
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    longer = config.size * rng.uniform(config.min_scale, config.max_scale)
    factor = longer / max(image.size)
    w, h = max(4, round(image.width * factor)), max(4, round(image.height * factor))
    image = image.resize((w, h), Image.Resampling.BILINEAR)
    box = (0, 0, w, h)
    for _ in range(8):
        x = int(rng.integers(0, config.size - w + 1))
        y = int(rng.integers(0, config.size - h + 1))
        box = (x, y, x + w, y + h)
        if all(_overlap(box, other) <= config.max_overlap for other in boxes):
            break
    boxes.append(box)
    canvas.paste(image, box[:2], image)


def compose_scene(
    rng: np.random.Generator,
    pool: Sequence[Cutout],
    backgrounds: Sequence[Image.Image],
    config: SceneConfig,
) -> tuple[Image.Image, set[str]]:
    """One scene: a background crop with distinct cut-outs from ``pool``; and its labels."""
    members, weights = _group_sampler(pool)
    counts = np.asarray(OBJECT_COUNT_WEIGHTS[: config.max_objects], dtype=np.float64)
    n_objects = 1 + int(rng.choice(len(counts), p=counts / counts.sum()))
    canvas = _background(rng, backgrounds, config.size)
    labels: set[str] = set()
    boxes: list[tuple[int, int, int, int]] = []
    used: set[str] = set()
    for _ in range(n_objects):
        group = members[int(rng.choice(len(members), p=weights))]
        cut = group[int(rng.integers(len(group)))]
        if cut.name in used:
            continue
        used.add(cut.name)
        _paste(rng, canvas, cut, boxes, config)
        labels.update(cut.labels)
    return canvas, labels


def _render(
    out: Path,
    prefix: str,
    count: int,
    rng: np.random.Generator,
    pool: Sequence[Cutout],
    backgrounds: Sequence[Image.Image],
    config: SceneConfig,
) -> list[tuple[str, set[str]]]:
    rows = []
    for i in range(count):
        image, labels = compose_scene(rng, pool, backgrounds, config)
        name = f"{prefix}_{i:05d}.jpg"
        image.convert("RGB").save(out / "images" / name, quality=90)
        rows.append((name, labels))
    return rows


def _to_split(rows: list[tuple[str, set[str]]], vocabulary: tuple[str, ...]) -> Split:
    keep = set(vocabulary)
    samples = tuple(Sample(n, tuple(sorted(labels & keep))) for n, labels in rows)
    return Split(samples, vocabulary)


def generate(
    out: Path,
    cutouts: Sequence[Cutout],
    backgrounds: Sequence[Image.Image],
    *,
    n_train: int,
    n_test: int,
    name: str = "Synthetic",
    seed: int = 0,
    test_fraction: float = 0.3,
    config: SceneConfig | None = None,
) -> tuple[Split, Split]:
    """Write a dataset in the papers' layout to ``out`` and return its (train, test) splits.

    Raises:
        ValueError: No cut-outs or backgrounds, or no label occurs in both splits.
    """
    if not cutouts or not backgrounds:
        raise ValueError("need at least one cut-out and one background")
    config = config or SceneConfig()
    rng = np.random.default_rng(seed)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    train_pool, test_pool = split_instances(cutouts, test_fraction, rng)
    train_rows = _render(out, "train", n_train, rng, train_pool, backgrounds, config)
    test_rows = _render(out, "test", n_test, rng, test_pool, backgrounds, config)
    in_train = set().union(*(labels for _, labels in train_rows))
    in_test = set().union(*(labels for _, labels in test_rows))
    vocabulary = tuple(sorted(in_train & in_test))
    if not vocabulary:
        raise ValueError("no label occurs in both splits; generate more images")
    train, test = _to_split(train_rows, vocabulary), _to_split(test_rows, vocabulary)
    write_split(out / "train.json", train)
    write_split(out / "test.json", test)
    write_vocabulary(out / f"{name.lower()}_vocabulary.txt", vocabulary)
    parents = label_parents(c.labels for c in cutouts)
    tree = {label: parents.get(label) for label in vocabulary}
    _write_info(out, name, seed, config, train, test, (train_pool, test_pool), tree)
    logger.info("wrote %s: %d train, %d test, %d labels", out, n_train, n_test, len(vocabulary))
    return train, test


def _write_info(
    out: Path,
    name: str,
    seed: int,
    config: SceneConfig,
    train: Split,
    test: Split,
    pools: tuple[Sequence[Cutout], Sequence[Cutout]],
    parents: dict[str, str | None],
) -> None:
    def label_counts(split: Split) -> dict[str, int]:
        counts = Counter(label for s in split.samples for label in s.labels)
        return {label: counts[label] for label in split.labels}

    info = {
        "name": name,
        "seed": seed,
        "scene": config.__dict__,
        "instances": {"train": len(pools[0]), "test": len(pools[1])},
        "images": {"train": len(train.samples), "test": len(test.samples)},
        "labels_per_image": {
            "train": float(np.mean([len(s.labels) for s in train.samples])),
            "test": float(np.mean([len(s.labels) for s in test.samples])),
        },
        "label_counts": {"train": label_counts(train), "test": label_counts(test)},
        "parents": parents,
    }
    (out / "synth_info.json").write_text(json.dumps(info, indent=1), encoding="utf-8")


def load_source(source: str, cache: Path) -> tuple[list[Cutout], list[Image.Image]]:
    """Cut-outs and backgrounds of ``"pip"`` or ``"tuxpaint"`` (fetched into ``cache``).

    Raises:
        ValueError: Unknown source.
        trainer.papers.synth_sources.SourceError: The source's files are unavailable.
    """
    if source == "pip":
        return pip_cutouts(), pip_backgrounds()
    if source == "tuxpaint":
        root = fetch_debian(cache)
        return tuxpaint_cutouts(root), wallpaper_backgrounds(root)
    raise ValueError(f"unknown source {source!r}; choose 'pip' or 'tuxpaint'")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m trainer.papers.synth``: generate a dataset and print where it went."""
    parser = argparse.ArgumentParser(
        prog="python -m trainer.papers.synth", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--source", choices=("pip", "tuxpaint"), default="tuxpaint")
    parser.add_argument("--out", type=Path, required=True, help="output dataset folder")
    parser.add_argument("--name", default="Synthetic", help="dataset name (vocabulary file)")
    parser.add_argument("--train", type=int, default=2400, help="training images")
    parser.add_argument("--test", type=int, default=800, help="test images")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--max-objects", type=int, default=4)
    parser.add_argument("--test-fraction", type=float, default=0.3, help="instances held out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="Debian packages")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cutouts, backgrounds = load_source(args.source, args.cache)
    config = SceneConfig(size=args.size, max_objects=args.max_objects)
    train, test = generate(
        args.out,
        cutouts,
        backgrounds,
        n_train=args.train,
        n_test=args.test,
        name=args.name,
        seed=args.seed,
        test_fraction=args.test_fraction,
        config=config,
    )
    print(
        f"{args.out}: {len(train.samples)} train, {len(test.samples)} test, "
        f"{len(train.labels)} labels: {', '.join(train.labels)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
