"""Training a new model version from the user's corrections: the registry of head kinds.

``HEADS`` maps each kind of head the trainer can make to its ``HeadTrainer``
(``trainer.album.run``), and ``train`` runs the one ``TrainOptions.head`` names:

* ``residual`` (the default) — a correction over the prior, fitted only where the user spoke
  (``trainer.album.residual``); served by the album;
* ``linear`` — a sigmoid layer on cached features, cross-fitted (``trainer.album.run``);
  served by the album;
* ``attention``, ``finetune`` — trained on decoded photos (``trainer.album.deep``); saved for
  comparison, never served.

Which kinds the album serves is ``core.model.heads``; the command line offers only those.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core.library import Library
from core.model.tagger import LinearHead
from core.model.versions import SavableHead, write_version
from core.training_events import PHASES
from trainer.album.deep import ATTENTION, FINETUNE
from trainer.album.run import (
    Clock,
    HeadTrainer,
    ModuleFactory,
    NothingToLearnError,
    Reporter,
    TrainOptions,
    TrainOutcome,
    gather,
    rescore,
    train_cross_fitted,
)
from trainer.album.targets import TrainingData
from trainer.album.versions import decide, training_lock
from trainer.learning.heads import LinearProbe

logger = logging.getLogger(__name__)

__all__ = [
    "HEADS",
    "PHASES",
    "NothingToLearnError",
    "TrainOptions",
    "TrainOutcome",
    "head_trainer",
    "served_heads",
    "train",
]


def train(
    album: Path | str, options: TrainOptions | None = None, report: Reporter | None = None
) -> TrainOutcome:
    """Train the head ``options.head`` names on one album (``HEADS``).

    Raises:
        ValueError: No such kind of head.
        NothingToLearnError: The album is not indexed or has no verdicts.
        TrainingBusyError: Another training of this album is running.
    """
    options = options or TrainOptions()
    return head_trainer(options.head).train(
        album, options, report or (lambda phase, done, total: None)
    )


def _train_residual(
    album: Path | str, options: TrainOptions, report: Reporter, head: HeadTrainer
) -> TrainOutcome:
    """The default run: a residual head over the prior (``trainer.album.residual``)."""
    from trainer.album.residual import NotReadyError, changed_labels, sampled, train_residual
    from trainer.learning.residual_fit import ResidualConfig

    clock = Clock()
    with Library(album, options.data_dir) as library, training_lock(library.data_dir):
        report("loading", 0, 1)
        # the residual fit reads verified entries only: no CB-WCE weights to count
        data = gather(library, replace(sampled(options.targets), confidence_weights=False))
        report("loading", 1, 1)
        clock.lap("loading")
        report("training", 0, 1)
        try:
            run = train_residual(
                library, data, ResidualConfig(loss=options.loss, seed=options.seed)
            )
        except NotReadyError as exc:
            raise NothingToLearnError(str(exc)) from None
        report("training", 1, 1)
        clock.lap("training")
        for phase in ("thresholds", "evaluating"):  # done inside train_residual, out of fold
            report(phase, 0, 1)
            report(phase, 1, 1)
        decision = decide(run.before, run.after, force=options.force)
        reason = decision.reason  # the warning travels on its own (TrainOutcome.warning)
        report("saving", 0, 1)
        metrics = {
            "kind": "trained",
            "head": "residual",
            "loss": options.loss,
            "seed": options.seed,
            "photos": data.album_photos,
            "verified_photos": int(data.targets.verified_rows.sum()),
            "verified_tags": int(data.targets.verified.sum()),
            "verdicts_through": data.log_id,
            "parent_version": data.old_version,
            "f1": run.after.get("f1"),
            "before": run.before,
            "after": run.after,
            "labels": run.labels,
            "warning": run.warning,
            "seconds": {k: round(v, 3) for k, v in clock.laps.items()},
        }
        version = write_version(
            library.store,
            library.data_dir,
            run.head,
            run.thresholds,
            metrics,
            activate=decision.activate,
        )
        report("saving", 1, 1)
        clock.lap("saving")
        changed = changed_labels(library.model().tagger.head, run.head)
        if decision.activate:
            library.reload_model(refresh_tags=not options.rescore)
        if decision.activate and options.rescore:
            ids = None if changed is None else [library.label_id(n) for n in sorted(changed)]
            rescore(library, report, ids)
            clock.lap("rescoring")
    return TrainOutcome(
        version,
        decision.activate,
        reason,
        run.before,
        run.after,
        run.thresholds,
        clock.laps,
        run.labels,
        run.warning,
    )


def _cached_features(library: Library, data: TrainingData, report: Reporter) -> torch.Tensor:
    """A linear head reads the pooled features the album caches: nothing is decoded."""
    return torch.from_numpy(data.features)


def _linear_factory(
    library: Library, data: TrainingData, options: TrainOptions, features: torch.Tensor
) -> ModuleFactory:
    mean, scale = features.mean(dim=0), float(features.std(dim=0).mean())
    ancestors = torch.from_numpy(data.tree.ancestor_matrix()) if options.share_tree else None

    def make(rows: np.ndarray, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        w, y = data.targets.weights[rows], data.targets.targets[rows]
        prior = torch.from_numpy((w * y).sum(0) / np.maximum(w.sum(0), 1e-6))
        return LinearProbe(
            features.shape[1],
            len(data.tree.names),
            mean=mean,
            scale=scale,
            dropout=options.dropout,
            prior=prior,
            ancestors=ancestors,
        )

    return make


def _linear_head(model: torch.nn.Module, data: TrainingData) -> SavableHead:
    weight, bias = model.export()
    return LinearHead(data.tree.names, weight, bias, data.backbone)


RESIDUAL = HeadTrainer(
    "residual", "corrects the prior where you gave verdicts (the default)", _train_residual
)
LINEAR = HeadTrainer(
    "linear",
    "a plain sigmoid layer on cached features, replacing the prior",
    train_cross_fitted,
    inputs=_cached_features,
    build=_linear_factory,
    export=_linear_head,
)

#: Every kind of head the trainer can make, by name.
HEADS: dict[str, HeadTrainer] = {h.name: h for h in (RESIDUAL, LINEAR, ATTENTION, FINETUNE)}


def head_trainer(name: str) -> HeadTrainer:
    """The registry entry of ``name``.

    Raises:
        ValueError: No such kind of head.
    """
    try:
        return HEADS[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r} (heads: {', '.join(HEADS)})") from None


def served_heads() -> tuple[str, ...]:
    """The kinds the trainer makes and the album can tag photos with (``--head``)."""
    return tuple(name for name, head in HEADS.items() if head.servable)
