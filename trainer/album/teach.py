"""Teach mode's child process: one label refitted live while the user answers.

``python -m trainer teach ALBUM --label NAME`` loads the album's cached features once, keeps them
normalised in memory, and then reads one JSON command per line on stdin:

* ``{"cmd": "refit"}`` — re-read the verdicts (the window has stored new ones in the album
  database), refit the label (``trainer.learning.residual_fit.fit_residual`` on that one column) and
  answer one line::

      {"event": "fitted", "label": str, "threshold": float, "queue": [photo id, ...],
       "scores": [float, ...], "confirmed": int, "rejected": int, "likely": int,
       "seconds": float}

  The queue holds the photos nobody judged for the label: first those the model now thinks
  likely (score at or above the threshold, most likely first), then the rest nearest the
  threshold first. ``likely`` counts the unjudged photos at or above the threshold.
* ``{"cmd": "quit"}`` — answer ``{"event": "bye"}`` and exit.

The first line, before any command, is ``{"event": "ready", "label": str, "photos": int}``
(or ``{"event": "error", "message": str}`` and exit status 2). A bad command line gets
``{"event": "error", ...}`` and the child carries on. Nothing is written to the album: the
background retrain is what makes a lasting version.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from typing import IO

import numpy as np
import torch
from numpy.typing import NDArray

from core.db.training_data import verdict_facts
from core.library import Library
from trainer.album.residual import (
    DESCRIPTOR_CHUNK,
    active_report,
    album_prototype_features,
    grew_by_rejections,
    no_wider,
    prior_of,
    verdict_counts,
)
from trainer.album.targets import (
    TargetConfig,
    TrainingData,
    load_training_data,
    verified_targets,
)
from trainer.album.train import NothingToLearnError
from trainer.learning.residual_fit import (
    LONE_THRESHOLD,
    ProtoFeatures,
    ResidualConfig,
    fit_residual,
    normalised_features,
    prototype_labels,
    score,
)

logger = logging.getLogger(__name__)

#: Targets as the residual fit reads them: verified entries only, no CB-WCE weights.
UNWEIGHTED = TargetConfig(confidence_weights=False)

#: Most photo ids sent back in one queue.
QUEUE_LENGTH = 300


@dataclass(frozen=True)
class Fit:
    """One refit's answer."""

    label: str
    threshold: float
    queue: list[int]
    scores: list[float]
    confirmed: int
    rejected: int
    likely: int
    seconds: float
    #: One confirmed photo of a label the prior cannot see: it tags only near copies of it
    #: (``trainer.learning.residual_fit.LONE_THRESHOLD``) until a second is confirmed.
    copies_only: bool = False
    #: The most unjudged photos the label may tag with the photos confirmed so far, where
    #: that holds its threshold up (``trainer.learning.residual_fit.spread_cap``); else None.
    spread_cap: int | None = None

    def event(self) -> dict:
        return {
            "event": "fitted",
            "label": self.label,
            "threshold": self.threshold,
            "queue": self.queue,
            "scores": self.scores,
            "confirmed": self.confirmed,
            "rejected": self.rejected,
            "likely": self.likely,
            "seconds": round(self.seconds, 3),
            "copies_only": self.copies_only,
            "spread_cap": self.spread_cap,
        }


