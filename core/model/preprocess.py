"""A backbone's input, in one place: from a decoded photo to the tensor its network reads.

timm describes what a network expects in its *data config* (``timm.data.resolve_data_config``,
read by ``core.model.weights``): the input size, the centre-crop fraction, the resampling used to
resize, and the per-channel mean and standard deviation. ``Preprocessing`` holds exactly that and
is the only code that applies it, in two steps:

1. ``pixels`` — resize and centre-crop a decoded photo to uint8 ``(3, S, S)``
   (``core.media.imaging.to_model_input``, with the config's interpolation): the indexer's
   decode workers do this, and the trainer when it decodes photos again;
2. ``normalise`` — uint8 or float pixels in 0..255 to the network's float input,
   ``(x / 255 - mean) / std``, written as ``x * scale + shift``: ``Backbone`` does this on the
   model's device, and the trainer's fine-tuned networks do the same.

The indexer and the trainer therefore feed a network the same numbers for the same photo.
torch is imported only when pixels are normalised (the decode workers never need it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.errors import ModelLoadError
from core.media.imaging import RESAMPLING, to_model_input

if TYPE_CHECKING:
    import torch

#: The decoded photo's shorter side is at least this long, whatever the crop needs.
MIN_DECODE_SIDE = 256


@dataclass(frozen=True)
class Preprocessing:
    """A network's input transform (timm's eval transform, then its normalisation).

    Attributes:
        size: Height and width of the square crop.
        crop_pct: Fraction of the resized shorter side the centre crop keeps.
        interpolation: Resampling when resizing, a timm name (``"bicubic"``, ``"bilinear"``...).
        mean: Per-channel mean of 0..1 pixels.
        std: Per-channel standard deviation of 0..1 pixels.
    """

    size: int
    crop_pct: float
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    _constants: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_data_config(cls, config: dict[str, Any]) -> Preprocessing:
        """The transform a data config describes (``core.model.weights.load_backbone_module``).

        Raises:
            ModelLoadError: A non-square input, a resampling the album cannot apply, a crop
                fraction that is not positive, or channels that are not three.
        """
        channels, height, width = (int(v) for v in config["input_size"])
        interpolation = str(config["interpolation"])
        crop_pct = float(config["crop_pct"])
        mean = tuple(float(v) for v in config["mean"])
        std = tuple(float(v) for v in config["std"])
        if channels != 3 or height != width or height < 1:
            raise ModelLoadError(
                f"the model wants input {config['input_size']}; the album feeds square RGB crops"
            )
        if interpolation not in RESAMPLING:
            raise ModelLoadError(
                f"the model's interpolation {interpolation!r} is not one of {', '.join(RESAMPLING)}"
            )
        if not crop_pct > 0.0:
            raise ModelLoadError(f"the model's crop_pct {crop_pct} is not positive")
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ModelLoadError(f"the model's mean {mean} or std {std} does not fit RGB")
        return cls(
            height, crop_pct, interpolation, (mean[0], mean[1], mean[2]), (std[0], std[1], std[2])
        )

    @property
    def min_side(self) -> int:
        """The shorter side a photo is decoded at (at least what the resize needs)."""
        return max(MIN_DECODE_SIDE, round(self.size / self.crop_pct))

    def pixels(self, image: Image.Image) -> np.ndarray:
        """A decoded photo → the network's crop, uint8 ``(3, size, size)``, C-contiguous."""
        return to_model_input(
            image, size=self.size, crop_pct=self.crop_pct, interpolation=self.interpolation
        )

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels in 0..255 (uint8 or float, ``(B, 3, H, W)``) → a new float32 tensor on their
        device, ``(x / 255 - mean) / std``; the input is left as it is."""
        import torch

        scale, shift = self._on(pixels.device)
        return pixels.to(torch.float32, copy=True).mul_(scale).add_(shift)

    def _on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        if device not in self._constants:
            std = torch.tensor(self.std, dtype=torch.float32)
            mean = torch.tensor(self.mean, dtype=torch.float32)
            # (x / 255 - mean) / std == x * scale + shift
            scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1).to(device)
            shift = (-mean / std).view(1, -1, 1, 1).to(device)
            self._constants[device] = (scale, shift)
        return self._constants[device]
