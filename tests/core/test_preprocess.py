"""A backbone's input in one place (core.model.preprocess): timm's eval transform exactly, the
data config's interpolation honoured, and the same numbers for the indexer and the trainer."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import ModelLoadError
from core.library import Library
from core.media.imaging import decode
from core.model.preprocess import Preprocessing
from core.model.weights import DEFAULT_BACKBONE

#: The default backbone's data config (timm's, for tf_efficientnet_lite0).
LITE0 = {
    "input_size": (3, 224, 224),
    "interpolation": "bicubic",
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "crop_pct": 0.875,
    "crop_mode": "center",
}
IMAGENET = {
    "input_size": (3, 224, 224),
    "interpolation": "bilinear",
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
    "crop_pct": 0.9,
    "crop_mode": "center",
}


@pytest.fixture(scope="module")
def chelsea(real_photo_paths: dict[str, Path]) -> Image.Image:
    return decode(real_photo_paths["chelsea"], min_side=256).image


def test_the_default_model_keeps_its_numbers():
    """assets/starter.safetensors was fitted on features from exactly this input."""
    import timm

    model = timm.create_model(DEFAULT_BACKBONE, pretrained=False)
    config = timm.data.resolve_model_data_config(model)
    prep = Preprocessing.from_data_config(config)
    assert prep == Preprocessing(224, 0.875, "bicubic", (0.5,) * 3, (0.5,) * 3)
    assert prep.min_side == 256


@pytest.mark.parametrize("config", [LITE0, IMAGENET], ids=["bicubic", "bilinear"])
def test_pixels_and_normalise_are_timms_eval_transform(config: dict, chelsea: Image.Image):
    import timm.data

    timm_input = timm.data.create_transform(**timm.data.resolve_data_config(config))(chelsea)
    prep = Preprocessing.from_data_config(config)
    pixels = prep.pixels(chelsea)
    assert pixels.dtype == np.uint8 and pixels.shape == (3, 224, 224)
    ours = prep.normalise(torch.from_numpy(pixels)[None])[0]
    assert torch.allclose(ours, timm_input, atol=1e-5)


def test_the_interpolation_of_the_config_is_used(chelsea: Image.Image):
    bicubic = Preprocessing.from_data_config({**IMAGENET, "interpolation": "bicubic"})
    bilinear = Preprocessing.from_data_config(IMAGENET)
    assert not np.array_equal(bicubic.pixels(chelsea), bilinear.pixels(chelsea))
    by_hand = chelsea.resize(
        (int(248 * chelsea.width / chelsea.height), 248), Image.Resampling.BILINEAR
    )
    left = round((by_hand.width - 224) / 2)
    top = round((by_hand.height - 224) / 2)
    expected = np.asarray(by_hand.crop((left, top, left + 224, top + 224))).transpose(2, 0, 1)
    assert np.array_equal(bilinear.pixels(chelsea), expected)


def test_normalise_leaves_its_input_alone_and_takes_floats_too():
    pixels = torch.arange(0, 256, dtype=torch.uint8).repeat(3, 1).view(1, 3, 16, 16)
    prep = Preprocessing.from_data_config(IMAGENET)
    as_float = pixels.float()
    before = as_float.clone()
    assert torch.equal(prep.normalise(pixels), prep.normalise(as_float))
    assert torch.equal(as_float, before)
    mean = torch.tensor(IMAGENET["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET["std"]).view(1, 3, 1, 1)
    assert torch.allclose(prep.normalise(pixels), (before / 255 - mean) / std, atol=1e-6)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"interpolation": "random"}, "interpolation 'random'"),
        ({"input_size": (3, 224, 192)}, "square RGB"),
        ({"input_size": (1, 224, 224)}, "square RGB"),
        ({"crop_pct": 0.0}, "crop_pct"),
        ({"std": (0.2, 0.0, 0.2)}, "std"),
    ],
)
def test_a_config_the_album_cannot_follow_is_refused(change: dict, reason: str):
    with pytest.raises(ModelLoadError, match=reason):
        Preprocessing.from_data_config({**LITE0, **change})


@pytest.mark.slow
def test_the_indexer_and_the_trainer_feed_the_network_the_same_numbers(
    tmp_path: Path, real_photo_paths: dict[str, Path]
):
    """The network's input, caught at its first layer: the indexer's batch (tagging) and the
    trainer's photos decoded again (attention and fine-tuning heads) are equal to the bit."""
    from trainer.album import deep

    album = tmp_path / "album"
    album.mkdir()
    for name in ("chelsea", "coffee", "rocket"):
        src = real_photo_paths[name]
        shutil.copy2(src, album / f"{name}{src.suffix}")
    seen: list[torch.Tensor] = []
    with Library(album) as library:
        backbone = library.model().tagger.backbone
        hook = backbone.model.conv_stem.register_forward_pre_hook(
            lambda module, args: seen.append(args[0].detach().cpu().clone())
        )
        library.indexer(faces=False, keywords=False).run()
        tagged = torch.cat(seen)
        seen.clear()
        ids = np.array(
            [
                p.id
                for p in library.store.photos_by_ids(
                    [
                        library.photo(f"{n}{real_photo_paths[n].suffix}").id
                        for n in ("chelsea", "coffee", "rocket")
                    ]
                )
            ]
        )
        pixels = deep.photo_pixels(library, backbone, ids, lambda *a: None)
        deep.feature_maps(backbone, pixels)
        maps_input = torch.cat(seen)
        seen.clear()
        with torch.inference_mode():
            deep._Normalised(backbone.model, backbone)(pixels.to(backbone.device))
        finetune_input = torch.cat(seen)
        hook.remove()
    assert tagged.shape == maps_input.shape == (3, 3, 224, 224)
    for trained in (maps_input, finetune_input):
        for row in trained:  # the indexer tags newest first: match rows, not positions
            assert any(torch.equal(row, t) for t in tagged)
        assert len({t.numpy().tobytes() for t in trained}) == 3
