"""The papers' benchmark protocol end to end on a tiny generated dataset (CPU, tiny backbone)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.learning.heads import AttentionPoolingHead, learnable_parameters
from trainer.learning.metrics import f1_score
from trainer.papers.benchmark import BenchmarkConfig, format_table, main, prepare_splits, run
from trainer.papers.datasets import dataset_dir
from trainer.papers.paper_protocol import (
    AttentionModel,
    BackboneUnavailableError,
    HeadSpec,
    build_model,
    load_backbone,
)
from trainer.papers.published import published_rows
from trainer.papers.synth import SceneConfig, generate
from trainer.papers.synth_sources import SourceError, pip_backgrounds, pip_cutouts

TINY = dict(
    backbone="resnet10t",
    pretrained=False,
    img_size=64,
    epochs=2,
    batch_size=16,
    workers=0,
    device="cpu",
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run faster on one thread, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("skimage")
    try:
        cutouts, backgrounds = pip_cutouts(max_side=64), pip_backgrounds(max_side=96)
    except SourceError as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("data") / "Tiny"
    generate(
        root,
        cutouts,
        backgrounds,
        n_train=40,
        n_test=16,
        name="Tiny",
        seed=0,
        config=SceneConfig(size=64),
    )
    return root.parent


def _check_result(result: dict, n_labels: int) -> None:
    history = result["history"]
    assert len(history) == 2
    # the kept epoch is the first with the best selection F1 (at 0.5) of the recorded history
    selection_f1 = [epoch[result["selection_set"]]["f1"] for epoch in history]
    assert result["best_epoch"] == 1 + int(np.argmax(selection_f1))
    for row in ("thr 0.5", "+MCC"):
        m = result["test"][row]
        assert (m["n_images"], m["n_labels"]) == (16, n_labels)  # all 16 test scenes, all labels
        assert m["f1"] == pytest.approx(f1_score(m["precision"], m["recall"]))
        assert 0.0 <= m["precision"] <= 1.0 and 0.0 <= m["recall"] <= 1.0
        assert 0 <= m["n_plus"] <= n_labels
        assert 0.0 <= m["mean_ap"] <= 1.0
    assert len(result["thresholds"]) == n_labels
    # mAP ranks scores, so it does not depend on the thresholds; the thresholded metrics do
    assert result["test"]["thr 0.5"]["mean_ap"] == result["test"]["+MCC"]["mean_ap"]


def test_paper_protocol_linear_head_end_to_end(tiny_data: Path) -> None:
    lines: list[str] = []
    config = BenchmarkConfig(data=tiny_data, dataset="Tiny", protocol="paper", **TINY)
    result = run(config, echo=lines.append)
    n_labels = len(result["labels"])
    _check_result(result, n_labels)
    assert result["selection_set"] == "test" and result["threshold_set"] == "train (flips)"
    # the paper selects on the test set at 0.5: the final row is the kept epoch's, exactly
    kept = result["history"][result["best_epoch"] - 1]["test"]
    assert result["test"]["thr 0.5"] == pytest.approx(kept, nan_ok=True)
    assert set(np.round(result["thresholds"], 2)) <= {round(0.05 * k, 2) for k in range(1, 15)}
    assert sum(line.startswith("epoch ") for line in lines) == 2
    assert "measured thr 0.5" in lines[-1] and "measured +MCC" in lines[-1]
    assert result["config"]["seed"] == 1 and result["config"]["ema_decay"] == 0.0


def test_honest_protocol_attention_head_end_to_end(tiny_data: Path) -> None:
    lines: list[str] = []
    head = HeadSpec(kind="attention", attn_dim=32, attn_ffn=64)
    config = BenchmarkConfig(data=tiny_data, dataset="Tiny", protocol="honest", head=head, **TINY)
    result = run(config, echo=lines.append)
    _check_result(result, len(result["labels"]))
    assert result["selection_set"] == "val" and result["threshold_set"] == "val"
    assert all("ema" in epoch for epoch in result["history"])  # paper 2 reports an EMA
    assert result["config"]["seed"] == 20
    assert "EMA F1" in lines[1]


def test_honest_validation_rows_are_carved_from_train_only(tiny_data: Path) -> None:
    config = BenchmarkConfig(data=tiny_data, dataset="Tiny", protocol="honest", **TINY)
    splits = prepare_splits(config, dataset_dir(tiny_data, "Tiny"))
    train = {s.image_name for s in splits.train.samples}
    val = {s.image_name for s in splits.select.samples}
    test = {s.image_name for s in splits.test.samples}
    assert len(val) == 4 and len(train) == 36
    assert not train & val and not val & test
    assert splits.tune == splits.select
    paper = prepare_splits(
        BenchmarkConfig(data=tiny_data, dataset="Tiny", **TINY), dataset_dir(tiny_data, "Tiny")
    )
    assert paper.select == paper.test and paper.tune == paper.train


def test_command_line_writes_json_and_rejects_unavailable_weights(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "result.json"
    args = [
        "--data",
        str(tiny_data),
        "--dataset",
        "Tiny",
        "--backbone",
        "resnet10t",
        "--no-pretrained",
        "--img-size",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--workers",
        "0",
        "--device",
        "cpu",
        "--max-train",
        "16",
        "--max-test",
        "8",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    saved = json.loads(out.read_text())
    assert saved["config"]["max_train"] == 16 and len(saved["history"]) == 1
    assert main(["--data", str(tiny_data), "--dataset", "Tiny"]) == 2  # tresnet_m, no weights
    err = capsys.readouterr().err
    assert "cannot be downloaded" in err and "--weights" in err


def test_local_weights_file_is_loaded(tmp_path: Path) -> None:
    import timm

    source = timm.create_model("resnet10t", pretrained=False, num_classes=7)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    model = load_backbone("resnet10t", tmp_path / "w.pth", pretrained=True)
    assert torch.equal(model.conv1[0].weight, source.conv1[0].weight)
    assert model.num_classes == 0  # classifier dropped; the benchmark adds its own head
    with pytest.raises(BackboneUnavailableError, match="--no-pretrained"):
        load_backbone("resnet10t", None, pretrained=True)


def test_attention_model_pools_the_backbone_feature_map() -> None:
    import timm

    backbone = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    spec = HeadSpec(kind="attention", attn_dim=16, attn_ffn=32)
    model = build_model(backbone, 5, spec)
    assert isinstance(model, AttentionModel)
    assert isinstance(model.head, AttentionPoolingHead)  # its 10,766,596 check: test_heads.py
    assert not model.head.queries.weight.requires_grad
    assert learnable_parameters(model) == (
        learnable_parameters(model.backbone) + learnable_parameters(model.head)
    )
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 5)
    linear = build_model(
        timm.create_model("resnet10t", pretrained=False, num_classes=0), 5, HeadSpec()
    )
    assert linear(torch.zeros(2, 3, 64, 64)).shape == (2, 5)


def test_table_shows_published_numbers_next_to_measured() -> None:
    rows = published_rows("Corel-5k", "linear", "proposed")
    assert [(name, values[2], values[3]) for name, values, _ in rows] == [
        ("thr 0.5", 0.506, 189),
        ("+MCC", 0.520, 191),
    ]
    assert published_rows("Corel-5k", "attention", "proposed")[0][1][:4] == (
        0.453,
        0.611,
        0.520,
        202,
    )
    metrics = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "n_plus": 10, "mean_ap": 0.6}
    result = {
        "best_epoch": 3,
        "history": [{}] * 4,
        "test": {"thr 0.5": metrics},
        "seconds_per_epoch_median": 12.0,
        "gpu_peak_gib": 9.5,
        "device": "cuda",
    }
    text = format_table(BenchmarkConfig(data=Path(".")), result)
    assert "published +MCC" in text and "0.520" in text and "  191" in text
    assert "12.0 s per epoch" in text and "9.5 GiB" in text
