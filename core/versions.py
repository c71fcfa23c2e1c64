"""Model versions of an album: list them, activate one, roll back — and re-score after.

Activating is one store transaction (``Store.activate_model``); the album's photos are then
re-scored from their cached features by the indexer (no photo is decoded). If that re-scoring is
interrupted, the next ``index`` finishes it: photos scored by another version are stale.
Shared by the command line (``albumtag models``) and the trainer.
"""

from __future__ import annotations

import logging
import threading

from core.errors import ModelLoadError, ModelVersionError
from core.pipeline.indexer import IndexSummary, ProgressCallback
from core.library import Library
from core.db.store import ModelRow

logger = logging.getLogger(__name__)

#: Trained heads the album can serve (``core.model.active.load_active_model``).
SERVED_HEADS = ("linear", "residual")


def servable(row: ModelRow) -> bool:
    """Whether the album can score photos with this version (prior, residual or linear head)."""
    return row.head_file is None or row.metrics.get("head", "linear") in SERVED_HEADS


def find_version(library: Library, version: int) -> ModelRow:
    """The models row of ``version``.

    Raises:
        ModelVersionError: There is no such version.
    """
    for row in library.store.models():
        if row.version == version:
            return row
    known = ", ".join(str(m.version) for m in library.store.models()) or "none"
    raise ModelVersionError(f"there is no model version {version} (versions: {known})")


def rollback_target(library: Library) -> int:
    """The version a rollback activates: the newest usable one below the active version.

    Raises:
        ModelVersionError: Nothing to roll back to.
    """
    active = library.store.active_model()
    if active is None:
        raise ModelVersionError("the album has no model yet: index it first")
    older = [m.version for m in library.store.models()
             if m.version < active.version and m.backbone == active.backbone and servable(m)]
    if not older:
        raise ModelVersionError(f"version {active.version} is the oldest: nothing to roll back "
                                "to")
    return max(older)


def usable_version(library: Library, version: int) -> ModelRow:
    """The models row of ``version``, if the album can make it active.

    Raises:
        ModelVersionError: Unknown version.
        ModelLoadError: A version this album cannot serve, or its head file is missing.
    """
    row = find_version(library, version)
    if not servable(row):
        raise ModelLoadError(f"version {version} ({row.metrics.get('head')} head) is kept for "
                             "comparison only: the album tags photos with linear heads")
    if row.head_file is not None and not (library.data_dir / row.head_file).is_file():
        raise ModelLoadError(f"the head file of version {version} is missing: {row.head_file}")
    return row


def activate_version(library: Library, version: int, progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None) -> IndexSummary:
    """Make ``version`` the active model and re-score the album with it.

    Raises:
        ModelVersionError: Unknown version.
        ModelLoadError: A version this album cannot serve, or its head file is missing.
    """
    usable_version(library, version)
    active = library.store.active_model()
    if active is None or active.version != version:
        library.store.activate_model(version)
        logger.info("activated model version %d", version)
    library.reload_model(refresh_tags=False)  # the re-score below re-derives the tags
    summary = IndexSummary()
    library.indexer().rescore(summary, progress or (lambda p: None),
                              cancel or threading.Event())
    return summary
