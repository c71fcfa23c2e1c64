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

from core.db.store import PhotoRow, Status, Store
from core.media.imaging import content_hash, is_photo_name
from core.paths import leaves_album

logger = logging.getLogger(__name__)

DATA_DIR_NAME = ".albumtag"
#: The error of a photo that is a symbolic link to a file outside the album (never read).
OUTSIDE_LINK = "symbolic link leads outside the album"


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
    resumed: int = 0  # unchanged files an earlier run left pending (killed or stopped)
    errors: int = 0
    skipped_dirs: list[str] = field(default_factory=list)


def walk(root: Path, skipped: list[str] | None = None) -> Iterator[FileEntry]:
    """Every file with a photo name under ``root``, hidden folders and loops skipped.

    Symbolic links are followed only while they stay inside the album (see
    :func:`core.paths.leaves_album`): a folder link that leads out is not entered (its path
    is added to ``skipped``), a file link that leads out is an error entry, never read.
    """
    root = Path(root)
    real_root = Path(os.path.realpath(root))
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
        real_dirs = 0  # real folders of this one pushed so far
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            outside = entry.is_symlink() and leaves_album(real_root, entry.path)
            if is_dir and outside:
                # A caller that collects them reports them (albumtag index lists them once).
                (logger.warning if skipped is None else logger.info)(
                    "not following %s: the link leads outside the album", entry.path
                )
                if skipped is not None:
                    skipped.append(Path(entry.path).relative_to(root).as_posix())
            elif is_dir:  # links first: the stack pops real folders first, so a folder that
                # is also reached through a link keeps its own path
                stack.insert(
                    len(stack) - real_dirs if entry.is_symlink() else len(stack), Path(entry.path)
                )
                real_dirs += not entry.is_symlink()
            elif is_photo_name(entry.name) and outside:
                lst = entry.stat(follow_symlinks=False)
                yield FileEntry(
                    Path(entry.path).relative_to(root).as_posix(),
                    lst.st_size,
                    lst.st_mtime_ns,
                    OUTSIDE_LINK,
                )
            elif is_photo_name(entry.name):
                yield _file_entry(root, entry)


def _file_entry(root: Path, entry: os.DirEntry[str]) -> FileEntry:
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
    known = {p.path: p for p in store.photos(tuple(Status))}
    new: list[FileEntry] = []
    seen: set[str] = set()
    for entry in walk(root, report.skipped_dirs):
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
            store.update_file(
                moved_from.id,
                path=entry.rel_path,
                size=entry.size,
                mtime_ns=entry.mtime_ns,
                status=status,
            )
            report.moved += 1
        elif entry.error:
            store.add_photo(
                entry.rel_path, entry.size, entry.mtime_ns, status="error", error=entry.error
            )
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
            store.update_file(
                row.id,
                path=row.path,
                size=entry.size,
                mtime_ns=entry.mtime_ns,
                status="error",
                error=entry.error,
            )
        report.errors += 1
    elif row.status == "missing":
        status = "ok" if same_file and row.model_version is not None else "pending"
        store.update_file(
            row.id, path=row.path, size=entry.size, mtime_ns=entry.mtime_ns, status=status
        )
        report.returned += 1
    elif same_file and row.status == "pending":
        report.resumed += 1  # not "unchanged": this run tags it
    elif same_file and row.status != "error":
        report.unchanged += 1
    elif same_file:
        report.errors += 1  # an undecodable file that has not changed stays an error
    else:
        store.update_file(
            row.id, path=row.path, size=entry.size, mtime_ns=entry.mtime_ns, status="pending"
        )
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
