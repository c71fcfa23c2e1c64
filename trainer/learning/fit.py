"""The training loop: Adam, a one-cycle or cosine schedule, early stopping on held-out loss.

Works for any head in ``trainer.learning.heads``: inputs are whatever the module takes (pooled
features, feature maps, images), targets and weights are (N, C). Everything random — initialisation
is the caller's business, shuffling is seeded here — so the same seed and data give the same model.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from trainer.learning.losses import MultiLabelLoss, multilabel_loss

logger = logging.getLogger(__name__)

Schedule = Literal["onecycle", "cosine", "constant"]
EpochCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FitConfig:
    """Optimisation settings.

    Attributes:
        loss: A loss name of ``trainer.learning.losses`` (``proposed``, ``asl``, ``focal``, ``bce``,
            ``weighted_bce``).
        epochs: Epochs the schedule spans (early stopping may end sooner).
        batch_size: Rows per step (at most all rows).
        min_steps: Steps an epoch takes at least; a small album cycles through its rows
            again rather than learning from a handful of steps.
        lr: Peak learning rate.
        weight_decay: Decoupled weight decay (AdamW); 0 is plain Adam, as in the papers
            (docs/papers-recipe.md §1.4).
        schedule: ``onecycle`` (docs/papers-recipe.md §1.4: pct_start 0.2, stepped per batch),
            ``cosine`` or ``constant``.
        pct_start: Warm-up fraction of the one-cycle schedule.
        patience: Epochs without a better held-out loss before stopping.
        min_epochs: Epochs always run before early stopping may end the fit.
        seed: Seed of the shuffling.
    """

    loss: str = "proposed"
    epochs: int = 30
    batch_size: int = 1024
    min_steps: int = 10
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: Schedule = "onecycle"
    pct_start: float = 0.2
    patience: int = 3
    min_epochs: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if self.schedule not in ("onecycle", "cosine", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}")


@dataclass(frozen=True)
class Batches:
    """Aligned inputs (N, ...), targets (N, C) and loss weights (N, C)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor

    def __post_init__(self) -> None:
        n = self.inputs.shape[0]
        if self.targets.shape[0] != n or self.weights.shape != self.targets.shape:
            raise ValueError("inputs, targets and weights must have matching rows and shapes")

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @classmethod
    def of(
        cls, inputs: np.ndarray | torch.Tensor, targets: np.ndarray, weights: np.ndarray
    ) -> Batches:
        return cls(
            torch.as_tensor(inputs, dtype=torch.float32),
            torch.as_tensor(targets, dtype=torch.float32),
            torch.as_tensor(weights, dtype=torch.float32),
        )


