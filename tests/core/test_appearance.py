"""The appearance descriptor: colour, layout and the middle stage, cached with every photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.labels.vocabulary import Vocabulary
from core.media.imaging import decode
from core.model.appearance import Appearance, cie_lab, colour_histogram, layout
from core.model.tagger import Backbone, PriorHead, Tagger
from core.model.versions import prior_head, prior_label_names


def _solid(rgb: tuple[int, int, int], side: int = 32) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, side, side).clone()


@pytest.mark.parametrize(
    ("rgb", "hue_bin", "saturation_bin", "value_bin"),
    [
        ((255, 0, 0), 0, 3, 3),  # red
        ((0, 0, 255), 8, 3, 3),  # blue: hue 240 degrees = 8 of 12 bins
        ((40, 200, 40), 4, 3, 3),  # green: hue 120 degrees
        ((128, 128, 128), 0, 0, 2),  # grey: no saturation, middle value
        ((0, 0, 0), 0, 0, 0),  # black
    ],
)
def test_a_solid_colour_puts_every_pixel_in_its_bin(rgb, hue_bin, saturation_bin, value_bin):
    hist = colour_histogram(_solid(rgb).float() / 255)
    assert hist.shape == (1, 192)
    assert float(hist.sum()) == pytest.approx(1.0)
    assert int(hist.argmax()) == hue_bin * 16 + saturation_bin * 4 + value_bin
    assert float(hist.max()) == pytest.approx(1.0)


def test_lab_of_white_black_and_blue():
    lab = cie_lab(torch.tensor([[[[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 0.0, 1.0]]]]))
    white, black, blue = lab[0, :, 0, 0], lab[0, :, 0, 1], lab[0, :, 0, 2]
    assert torch.allclose(white, torch.tensor([100.0, 0.0, 0.0]), atol=0.5)
    assert torch.allclose(black, torch.zeros(3), atol=0.5)
    assert 25 < float(blue[0]) < 40 and float(blue[2]) < -90  # dark, strongly blue


def test_layout_tells_sky_over_grass_from_grass_over_sky():
    sky_first = torch.zeros(1, 3, 30, 30, dtype=torch.uint8)
    sky_first[0, :, :10] = torch.tensor([90, 150, 230], dtype=torch.uint8).view(3, 1, 1)
    sky_first[0, :, 10:] = torch.tensor([50, 140, 40], dtype=torch.uint8).view(3, 1, 1)
    grass_first = sky_first.flip(2)
    top = layout(sky_first.float() / 255)[0]
    # per band: mean L, a, b then their spreads; band 0 is the top
    assert float(top[2]) < -20  # blue top: b* negative
    assert float(top[6 + 1]) < -20 and float(top[12 + 1]) < -20  # green below: a* negative
    assert float(top[3:6].abs().max()) < 1e-3  # one colour per band: no spread
    assert not torch.allclose(top, layout(grass_first.float() / 255)[0])


def test_describe_checks_its_inputs_and_handles_an_empty_batch():
    look = Appearance(4)
    assert look.width == 192 + 18 + 4
    assert [s.stop - s.start for s in look.slices(10).values()] == [192, 18, 4]
    assert look.slices(10)["colour"].start == 10
    crops = _solid((10, 20, 30))
    out = look.describe(crops, torch.ones(1, 4))
    assert out.shape == (1, look.width) and torch.equal(out[0, -4:], torch.ones(4))
    assert look.describe(crops[:0], None).shape == (0, look.width)
    with pytest.raises(ValueError, match="middle"):
        look.describe(crops, None)
    with pytest.raises(ValueError, match="uint8"):
        look.describe(crops.float(), torch.ones(1, 4))
    assert Appearance(0).describe(crops, None).shape == (1, 210)
    assert Appearance(4).key != Appearance(0).key


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    return Backbone.load(device="cpu")


def test_the_middle_stage_is_the_last_but_one_block_averaged(backbone):
    assert backbone.middle_dim == 192  # EfficientNet-Lite0's stage before the last
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 224, 224), dtype=np.uint8)
    pooled, _, middle = backbone.features_map_middle(x)
    assert middle is not None and middle.shape == (2, 192)
    model = backbone.model
    with torch.inference_mode():
        h = model.bn1(model.conv_stem(backbone.preprocessing.normalise(torch.from_numpy(x))))
        for block in model.blocks[:-1]:
            h = block(h)
    assert torch.allclose(middle, h.mean(dim=(2, 3)), atol=1e-4)
    assert torch.equal(pooled, backbone.features(x))  # the same pass, the same features
    assert backbone._local.middle is None  # nothing kept between calls
    positions = backbone.middle_map(x)  # the same stage at every position, unpooled
    assert positions is not None and positions.shape == (2, 192, *h.shape[2:])
    assert torch.allclose(positions, h, atol=1e-4)
    assert backbone._local.middle is None


def test_the_album_descriptor_is_pooled_regions_appearance_then_patches(backbone, real_photo_paths):
    vocabulary = Vocabulary.load()
    tagger = Tagger(backbone, prior_head(vocabulary))
    assert tagger.regions is not None and tagger.appearance is not None
    assert tagger.patches is not None
    assert tagger.feature_key.endswith(f"+{tagger.appearance.key}+{tagger.patches.key}")
    assert tagger.appearance_start == backbone.feature_dim + tagger.regions.width
    assert tagger.patches_start == tagger.appearance_start + tagger.appearance.width
    assert tagger.feature_dim == tagger.patches_start + tagger.patches.width
    prep = backbone.preprocessing
    crops = np.stack(
        [
            prep.pixels(decode(real_photo_paths[name], min_side=prep.min_side).image)
            for name in ("astronaut", "chelsea", "coffee")
        ]
    )
    descriptors, scores = tagger.run(crops)
    assert descriptors.shape == (3, tagger.feature_dim)
    _, _, middle = backbone.features_map_middle(crops)
    look = tagger.appearance.describe(torch.from_numpy(crops), middle).numpy()
    assert np.allclose(
        descriptors[:, tagger.appearance_start : tagger.patches_start], look, atol=1e-5
    )
    # the patches: the middle stage averaged down to 4 x 4 positions, position-major
    middle_map = backbone.middle_map(crops)
    assert middle_map is not None
    cell = middle_map[:, :, :2, :2].mean(dim=(2, 3)).numpy()  # the top-left of a 7 x 7 map
    cell_of = tagger.patches.positions_of(torch.from_numpy(descriptors), tagger.patches_start)
    assert cell_of.shape == (3, 16, 192)
    assert np.allclose(cell_of[:, 0].numpy(), cell, atol=1e-4)
    # the prior reads its own part: the same scores as from a descriptor without appearance
    names = prior_label_names(vocabulary)
    bare = Tagger(
        backbone, PriorHead(names, vocabulary.imagenet_membership(names), appearance=False)
    )
    assert bare.appearance is None and bare.feature_dim == tagger.appearance_start
    assert np.allclose(bare.score_features(descriptors[:, : bare.feature_dim]), scores, atol=1e-5)
    assert np.allclose(tagger.score_features(descriptors), scores, atol=1e-5)
    assert tagger.describe(crops[:0]).shape == (0, tagger.feature_dim)
