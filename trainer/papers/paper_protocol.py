"""The papers' training machinery: backbone + head, loaders, one-cycle Adam, EMA, scoring.

docs/papers-recipe.md §1.4 and §2.3: the whole network is trained (backbone included) with Adam
(lr 1e-4, no weight decay) under ``OneCycleLR`` (max lr 1e-4, pct_start 0.2, PyTorch's
defaults otherwise, so β1 cycles between 0.95 and 0.85), stepped every batch; loss = the
chosen ``trainer.learning.losses`` kind with mean reduction. Paper 2 also keeps an EMA copy (decay
0.99) that is evaluated but never selected.

Two heads:

* ``linear`` — ``trainer.learning.heads.FineTuneModel``: the backbone's global average pooling,
  Dropout(0.3), Linear(features, C) (paper 1).
* ``attention`` — the backbone's feature map (no pooling) into
  ``trainer.learning.heads.AttentionPoolingHead`` (paper 2, docs/papers-recipe.md §2.1).

Backbone weights come only from local files (``core.model.weights``): the default backbone's
bundled weights, or ``--weights FILE`` for any timm name. Nothing is downloaded.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from core.errors import ModelLoadError
from core.model.weights import DEFAULT_BACKBONE, load_backbone_module
from trainer.learning.heads import AttentionPoolingHead, FineTuneModel, learnable_parameters
from trainer.learning.losses import MultiLabelLoss

logger = logging.getLogger(__name__)


class BackboneUnavailableError(RuntimeError):
    """Pretrained weights were asked for but are not available offline."""


@dataclass(frozen=True)
class HeadSpec:
    """Which head to put on the backbone and its sizes (attention only for the last three)."""

    kind: str = "linear"
    dropout: float = 0.3
    attn_dim: int = 1024
    attn_heads: int = 8
    attn_ffn: int = 2048


class AttentionModel(nn.Module):
    """A timm backbone's feature map (B, channels, H, W) into ``AttentionPoolingHead``."""

    def __init__(self, backbone: nn.Module, channels: int, num_labels: int, spec: HeadSpec) -> None:
        super().__init__()
        self.backbone = backbone.train().requires_grad_(True)
        self.head = AttentionPoolingHead(
            channels, num_labels, d_model=spec.attn_dim, heads=spec.attn_heads, ffn=spec.attn_ffn
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) of normalised images (B, 3, H, W)."""
        return self.head(self.backbone.forward_features(pixels))


def load_backbone(name: str, weights: Path | None, pretrained: bool) -> nn.Module:
    """A timm backbone without classifier, from local weights or randomly initialised.

    Raises:
        BackboneUnavailableError: ``pretrained`` without a weights file for a backbone whose
            weights are not bundled (nothing is downloaded).
        ModelLoadError: The weights file does not fit ``name``.
    """
    import timm

    if not timm.is_model(name):
        raise ModelLoadError(f"unknown timm architecture {name!r}")
    if weights is not None or (pretrained and name == DEFAULT_BACKBONE):
        model, _ = load_backbone_module(name, weights)
    elif pretrained:
        raise BackboneUnavailableError(
            f"pretrained weights for {name!r} cannot be downloaded here (offline). Pass a local "
            f"checkpoint with --weights FILE (e.g. timm's {name} model.safetensors), use "
            f"--backbone {DEFAULT_BACKBONE} (weights bundled with albumtag), or train from "
            "scratch with --no-pretrained"
        )
    else:
        model = timm.create_model(name, pretrained=False)
    model.reset_classifier(0)
    return model


def pooled_width(model: nn.Module) -> int:
    """Length of ``forward_head(..., pre_logits=True)``'s output."""
    return int(getattr(model, "head_hidden_size", None) or model.num_features)


