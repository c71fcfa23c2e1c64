"""What the indexer adds to the model's scores: people labels from faces, keywords from files.

The indexer calls an :class:`Enricher` at three points: :meth:`Enricher.inspect` in its decode
workers (face detection on the image already decoded, keywords from sidecars and embedded
metadata), :meth:`Enricher.merge` on each batch of model scores (adds the people scores, so they
take part in thresholds, search, corrections and training like any other score) and
:meth:`Enricher.imported` after a batch is stored (confirms keyword labels with source
``import``, never over a user's verdict). :meth:`Enricher.rescored` rebuilds the people scores
from the stored face summaries when photos are re-scored from cached features.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.db.ratings import import_marks
from core.db.tagstore import TagStore
from core.media.sidecars import Keywords, read_keywords
from core.people.faces import PEOPLE_LABELS, FaceSummary, merge_people
from core.pipeline.keywords import import_keywords

if TYPE_CHECKING:
    from PIL import Image

    from core.people.faces import FaceDetector

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extra:
    """What :meth:`Enricher.inspect` found on one photo."""

    faces: FaceSummary | None = None
    keywords: Keywords = field(default_factory=Keywords)


class Enricher:
    """People scores and keyword imports for one album's indexer.

    Args:
        store: the album store.
        faces: returns the face detector (called once, on first use), or None for none;
            None (the default) turns face detection off.
        keywords: read keywords from sidecars and embedded XMP / IPTC.
        labels_added: called after keywords created user labels (the caller's vocabulary is
            then out of date).
    """

    def __init__(
        self,
        store: TagStore,
        *,
        faces: Callable[[], FaceDetector | None] | None = None,
        keywords: bool = True,
        labels_added: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self._faces_factory = faces
        self._detector: FaceDetector | None = None
        self._loaded = faces is None
        self._lock = threading.Lock()
        self.keywords = keywords
        self.labels_added = labels_added

    def start(self) -> None:
        """Load the face detector now (before decode workers need it)."""
        with self._lock:
            if not self._loaded:
                self._loaded = True
                try:
                    self._detector = self._faces_factory() if self._faces_factory else None
                except Exception:
                    logger.exception("the face detector did not load")

    def inspect(self, path: Path, image: Image.Image) -> Extra:
        """Faces on the decoded (upright) image and keywords of the file; never raises."""
        self.start()
        faces = None
        if self._detector is not None:
            try:
                faces = self._detector.summarize(image)
            except Exception:
                logger.exception("face detection failed on %s", path)
        keywords = Keywords()
        if self.keywords:
            try:
                keywords = read_keywords(path)
            except Exception:
                logger.exception("reading the keywords of %s failed", path)
        return Extra(faces, keywords)

    def _people_ids(self) -> dict[str, int]:
        wanted = {name.lower() for name in PEOPLE_LABELS}
        return {r.name.lower(): r.id for r in self.store.labels() if r.name.lower() in wanted}

    def merge(
        self, scores: np.ndarray, label_ids: Sequence[int], extras: Sequence[Extra]
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        """A batch's model scores with the detector's people scores added."""
        if self._detector is None and not any(e.faces for e in extras):
            return scores, tuple(label_ids)
        return merge_people(scores, label_ids, self._people_ids(), [e.faces for e in extras])

    def rescored(
        self, photo_ids: Sequence[int], scores: np.ndarray, label_ids: Sequence[int]
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        """Re-computed model scores with the people scores of the stored face summaries."""
        summaries = self.store.face_summaries(photo_ids)
        if not summaries:
            return scores, tuple(label_ids)
        return merge_people(
            scores, label_ids, self._people_ids(), [summaries.get(pid) for pid in photo_ids]
        )

    def imported(
        self,
        photo_ids: Sequence[int],
        extras: Sequence[Extra],
        on_warning: Callable[[int, str], None] | None = None,
    ) -> int:
        """Confirm the labels named by keywords found in a stored batch; verdicts written.

        ``on_warning(photo id, message)`` hears of keywords left out (too many new labels).
        """
        found = {pid: e.keywords for pid, e in zip(photo_ids, extras, strict=True) if e.keywords}
        if not found:
            return 0
        written, created = import_keywords(self.store, found, on_warning=on_warning)
        import_marks(self.store, {pid: (k.rating, k.flag) for pid, k in found.items()})
        if created and self.labels_added is not None:
            self.labels_added()
        return written
