"""What every head's training run shares: options, outcome, cross-fitting, and the run itself.

A head kind is trained by a ``HeadTrainer`` (the registry is ``trainer.album.train.HEADS``).
Heads fitted by cross-fitting (``linear``, ``attention``, ``finetune``) share one run,
``train_cross_fitted``, and differ only in their inputs (cached features, decoded pixels,
feature maps), the module they build and the head they save:

1. **loading** — cached features, the active model's scores and the user's verdicts become
   targets and weights (``trainer.album.targets``), plus the head's inputs.
2. **training** — cross-fitting: the photos with verified tags are dealt into ``k`` folds
   (default 3); for each fold a head is trained on the other folds' verified photos plus a
   sample of the photos nobody judged, early-stopped on that fold's verified tags, and predicts
   them. Every verified tag thus gets an *out-of-fold* score from a head that never saw it. The
   final head is trained on all photos for the median best epoch of the folds (same schedule,
   stopped at the same point).
3. **thresholds** — per label: MCC on the out-of-fold scores of verified tags, else calibrated
   on the active version's tags, else the default (``trainer.album.evaluation``).
4. **evaluating** — the new version's out-of-fold decisions against the active version's stored
   scores, on verified tags neither the new heads nor their thresholds saw.
5. **saving** — head file and models row (``core.model.versions.write_version``);
   champion/challenger (``trainer.album.versions``) decides whether it becomes active. A head
   the album cannot serve (``core.model.heads``) is saved for comparison, never activated.
6. **rescoring** — the album is re-scored from cached features (``Indexer.rescore``).

The loss is ``TrainOptions.loss`` (``--loss``: any loss of ``trainer.learning.losses``). How the
losses compare on an album is measured by ``benchmarks/bench_retrain.py``; the figures are in README
("Learning from your corrections"), not here, where they would go stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import AlbumtagError
from core.library import Library
from core.model.heads import is_servable, served_kinds
from core.model.versions import SavableHead, write_version
from core.pipeline.indexer import IndexSummary, Progress
from trainer.album.evaluation import Thresholds, choose_thresholds, compare, fallback_thresholds
from trainer.album.targets import TargetConfig, TrainingData, assign_folds, load_training_data
from trainer.album.versions import Decision, decide, training_lock
from trainer.learning.fit import Batches, FitConfig, fit, predict
from trainer.learning.missing import positive_class_weights

logger = logging.getLogger(__name__)

Reporter = Callable[[str, int, int], None]
#: Makes the module a fold (or the final fit) trains: ``make(rows, seed)``.
ModuleFactory = Callable[[np.ndarray, int], torch.nn.Module]
NOT_SERVABLE = (
    "saved for comparison, not activated: the album tags photos with "
    f"{', '.join(served_kinds()[:-1])} and {served_kinds()[-1]} heads only"
)


class NothingToLearnError(AlbumtagError):
    """The album gives training nothing to work with (not indexed, or no verdicts yet)."""


@dataclass(frozen=True)
class TrainOptions:
    """What to train and how (``python -m trainer train`` flags)."""

    data_dir: Path | None = None
    loss: str = "asl"
    head: str = "residual"
    epochs: int = 30
    seed: int = 0
    force: bool = False
    folds: int = 3
    batch_size: int = 1024
    lr: float = 3e-3
    dropout: float = 0.0
    fold_sample: int = 4000
    attention_dim: int = 1024
    share_tree: bool = True
    targets: TargetConfig = field(default_factory=TargetConfig)
    rescore: bool = True

    def fit_config(self, seed: int) -> FitConfig:
        return FitConfig(
            loss=self.loss, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed
        )


@dataclass(frozen=True)
class TrainOutcome:
    """The result the window and the command line show."""

    version: int
    activated: bool
    reason: str
    before: dict
    after: dict
    thresholds: dict[str, float]
    seconds: dict[str, float]
    labels: list[dict] = field(default_factory=list)
    warning: str = ""


@dataclass
class CrossFit:
    """Out-of-fold scores of the verified rows and the final model."""

    folds: np.ndarray  # (N,) fold per row, -1 for rows without verified tags
    oof: np.ndarray  # (N, L) out-of-fold scores; meaningful where folds >= 0
    model: torch.nn.Module
    epochs: int
    fold_epochs: list[int]


@dataclass(frozen=True)
class HeadTrainer:
    """How one kind of head is trained: the registry entry of ``trainer.album.train.HEADS``.

    Attributes:
        name: The kind (``--head``; ``core.model.heads`` says whether the album serves it).
        summary: One line for ``--help``.
        run: The whole training run, ``run(album, options, report, self)``.
        inputs: For cross-fitted heads, what the head reads per photo: ``inputs(library, data,
            report)`` → (N, ...) tensor.
        build: For cross-fitted heads, ``build(library, data, options, inputs)`` → the factory
            of the module each fold trains.
        export: For cross-fitted heads, ``export(module, data)`` → the head to save.
        predict_batch: Batch size when the final module scores every photo.
    """

    name: str
    summary: str
    run: Callable[[Path | str, TrainOptions, Reporter, HeadTrainer], TrainOutcome]
    inputs: Callable[[Library, TrainingData, Reporter], torch.Tensor] | None = None
    build: Callable[[Library, TrainingData, TrainOptions, torch.Tensor], ModuleFactory] | None = (
        None
    )
    export: Callable[[torch.nn.Module, TrainingData], SavableHead] | None = None
    predict_batch: int = 4096

    @property
    def servable(self) -> bool:
        """Whether the album can tag photos with the heads it trains."""
        return is_servable(self.name)

    def train(self, album: Path | str, options: TrainOptions, report: Reporter) -> TrainOutcome:
        return self.run(album, options, report, self)


def train_cross_fitted(
    album: Path | str, options: TrainOptions, report: Reporter, head: HeadTrainer
) -> TrainOutcome:
    """The run of a cross-fitted head (see the module docstring).

    Raises:
        NothingToLearnError: The album is not indexed or has no verdicts.
        TrainingBusyError: Another training of this album is running.
    """
    assert head.inputs is not None and head.build is not None and head.export is not None
    clock = Clock()
    with Library(album, options.data_dir) as library, training_lock(library.data_dir):
        report("loading", 0, 1)
        data = gather(library, options.targets)
        inputs = head.inputs(library, data, report)
        report("loading", 1, 1)
        clock.lap("loading")
        fitted = cross_fit(
            data, inputs, options, report, head.build(library, data, options, inputs)
        )
        clock.lap("training")
        report("thresholds", 0, 1)
        fallback = fallback_thresholds(
            data, predict(fitted.model, inputs, batch_size=head.predict_batch)
        )
        chosen = choose_thresholds(data, fitted.folds, fitted.oof, fallback)
        report("thresholds", 1, 1)
        clock.lap("thresholds")
        report("evaluating", 0, 1)
        before, after, note = compare(data, fitted.folds, fitted.oof, fallback)
        if head.servable:
            decision = decide(before, after, force=options.force)
            decision = Decision(decision.activate, decision.reason + note)
        else:
            decision = Decision(False, NOT_SERVABLE)
        report("evaluating", 1, 1)
        clock.lap("evaluating")
        report("saving", 0, 1)
        thresholds = chosen.as_dict(data.tree.names)
        metrics = version_metrics(data, fitted, options, chosen, (before, after), clock.laps)
        version = write_version(
            library.store,
            library.data_dir,
            head.export(fitted.model, data),
            thresholds,
            metrics,
            activate=decision.activate,
        )
        report("saving", 1, 1)
        clock.lap("saving")
        if decision.activate and options.rescore:
            rescore(library, report)
            clock.lap("rescoring")
    return TrainOutcome(
        version, decision.activate, decision.reason, before, after, thresholds, clock.laps
    )


def gather(library: Library, config: TargetConfig) -> TrainingData:
    """The album's training data, or a NothingToLearnError saying what is missing."""
    try:
        data = load_training_data(library.store, config)
    except ValueError as exc:
        raise NothingToLearnError(str(exc)) from None
    if not data.targets.verified.any():
        raise NothingToLearnError("nothing to learn from yet: confirm or reject some tags first")
    logger.info(
        "training data: %d photos (%d with verified tags), %d labels",
        len(data.photo_ids),
        int(data.targets.verified_rows.sum()),
        len(data.tree.names),
    )
    return data