class Teacher:
    """One label of one album, with the album's features cached between refits."""

    def __init__(self, library: Library, label: str, config: ResidualConfig | None = None) -> None:
        self.library = library
        self.config = config or ResidualConfig()
        data = gather_any(library)
        names = [n.lower() for n in data.tree.names]
        if label.lower() not in names:
            raise NothingToLearnError(f"no label called {label!r}")
        self.column = names.index(label.lower())
        self.label = data.tree.names[self.column]
        self.data = data
        self._row = {int(p): i for i, p in enumerate(data.photo_ids)}
        self._col = {int(lab): j for j, lab in enumerate(data.tree.ids)}
        _, self.u_all = normalised_features(data.features[:, : self._feature_dim()])
        self.prior, self.has_prior = self._prior_column()
        # a confirm-only label's prototype reads these: computed once, when first needed
        self.features: ProtoFeatures | None = None
        if self.has_prior:  # never a prototype: nothing more is read from the descriptors
            self._let_go_of_descriptors()
        self.threshold = float(data.old_thresholds[self.column])
        #: What the active version's training reported of the label (the version ``data``'s
        #: scores come from), read once: rejections alone never spread it (``no_wider``).
        self.reported = active_report(library).get(self.label)

    def _let_go_of_descriptors(self) -> None:
        """Drop the album's cached descriptors once everything read from them is computed
        (the normalised features, the prior's column, the prototype features): about 5,000
        float16 numbers a photo, 1 GB of a 100,000-photo album (2 GB while they were read as
        float32) that teach mode held for as long as it stayed open."""
        width = self.data.features.shape[1]
        self.data = replace(self.data, features=np.zeros((0, width), np.float16))

    def _feature_dim(self) -> int:
        return int(self.library.model().tagger.backbone.feature_dim)

    def _prior_column(self) -> tuple[NDArray[np.float32], bool]:
        """The prior's score of the label on every photo (zeros when it cannot see it)."""
        model = self.library.model()
        prior = prior_of(self.library)
        if self.label not in prior.label_names:
            return np.zeros((len(self.data.photo_ids), 1), np.float32), False
        column = prior.label_names.index(self.label)
        out = np.zeros((len(self.data.photo_ids), 1), np.float32)
        with torch.inference_mode():  # a chunk at a time: all labels of every photo at once
            for start in range(0, len(out), DESCRIPTOR_CHUNK):  # took 2 GB at 100,000 photos
                part = np.asarray(self.data.features[start : start + DESCRIPTOR_CHUNK], np.float32)
                scores = prior.scores(model.tagger.backbone, torch.from_numpy(part))
                out[start : start + len(part), 0] = scores[:, column].numpy()
        return out, True

    def _targets(self) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """The label's targets and verified entries from the verdicts stored now."""
        d = self.data
        verdicts = np.zeros(d.old_scores.shape, dtype=np.int8)
        for fact in verdict_facts(self.library.store):
            i, j = self._row.get(fact.photo_id), self._col.get(fact.label_id)
            if i is not None and j is not None:
                verdicts[i, j] = fact.verdict
        positive, verified = verified_targets(d.tree, verdicts)
        c = self.column
        return positive[:, [c]].astype(np.float32), verified[:, [c]]

    def refit(self) -> Fit:
        """Refit from the verdicts in the database now; rank the unjudged photos."""
        started = time.perf_counter()
        targets, verified = self._targets()
        positives, negatives = verdict_counts(targets[:, 0], verified[:, 0])
        if positives:
            has_prior = np.array([self.has_prior])
            if (
                self.features is None
                and prototype_labels(has_prior, targets, verified, self.config)[0]
            ):
                self.features = album_prototype_features(self.data, self.library.model().tagger)
                self._let_go_of_descriptors()
            fitted = fit_residual(
                self.u_all,
                self.prior,
                has_prior,
                targets,
                verified,
                self.config,
                features=self.features,
                row_weight=self.data.weights_per_row,
            )
            scores = self._scores(
                fitted.weight, fitted.bias, fitted.prototype_logits(self.features)
            )
            if np.isfinite(fitted.thresholds[0]):
                self.threshold = float(fitted.thresholds[0])
            caps = fitted.spread_caps
            cap = int(caps[0]) if caps is not None and np.isfinite(caps[0]) else None
            if grew_by_rejections(self.reported, positives, negatives):  # as the retrain will
                c = self.column
                was = self.data.old_scores[:, c] >= self.data.old_thresholds[c]
                self.threshold = no_wider(scores, self.threshold, was, np.ones(len(scores)))
        else:
            cap = None
            scores = self.prior[:, 0] if self.has_prior else self.data.old_scores[:, self.column]
        manual = manual_threshold(self.library, self.label)
        threshold = manual if manual is not None else self.threshold
        queue = rank(scores, verified[:, 0], threshold)[:QUEUE_LENGTH]
        likely = int(((scores >= threshold) & ~verified[:, 0]).sum())
        return Fit(
            self.label,
            round(threshold, 4),
            [int(self.data.photo_ids[i]) for i in queue],
            [round(float(scores[i]), 4) for i in queue],
            positives,
            negatives,
            likely,
            time.perf_counter() - started,
            copies_only=manual is None and positives == 1 and threshold >= LONE_THRESHOLD,
            spread_cap=cap if manual is None and threshold == self.threshold else None,
        )

    def _scores(
        self,
        weight: NDArray[np.float32],
        bias: NDArray[np.float32],
        extra: torch.Tensor | None = None,
    ) -> NDArray[np.float32]:
        prior = self.prior if self.has_prior else np.zeros((self.u_all.shape[0], 1), np.float32)
        return score(self.u_all, prior, np.array([self.has_prior]), weight, bias, extra)[:, 0]


def rank(
    scores: NDArray[np.float32], verified: NDArray[np.bool_], threshold: float
) -> NDArray[np.int64]:
    """Unjudged rows: above the threshold most likely first, then the rest nearest it first."""
    open_rows = np.flatnonzero(~verified)
    s = scores[open_rows]
    above = s >= threshold
    first = open_rows[above][np.argsort(-s[above], kind="stable")]
    rest = open_rows[~above][np.argsort(threshold - s[~above], kind="stable")]
    return np.concatenate([first, rest]).astype(np.int64)


def manual_threshold(library: Library, label: str) -> float | None:
    """A threshold the user set by hand for the label, if the store knows of one."""
    getter = getattr(library.store, "manual_thresholds", None)
    if getter is None:
        return None
    return getter().get(label.lower())


def gather_any(library: Library) -> TrainingData:
    """The album's training data; an album without any verdict yet still gets a queue."""
    try:
        return load_training_data(library.store, UNWEIGHTED, half=True)
    except ValueError as exc:
        raise NothingToLearnError(str(exc)) from None


def serve(album: str, label: str, data_dir: str | None, stdin: IO[str], stdout: IO[str]) -> int:
    """The child's loop (see the module docstring); returns the exit status."""

    def emit(obj: dict) -> None:
        stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        stdout.flush()

    with Library(album, data_dir) as library:
        try:
            teacher = Teacher(library, label)
        except (NothingToLearnError, ValueError) as exc:
            emit({"event": "error", "message": str(exc)})
            return 2
        emit({"event": "ready", "label": teacher.label, "photos": len(teacher.data.photo_ids)})
        for line in stdin:
            try:
                command = json.loads(line).get("cmd")
            except (json.JSONDecodeError, AttributeError):
                emit({"event": "error", "message": f"not a command: {line.strip()[:80]}"})
                continue
            if command == "quit":
                emit({"event": "bye"})
                return 0
            if command != "refit":
                emit({"event": "error", "message": f"unknown command {command!r}"})
                continue
            try:
                emit(teacher.refit().event())
            except Exception as exc:
                logger.exception("refit failed")
                emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
    return 0
