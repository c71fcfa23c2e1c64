"""Appearance: what a photo looks like beyond what the ImageNet classes name.

The backbone's pooled features were trained to tell 1,000 object classes apart; much of what a
person teaches an album is not an object but a look: sky, fog, sunset, snow, a forest's green, a
macro's blur, night. Three small descriptors carry that look and are cached with each photo, after
the pooled features and the regional evidence (``core.model.tagger.Tagger``):

* ``colour`` — a histogram of the crop's pixels over hue (12 bins), saturation (4) and value (4),
  as fractions of the pixels (192 values);
* ``layout`` — mean and standard deviation of CIE L*a*b* in three horizontal bands, top to bottom
  (18 values): a bright blue top over a green bottom is a landscape before any object is seen;
* ``middle`` — the average over positions of the backbone's last-but-one stage (192 channels on
  EfficientNet-Lite): textures and parts, before the last stage specialises them into classes.

Confirm-only prototypes (``trainer.learning.residual_fit``) read them beside the pooled and
semantic features. On the labelled photo set's dev half (10 labels the prior cannot see, 10
confirmation draws each) they lift a prototype's average precision from 0.41/0.47/0.53/0.47 to
0.47/0.55/0.58/0.55 at k = 3/5/10/20 confirmations (``python -m benchmarks.bench_photoset
--split dev``); the colour histogram gives most of it, the middle stage most of the rest.

Everything is computed from the uint8 crop the backbone already sees (averaged down to 56 x 56)
and from one activation of the same forward pass, so indexing decodes nothing more; the 402
values add 804 bytes per photo to the cache.
"""

from __future__ import annotations

import hashlib

import torch

from core.model.part_names import APPEARANCE_PARTS

#: Bins of the colour histogram: hue x saturation x value.
HUE_BINS, SATURATION_BINS, VALUE_BINS = 12, 4, 4
#: Horizontal bands of the layout descriptor, top to bottom.
BANDS = 3
#: Colour and layout are read from the crop averaged down to this many pixels a side (a 224 px
#: crop: 4 x 4 blocks): the statistics hardly change, and they cost a sixteenth.
SIDE = 56
#: The parts of an appearance descriptor, in the order they are cached.
PARTS = APPEARANCE_PARTS

_COLOUR_WIDTH = HUE_BINS * SATURATION_BINS * VALUE_BINS
_LAYOUT_WIDTH = BANDS * 3 * 2
#: sRGB (linear) to CIE XYZ under D65, and D65's white point.
_RGB_TO_XYZ = torch.tensor(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
_WHITE = torch.tensor([0.9505, 1.0, 1.089])


class Appearance:
    """The appearance descriptor of a backbone whose last-but-one stage has ``middle_dim``
    channels (0: the backbone exposes none, and the descriptor is colour and layout only)."""

    def __init__(self, middle_dim: int) -> None:
        if middle_dim < 0:
            raise ValueError(f"middle_dim must be >= 0, got {middle_dim}")
        self.middle_dim = int(middle_dim)
        self.widths = {"colour": _COLOUR_WIDTH, "layout": _LAYOUT_WIDTH, "middle": middle_dim}
        self.width = sum(self.widths.values())
        constants = f"{HUE_BINS},{SATURATION_BINS},{VALUE_BINS},{BANDS},{SIDE},{middle_dim}"
        self.key = "look-" + hashlib.sha256(constants.encode()).hexdigest()[:8]

    def slices(self, start: int = 0) -> dict[str, slice]:
        """Where each part lies in a descriptor whose appearance begins at ``start``."""
        out: dict[str, slice] = {}
        for part in PARTS:
            out[part] = slice(start, start + self.widths[part])
            start += self.widths[part]
        return out

    def describe(self, crops: torch.Tensor, middle: torch.Tensor | None) -> torch.Tensor:
        """(B, width) float32 from uint8 crops (B, 3, H, W) and the pooled middle stage
        (B, middle_dim), which may be None only when ``middle_dim`` is 0."""
        if crops.dtype != torch.uint8 or crops.ndim != 4 or crops.shape[1] != 3:
            raise ValueError(f"expected uint8 crops (B, 3, H, W), got {crops.dtype} {crops.shape}")
        if crops.shape[0] == 0:
            return torch.zeros(0, self.width, device=crops.device)
        rgb = crops.to(torch.float32) / 255.0
        if min(rgb.shape[2:]) > SIDE:
            rgb = torch.nn.functional.adaptive_avg_pool2d(rgb, SIDE)
        parts = [colour_histogram(rgb), layout(rgb)]
        if self.middle_dim:
            if middle is None or tuple(middle.shape) != (crops.shape[0], self.middle_dim):
                got = None if middle is None else tuple(middle.shape)
                raise ValueError(
                    f"expected middle ({crops.shape[0]}, {self.middle_dim}), got {got}"
                )
            parts.append(middle.to(rgb.device, torch.float32))
        return torch.cat(parts, dim=1)


def colour_histogram(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 192) fractions of pixels per hue x saturation x value bin of RGB in [0, 1]."""
    top, _ = rgb.max(dim=1)
    bottom, _ = rgb.min(dim=1)
    spread = top - bottom
    saturation = torch.where(top > 0, spread / top.clamp_min(1e-6), torch.zeros_like(top))
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    step = spread.clamp_min(1e-6)
    hue = torch.where(
        top == r,
        torch.remainder((g - b) / step, 6.0),
        torch.where(top == g, (b - r) / step + 2.0, (r - g) / step + 4.0),
    )
    hue = torch.where(spread > 0, hue / 6.0, torch.zeros_like(hue))

    def binned(values: torch.Tensor, bins: int) -> torch.Tensor:
        return (values * bins).long().clamp_(0, bins - 1)

    index = (
        binned(hue, HUE_BINS) * (SATURATION_BINS * VALUE_BINS)
        + binned(saturation, SATURATION_BINS) * VALUE_BINS
        + binned(top, VALUE_BINS)
    ).flatten(1)
    counts = torch.zeros(rgb.shape[0], _COLOUR_WIDTH, device=rgb.device)
    counts.scatter_add_(1, index, torch.ones_like(index, dtype=torch.float32))
    return counts / max(index.shape[1], 1)


def layout(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 18) mean and standard deviation of L*, a*, b* in each horizontal band."""
    lab = cie_lab(rgb)
    height = rgb.shape[2]
    parts = []
    for band in range(BANDS):
        rows = lab[:, :, band * height // BANDS : (band + 1) * height // BANDS].flatten(2)
        parts += [rows.mean(dim=2), rows.std(dim=2, correction=0)]
    return torch.cat(parts, dim=1)


def cie_lab(rgb: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (B, 3, H, W) of sRGB in [0, 1] (D65 white)."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,bjhw->bihw", _RGB_TO_XYZ.to(rgb.device), linear)
    xyz = xyz / _WHITE.to(rgb.device).view(1, 3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-9) ** (1 / 3), 7.787 * xyz + 16 / 116)
    lightness = 116 * f[:, 1] - 16
    return torch.stack([lightness, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)
