"""The papers' annotation datasets: JSON splits, multi-hot targets, transforms, mean/std.

Format (docs/papers-recipe.md §1.5), one folder per dataset::

    <root>/train.json  test.json  <name>_vocabulary.txt  images/<every image, flat>

Each JSON file is ``{"samples": [{"image_name": "1000.jpeg", "image_labels": ["sky",
"water"]}, ...], "labels": [... the whole vocabulary ...]}``. The order of ``"labels"``
fixes the columns of the multi-hot targets: ``target[c] = 1`` iff ``labels[c]`` is one of
the sample's ``image_labels``. The papers reorder the samples at load time with
scikit-learn's ``shuffle(random_state=0)``; ``paper_order`` reproduces that permutation
with NumPy alone (``RandomState(0).shuffle`` of ``arange(n)``, which is what scikit-learn
does).

Transforms (docs/papers-recipe.md §1.4): squash-resize to ``size`` x ``size`` (no crop), random
vertical and horizontal flips (p = 0.5 each) for training only, ``ToTensor`` and normalisation with
the dataset's own mean/std (``DATASET_STATS``). For a dataset not in the table (e.g. one
made by ``trainer.papers.synth``) ``image_stats`` measures mean/std on its training images.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image
from torch.utils.data import Dataset

logger = logging.getLogger(__name__)

Stats = tuple[tuple[float, float, float], tuple[float, float, float]]

DATASET_STATS: dict[str, Stats] = {
    "Corel-5k": ((0.3928, 0.4079, 0.3531), (0.2559, 0.2436, 0.2544)),
    "ESP-Game": ((0.5377, 0.5087, 0.4845), (0.3244, 0.3181, 0.3254)),
    "IAPR-TC-12": ((0.4901, 0.4739, 0.4489), (0.2557, 0.2543, 0.2769)),
    "VG-500": ((0.4697, 0.4518, 0.4163), (0.2727, 0.2684, 0.2855)),
}
"""Per-dataset (mean, std) of the papers' ``datasets.py`` (docs/papers-recipe.md §1.4, §2.3)."""


class DatasetFormatError(ValueError):
    """A split file that does not follow the papers' JSON layout."""


@dataclass(frozen=True)
class Sample:
    """One image of a split.

    Attributes:
        image_name: File name inside the dataset's ``images/`` folder.
        labels: The image's labels (words of the vocabulary).
    """

    image_name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    """One JSON split: its samples and the vocabulary that orders the target columns."""

    samples: tuple[Sample, ...]
    labels: tuple[str, ...]

    def targets(self) -> NDArray[np.float32]:
        """The (N, C) multi-hot matrix in ``labels`` order (see ``multi_hot``)."""
        return multi_hot(self.samples, self.labels)

    def subset(self, indices: Sequence[int]) -> Split:
        """The samples at ``indices`` (in that order), same vocabulary."""
        return Split(tuple(self.samples[i] for i in indices), self.labels)


def multi_hot(samples: Sequence[Sample], labels: Sequence[str]) -> NDArray[np.float32]:
    """(N, C) float32 targets: 1 where the sample has the label.

    Raises:
        DatasetFormatError: A sample has a label that is not in ``labels``.
    """
    column = {name: c for c, name in enumerate(labels)}
    out = np.zeros((len(samples), len(labels)), dtype=np.float32)
    for row, sample in enumerate(samples):
        for name in sample.labels:
            if name not in column:
                raise DatasetFormatError(
                    f"{sample.image_name}: label {name!r} is not in the vocabulary"
                )
            out[row, column[name]] = 1.0
    return out


def read_split(path: Path) -> Split:
    """Read a ``train.json`` / ``test.json`` file.

    Raises:
        FileNotFoundError: The file does not exist.
        DatasetFormatError: It is not JSON in the papers' layout.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or "samples" not in raw or "labels" not in raw:
        raise DatasetFormatError(f"{path} needs the keys 'samples' and 'labels'")
    labels = raw["labels"]
    if not isinstance(labels, list) or not all(isinstance(w, str) for w in labels):
        raise DatasetFormatError(f"{path}: 'labels' must be a list of words")
    if len(set(labels)) != len(labels):
        raise DatasetFormatError(f"{path}: 'labels' has duplicates")
    samples = []
    for i, item in enumerate(raw["samples"]):
        try:
            name, words = item["image_name"], item["image_labels"]
        except (KeyError, TypeError) as exc:
            raise DatasetFormatError(f"{path}: sample {i} lacks image_name/image_labels") from exc
        if not isinstance(name, str) or not isinstance(words, list):
            raise DatasetFormatError(f"{path}: sample {i} has the wrong types")
        samples.append(Sample(name, tuple(str(w) for w in words)))
    split = Split(tuple(samples), tuple(labels))
    multi_hot(split.samples, split.labels)  # validates every label
    logger.info("read %s: %d samples, %d labels", path, len(samples), len(labels))
    return split


def write_split(path: Path, split: Split) -> None:
    """Write ``split`` as the papers' JSON (UTF-8, one sample per line for readable diffs)."""
    lines = [
        json.dumps({"image_name": s.image_name, "image_labels": list(s.labels)})
        for s in split.samples
    ]
    body = ",\n  ".join(lines)
    text = f'{{"samples": [\n  {body}\n], "labels": {json.dumps(list(split.labels))}}}\n'
    Path(path).write_text(text, encoding="utf-8")


