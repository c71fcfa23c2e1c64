"""The trainer's rules about versions: champion/challenger, and one training run per album.

Which versions exist, how a new one is written (atomically) and which can be activated is the
registry ``core.model.versions``; this module only decides whether a new version should become
active, and keeps two training runs of one album apart.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.errors import AlbumtagError
from core.model.versions import MODELS_DIR
from core.training_events import FEW_PHOTOS

logger = logging.getLogger(__name__)

#: A challenger may be this much worse (held-out macro F1) and still replace the champion.
F1_TOLERANCE = 0.01

__all__ = [
    "F1_TOLERANCE",
    "Decision",
    "TrainingBusyError",
    "decide",
    "training_lock",
]


class TrainingBusyError(AlbumtagError):
    """Another training run holds this album's lock."""


@dataclass(frozen=True)
class Decision:
    """Whether a new version becomes active, and why (one sentence for people)."""

    activate: bool
    reason: str


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def decide(
    before: dict,
    after: dict,
    *,
    force: bool = False,
    tolerance: float = F1_TOLERANCE,
    few: int = FEW_PHOTOS,
) -> Decision:
    """Champion/challenger on held-out verified tags: macro F1 (the papers' convention).

    The challenger wins unless its F1 is lower than the champion's by more than ``tolerance``.
    ``force`` activates it anyway; no held-out tags to compare on activates it too (nothing
    shows that it is worse), and so does a comparison on fewer than ``few`` photos
    (``after["n_photos"]``): there a photo or two decide it, and the champion was trained on
    some of the same verdicts, which flatters it — a user who rejected five wrong tags and
    retrained saw the version with those rejections kept aside (F1 0.947 against 0.974 on 15
    photos). The reason says which.
    """
    old, new = before.get("f1"), after.get("f1")
    if force:
        return Decision(True, "activated because you asked for it (--force)")
    if not (_finite(old) and _finite(new)) or not after.get("n_labels"):
        return Decision(True, "activated: too few verified tags to compare the versions on")
    photos = after.get("n_photos")
    if photos is not None and photos < few:
        return Decision(
            True,
            f"activated: {photos} photos with your verdicts are too few to compare the "
            f"versions on (F1 {new:.3f} vs {old:.3f}); the new one holds all your corrections",
        )
    if new >= old - tolerance:
        change = "better than" if new > old + 1e-9 else "as good as"
        return Decision(
            True,
            f"activated: {change} the active version on tags you verified "
            f"(F1 {new:.3f} vs {old:.3f})",
        )
    return Decision(
        False,
        f"kept the active version: the new one is worse on tags you "
        f"verified (F1 {new:.3f} vs {old:.3f}); it is saved and can be "
        "activated by hand",
    )


@contextlib.contextmanager
def training_lock(data_dir: Path) -> Iterator[None]:
    """Hold the album's training lock (one training run per album at a time).

    The lock is an OS file lock, so a crashed run never leaves it behind.

    Raises:
        TrainingBusyError: Another process holds it.
    """
    folder = Path(data_dir) / MODELS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".train.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        if not _try_lock(fd):
            raise TrainingBusyError("another training of this album is running")
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
