"""AlbumSession: one open album behind the window, and all the background work around it.

The session owns the ``Library`` and every thread that touches it: the database runner (reads
and verdicts, one thread), the indexing (``app.gui.indexing``: a child process that scans,
decodes and tags; cancellable) and the folder watcher (its callback only emits a signal).
Widgets never call the library themselves: they ask the session, which answers through signals
or callbacks on the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from app.errors import describe
from app.gui.indexing import IndexerFactory, IndexingControl, background_workers
from app.gui.tasks import TaskRunner
from core import ops
from core.library import Library
from core.media.thumbnails import ThumbnailCache
from core.ops import Changes
from core.pipeline.indexer import Indexer
from core.pipeline.watcher import FolderWatcher

logger = logging.getLogger(__name__)

LibraryFactory = Callable[[Path], Library]
__all__ = ["AlbumSession", "IndexerFactory", "background_workers"]


def _default_indexer(library: Library) -> Indexer:
    """The album's own indexer, run on a thread of the window (tests; the window uses a child)."""
    return library.indexer(workers=background_workers())


class AlbumSession(QObject):
    """The open album and its workers. Create on the GUI thread; ``close`` before exit."""

    opened = Signal(str)  # the album folder
    open_failed = Signal(str, str)  # folder, message
    indexing_started = Signal()
    indexing_progressed = Signal(object)  # core.pipeline.indexer.Progress
    indexing_finished = Signal(object)  # IndexSummary, or None when the run failed
    tags_changed = Signal(object)  # photo ids whose tags changed, or None for "many"
    labels_changed = Signal()
    label_created = Signal(str)  # a label the user just made in the window (one example)
    history_changed = Signal(bool, bool)  # can undo, can redo
    marks_changed = Signal(list)  # photos whose rating or flag changed
    model_changed = Signal()
    error_raised = Signal(str)

    _folder_changed = Signal()

    def __init__(
        self,
        *,
        library_factory: LibraryFactory = Library,
        indexer_factory: IndexerFactory | None = None,
        child_indexer: str | None = None,
        watch: bool = True,
        watch_debounce: float = 1.0,
        parent: QObject | None = None,
    ) -> None:
        """``indexer_factory`` runs indexing on a thread of this process with that indexer;
        without it indexing runs in a child process (``child_indexer``: see app.indexchild).
        """
        super().__init__(parent)
        self._library_factory = library_factory
        self.indexing = IndexingControl(indexer_factory, child_indexer=child_indexer, parent=self)
        self._watch = watch
        self._watch_debounce = watch_debounce
        self._runner = TaskRunner(parent=self)
        self._runner.failed.connect(self._on_task_failed)
        self._library: Library | None = None
        self._watcher: FolderWatcher | None = None
        self._index_again = False
        self._closed = False
        self._watch_lock = threading.Lock()
        self.root: Path | None = None
        #: Why the open album can only be read (e.g. "read-only file system"), or None.
        self.read_only: str | None = None
        self.data_dir: Path | None = None
        self.thumbnails: ThumbnailCache | None = None
        self.model_info: dict[str, Any] = {}
        self._folder_changed.connect(self._on_folder_changed, Qt.ConnectionType.QueuedConnection)
        self.indexing.progressed.connect(self.indexing_progressed)
        self.indexing.ended.connect(self._on_index_ended)

    # -- opening and closing --------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._library is not None

    def open(self, folder: str | Path) -> None:
        """Open an album (in the background); ``opened`` or ``open_failed`` follows."""
        self._close_album()
        path = Path(folder).expanduser()
        self._runner.submit(
            lambda: self._library_factory(path),
            self._on_library_opened,
            lambda exc: self.open_failed.emit(str(path), describe(exc)),
        )

    def _on_library_opened(self, library: Library) -> None:
        self._library = library
        self.root = library.root
        self.data_dir = library.data_dir
        self.thumbnails = library.thumbnails
        self.read_only = library.store.db.read_only
        self.opened.emit(str(library.root))  # the views ask for their first rows now...
        self.refresh_model_info()
        self.refresh_history()
        if self.read_only is not None:  # nothing can be stored: no watching, no indexing
            return
        # ...and only after those answers does the folder get watched and scanned.
        self._runner.submit(lambda: self._start_watching(library), lambda _: self.start_indexing())

    def _start_watching(self, library: Library) -> None:
        """Watch the album folder (on the database thread: a big tree takes a moment)."""
        if not self._watch:
            return
        with self._watch_lock:
            if self._library is not library or self._closed:
                return
            watcher = FolderWatcher(
                library.root, self._folder_changed.emit, debounce=self._watch_debounce
            )
            watcher.start()
            self._watcher = watcher

    def _close_album(self) -> None:
        with self._watch_lock:
            watcher, self._watcher = self._watcher, None
            library, self._library = self._library, None
        if watcher is not None:
            watcher.stop()
        self._stop_indexing()
        self.root = None
        self.read_only = None
        if library is not None:
            self._runner.submit(library.close)

    def close(self) -> None:
        """Stop watching, cancel indexing, wait for every worker, close the album."""
        if self._closed:
            return
        self._closed = True
        self._close_album()
        self.indexing.close()
        self._runner.close()

    def is_idle(self) -> bool:
        """Nothing running in the background (for tests and a clean shutdown)."""
        return self._runner.is_idle() and not self.indexing.running

    # -- background reads -------------------------------------------------------------------
    def query(
        self,
        work: Callable[[Library], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> bool:
        """Run ``work(library)`` on the database thread, ``done(result)`` on the GUI thread.

        Returns False (and runs nothing) when no album is open.
        """
        library = self._library
        if library is None or self._closed:
            return False
        return self._runner.submit(lambda: work(library), done, failed) is not None

    def refresh_model_info(self) -> None:
        def work(library: Library) -> dict[str, Any]:
            active = library.store.active_model()
            return {
                "versions": [m.version for m in library.store.models()],
                "active": active.version if active else None,
                "backbone": active.backbone if active else None,
                "created": active.created_at if active else None,
            }

        def done(info: dict[str, Any]) -> None:
            self.model_info = info
            self.model_changed.emit()

        self.query(work, done)

    def refresh_history(self) -> None:
        self.query(
            lambda lib: (lib.store.can_undo(), lib.store.can_redo()),
            lambda flags: self.history_changed.emit(*flags),
        )

    # -- user changes: core.ops on the database thread, refreshed from their Changes ----------
    def run_op(
        self,
        op: Callable[..., Changes],
        *args: Any,
        announce: bool = False,
        done: Callable[[Changes], None] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Run ``op(library, *args, **kwargs)`` (a :mod:`core.ops` operation) on the database
        thread, then refresh what its ``Changes`` name; ``announce`` shows what it did in the
        status bar. A refused change (bad input, an unusable model version) is said there too.
        """

        def finished(changes: Changes) -> None:
            self.apply_changes(changes)
            if announce and changes.what:
                self.error_raised.emit(f"{changes.what}.")
            if done is not None:
                done(changes)

        return self.query(
            lambda library: op(library, *args, **kwargs), finished, self._on_edit_failed
        )

    def apply_changes(self, changes: Changes) -> None:
        """Tell the views what a change touched (on the GUI thread)."""
        if changes.labels:
            self.labels_changed.emit()
        if changes.all_photos:
            self.tags_changed.emit(None)
        elif changes.photos:
            self.tags_changed.emit(list(changes.photos))
        if changes.marks:
            self.marks_changed.emit(list(changes.marks))
        if changes.model:
            self.refresh_model_info()
            self.start_indexing()  # re-scores the photos the old version scored
        self.refresh_history()
        if changes.created:
            self.label_created.emit(changes.created)

    def set_verdict(self, photo_ids: Sequence[int], labels: Sequence[str], verdict: int) -> None:
        """Confirm (1), reject (-1) or clear (0) labels on photos, as one undoable action."""
        self.run_op(ops.set_verdict, list(photo_ids), list(labels), verdict)

    def confirm(self, photo_ids: Sequence[int], labels: Sequence[str]) -> None:
        self.run_op(ops.confirm, list(photo_ids), list(labels))

    def reject(self, photo_ids: Sequence[int], labels: Sequence[str]) -> None:
        self.run_op(ops.reject, list(photo_ids), list(labels))

    def clear(self, photo_ids: Sequence[int], labels: Sequence[str]) -> None:
        self.run_op(ops.clear, list(photo_ids), list(labels))

    def confirm_suggestions(self, photo_ids: Sequence[int]) -> None:
        """Confirm every tag the model put on these photos (the "looks right" key)."""
        self.run_op(ops.confirm_suggestions, list(photo_ids))

    def add_tag(self, photo_ids: Sequence[int], name: str, parent: str | None = None) -> None:
        """Confirm a label on photos; a name the album does not know becomes a user label."""
        self.run_op(ops.add_tag, list(photo_ids), name, parent)

    def undo(self) -> None:
        self.run_op(ops.undo)

    def redo(self) -> None:
        self.run_op(ops.redo)

    def set_marks(
        self, photo_ids: Sequence[int], *, rating: int | None = None, flag: int | None = None
    ) -> None:
        """Rate (0-5) and/or flag (1 pick, -1 reject, 0 none) photos, as one undo step."""
        self.run_op(ops.set_marks, list(photo_ids), rating=rating, flag=flag)

    def _on_edit_failed(self, exc: BaseException) -> None:
        self.error_raised.emit(describe(exc))

    # -- models -----------------------------------------------------------------------------
    def activate_model(self, version: int) -> None:
        """Make a stored model version the active one (if the album can serve it: the same
        checks as ``albumtag models --activate``) and re-score the album with it."""
        self.run_op(ops.activate_version, version)

    def reload_model(self) -> None:
        """The active version may have changed (a training run): load it and re-score."""
        self.query(
            lambda library: library.reload_model(), self._on_model_reloaded, self._on_edit_failed
        )

    def _on_model_reloaded(self, _: None) -> None:
        self.refresh_model_info()
        self.tags_changed.emit(None)
        self.start_indexing()

    # -- indexing (app.gui.indexing runs it) -------------------------------------------------
    @property
    def is_indexing(self) -> bool:
        return self.indexing.running

    def start_indexing(self) -> None:
        """Scan and tag what is new; if a run is under way, run once more after it."""
        library = self._library
        if library is None or self._closed or library.store.db.read_only:
            return
        self._index_again = not self.indexing.start(library)

    def cancel_indexing(self) -> None:
        self._index_again = False
        self.indexing.cancel()

    def _stop_indexing(self) -> None:
        self._index_again = False
        self.indexing.stop()

    def _on_index_ended(self, summary: object, error: object) -> None:
        if error is not None:
            self.error_raised.emit(f"Indexing stopped: {error}")
        self.indexing_finished.emit(summary)
        if self.indexing.in_child and getattr(summary, "tagged", 0):
            # keywords the child imported may have made labels this process does not know
            self.query(
                lambda library: library.reload_vocabulary(), lambda _: self.labels_changed.emit()
            )
        self.tags_changed.emit(None)
        self.refresh_model_info()
        if self._index_again and not self._closed:
            self.start_indexing()

    def _on_folder_changed(self) -> None:
        logger.info("the album folder changed; indexing again")
        self.start_indexing()

    def _on_task_failed(self, exc: BaseException) -> None:
        self.error_raised.emit(describe(exc))