@dataclass
class FitResult:
    """What happened during a fit.

    Attributes:
        best_epoch: Epoch (1-based) whose weights the model holds now.
        epochs_run: Epochs actually run.
        train_losses: Mean training loss per epoch.
        val_losses: Held-out loss per epoch (empty without held-out data).
        seconds: Wall time.
    """

    best_epoch: int
    epochs_run: int
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _optimiser(
    model: nn.Module, config: FitConfig, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    """Adam(W) over the trainable parameters and the schedule, stepped once per batch."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.schedule == "onecycle":
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=steps, pct_start=config.pct_start
        )
    if config.schedule == "cosine":
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    return optimizer, None


def held_out_loss(
    model: nn.Module, data: Batches, loss: str = "bce", batch_size: int = 4096
) -> float:
    """Weighted mean loss of ``model`` on ``data`` (eval mode; weights 0 are ignored).

    Early stopping uses ``bce`` whatever the training loss: the ``proposed`` loss is not
    monotone in the logit of a positive (its value jumps up where the margin-shifted
    probability crosses the 0.25 switch, docs/papers-recipe.md §1.1), so its value cannot rank
    epochs.
    """
    was_training = model.training
    model.eval()
    total, weight = 0.0, 0.0
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            part = slice(start, start + batch_size)
            x, y, w = _on(model, data.inputs[part], data.targets[part], data.weights[part])
            element = multilabel_loss(model(x), y, kind=loss, weight=w, reduction="none")
            total += float(element.sum())
            weight += float(w.sum())
    model.train(was_training)
    return total / weight if weight > 0 else float("nan")


def fit(
    model: nn.Module,
    train: Batches,
    config: FitConfig,
    *,
    val: Batches | None = None,
    stop_at: int | None = None,
    pos_weight: torch.Tensor | None = None,
    progress: EpochCallback | None = None,
) -> FitResult:
    """Train ``model`` in place.

    With ``val``, the model ends with the weights of the epoch with the lowest held-out loss,
    and training stops after ``patience`` epochs without improvement. ``stop_at`` runs exactly
    that many epochs of the same schedule (a refit that replays a held-out run's choice).

    Args:
        model: The module; its outputs are logits (B, C).
        train: Training rows.
        config: Optimisation settings.
        val: Held-out rows for early stopping (their weights mark what is known).
        stop_at: Epochs to run, ignoring early stopping (at most ``config.epochs``).
        pos_weight: Optional (C,) positive weights passed to the loss.
        progress: Called with (epochs done, epochs planned) after each epoch.

    Returns:
        The ``FitResult``.
    """
    started = time.perf_counter()
    if len(train) == 0:
        raise ValueError("no training rows")
    generator = torch.Generator().manual_seed(config.seed)
    batch_size = min(config.batch_size, len(train))
    steps_per_epoch = max(-(-len(train) // batch_size), config.min_steps)
    optimizer, scheduler = _optimiser(model, config, steps_per_epoch * config.epochs)
    criterion = MultiLabelLoss(config.loss, pos_weight=pos_weight).to(_device(model))
    planned = min(stop_at, config.epochs) if stop_at else config.epochs
    result = FitResult(best_epoch=0, epochs_run=0)
    best_loss, best_state = float("inf"), None
    use_val = val is not None and stop_at is None and float(val.weights.sum()) > 0
    for epoch in range(1, planned + 1):
        result.train_losses.append(
            _epoch(
                model,
                train,
                criterion,
                optimizer,
                scheduler,
                batch_size,
                steps_per_epoch,
                generator,
            )
        )
        result.epochs_run = epoch
        if use_val and val is not None:
            loss = held_out_loss(model, val)
            result.val_losses.append(loss)
            if loss < best_loss - 1e-6 or best_state is None:
                best_loss, best_state, result.best_epoch = loss, _snapshot(model), epoch
            elif epoch >= config.min_epochs and epoch - result.best_epoch >= config.patience:
                if progress:
                    progress(planned, planned)
                break
        else:
            result.best_epoch = epoch
        if progress:
            progress(epoch, planned)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - started
    logger.debug(
        "fit: %d epochs, best %d, %.2f s", result.epochs_run, result.best_epoch, result.seconds
    )
    return result


def _epoch(
    model: nn.Module,
    data: Batches,
    criterion: MultiLabelLoss,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    batch_size: int,
    steps: int,
    generator: torch.Generator,
) -> float:
    model.train()
    laps = -(-steps * batch_size // len(data))
    order = torch.cat([torch.randperm(len(data), generator=generator) for _ in range(laps)])
    total = 0.0
    for step in range(steps):
        idx = order[step * batch_size : (step + 1) * batch_size]
        x, y, w = _on(model, data.inputs[idx], data.targets[idx], data.weights[idx])
        loss = criterion(model(x), y, w)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += float(loss.detach())
    return total / steps


def _device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def _on(model: nn.Module, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The tensors on the model's device (a no-op on the CPU)."""
    device = _device(model)
    return tuple(t.to(device, non_blocking=True) for t in tensors)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return copy.deepcopy({k: v.detach().clone() for k, v in model.state_dict().items()})


def predict(
    model: nn.Module, inputs: torch.Tensor | np.ndarray, batch_size: int = 4096
) -> np.ndarray:
    """Sigmoid scores (N, C) float32 of ``model`` in eval mode."""
    x = torch.as_tensor(inputs, dtype=torch.float32)
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, x.shape[0], batch_size):
            (part,) = _on(model, x[start : start + batch_size])
            out.append(torch.sigmoid(model(part)).float().cpu().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)
