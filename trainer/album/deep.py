"""The optional heads: attention pooling on feature maps, and full fine-tuning.

Neither works from the album's cache (it keeps pooled features only), so the photos are decoded
again and run through the backbone (phase "loading"): feature maps for ``attention``, model-input
pixels for ``finetune``, made exactly as the indexer makes them (``Backbone.preprocessing``).
Memory grows with the album (a 1280×7×7 float map is 250 KB per photo), so these are for small
albums, experiments and GPUs. Targets, cross-fitting, thresholds and the before/after comparison
are exactly those of the linear head (``trainer.album.run.train_cross_fitted``).

The album cannot tag photos with these heads (``core.model.heads`` does not serve them), so such
a version is saved (``models/v{N}.{head}.safetensors``, every learnable tensor) and listed with
its metrics, but never activated.
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
from core.library import Library
from core.media.imaging import decode
from core.model.tagger import Backbone, write_atomically
from core.model.versions import SavableHead
from trainer.album.run import (
    HeadTrainer,
    ModuleFactory,
    NothingToLearnError,
    Reporter,
    TrainOptions,
    train_cross_fitted,
)
from trainer.album.targets import TrainingData
from trainer.learning.heads import AttentionPoolingHead, FineTuneModel

logger = logging.getLogger(__name__)


class _Normalised(torch.nn.Module):
    """Pixels in 0..255 → the backbone's normalisation → the wrapped network."""

    def __init__(self, inner: torch.nn.Module, backbone: Backbone) -> None:
        super().__init__()
        self.inner = inner
        self.preprocessing = backbone.preprocessing

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.inner(self.preprocessing.normalise(pixels))


def photo_pixels(
    library: Library, backbone: Backbone, photo_ids: np.ndarray, report: Reporter
) -> torch.Tensor:
    """Model-input pixels (N, 3, S, S) float32 in 0..255 of the given photos, decoded again
    and cropped as the indexer crops them (``Backbone.preprocessing``).

    Raises:
        NothingToLearnError: A photo cannot be decoded any more (changed since indexing).
    """
    preprocessing = backbone.preprocessing
    size = preprocessing.size
    out = torch.empty((len(photo_ids), 3, size, size), dtype=torch.float32)
    for i, row in enumerate(library.store.photos_by_ids([int(p) for p in photo_ids])):
        try:
            image = decode(library.root / row.path, min_side=preprocessing.min_side).image
        except ImageError as exc:
            raise NothingToLearnError(
                f"{row.path} cannot be read any more ({exc}); index the album again first"
            ) from None
        out[i] = torch.from_numpy(preprocessing.pixels(image).astype(np.float32))
        report("loading", i + 1, len(photo_ids))
    return out


def feature_maps(backbone: Backbone, pixels: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """The backbone's last feature maps (N, C, H, W) of 0..255 pixels."""
    maps = []
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            x = backbone.preprocessing.normalise(
                pixels[start : start + batch_size].to(backbone.device)
            )
            maps.append(backbone.model.forward_features(x).float().cpu())
    return torch.cat(maps)


class ModuleHead:
    """A trained module saved as a version the album keeps but cannot serve: every tensor of
    its state, the label names and the kind (``core.model.versions.write_version``)."""

    def __init__(self, kind: str, model: torch.nn.Module, data: TrainingData) -> None:
        self.kind = kind
        self.model = model
        self.label_names = tuple(data.tree.names)
        self.feature_key = data.backbone

    def save(self, path: Path) -> None:
        import safetensors.torch

        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        labels = json.dumps(list(self.label_names), ensure_ascii=False)
        write_atomically(
            Path(path),
            safetensors.torch.save(tensors, metadata={"labels": labels, "head": self.kind}),
        )


def _pixels(library: Library, data: TrainingData, report: Reporter) -> torch.Tensor:
    return photo_pixels(library, library.model().tagger.backbone, data.photo_ids, report)


def _maps(library: Library, data: TrainingData, report: Reporter) -> torch.Tensor:
    backbone = library.model().tagger.backbone
    return feature_maps(backbone, photo_pixels(library, backbone, data.photo_ids, report))


def _attention(
    library: Library, data: TrainingData, options: TrainOptions, inputs: torch.Tensor
) -> ModuleFactory:
    device = library.model().tagger.backbone.device
    labels, d = len(data.tree.names), options.attention_dim

    def make(rows: np.ndarray, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return AttentionPoolingHead(int(inputs.shape[1]), labels, d_model=d, ffn=2 * d).to(device)

    return make


def _finetune(
    library: Library, data: TrainingData, options: TrainOptions, inputs: torch.Tensor
) -> ModuleFactory:
    backbone = library.model().tagger.backbone

    def make(rows: np.ndarray, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = FineTuneModel(
            copy.deepcopy(backbone.model), backbone.feature_dim, len(data.tree.names)
        )
        return _Normalised(model, backbone).to(backbone.device)

    return make


def _exporter(kind: str) -> Callable[[torch.nn.Module, TrainingData], SavableHead]:
    return lambda model, data: ModuleHead(kind, model, data)


ATTENTION = HeadTrainer(
    "attention",
    "attention pooling on feature maps (decodes every photo; kept for comparison)",
    train_cross_fitted,
    inputs=_maps,
    build=_attention,
    export=_exporter("attention"),
    predict_batch=64,
)
FINETUNE = HeadTrainer(
    "finetune",
    "the whole network fine-tuned (decodes every photo; kept for comparison)",
    train_cross_fitted,
    inputs=_pixels,
    build=_finetune,
    export=_exporter("finetune"),
    predict_batch=64,
)
