"""The optional heads: attention pooling on feature maps, and full fine-tuning.

Neither works from the album's cache (it keeps pooled features only), so the photos are decoded
again and run through the backbone (phase "loading"): feature maps for ``attention``, model-input
pixels for ``finetune``. Memory grows with the album (a 1280×7×7 float map is 250 KB per photo),
so these are for small albums, experiments and GPUs. Targets, cross-fitting, thresholds and the
before/after comparison are exactly those of the linear head.

The album can only tag with a linear head (``core.model.tagger``), so such a version is saved
(``models/v{N}.{head}.safetensors``, every learnable tensor) and listed with its metrics, but
never activated.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from core.errors import ImageError
from core.media.imaging import decode, to_model_input
from core.library import Library
from core.model.tagger import Backbone
from trainer.album.evaluation import choose_thresholds, compare, fallback_thresholds
from trainer.learning.fit import predict
from trainer.learning.heads import AttentionPoolingHead, FineTuneModel
from trainer.album.targets import TrainingData
from trainer.album.train import (
    NothingToLearnError,
    Reporter,
    TrainOptions,
    TrainOutcome,
    cross_fit,
    gather,
    version_metrics,
)
from trainer.album.versions import head_path, next_version, training_lock

logger = logging.getLogger(__name__)

NOT_SERVABLE = ("saved for comparison, not activated: the album tags photos with linear "
                "heads only")


class _Normalised(torch.nn.Module):
    """Pixels in 0..255 → the backbone's normalisation → the wrapped network."""

    def __init__(self, inner: torch.nn.Module, config: dict) -> None:
        super().__init__()
        self.inner = inner
        std = torch.tensor(config["std"], dtype=torch.float32).view(1, -1, 1, 1)
        mean = torch.tensor(config["mean"], dtype=torch.float32).view(1, -1, 1, 1)
        self.register_buffer("scale", 1.0 / (255.0 * std))
        self.register_buffer("shift", -mean / std)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.inner(pixels * self.scale + self.shift)


def photo_pixels(library: Library, backbone: Backbone, photo_ids: np.ndarray,
                 report: Reporter) -> torch.Tensor:
    """Model-input pixels (N, 3, S, S) float32 in 0..255 of the given photos, decoded again.

    Raises:
        NothingToLearnError: A photo cannot be decoded any more (changed since indexing).
    """
    size, crop = backbone.input_size, backbone.crop_pct
    out = torch.empty((len(photo_ids), 3, size, size), dtype=torch.float32)
    for i, row in enumerate(library.store.photos_by_ids([int(p) for p in photo_ids])):
        try:
            image = decode(library.root / row.path, min_side=max(256, round(size / crop))).image
        except ImageError as exc:
            raise NothingToLearnError(f"{row.path} cannot be read any more ({exc}); "
                                      "index the album again first") from None
        out[i] = torch.from_numpy(to_model_input(image, size=size, crop_pct=crop).astype(
            np.float32))
        report("loading", i + 1, len(photo_ids))
    return out


def feature_maps(backbone: Backbone, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """The backbone's last feature maps (N, C, H, W) of 0..255 pixels."""
    net = _Normalised(backbone.model, backbone.data_config).to(backbone.device).eval()
    maps = []
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            x = pixels[start : start + batch_size].to(backbone.device)
            maps.append(net.inner.forward_features(x * net.scale + net.shift).float().cpu())
    return torch.cat(maps)


def _factory(options: TrainOptions, backbone: Backbone, inputs: torch.Tensor,
             labels: int) -> Callable[[np.ndarray, int], torch.nn.Module]:
    def make(rows: np.ndarray, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        if options.head == "attention":
            d = options.attention_dim
            return AttentionPoolingHead(int(inputs.shape[1]), labels, d_model=d,
                                        ffn=2 * d).to(backbone.device)
        model = FineTuneModel(copy.deepcopy(backbone.model), backbone.feature_dim, labels)
        return _Normalised(model, backbone.data_config).to(backbone.device)

    return make


def train_deep(album: Path | str, options: TrainOptions, report: Reporter) -> TrainOutcome:
    """Train the ``attention`` or ``finetune`` head (see the module docstring)."""
    with Library(album, options.data_dir) as library, training_lock(library.data_dir):
        report("loading", 0, 1)
        data = gather(library, options.targets)
        backbone = library.model().tagger.backbone
        inputs = photo_pixels(library, backbone, data.photo_ids, report)
        if options.head == "attention":
            inputs = feature_maps(backbone, inputs)
        fitted = cross_fit(data, inputs, options, report,
                           _factory(options, backbone, inputs, len(data.tree.names)))
        report("thresholds", 0, 1)
        fallback = fallback_thresholds(data, predict(fitted.model, inputs, batch_size=64))
        chosen = choose_thresholds(data, fitted.folds, fitted.oof, fallback)
        report("thresholds", 1, 1)
        report("evaluating", 0, 1)
        before, after, _ = compare(data, fitted.folds, fitted.oof, fallback)
        report("evaluating", 1, 1)
        report("saving", 0, 1)
        thresholds = chosen.as_dict(data.tree.names)
        metrics = version_metrics(data, fitted, options, chosen, (before, after), {})
        version = _save(library, data, fitted.model, options.head, thresholds, metrics)
        report("saving", 1, 1)
    return TrainOutcome(version, False, NOT_SERVABLE, before, after, thresholds, {})


def _save(library: Library, data: TrainingData, model: torch.nn.Module, head: str,
          thresholds: dict[str, float], metrics: dict) -> int:
    import safetensors.torch

    version = next_version(library.store)
    path, relative = head_path(library.data_dir, version, f".{head}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    labels = json.dumps(list(data.tree.names), ensure_ascii=False)
    safetensors.torch.save_file(tensors, str(tmp), metadata={"labels": labels, "head": head})
    tmp.replace(path)
    library.store.add_model(version, data.backbone, relative, thresholds,
                            {**metrics, "head": head}, activate=False)
    return version
