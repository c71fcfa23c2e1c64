"""The album's model versions, in one place: which exist, which is active, which can be served,
how a new one is written, and how the active one is loaded.

A version is a ``models`` row (backbone or descriptor key, thresholds, metrics, active flag)
plus, for a trained head, a head file ``<data_dir>/models/v{N}.safetensors``. Version 0 of a
backbone is the *prior head* (the ImageNet classifier's probabilities summed over the classes
each label maps to) and has no file. Which heads the album can serve is the table of
``core.model.heads``; everything that makes a version active goes through ``activate`` here, so
a version that cannot be served (an ``attention`` head, a missing or corrupt head file) is
refused with the same ``ModelVersionError`` from the command line, the window and the trainer.

Writing is atomic: the head file first (temp file + rename), then the row — and with it the
activation — in one store transaction. An interrupted write leaves at worst an orphan file,
which the next one overwrites, and never touches the active model. Every version is kept.

Activating only switches the active row; the album's photos are then re-scored from their cached
features by whoever holds the album (``core.versions.activate_version`` with the indexer).
torch is imported only when a model is actually loaded.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.db.store import ModelRow, Store
from core.db.tagstore import TagStore
from core.errors import ModelLoadError, ModelVersionError
from core.labels.vocabulary import Vocabulary
from core.model.heads import PRIOR, is_servable, kind_named, kind_of_row, load_head, verify_file
from core.model.starter import Starter, load_starter, starter_path
from core.model.weights import DEFAULT_BACKBONE

if TYPE_CHECKING:
    from core.model.preprocess import Preprocessing
    from core.model.tagger import PriorHead, Tagger

logger = logging.getLogger(__name__)

DEFAULT_MODEL = DEFAULT_BACKBONE
#: Head files live in this folder of the album's data folder.
MODELS_DIR = "models"
#: Bump when code changes what an album's cached descriptors hold (their layout: 2 added the
#: appearance descriptor), so that an up-to-date album notices without loading the model.
LAYOUT_REVISION = 2
#: Store meta key: ``model_stamp()`` as of the last time the indexer loaded the album's model.
STAMP_KEY = "model_stamp"


# --- what the user asked for, and what is loaded -------------------------------------------


@dataclass(frozen=True)
class ModelChoice:
    """What the user asked for: a timm name, an optional local checkpoint, a device."""

    name: str = DEFAULT_MODEL
    checkpoint: str | None = None
    device: str = "auto"

    def as_json(self) -> str:
        """How the album remembers the choice: the checkpoint as an absolute path, so the
        album works from any directory (a relative one broke when used from elsewhere)."""
        checkpoint = (
            os.path.abspath(os.path.expanduser(self.checkpoint)) if self.checkpoint else None
        )
        return json.dumps({"name": self.name, "checkpoint": checkpoint})


@dataclass(frozen=True)
class ActiveModel:
    """A loaded tagger plus the store's ids of its labels, in its column order."""

    tagger: Tagger
    label_ids: tuple[int, ...]
    version: int
    backbone_id: str

    @property
    def preprocessing(self) -> Preprocessing:
        """How a decoded photo becomes this model's input (``core.model.preprocess``)."""
        return self.tagger.backbone.preprocessing

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


# --- the registry: which versions exist and which can be served ----------------------------


def list_versions(store: Store) -> list[ModelRow]:
    """Every version, oldest first."""
    return store.models()


def next_version(store: Store) -> int:
    """The number the next version gets (one above the highest, never reused)."""
    return max((m.version for m in store.models()), default=-1) + 1


def head_kind(row: ModelRow) -> str:
    """The kind of head a version has (``core.model.heads``)."""
    return kind_of_row(row.head_file, row.metrics)


def servable(row: ModelRow) -> bool:
    """Whether the album can score photos with this version's kind of head (its file is not
    looked at; ``check_servable`` does that)."""
    return is_servable(head_kind(row))


def find_version(store: Store, version: int) -> ModelRow:
    """The models row of ``version``.

    Raises:
        ModelVersionError: There is no such version.
    """
    rows = store.models()
    for row in rows:
        if row.version == version:
            return row
    known = ", ".join(str(m.version) for m in rows) or "none"
    raise ModelVersionError(f"there is no model version {version} (versions: {known})")


def check_servable(store: Store, data_dir: Path, version: int) -> ModelRow:
    """The row of ``version`` if the album can score photos with it; the one check every way of
    activating a version goes through (CLI, window, trainer). Reads the head file (torch-free).

    Raises:
        ModelVersionError: Unknown version; a head kind the album does not serve (it is kept for
            comparison only); a missing, corrupt or mismatched head file.
    """
    row = find_version(store, version)
    kind = head_kind(row)
    if not is_servable(kind):
        raise ModelVersionError(
            f"version {version} ({kind} head) is kept for comparison only: "
            "the album cannot tag photos with it"
        )
    if row.head_file is None:
        if kind != PRIOR:
            raise ModelVersionError(f"version {version} ({kind} head) has no head file")
        return row
    try:
        verify_file(kind_named(kind), Path(data_dir) / row.head_file)
    except ModelLoadError as exc:
        raise ModelVersionError(f"version {version} cannot be used: {exc}") from None
    return row


