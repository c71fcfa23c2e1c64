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
from core import browse
from core.db import ratings
from core.pipeline.indexer import Indexer
from core.db.journal import Step
from core.library import Library
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED
from core.db.tagstore import VerdictChange
from core.media.thumbnails import ThumbnailCache
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

    def __init__(self, *, library_factory: LibraryFactory = Library,
                 indexer_factory: IndexerFactory | None = None, child_indexer: str | None = None,
                 watch: bool = True, watch_debounce: float = 1.0,
                 parent: QObject | None = None) -> None:
        """``indexer_factory`` runs indexing on a thread of this process with that indexer;
        without it indexing runs in a child process (``child_indexer``: see app.indexchild).
        """
        super().__init__(parent)
        self._library_factory = library_factory
        self.indexing = IndexingControl(indexer_factory, child_indexer=child_indexer,
                                        parent=self)
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
        self._runner.submit(lambda: self._library_factory(path), self._on_library_opened,
                            lambda exc: self.open_failed.emit(str(path), describe(exc)))

    def _on_library_opened(self, library: Library) -> None:
        self._library = library
        self.root = library.root
        self.data_dir = library.data_dir
        self.thumbnails = library.thumbnails
        self.opened.emit(str(library.root))  # the views ask for their first rows now...
        self.refresh_model_info()
        self.refresh_history()
        # ...and only after those answers does the folder get watched and scanned.
        self._runner.submit(lambda: self._start_watching(library),
                            lambda _: self.start_indexing())

    def _start_watching(self, library: Library) -> None:
        """Watch the album folder (on the database thread: a big tree takes a moment)."""
        if not self._watch:
            return
        with self._watch_lock:
            if self._library is not library or self._closed:
                return
            watcher = FolderWatcher(library.root, self._folder_changed.emit,
                                    debounce=self._watch_debounce)
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
    def query(self, work: Callable[[Library], Any], done: Callable[[Any], None],
              failed: Callable[[BaseException], None] | None = None) -> bool:
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
            return {"versions": [m.version for m in library.store.models()],
                    "active": active.version if active else None,
                    "backbone": active.backbone if active else None,
                    "created": active.created_at if active else None}

        def done(info: dict[str, Any]) -> None:
            self.model_info = info
            self.model_changed.emit()

        self.query(work, done)

    def refresh_history(self) -> None:
        self.query(lambda lib: (lib.store.can_undo(), lib.store.can_redo()),
                   lambda flags: self.history_changed.emit(*flags))

    # -- tag edits (one undo step each) -----------------------------------------------------
    def set_verdict(self, photo_ids: Sequence[int], labels: Sequence[str], verdict: int) -> None:
        """Confirm (1), reject (-1) or clear (0) labels on photos, as one undoable action."""
        ids = list(photo_ids)

        def work(library: Library) -> list[int]:
            lids = [library.label_id(name) for name in labels]
            changes = [VerdictChange(p, lid, verdict) for lid in lids for p in ids]
            return ids if library.store.set_verdicts(changes) is not None else []

        self._edit(work)

    def confirm(self, photo_ids: Sequence[int], labels: Sequence[str]) -> None:
        self.set_verdict(photo_ids, labels, CONFIRMED)

    def reject(self, photo_ids: Sequence[int], labels: Sequence[str]) -> None:
        self.set_verdict(photo_ids, labels, REJECTED)

    def clear(self, photo_ids: Sequence[int], labels: Sequence[str]) -> None:
        self.set_verdict(photo_ids, labels, NO_VERDICT)

    def confirm_suggestions(self, photo_ids: Sequence[int]) -> None:
        """Confirm every tag the model put on these photos (the "looks right" key)."""
        ids = list(photo_ids)

        def work(library: Library) -> list[int]:
            pairs = browse.suggestions(library, ids)
            changes = [VerdictChange(p, lid, CONFIRMED) for p, lid in pairs]
            return sorted({p for p, _ in pairs}) if library.store.set_verdicts(changes) else []

        self._edit(work)

    def add_tag(self, photo_ids: Sequence[int], name: str, parent: str | None = None) -> None:
        """Confirm a label on photos; a name the album does not know becomes a user label."""
        ids = list(photo_ids)

        def work(library: Library) -> tuple[list[int], str | None]:
            created = library.vocabulary.resolve(name) is None
            if created:
                row = library.create_label(name, parent)
                label = row.name
            else:
                label = library.vocabulary.resolve(name)
            lid = library.label_id(label)
            batch = library.store.set_verdicts([VerdictChange(p, lid, CONFIRMED) for p in ids])
            return (ids if batch is not None else []), (label if created else None)

        def done(result: tuple[list[int], str | None]) -> None:
            touched, created = result
            if created:
                self.labels_changed.emit()
            self._after_edit(touched)
            if created:
                self.label_created.emit(created)

        self.query(work, done, self._on_edit_failed)

    def undo(self) -> None:
        self.query(lambda library: library.undo(), self._after_step, self._on_edit_failed)

    def redo(self) -> None:
        self.query(lambda library: library.redo(), self._after_step, self._on_edit_failed)

    def _after_step(self, step: Step | None) -> None:
        if step is not None and step.kind == "labels":
            self.labels_changed.emit()
            self.tags_changed.emit(None)
        if step is not None and step.kind == "ratings":
            self.marks_changed.emit(step.photos)
        self._after_edit(step.photos if step is not None and step.kind == "verdicts" else [])

    def edit_labels(self, work: Callable[[Library], Any]) -> None:
        """Run a label manager operation (``core.label_ops``; one undo step) and say what it did."""
        def done(edit: Any) -> None:
            self.labels_changed.emit()
            self.tags_changed.emit(None)
            self.refresh_history()
            self.error_raised.emit(f"{edit.what}.")

        self.query(work, done, self._on_edit_failed)

    def set_marks(self, photo_ids: Sequence[int], *, rating: int | None = None,
                  flag: int | None = None) -> None:
        """Rate (0-5) and/or flag (1 pick, -1 reject, 0 none) photos, as one undo step."""
        ids = list(photo_ids)

        def work(library: Library) -> list[int]:
            changed = ratings.set_marks(library.store, ids, rating=rating, flag=flag)
            return ids if changed is not None else []

        def done(touched: list[int]) -> None:
            if touched:
                self.marks_changed.emit(touched)
            self.refresh_history()

        self.query(work, done, self._on_edit_failed)

    def _edit(self, work: Callable[[Library], list[int]]) -> None:
        self.query(work, self._after_edit, self._on_edit_failed)

    def _after_edit(self, touched: list[int]) -> None:
        if touched:
            self.tags_changed.emit(touched)
        self.refresh_history()

    def _on_edit_failed(self, exc: BaseException) -> None:
        self.error_raised.emit(describe(exc))

    # -- models -----------------------------------------------------------------------------
    def activate_model(self, version: int) -> None:
        """Make a stored model version the active one and re-score the album with it."""
        def work(library: Library) -> None:
            library.store.activate_model(version)
            library.reload_model()

        self.query(work, self._on_model_reloaded, self._on_edit_failed)

    def reload_model(self) -> None:
        """The active version may have changed (a training run): load it and re-score."""
        self.query(lambda library: library.reload_model(), self._on_model_reloaded,
                   self._on_edit_failed)

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
        if library is None or self._closed:
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
            self.query(lambda library: library.reload_vocabulary(),
                       lambda _: self.labels_changed.emit())
        self.tags_changed.emit(None)
        self.refresh_model_info()
        if self._index_again and not self._closed:
            self.start_indexing()

    def _on_folder_changed(self) -> None:
        logger.info("the album folder changed; indexing again")
        self.start_indexing()

    def _on_task_failed(self, exc: BaseException) -> None:
        self.error_raised.emit(describe(exc))