def cross_fit(
    data: TrainingData,
    inputs: torch.Tensor,
    options: TrainOptions,
    report: Reporter,
    make: Callable[[np.ndarray, int], torch.nn.Module],
) -> CrossFit:
    """Fold models for out-of-fold scores, then the final model on every row."""
    t = data.targets
    folds = assign_folds(t, options.folds, options.seed)
    k = int(folds.max()) + 1
    total = (k + 1) * options.epochs
    pos_weight = _pos_weight(data, options.loss)
    oof = np.zeros(t.targets.shape, dtype=np.float32)
    best: list[int] = []
    report("training", 0, total)
    rng = np.random.default_rng(options.seed)
    for fold in range(k):
        train_rows, val_rows = _fold_rows(folds, fold, options.fold_sample, rng)
        model = make(train_rows, options.seed * 1000 + fold + 1)
        val = Batches.of(inputs[val_rows], t.targets[val_rows], t.verified[val_rows])
        result = fit(
            model,
            _batches(inputs, data, train_rows),
            options.fit_config(options.seed + fold + 1),
            val=val,
            pos_weight=pos_weight,
            progress=lambda e, p, f=fold: report("training", f * options.epochs + e, total),
        )
        oof[val_rows] = predict(model, inputs[val_rows])
        best.append(result.best_epoch)
        report("training", (fold + 1) * options.epochs, total)
    epochs = int(np.median(best)) if best else options.epochs
    every = np.arange(len(data.photo_ids))
    model = make(every, options.seed * 1000)
    fit(
        model,
        _batches(inputs, data, every),
        options.fit_config(options.seed),
        stop_at=epochs,
        pos_weight=pos_weight,
        progress=lambda e, p: report("training", k * options.epochs + e, total),
    )
    report("training", total, total)
    logger.info("cross-fitting: %d folds, best epochs %s, final %d epochs", k, best, epochs)
    return CrossFit(folds, oof, model, epochs, best)