def activate(store: Store, data_dir: Path, version: int) -> ModelRow:
    """Make ``version`` the active one (one store transaction) after ``check_servable``.

    The caller re-scores the album afterwards (``core.versions.activate_version`` does both);
    a version already active is left as it is.

    Raises:
        ModelVersionError: See ``check_servable``.
    """
    row = check_servable(store, data_dir, version)
    if not row.active:
        store.activate_model(version)
        logger.info("activated model version %d", version)
    return row


def rollback_target(store: Store) -> int:
    """The version a rollback activates: the newest servable one below the active version, on
    the same backbone.

    Raises:
        ModelVersionError: No model yet, or nothing to roll back to.
    """
    active = store.active_model()
    if active is None:
        raise ModelVersionError("the album has no model yet: index it first")
    older = [
        m.version
        for m in store.models()
        if m.version < active.version and m.backbone == active.backbone and servable(m)
    ]
    if not older:
        raise ModelVersionError(f"version {active.version} is the oldest: nothing to roll back to")
    return max(older)


# --- writing a new version ------------------------------------------------------------------


class SavableHead(Protocol):
    """What ``write_version`` needs of a head: its kind, its descriptors, and how to save it."""

    kind: str

    @property
    def feature_key(self) -> str: ...

    def save(self, path: Path) -> None: ...


def head_path(data_dir: Path, version: int, suffix: str = "") -> tuple[Path, str]:
    """Absolute path and data-folder-relative name of a version's head file."""
    relative = f"{MODELS_DIR}/v{version}{suffix}.safetensors"
    return Path(data_dir) / relative, relative


def write_version(
    store: Store,
    data_dir: Path,
    head: SavableHead,
    thresholds: dict[str, float],
    metrics: dict[str, Any],
    *,
    activate: bool,
) -> int:
    """Save ``head`` as the next version; activate it in the same transaction if asked.

    A kind the album serves is saved as ``models/v{N}.safetensors``; any other kind as
    ``models/v{N}.{kind}.safetensors``, and it can never be activated.

    Returns:
        The new version number.

    Raises:
        ModelVersionError: ``activate`` for a kind the album cannot serve.
    """
    kind = head.kind
    if activate and not is_servable(kind):
        raise ModelVersionError(
            f"a {kind} head is kept for comparison only: the album cannot tag photos with it"
        )
    version = next_version(store)
    path, relative = head_path(data_dir, version, "" if is_servable(kind) else f".{kind}")
    head.save(path)
    store.add_model(
        version,
        head.feature_key,
        relative,
        thresholds,
        {**metrics, "head": kind},
        activate=activate,
    )
    logger.info("wrote model version %d (%s, active=%s)", version, relative, activate)
    return version


# --- loading the active version ----------------------------------------------------------


def model_stamp() -> str:
    """What an album's version 0 and descriptors depend on besides the backbone's weights,
    computed without torch: the layout revision and the shipped starter, vocabulary and
    ImageNet map. When it differs from the album's, loading the model may register a new
    version 0 (``load_active_model``), whose photos then need re-scoring or re-describing."""
    import hashlib

    from core.resources import assets_dir

    digest = hashlib.sha256(str(LAYOUT_REVISION).encode())
    folder = assets_dir()
    for path in (starter_path(), folder / "vocabulary.toml", folder / "imagenet_map.tsv"):
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:12]


def stamp_is_current(store: Store) -> bool:
    """Whether the album's model was last loaded with this code and these assets."""
    return store.get_meta(STAMP_KEY) == model_stamp()


def mark_stamp(store: Store) -> None:
    """Record that the album's model was loaded with this code and these assets."""
    stamp = model_stamp()
    if store.get_meta(STAMP_KEY) != stamp:
        store.set_meta(STAMP_KEY, stamp)


def load_active_model(
    store: TagStore, vocabulary: Vocabulary, data_dir: Path, choice: ModelChoice
) -> ActiveModel:
    """Load the active version, or register a new prior version for a new backbone.

    Raises:
        ModelLoadError: the backbone, checkpoint or head file cannot be used.
    """
    from core.model.tagger import Backbone, Head, Tagger

    checkpoint = Path(choice.checkpoint).expanduser() if choice.checkpoint else None
    backbone = Backbone.load(choice.name, checkpoint, device=choice.device)
    ids = {label.name.lower(): label.id for label in store.labels()}
    starter = usable_starter(vocabulary, backbone.id)
    prior = prior_head(vocabulary, starter)
    key = Tagger(backbone, prior).feature_key
    starter_id = starter.digest if starter else None
    active = store.active_model()
    if (
        active is None
        or active.backbone not in (key, backbone.id)
        or (active.backbone == backbone.id and not active.head_file)
        or (not active.head_file and active.metrics.get("starter") != starter_id)
    ):
        if backbone.num_classes != len(vocabulary.imagenet_targets()):
            raise ModelLoadError(
                f"{choice.name} has {backbone.num_classes} classes; the prior head needs an "
                f"ImageNet-1k classifier ({len(vocabulary.imagenet_targets())} classes)"
            )
        version = next_version(store)
        thresholds = dict(starter.thresholds) if starter else {}
        store.add_model(
            version, key, None, thresholds, {"kind": "prior", "starter": starter_id}, activate=True
        )
        store.set_meta("model", choice.as_json())
        logger.info("model version %d: prior head on %s", version, key)
        active = store.active_model()
        assert active is not None  # just added, active
    head: Head = prior
    if active.head_file:
        head = load_head(data_dir / active.head_file, prior)
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
    return PriorHead(names, vocabulary.imagenet_membership(names), regional=True, starter=starter)
