"""Walk an album folder and reconcile what is on disk with the photos table.

Cheap work only: ``stat`` calls, and a content hash for a new file only when a vanished photo
of the same size could be the same file moved. Decoding happens later, in the indexer.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.imaging import content_hash, is_photo_name
from core.store import PhotoRow, Store

logger = logging.getLogger(__name__)

DATA_DIR_NAME = ".albumtag"


@dataclass(frozen=True)
class FileEntry:
    """One photo-named file found on disk; ``error`` is set when it cannot be a photo."""

    rel_path: str
    size: int
    mtime_ns: int
    error: str | None = None


@dataclass
class ScanReport:
    """What a scan found, in counts."""

    files: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0
    returned: int = 0
    unchanged: int = 0
    errors: int = 0
    skipped_dirs: list[str] = field(default_factory=list)


def walk(root: Path) -> Iterator[FileEntry]:
    """Every file with a photo name under ``root``, hidden folders and loops skipped."""
    root = Path(root)
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            if key in visited:
                logger.info("skipping %s: already visited (symbolic link loop)", folder)
                continue
            visited.add(key)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            logger.warning("cannot read folder %s: %s", folder, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(Path(entry.path))
            elif is_photo_name(entry.name):
                yield _file_entry(root, entry)


def _file_entry(root: Path, entry: os.DirEntry) -> FileEntry:
    rel = Path(entry.path).relative_to(root).as_posix()
    try:
        st = entry.stat()  # follows symbolic links
    except OSError as exc:
        lst = os.lstat(entry.path)
        if exc.errno == errno.ELOOP:
            reason = "symbolic link loop"
        elif entry.is_symlink():
            reason = "broken symbolic link"
        else:
            reason = f"unreadable file ({exc.strerror})"
        return FileEntry(rel, lst.st_size, lst.st_mtime_ns, reason)
    if not stat.S_ISREG(st.st_mode):
        return FileEntry(rel, 0, st.st_mtime_ns, "not a regular file")
    return FileEntry(rel, st.st_size, st.st_mtime_ns)


def reconcile(root: Path, store: Store) -> ScanReport:
    """Bring the photos table in line with the folder; returns what changed.

    New files become ``pending``; changed files too (their verdicts stay). A new path whose
    content equals a vanished photo's is that photo moved: it keeps its id, tags and verdicts.
    Vanished photos become ``missing`` (hidden, verdicts kept) and come back if the file does.
    """
    report = ScanReport()
    known = {p.path: p for p in store.photos(where="1")}
    new: list[FileEntry] = []
    seen: set[str] = set()
    for entry in walk(root):
        report.files += 1
        seen.add(entry.rel_path)
        row = known.get(entry.rel_path)
        if row is None:
            new.append(entry)
        else:
            _update_known(store, row, entry, report)
    vanished = {p.id: p for p in known.values() if p.path not in seen}
    for entry in new:
        moved_from = _find_moved(root, entry, vanished)
        if moved_from is not None:
            del vanished[moved_from.id]
            status = "ok" if moved_from.model_version is not None else "pending"
            store.update_file(moved_from.id, path=entry.rel_path, size=entry.size,
                              mtime_ns=entry.mtime_ns, status=status)
            report.moved += 1
        elif entry.error:
            store.add_photo(entry.rel_path, entry.size, entry.mtime_ns, status="error",
                            error=entry.error)
            report.errors += 1
        else:
            store.add_photo(entry.rel_path, entry.size, entry.mtime_ns)
            report.new += 1
    gone = [p.id for p in vanished.values() if p.status != "missing"]
    store.mark_missing(gone)
    report.missing = len(gone)
    return report


def _update_known(store: Store, row: PhotoRow, entry: FileEntry, report: ScanReport) -> None:
    same_file = row.size == entry.size and row.mtime_ns == entry.mtime_ns
    if entry.error:
        if row.status != "error" or row.error != entry.error:
            store.update_file(row.id, path=row.path, size=entry.size, mtime_ns=entry.mtime_ns,
                              status="error", error=entry.error)
        report.errors += 1
    elif row.status == "missing":
        status = "ok" if same_file and row.model_version is not None else "pending"
        store.update_file(row.id, path=row.path, size=entry.size, mtime_ns=entry.mtime_ns,
                          status=status)
        report.returned += 1
    elif same_file and row.status != "error":
        report.unchanged += 1
    elif same_file:
        report.errors += 1  # an undecodable file that has not changed stays an error
    else:
        store.update_file(row.id, path=row.path, size=entry.size, mtime_ns=entry.mtime_ns,
                          status="pending")
        report.changed += 1


def _find_moved(root: Path, entry: FileEntry, vanished: dict[int, PhotoRow]) -> PhotoRow | None:
    if entry.error:
        return None
    candidates = [p for p in vanished.values() if p.size == entry.size and p.content_hash]
    if not candidates:
        return None
    try:
        digest = content_hash(root / entry.rel_path)
    except Exception:  # noqa: BLE001 - an unreadable file is simply not a move
        return None
    return next((p for p in candidates if p.content_hash == digest), None)
