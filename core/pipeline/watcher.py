"""Follow an album folder with watchdog and say, debounced, when it has changed.

The observer thread only records that something happened; a small debounce thread calls
``on_change`` once the folder has been quiet for ``debounce`` seconds (a camera import of 500
files is one call, not 500). The callback decides what to do, e.g. run the indexer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from core.media.imaging import is_photo_name
from core.pipeline.scanner import DATA_DIR_NAME

logger = logging.getLogger(__name__)


class _Handler(FileSystemEventHandler):
    def __init__(self, poke: Callable[[str], None], new_folder: Callable[[Path], None]) -> None:
        self._poke = poke
        self._new_folder = new_folder

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type in ("created", "moved"):
            self._new_folder(Path(str(getattr(event, "dest_path", "") or event.src_path)))
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if any(f"/{DATA_DIR_NAME}" in p or f"\\{DATA_DIR_NAME}" in p for p in paths):
            return  # our own database and thumbnails
        folder_changed = event.is_directory and event.event_type in ("created", "deleted", "moved")
        if folder_changed:
            self._poke(paths[1] or paths[0])
        elif photos := [p for p in paths if p and is_photo_name(p)]:
            self._poke(photos[-1])


#: Most paths kept for :attr:`FolderWatcher.last_batch` (a camera import can be thousands).
_BATCH_PATHS = 1000


class FolderWatcher:
    """Calls ``on_change()`` (on its own thread) after the folder changed and went quiet.

    ``last_batch`` holds the paths (at most 1,000, in arrival order, repeats kept) behind the
    latest call; it is set just before ``on_change`` runs, on the same thread.
    """

    def __init__(self, root: Path, on_change: Callable[[], None], debounce: float = 1.0) -> None:
        self.root = Path(root)
        self.on_change = on_change
        self.debounce = debounce
        self._last_event = 0.0
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.last_batch: tuple[str, ...] = ()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    def _on_new_folder(self, path: Path) -> None:
        """A folder appeared directly in the album: watch its subtree too."""
        observer = self._observer
        if (
            observer is not None
            and path.parent == self.root
            and path.is_dir()
            and not path.name.startswith(".")
        ):
            try:
                observer.schedule(self._handler, str(path), recursive=True)
            except OSError as exc:
                logger.warning("cannot watch %s: %s", path, exc)

    def _poke(self, path: str) -> None:
        with self._lock:
            self._last_event = time.monotonic()
            if len(self._pending) < _BATCH_PATHS:
                self._pending.append(path)
            self._dirty.set()

    def watched(self) -> set[Path]:
        """The folders being watched now: the top folder, each sub-folder with its subtree."""
        observer = self._observer
        if observer is None:
            return set()
        return {Path(emitter.watch.path) for emitter in list(observer.emitters)}

    def start(self) -> None:
        # The album's top folder alone, then each visible sub-folder with its subtree: a
        # recursive watch on the top folder would also watch .albumtag/thumbnails (256
        # shard folders of our own writes) and spend the user's inotify watches on them.
        self._observer = Observer()
        handler = _Handler(self._poke, self._on_new_folder)
        self._handler = handler
        self._observer.schedule(handler, str(self.root), recursive=False)
        for child in sorted(self.root.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                self._observer.schedule(handler, str(child), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        self._thread = threading.Thread(target=self._loop, name="albumtag-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(0.2):
                continue
            quiet_for = time.monotonic() - self._last_event
            if quiet_for < self.debounce:
                self._stop.wait(self.debounce - quiet_for)
                continue
            with self._lock:
                self._dirty.clear()
                self.last_batch, self._pending = tuple(self._pending), []
            try:
                self.on_change()
            except Exception:  # keep watching whatever one run did
                logger.exception("handling a change in %s failed", self.root)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; returns once both threads have ended (or the timeout passed)."""
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
