"""The papers' JSON format: reading, writing, multi-hot order, transforms, splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.papers.datasets import (
    DATASET_STATS,
    AnnotationDataset,
    DatasetFormatError,
    Sample,
    Split,
    build_transform,
    dataset_dir,
    image_stats,
    multi_hot,
    paper_order,
    read_split,
    stats_for,
    validation_split,
    write_split,
    write_vocabulary,
)

PAPER_JSON = {
    "samples": [
        {"image_name": "1000.jpeg", "image_labels": ["sky", "water"]},
        {"image_name": "1001.jpeg", "image_labels": ["tiger"]},
        {"image_name": "1002.jpeg", "image_labels": []},
    ],
    "labels": ["water", "tiger", "sky"],
}


def _write_paper_json(path: Path) -> Path:
    path.write_text(json.dumps(PAPER_JSON), encoding="utf-8")
    return path


def test_reads_the_papers_layout_and_orders_columns_by_labels(tmp_path: Path) -> None:
    split = read_split(_write_paper_json(tmp_path / "train.json"))
    assert split.labels == ("water", "tiger", "sky")
    assert split.samples[0] == Sample("1000.jpeg", ("sky", "water"))
    np.testing.assert_array_equal(split.targets(), [[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    assert split.targets().dtype == np.float32


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    split = read_split(_write_paper_json(tmp_path / "a.json"))
    write_split(tmp_path / "b.json", split)
    assert read_split(tmp_path / "b.json") == split
    assert json.loads((tmp_path / "b.json").read_text())["labels"] == PAPER_JSON["labels"]
    write_vocabulary(tmp_path / "x_vocabulary.txt", split.labels)
    assert (tmp_path / "x_vocabulary.txt").read_text().splitlines() == list(split.labels)


@pytest.mark.parametrize(
    "bad",
    [
        {"samples": []},
        {"samples": [{"image_name": "a.jpg"}], "labels": ["a"]},
        {"samples": [{"image_name": "a.jpg", "image_labels": ["zebra"]}], "labels": ["a"]},
        {"samples": [], "labels": ["a", "a"]},
    ],
)
def test_malformed_files_are_rejected_with_a_reason(tmp_path: Path, bad: dict) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(DatasetFormatError):
        read_split(path)


def test_not_json_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        read_split(path)


def test_multi_hot_rejects_unknown_labels() -> None:
    with pytest.raises(DatasetFormatError, match="zebra"):
        multi_hot([Sample("a.jpg", ("zebra",))], ["tiger"])


def test_paper_order_is_sklearn_shuffle_random_state_0() -> None:
    # scikit-learn's shuffle docstring: shuffle(y=[0, 1, 2], random_state=0) -> [2, 1, 0];
    # its resample(replace=False) is arange(n) then RandomState(0).shuffle.
    assert paper_order(3).tolist() == [2, 1, 0]
    assert paper_order(10).tolist() == [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]
    assert sorted(paper_order(499).tolist()) == list(range(499))


def test_validation_split_is_disjoint_seeded_and_sized() -> None:
    train, val = validation_split(100, 0.1, seed=1)
    assert len(val) == 10 and len(train) == 90
    assert not set(train) & set(val)
    again = validation_split(100, 0.1, seed=1)
    np.testing.assert_array_equal(val, again[1])
    with pytest.raises(ValueError):
        validation_split(1, 0.5, seed=0)
    with pytest.raises(ValueError):
        validation_split(10, 1.0, seed=0)


def test_dataset_dir_accepts_the_parent_or_the_dataset_folder(tmp_path: Path) -> None:
    corel = tmp_path / "Corel-5k"
    corel.mkdir()
    _write_paper_json(corel / "train.json")
    assert dataset_dir(tmp_path, "Corel-5k") == corel
    assert dataset_dir(corel, "Corel-5k") == corel
    with pytest.raises(FileNotFoundError, match=r"train\.json"):
        dataset_dir(tmp_path / "nowhere", "Corel-5k")


def test_stats_table_holds_the_papers_values_and_measures_others(tmp_path: Path) -> None:
    assert DATASET_STATS["Corel-5k"] == ((0.3928, 0.4079, 0.3531), (0.2559, 0.2436, 0.2544))
    assert set(DATASET_STATS) == {"Corel-5k", "ESP-Game", "IAPR-TC-12", "VG-500"}
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "images" / "r.png")
    Image.new("RGB", (8, 8), (0, 0, 0)).save(tmp_path / "images" / "k.png")
    mean, std = image_stats(tmp_path / "images", ["r.png", "k.png"])
    assert mean == pytest.approx((0.5, 0.0, 0.0), abs=1e-3)
    assert std == pytest.approx((0.5, 0.0, 0.0), abs=1e-3)
    split = Split((Sample("r.png", ()), Sample("k.png", ())), ("a",))
    assert stats_for("Mine", tmp_path, split)[0] == pytest.approx((0.5, 0.0, 0.0), abs=1e-3)
    assert stats_for("Corel-5k", tmp_path, split) == DATASET_STATS["Corel-5k"]


def test_dataset_yields_normalised_squashed_images_and_targets(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    Image.new("RGB", (40, 20), (255, 255, 255)).save(tmp_path / "images" / "w.png")
    split = Split((Sample("w.png", ("b",)),), ("a", "b"))
    stats = ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    image, target = AnnotationDataset(tmp_path, split, build_transform(16, stats, train=False))[0]
    assert image.shape == (3, 16, 16)  # squashed, not cropped
    assert torch.allclose(image, torch.full_like(image, 2.0))  # (1 - 0.5) / 0.25
    assert target.tolist() == [0.0, 1.0]


def test_training_transform_flips_and_evaluation_does_not() -> None:
    arr = np.zeros((4, 4, 3), dtype=np.uint8)
    arr[0, 0] = 255  # one bright corner
    image = Image.fromarray(arr)
    stats = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    torch.manual_seed(0)
    train_tf = build_transform(4, stats, train=True)
    corners = {tuple((train_tf(image)[0] > 0.5).nonzero()[0].tolist()) for _ in range(40)}
    assert corners == {(0, 0), (0, 3), (3, 0), (3, 3)}
    eval_tf = build_transform(4, stats, train=False)
    assert (eval_tf(image)[0] > 0.5).nonzero().tolist() == [[0, 0]]