def write_vocabulary(path: Path, labels: Sequence[str]) -> None:
    """Write ``<name>_vocabulary.txt``: one word per line, in column order."""
    Path(path).write_text("".join(f"{w}\n" for w in labels), encoding="utf-8")


def dataset_dir(data: Path, dataset: str) -> Path:
    """The folder holding ``train.json``: ``data/<dataset>`` or ``data`` itself.

    Raises:
        FileNotFoundError: Neither has a ``train.json``.
    """
    for candidate in (Path(data) / dataset, Path(data)):
        if (candidate / "train.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"no train.json in {Path(data) / dataset} or {data}; expected the papers' layout "
        "(train.json, test.json, images/)"
    )


def paper_order(n: int) -> NDArray[np.intp]:
    """The permutation of scikit-learn's ``shuffle(range(n), random_state=0)``."""
    order = np.arange(n)
    np.random.RandomState(0).shuffle(order)
    return order


def validation_split(
    n: int, fraction: float, seed: int
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Disjoint (train, validation) row indices, ``round(fraction * n)`` (>= 1) held out.

    Raises:
        ValueError: ``fraction`` is not in (0, 1) or ``n`` is too small to split.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    n_val = max(1, round(fraction * n))
    if n - n_val < 1:
        raise ValueError(f"{n} samples cannot be split into train and validation")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def image_stats(image_dir: Path, names: Sequence[str], size: int = 64, limit: int = 500) -> Stats:
    """Per-channel mean and std in [0, 1] of up to ``limit`` images (resized to ``size``).

    Raises:
        ValueError: ``names`` is empty.
    """
    if not names:
        raise ValueError("no images to measure")
    step = max(1, len(names) // limit)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    for name in list(names)[::step][:limit]:
        with Image.open(Path(image_dir) / name) as im:
            arr = np.asarray(im.convert("RGB").resize((size, size)), dtype=np.float64) / 255.0
        flat = arr.reshape(-1, 3)
        total += flat.sum(axis=0)
        total_sq += (flat**2).sum(axis=0)
        count += flat.shape[0]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))

    def as3(v: np.ndarray) -> tuple[float, float, float]:
        return (float(v[0]), float(v[1]), float(v[2]))

    return as3(np.round(mean, 4)), as3(np.round(std, 4))


def stats_for(dataset: str, root: Path, train: Split) -> Stats:
    """The table's mean/std for a known dataset, else measured on its training images."""
    if dataset in DATASET_STATS:
        return DATASET_STATS[dataset]
    stats = image_stats(Path(root) / "images", [s.image_name for s in train.samples])
    logger.info("%s is not in the table; measured mean/std %s", dataset, stats)
    return stats


def build_transform(size: int, stats: Stats, *, train: bool) -> Any:
    """The papers' transform: squash resize, flips if ``train``, ToTensor, Normalize."""
    from torchvision import transforms

    steps: list[Any] = [transforms.Resize((size, size))]
    if train:
        steps += [transforms.RandomVerticalFlip(0.5), transforms.RandomHorizontalFlip(0.5)]
    steps += [transforms.ToTensor(), transforms.Normalize(*stats)]
    return transforms.Compose(steps)


class AnnotationDataset(Dataset):
    """(image tensor, float32 multi-hot target) pairs of one split, decoded on access.

    Args:
        root: The dataset folder (images are read from ``root/images``).
        split: The samples and vocabulary.
        transform: Turns a PIL RGB image into a tensor (``build_transform``).
    """

    def __init__(self, root: Path, split: Split, transform: Any) -> None:
        self.image_dir = Path(root) / "images"
        self.names = [s.image_name for s in split.samples]
        self.targets = split.targets()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        with Image.open(self.image_dir / self.names[index]) as im:
            image = im.convert("RGB")
        return self.transform(image), torch.from_numpy(self.targets[index])
