"""The album's active model: which backbone and head score its photos, as stored versions.

Version 0 is the *prior head* (the ImageNet classifier's probabilities summed over the classes
each label maps to). Trained versions carry a linear head file in the album's data folder. torch
is imported only when a model is actually loaded.
"""

from __future__ import annotations

import json
import os
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ModelLoadError
from core.model.starter import Starter, load_starter, starter_path
from core.db.tagstore import TagStore
from core.labels.vocabulary import Vocabulary
from core.model.weights import DEFAULT_BACKBONE

if TYPE_CHECKING:
    from core.model.tagger import PriorHead, Tagger

logger = logging.getLogger(__name__)

DEFAULT_MODEL = DEFAULT_BACKBONE


@dataclass(frozen=True)
class ModelChoice:
    """What the user asked for: a timm name, an optional local checkpoint, a device."""

    name: str = DEFAULT_MODEL
    checkpoint: str | None = None
    device: str = "auto"

    def as_json(self) -> str:
        """How the album remembers the choice: the checkpoint as an absolute path, so the
        album works from any directory (a relative one broke when used from elsewhere)."""
        checkpoint = (os.path.abspath(os.path.expanduser(self.checkpoint))
                      if self.checkpoint else None)
        return json.dumps({"name": self.name, "checkpoint": checkpoint})


@dataclass(frozen=True)
class ActiveModel:
    """A loaded tagger plus the store's ids of its labels, in its column order."""

    tagger: Tagger
    label_ids: tuple[int, ...]
    version: int
    backbone_id: str

    @property
    def input_size(self) -> int:
        return self.tagger.backbone.input_size

    @property
    def crop_pct(self) -> float:
        return self.tagger.backbone.crop_pct


def stored_choice(store: TagStore) -> ModelChoice | None:
    """The model this album was last indexed with, if any."""
    raw = store.get_meta("model")
    if raw is None:
        return None
    data = json.loads(raw)
    return ModelChoice(data["name"], data.get("checkpoint"))


def load_active_model(store: TagStore, vocabulary: Vocabulary, data_dir: Path,
                      choice: ModelChoice) -> ActiveModel:
    """Load the active version, or register a new prior version for a new backbone.

    Raises:
        ModelLoadError: the backbone, checkpoint or head file cannot be used.
    """
    from core.model.residual import RESIDUAL_HEAD_FORMAT, ResidualHead, head_format
    from core.model.tagger import Backbone, LinearHead, PriorHead, Tagger

    checkpoint = Path(choice.checkpoint).expanduser() if choice.checkpoint else None
    backbone = Backbone.load(choice.name, checkpoint, device=choice.device)
    ids = {label.name.lower(): label.id for label in store.labels()}
    starter = usable_starter(vocabulary, backbone.id)
    prior = prior_head(vocabulary, starter)
    key = Tagger(backbone, prior).feature_key
    starter_id = starter.digest if starter else None
    active = store.active_model()
    if active is None or active.backbone not in (key, backbone.id) or (
            active.backbone == backbone.id and not active.head_file) or (
            not active.head_file and active.metrics.get("starter") != starter_id):
        if backbone.num_classes != len(vocabulary.imagenet_targets()):
            raise ModelLoadError(
                f"{choice.name} has {backbone.num_classes} classes; the prior head needs an "
                f"ImageNet-1k classifier ({len(vocabulary.imagenet_targets())} classes)"
            )
        version = max((m.version for m in store.models()), default=-1) + 1
        thresholds = dict(starter.thresholds) if starter else {}
        store.add_model(version, key, None, thresholds,
                        {"kind": "prior", "starter": starter_id}, activate=True)
        store.set_meta("model", choice.as_json())
        logger.info("model version %d: prior head on %s", version, key)
        active = store.active_model()
    head: PriorHead | LinearHead | ResidualHead = prior
    if active.head_file:
        path = data_dir / active.head_file
        if head_format(path) == RESIDUAL_HEAD_FORMAT:
            head = ResidualHead.load(path, prior)
        else:
            head = LinearHead.load(path)
    # A label the label manager renamed or merged scores as the label it became; one it
    # deleted scores nothing (id -1: the store keeps no score for it) until a retrain.
    for old, target in json.loads(store.get_meta("retired_labels") or "{}").items():
        ids.setdefault(old.lower(), -1 if target is None else int(target))
    missing = [n for n in head.label_names if n.lower() not in ids]
    if missing:
        raise ModelLoadError(f"the model scores labels this album lacks: {missing[:5]}")
    label_ids = tuple(ids[n.lower()] for n in head.label_names)
    tagger = Tagger(backbone, head)
    return ActiveModel(tagger, label_ids, active.version, tagger.feature_key)


def prior_label_names(vocabulary: Vocabulary, starter: Starter | None = None) -> list[str]:
    """Labels the prior head can score, in vocabulary order: those with at least one ImageNet
    class in reach (through a class's main label or its additional ones), and those the
    starter (``core.model.starter``) corrects."""
    extra = set(starter.labels) if starter else set()
    fed = set(vocabulary.prior_labels())
    return [n for n in vocabulary.names if n in fed or n in extra]


def usable_starter(vocabulary: Vocabulary, backbone_id: str) -> Starter | None:
    """The shipped starter, if it was fitted on this backbone and knows only our labels."""
    starter = load_starter(starter_path())
    if starter is None or starter.backbone != backbone_id:
        return None
    if any(n not in vocabulary for n in starter.labels):
        logger.warning("starter names labels the vocabulary lacks; not used")
        return None
    return starter


def prior_head(vocabulary: Vocabulary, starter: Starter | None = None) -> PriorHead:
    """Model version 0's head for ``vocabulary`` (regional evidence on, starter applied)."""
    from core.model.tagger import PriorHead

    names = prior_label_names(vocabulary, starter)
    return PriorHead(names, vocabulary.imagenet_membership(names), regional=True,
                     starter=starter)
