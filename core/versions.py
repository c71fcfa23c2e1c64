"""Activate a model version of an open album and re-score it, or roll back.

Which versions exist, which can be served and how one is activated is the registry
``core.model.versions`` (its ``activate`` refuses a version the album cannot serve with a
``ModelVersionError``). This module adds the step that needs the whole album, on the floor above
the model: after the switch, the album's photos are re-scored from their cached features by the
indexer (no photo is decoded). If that re-scoring is interrupted, the next ``index`` finishes
it: photos scored by another version are stale.
"""

from __future__ import annotations

import logging
import threading

from core.library import Library
from core.model import versions
from core.pipeline.indexer import IndexSummary, ProgressCallback

logger = logging.getLogger(__name__)


def rollback_target(library: Library) -> int:
    """``core.model.versions.rollback_target`` of the album's store.

    Raises:
        ModelVersionError: No model yet, or nothing to roll back to.
    """
    return versions.rollback_target(library.store)


def activate_version(
    library: Library,
    version: int,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> IndexSummary:
    """Make ``version`` the active model (``core.model.versions.activate``) and re-score the
    album with it.

    Raises:
        ModelVersionError: Unknown version, a head the album cannot serve, or a missing or
            corrupt head file; the active version is then unchanged.
    """
    versions.activate(library.store, library.data_dir, version)
    library.reload_model(refresh_tags=False)  # the re-score below re-derives the tags
    summary = IndexSummary()
    library.indexer().rescore(summary, progress or (lambda p: None), cancel or threading.Event())
    return summary