def build_model(backbone: nn.Module, num_labels: int, spec: HeadSpec) -> nn.Module:
    """Backbone + head (see the module docstring); every parameter trainable except the
    attention head's frozen label queries.

    Raises:
        ValueError: Unknown head kind.
    """
    if spec.kind == "linear":
        model: nn.Module = FineTuneModel(
            backbone, pooled_width(backbone), num_labels, dropout=spec.dropout
        )
    elif spec.kind == "attention":
        model = AttentionModel(backbone, int(backbone.num_features), num_labels, spec)
    else:
        raise ValueError(f"unknown head {spec.kind!r}; choose 'linear' or 'attention'")
    logger.info("model: %s head, %d learnable parameters", spec.kind, learnable_parameters(model))
    return model


def make_loader(
    dataset: Dataset, batch_size: int, *, shuffle: bool, workers: int, seed: int, pin: bool
) -> DataLoader:
    """A ``DataLoader`` with a seeded shuffle (and persistent workers when there are any)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )


@dataclass
class Trainer:
    """Optimiser, schedule, loss and optional EMA of one run.

    Build with ``Trainer.create``; call ``train_epoch`` once per epoch.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.OneCycleLR
    criterion: MultiLabelLoss
    device: torch.device
    ema: nn.Module | None = None
    amp: bool = False

    @classmethod
    def create(
        cls,
        model: nn.Module,
        *,
        loss: str,
        lr: float,
        epochs: int,
        steps_per_epoch: int,
        device: torch.device,
        ema_decay: float = 0.0,
        amp: bool = False,
    ) -> Trainer:
        """Adam (no weight decay) + OneCycleLR(max_lr=lr, pct_start=0.2), per-batch steps."""
        model.to(device)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=lr, weight_decay=0.0)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.2
        )
        ema = None
        if ema_decay > 0:
            from timm.utils import ModelEmaV2

            ema = ModelEmaV2(model, decay=ema_decay)
        criterion = MultiLabelLoss(loss).to(device)
        return cls(model, optimizer, scheduler, criterion, device, ema, amp)

    def train_epoch(self, loader: DataLoader) -> float:
        """One pass over ``loader``; returns the mean training loss."""
        self.model.train()
        total, count = 0.0, 0
        for images, targets in loader:
            images = images.to(self.device, non_blocking=True)
            targets = targets.to(self.device, non_blocking=True)
            with _autocast(self.device, self.amp):
                logits = self.model(images)
            loss = self.criterion(logits.float(), targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            if self.ema is not None:
                self.ema.update(self.model)
            total += float(loss.detach()) * images.shape[0]
            count += images.shape[0]
        return total / max(count, 1)

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return float(self.optimizer.param_groups[0]["lr"])


def _autocast(device: torch.device, amp: bool) -> torch.autocast:
    bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if bf16 else torch.float16
    return torch.autocast(device.type, dtype=dtype, enabled=amp)


def predict(
    model: nn.Module, loader: DataLoader, device: torch.device, amp: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid scores and targets (N, C) of ``loader`` with ``model`` in eval mode."""
    was_training = model.training
    model.eval()
    scores, targets = [], []
    with torch.inference_mode():
        for images, target in loader:
            with _autocast(device, amp):
                logits = model(images.to(device, non_blocking=True))
            scores.append(torch.sigmoid(logits.float()).cpu().numpy())
            targets.append(target.numpy())
    model.train(was_training)
    if not scores:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    return np.concatenate(scores), np.concatenate(targets)


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the model's state (the checkpoint kept for the best epoch)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def restore(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a ``snapshot`` back into ``model``."""
    model.load_state_dict(copy.deepcopy(state))


class EpochClock:
    """Wall time and peak GPU memory of one epoch's training pass."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.started = 0.0

    def start(self) -> None:
        """Begin timing (and reset the GPU's peak-memory counter)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        self.started = time.perf_counter()

    def stop(self) -> tuple[float, float | None]:
        """(seconds since ``start``, peak GPU memory in GiB or None on CPU)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) / 2**30
            return time.perf_counter() - self.started, peak
        return time.perf_counter() - self.started, None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (the papers also set cuDNN deterministic)."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
