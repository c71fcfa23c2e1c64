"""People labels from a face detector: ``person``, ``portrait`` and ``group photo``.

The detector is MTCNN (:mod:`core.people.mtcnn`) with the three weight files of the PyPI package
``facenet-pytorch`` 2.6.0 (MIT), shipped with albumtag in ``assets/mtcnn`` (licence beside
them), so every install has face detection. They are verified by sha256 and loaded with
``weights_only=True``. The package itself is not a dependency: its metadata pins old torch,
numpy and Pillow, which no install of albumtag can satisfy.

The indexer runs :meth:`FaceDetector.summarize` on the image it has already decoded and stores
a :class:`FaceSummary` (face count, largest face's share of the picture, best probability) on
the photo. :func:`people_scores` turns a summary into label scores, and :func:`merge_people`
adds them to a batch of model scores, so the people labels go through thresholds, search,
corrections and training like any other label. Because the summary is stored, re-scoring from
cached features (after training) rebuilds the same people scores without decoding again.

torch is imported only when a detector is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from core.errors import ModelLoadError
from core.resources import assets_dir
from core.threads import torch_on_one_core

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

PERSON: Final = "person"
PORTRAIT: Final = "portrait"
GROUP_PHOTO: Final = "group photo"
#: The labels the detector scores, all under the ``people`` root of the vocabulary.
PEOPLE_LABELS: Final = (PERSON, PORTRAIT, GROUP_PHOTO)

#: The weights' folder inside the assets (``core.resources.assets_dir``).
WEIGHTS_FOLDER: Final = "mtcnn"
#: sha256 of the weight files, as ``facenet-pytorch==2.6.0`` ships them in its ``data`` folder.
WEIGHTS_SHA256: Final = {
    "pnet.pt": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet.pt": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet.pt": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}

#: A detection this sure is a face on its own.
CONFIDENT: Final = 0.9
#: A detection this sure counts when a confident face of a similar size is in the same photo
#: (people in one group photo have faces of about the same size).
SUPPORTED: Final = 0.8
_SIMILAR_SIZE: Final = 2.0
#: Share of the picture the single face must cover for a portrait (score 0.5 half-way).
_PORTRAIT_AREA: Final = (0.015, 0.035)


@dataclass(frozen=True)
class Face:
    """One detected face: its box in the image's pixels and the detector's probability."""

    box: tuple[float, float, float, float]
    probability: float

    @property
    def side(self) -> float:
        """The box's mean side length in pixels."""
        return ((self.box[2] - self.box[0]) + (self.box[3] - self.box[1])) / 2.0


@dataclass(frozen=True)
class FaceSummary:
    """What the photo store keeps of a detection run.

    Attributes:
        count: faces counted (confident ones, and supported ones beside them).
        largest: the largest counted face's box area as a share of the image area (0 if none).
        best: the highest probability of any detection, counted or not (0 if none).
    """

    count: int
    largest: float = 0.0
    best: float = 0.0

    @classmethod
    def of(cls, faces: Sequence[Face], size: tuple[int, int]) -> FaceSummary:
        """Count faces: confident ones, and supported ones of a size like a confident one's."""
        confident = [f for f in faces if f.probability >= CONFIDENT]
        counted = [
            f
            for f in faces
            if f.probability >= CONFIDENT
            or (
                f.probability >= SUPPORTED
                and any(
                    1 / _SIMILAR_SIZE <= f.side / max(c.side, 1e-6) <= _SIMILAR_SIZE
                    for c in confident
                )
            )
        ]
        area = float(size[0] * size[1]) or 1.0
        largest = max(
            ((f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) / area for f in counted), default=0.0
        )
        best = max((f.probability for f in faces), default=0.0)
        return cls(len(counted), round(min(max(largest, 0.0), 1.0), 5), round(best, 5))


def people_scores(summary: FaceSummary) -> dict[str, float]:
    """Label scores in [0, 1] for one photo's faces (monotone in the evidence).

    ``person``: about the best probability when a face counts; a weak, unsupported detection
    gives at most 0.25 (below the default thresholds, above a tuned one if the user's
    corrections say so). ``group photo``: three or more faces; two faces give 0.15.
    ``portrait``: exactly one face, ramping up with the share of the picture it covers.
    """
    if summary.count > 0:
        person = 0.5 + 0.5 * summary.best
    else:
        person = 0.25 * _ramp(summary.best, 0.7, 1.0)
    group = {0: 0.0, 1: 0.02, 2: 0.15}.get(summary.count, 0.95)
    portrait = 0.95 * _ramp(summary.largest, *_PORTRAIT_AREA) if summary.count == 1 else 0.0
    return {PERSON: round(person, 4), PORTRAIT: round(portrait, 4), GROUP_PHOTO: group}


