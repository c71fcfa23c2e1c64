"""core.model.tagger: backbone features, the prior, linear heads and the Tagger, on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import timm
import torch
from PIL import Image

from core.errors import ModelLoadError
from core.media.imaging import to_model_input
from core.model.tagger import Backbone, LinearHead, PriorHead, Tagger, pick_device
from core.model.weights import DEFAULT_BACKBONE, DEFAULT_WEIGHTS_SHA256
from tests.conftest import SKIMAGE_SAMPLES, foolbox_photos, skimage_photo

CAT_CLASSES = list(range(281, 286))
DOG_CLASSES = list(range(151, 269))


def model_crop(path: Path) -> np.ndarray:
    """uint8 (3, 224, 224) model input of a photo, as the indexer makes it."""
    with Image.open(path) as image:
        image.load()
        return to_model_input(image, size=224, crop_pct=0.875)


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone.load(device="auto")


@pytest.fixture(scope="module")
def photos() -> tuple[list[str], np.ndarray]:
    """Names and uint8 crops: the four scikit-image samples and four foolbox photos."""
    paths = {name: skimage_photo(name) for name in SKIMAGE_SAMPLES}
    for path, _ in foolbox_photos()[:4]:
        paths[path.stem] = path
    return list(paths), np.stack([model_crop(p) for p in paths.values()])


def _close(backbone: Backbone) -> dict[str, float]:
    """Tolerances: tight in float32 on the CPU, loose under GPU autocast (bf16/fp16)."""
    if backbone.device.type == "cpu":
        return {"atol": 1e-4, "rtol": 1e-4}
    return {"atol": 5e-2, "rtol": 5e-2}


def _prior_head() -> PriorHead:
    membership = np.zeros((1000, 2), dtype=np.float32)
    membership[CAT_CLASSES, 0] = 1.0
    membership[CAT_CLASSES + DOG_CLASSES, 1] = 1.0
    return PriorHead(["cat", "animal"], membership)


def _linear_head(backbone_id: str, labels: int = 3, dim: int = 1280) -> LinearHead:
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(labels, dim, generator=gen) * 0.05
    bias = torch.randn(labels, generator=gen)
    return LinearHead([f"label{i}" for i in range(labels)], weight, bias, backbone_id)


# --- devices and the backbone ----------------------------------------------------------


def test_pick_device() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in {"cuda", "mps", "cpu"}
    if not torch.cuda.is_available():
        assert pick_device("auto").type != "cuda"
        with pytest.raises(ModelLoadError, match="CUDA"):
            pick_device("cuda")
    with pytest.raises(ModelLoadError, match="device"):
        pick_device("quantum")


def test_backbone_identity_and_geometry(backbone: Backbone) -> None:
    assert backbone.name == DEFAULT_BACKBONE
    assert backbone.id == f"{DEFAULT_BACKBONE}@{DEFAULT_WEIGHTS_SHA256[:12]}"
    assert (backbone.feature_dim, backbone.num_classes) == (1280, 1000)
    assert (backbone.input_size, backbone.crop_pct) == (224, pytest.approx(0.875))


def test_features_shape_and_batch_independence(
    backbone: Backbone, photos: tuple[list[str], np.ndarray]
) -> None:
    _, batch = photos
    features = backbone.features(batch)
    assert features.shape == (len(batch), 1280)
    assert features.dtype == torch.float32
    assert torch.isfinite(features).all()
    for i in (0, 5):
        single = backbone.features(batch[i : i + 1])
        torch.testing.assert_close(single[0], features[i], **_close(backbone))
    from_tensor = backbone.features(torch.from_numpy(batch[:2]))
    torch.testing.assert_close(from_tensor, features[:2], **_close(backbone))


def test_channels_last_does_not_change_features(
    backbone: Backbone, photos: tuple[list[str], np.ndarray]
) -> None:
    _, batch = photos
    plain = Backbone.load(device=str(backbone.device), channels_last=False)
    assert backbone.channels_last and not plain.channels_last
    torch.testing.assert_close(
        plain.features(batch[:4]), backbone.features(batch[:4]), **_close(backbone)
    )


def test_classify_matches_the_full_forward_pass(
    backbone: Backbone, photos: tuple[list[str], np.ndarray]
) -> None:
    names, batch = photos
    logits = backbone.classify(backbone.features(batch))
    x = torch.from_numpy(batch).float().to(backbone.device) / 255.0
    x = (x - 0.5) / 0.5  # the default backbone's data config
    with torch.inference_mode():
        reference = backbone.model(x.contiguous(memory_format=torch.channels_last)).float()
    if backbone.device.type == "cpu":
        torch.testing.assert_close(logits, reference, atol=1e-4, rtol=1e-4)
    else:  # autocast (bf16/fp16) features against a float32 reference
        assert torch.equal(logits.argmax(dim=1), reference.argmax(dim=1))
        assert float((logits - reference).abs().max()) < 1.0
    top5 = logits[names.index("chelsea")].topk(5).indices.tolist()
    assert set(top5) & set(CAT_CLASSES)


def test_features_rejects_wrong_input(backbone: Backbone) -> None:
    with pytest.raises(TypeError, match="uint8"):
        backbone.features(np.zeros((1, 3, 224, 224), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        backbone.features(np.zeros((1, 3, 200, 224), dtype=np.uint8))
    with pytest.raises(ValueError, match="shape"):
        backbone.features(np.zeros((3, 224, 224), dtype=np.uint8))
    assert backbone.features(np.zeros((0, 3, 224, 224), dtype=np.uint8)).shape == (0, 1280)


def test_read_only_input_is_accepted(backbone: Backbone) -> None:
    batch = np.zeros((1, 3, 224, 224), dtype=np.uint8)
    batch.flags.writeable = False
    assert backbone.features(batch).shape == (1, 1280)


# --- the prior head (model version 0) ---------------------------------------------------


def test_prior_head_scores_real_photos(
    backbone: Backbone, photos: tuple[list[str], np.ndarray]
) -> None:
    names, batch = photos
    tagger = Tagger(backbone, _prior_head())
    assert tagger.label_names == ("cat", "animal")
    features, scores = tagger.run(batch)
    # pooled features, one regional value per prior label (core.model.regions), then the
    # appearance descriptor (core.model.appearance: 192 + 18 + Lite0's 192 middle channels),
    # then the patches (core.model.patches: 4 x 4 positions of those 192 channels)
    width = 1280 + 2 + 402 + 16 * 192
    assert features.shape == (len(batch), width) and features.dtype == np.float32
    assert tagger.feature_dim == width and tagger.feature_key.startswith(backbone.id + "+")
    assert scores.shape == (len(batch), 2) and scores.dtype == np.float32
    assert ((scores >= 0) & (scores <= 1)).all()
    cat, animal = scores[:, 0], scores[:, 1]
    assert cat[names.index("chelsea")] > 0.8
    assert cat[names.index("coffee")] < 0.05
    assert (animal >= cat - 1e-6).all()
    np.testing.assert_allclose(tagger.score_features(features), scores, atol=1e-5)
    half = tagger.score_features(features.astype(np.float16))  # the store keeps float16
    np.testing.assert_allclose(half, scores, atol=1e-3)


def test_prior_head_validation(backbone: Backbone) -> None:
    with pytest.raises(ValueError, match="membership"):
        PriorHead(["a", "b"], np.zeros((1000, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        PriorHead(["a"], np.full((1000, 1), 2.0, dtype=np.float32))
    with pytest.raises(ValueError, match="unique"):
        PriorHead(["a", "a"], np.zeros((1000, 2), dtype=np.float32))
    with pytest.raises(ModelLoadError, match="classes"):
        Tagger(backbone, PriorHead(["a"], np.zeros((10, 1), dtype=np.float32)))


# --- the linear head (model version >= 1) -----------------------------------------------


def test_linear_head_round_trip(
    tmp_path: Path, backbone: Backbone, photos: tuple[list[str], np.ndarray]
) -> None:
    head = _linear_head(backbone.id)
    path = tmp_path / "models" / "head-1.safetensors"
    head.save(path)
    head.save(path)  # overwriting is fine, and leaves no temp files behind
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    loaded = LinearHead.load(path)
    assert loaded.label_names == head.label_names
    assert loaded.backbone_id == backbone.id
    assert torch.equal(loaded.weight, head.weight) and torch.equal(loaded.bias, head.bias)

    tagger = Tagger(backbone, loaded)
    features, scores = tagger.run(photos[1][:3])
    expected = torch.sigmoid(torch.from_numpy(features) @ head.weight.T + head.bias).numpy()
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    np.testing.assert_allclose(tagger.score_features(features), scores, atol=1e-6)


def _save_raw(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)
    return path


def test_linear_head_load_refuses_bad_files(tmp_path: Path) -> None:
    meta = {"labels": '["a", "b"]', "backbone": "x@0", "format": "albumtag-linear-head/1"}
    w, b = torch.zeros(2, 4), torch.zeros(2)
    bad: dict[str, tuple[dict[str, torch.Tensor], dict[str, str]]] = {
        "format": ({"weight": w, "bias": b}, {**meta, "format": "albumtag-linear-head/9"}),
        "no metadata": ({"weight": w, "bias": b}, {}),
        "bias shape": ({"weight": w, "bias": torch.zeros(3)}, meta),
        "weight 1-d": ({"weight": torch.zeros(2), "bias": b}, meta),
        "labels json": ({"weight": w, "bias": b}, {**meta, "labels": "["}),
        "labels count": ({"weight": w, "bias": b}, {**meta, "labels": '["a"]'}),
        "extra tensor": ({"weight": w, "bias": b, "x": torch.zeros(1)}, meta),
        "no backbone": ({"weight": w, "bias": b}, {**meta, "backbone": ""}),
        "not finite": ({"weight": torch.full((2, 4), float("nan")), "bias": b}, meta),
    }
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00not a safetensors file at all" * 10)
    paths = {"missing": tmp_path / "missing.safetensors", "garbage": garbage}
    for case, (tensors, metadata) in bad.items():
        paths[case] = _save_raw(tmp_path / f"{case}.safetensors", tensors, metadata)
    for case, path in paths.items():
        with pytest.raises(ModelLoadError):
            LinearHead.load(path)
            pytest.fail(f"{case} was accepted")
    good = _save_raw(tmp_path / "ok.safetensors", {"weight": w, "bias": b}, meta)
    assert LinearHead.load(good).label_names == ("a", "b")


def test_tagger_refuses_a_head_from_another_backbone(backbone: Backbone) -> None:
    with pytest.raises(ModelLoadError, match="trained on"):
        Tagger(backbone, _linear_head("tf_efficientnet_lite0@000000000000"))
    with pytest.raises(ModelLoadError, match="features"):
        Tagger(backbone, _linear_head(backbone.id, dim=1024))


# --- a backbone from a local checkpoint ---------------------------------------------------


def test_backbone_from_a_local_checkpoint(
    tmp_path: Path, photos: tuple[list[str], np.ndarray]
) -> None:
    model = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=5)
    path = tmp_path / "small.safetensors"
    safetensors.torch.save_file(model.state_dict(), str(path))
    small = Backbone.load("mobilenetv3_small_050", path, device="cpu")
    assert small.id.startswith("mobilenetv3_small_050@") and small.id != "mobilenetv3_small_050@"
    assert (small.feature_dim, small.num_classes) == (1024, 5)
    features = small.features(photos[1][:2])
    assert features.shape == (2, 1024)
    assert small.classify(features).shape == (2, 5)
