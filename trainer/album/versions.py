"""Writing model versions, the champion/challenger rule, and version housekeeping.

A version is a head file ``<data_dir>/models/v{N}.safetensors`` plus a ``models`` row (its
thresholds and metrics). The file is written first, atomically (temp file + rename); the row —
and with it the activation — is one store transaction after that. An interrupted run therefore
leaves at worst an orphan file, which the next run overwrites, and never touches the active
model. Every version is kept.
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
from core.library import Library
from core.db.store import ModelRow, Store
from core.model.residual import ResidualHead
from core.model.tagger import LinearHead
from core.versions import activate_version, rollback_target

logger = logging.getLogger(__name__)

MODELS_DIR = "models"
#: A challenger may be this much worse (held-out macro F1) and still replace the champion.
F1_TOLERANCE = 0.01

__all__ = ["F1_TOLERANCE", "Decision", "TrainingBusyError", "activate", "decide", "list_versions",
           "next_version", "rollback", "training_lock", "write_version"]


class TrainingBusyError(AlbumtagError):
    """Another training run holds this album's lock."""


@dataclass(frozen=True)
class Decision:
    """Whether a new version becomes active, and why (one sentence for people)."""

    activate: bool
    reason: str


def next_version(store: Store) -> int:
    """The number the next version gets (one above the highest, never reused)."""
    return max((m.version for m in store.models()), default=-1) + 1


def head_path(data_dir: Path, version: int, suffix: str = "") -> tuple[Path, str]:
    """Absolute path and data-folder-relative name of a version's head file."""
    relative = f"{MODELS_DIR}/v{version}{suffix}.safetensors"
    return Path(data_dir) / relative, relative


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def decide(before: dict, after: dict, *, force: bool = False,
           tolerance: float = F1_TOLERANCE) -> Decision:
    """Champion/challenger on held-out verified tags: macro F1 (the papers' convention).

    The challenger wins unless its F1 is lower than the champion's by more than ``tolerance``.
    ``force`` activates it anyway; no held-out tags to compare on activates it too (nothing
    shows that it is worse), and the reason says so.
    """
    old, new = before.get("f1"), after.get("f1")
    if force:
        return Decision(True, "activated because you asked for it (--force)")
    if not (_finite(old) and _finite(new)) or not after.get("n_labels"):
        return Decision(True, "activated: too few verified tags to compare the versions on")
    if new >= old - tolerance:
        change = "better than" if new > old + 1e-9 else "as good as"
        return Decision(True, f"activated: {change} the active version on tags you verified "
                              f"(F1 {new:.3f} vs {old:.3f})")
    return Decision(False, f"kept the active version: the new one is worse on tags you "
                           f"verified (F1 {new:.3f} vs {old:.3f}); it is saved and can be "
                           "activated by hand")


def write_version(store: Store, data_dir: Path, head: LinearHead | ResidualHead,
                  thresholds: dict[str, float], metrics: dict, *, activate: bool) -> int:
    """Save a head as the next version; activate it in the same transaction if asked.

    Returns:
        The new version number.
    """
    version = next_version(store)
    path, relative = head_path(data_dir, version)
    head.save(path)
    kind = "residual" if isinstance(head, ResidualHead) else "linear"
    key = head.feature_key if isinstance(head, ResidualHead) else head.backbone_id
    store.add_model(version, key, relative, thresholds, {**metrics, "head": kind},
                    activate=activate)
    logger.info("wrote model version %d (%s, active=%s)", version, relative, activate)
    return version


def list_versions(store: Store) -> list[ModelRow]:
    """Every version, oldest first."""
    return store.models()


def activate(library: Library, version: int) -> None:
    """Activate ``version`` and re-score the album (see ``core.versions``)."""
    activate_version(library, version)


def rollback(library: Library) -> int:
    """Activate the newest usable version below the active one; its number."""
    version = rollback_target(library)
    activate_version(library, version)
    return version


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