def _ramp(value: float, low: float, high: float) -> float:
    """0 below ``low``, 1 above ``high``, a smooth step between."""
    t = min(max((value - low) / (high - low), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def merge_people(
    scores: np.ndarray,
    label_ids: Sequence[int],
    people_ids: dict[str, int],
    summaries: Sequence[FaceSummary | None],
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Add the detector's people scores to a batch of model scores.

    Args:
        scores: (N, L) model scores, columns aligned with ``label_ids``.
        label_ids: the store ids of the model's labels.
        people_ids: store id of each people label the album has (by name in PEOPLE_LABELS).
        summaries: one per row; None where the detector did not run.

    Returns:
        The scores with a column for every people label (the larger of the model's score and
        the detector's where both exist), and the matching label ids.
    """
    ids = list(label_ids)
    extra = [pid for name, pid in people_ids.items() if pid not in ids]
    out = np.zeros((scores.shape[0], len(ids) + len(extra)), dtype=np.float32)
    out[:, : len(ids)] = scores
    ids += extra
    column = {pid: ids.index(pid) for pid in people_ids.values()}
    for row, summary in enumerate(summaries):
        if summary is None:
            continue
        for name, value in people_scores(summary).items():
            if name in people_ids:
                col = column[people_ids[name]]
                out[row, col] = max(out[row, col], value)
    return out, tuple(ids)


def weights_folder() -> Path:
    """The folder of the MTCNN weight files shipped with albumtag.

    Raises:
        ModelLoadError: the installation lacks them.
    """
    try:
        folder = assets_dir() / WEIGHTS_FOLDER
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{exc}; reinstall albumtag") from exc
    if not folder.is_dir():
        raise ModelLoadError(
            f"the face detector's weights are missing from this installation "
            f"({folder}); reinstall albumtag"
        )
    return folder


def verify_weights(folder: Path) -> None:
    """Check every weight file against its pinned sha256.

    Raises:
        ModelLoadError: a file is missing or differs.
    """
    for name, expected in WEIGHTS_SHA256.items():
        path = Path(folder) / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ModelLoadError(f"face detector weights {path} unreadable: {exc}") from exc
        if digest != expected:
            raise ModelLoadError(
                f"face detector weights {path} have sha256 {digest[:12]}…, "
                f"expected {expected[:12]}…"
            )


class FaceDetector:
    """MTCNN on CPU. Thread-safe: the networks are only read."""

    def __init__(self, nets: tuple[Any, ...], min_face: int = 20, work_side: int = 320) -> None:
        from core.people import mtcnn

        self._nets = nets
        self._stages = mtcnn.Stages(min_face=min_face, work_side=work_side)

    @classmethod
    def load(cls, folder: Path | None = None, **settings: int) -> FaceDetector:
        """Load the verified weights (default: the shipped ones, :func:`weights_folder`).

        Raises:
            ModelLoadError: the package or a weight file is missing, differs or does not load.
        """
        folder = Path(folder) if folder is not None else weights_folder()
        verify_weights(folder)
        try:
            from core.people import mtcnn

            nets = mtcnn.load_nets(folder)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelLoadError(f"face detector weights in {folder} do not load: {exc}") from exc
        return cls(nets, **settings)

    def detect(self, image: Image.Image) -> list[Face]:
        """Every detection with probability >= 0.7, best first."""
        from core.people import mtcnn

        torch_on_one_core()  # small networks, one detection per decode worker
        rows = mtcnn.detect(self._nets, image, self._stages)
        faces = [
            Face((float(row[0]), float(row[1]), float(row[2]), float(row[3])), float(row[4]))
            for row in rows
        ]
        return sorted(faces, key=lambda f: -f.probability)

    def summarize(self, image: Image.Image) -> FaceSummary:
        """The :class:`FaceSummary` of an (upright) image."""
        return FaceSummary.of(self.detect(image), image.size)


_lock = threading.Lock()


@functools.cache
def _shared() -> FaceDetector | None:
    try:
        detector = FaceDetector.load()
    except ModelLoadError as exc:
        logger.warning("people labels from faces are off: %s", exc)
        return None
    logger.info("face detector loaded (MTCNN)")
    return detector


def shared_detector() -> FaceDetector | None:
    """The process's face detector, loaded on first use; None (logged once) if unavailable."""
    with _lock:
        return _shared()