def _fold_rows(
    folds: np.ndarray, fold: int, sample: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Training rows of a fold model — the other folds' verified photos and at most ``sample``
    photos without verified tags (the bulk that costs time) — and its held-out rows."""
    unverified = np.flatnonzero(folds < 0)
    if unverified.size > sample:
        unverified = np.sort(rng.choice(unverified, sample, replace=False))
    others = np.flatnonzero((folds >= 0) & (folds != fold))
    return np.sort(np.concatenate([others, unverified])), np.flatnonzero(folds == fold)


def _batches(inputs: torch.Tensor, data: TrainingData, rows: np.ndarray) -> Batches:
    t = data.targets
    return Batches.of(inputs[rows], t.targets[rows], t.weights[rows])


def _pos_weight(data: TrainingData, loss: str) -> torch.Tensor | None:
    if loss != "weighted_bce":
        return None
    observed = data.targets.targets > 0.5
    return torch.from_numpy(positive_class_weights(observed, data.targets.weights > 0))


def version_metrics(
    data: TrainingData,
    fitted: CrossFit,
    options: TrainOptions,
    chosen: Thresholds,
    compared: tuple[dict, dict],
    seconds: dict[str, float],
) -> dict:
    """What the models row remembers about how this version was made."""
    before, after = compared
    return {
        "kind": "trained",
        "loss": options.loss,
        "seed": options.seed,
        "epochs": fitted.epochs,
        "fold_epochs": fitted.fold_epochs,
        "folds": int(fitted.folds.max()) + 1,
        "photos": len(data.photo_ids),
        "verified_photos": int(data.targets.verified_rows.sum()),
        "verified_tags": int(data.targets.verified.sum()),
        "thresholds_verified": int(chosen.verified.sum()),
        "thresholds_calibrated": int(chosen.calibrated.sum()),
        "verdicts_through": data.log_id,
        "parent_version": data.old_version,
        "f1": after.get("f1"),
        "before": before,
        "after": after,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def rescore(library: Library, report: Reporter, changed: list[int] | None = None) -> IndexSummary:
    """Re-score every photo with the (new) active version from its cached features;
    ``changed`` limits the rewritten rows to those label ids (see ``Indexer.rescore``)."""
    summary = IndexSummary()
    report("rescoring", 0, 0)

    def forward(p: Progress) -> None:
        report("rescoring", p.done, p.total)

    library.indexer().rescore(summary, forward, threading.Event(), changed)
    return summary


class Clock:
    """Wall time per phase."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now
