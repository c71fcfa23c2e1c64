"""Browser: keeps the grid and the tag tree in line with the album, the filter and the search.

Every view — the tag tree's choice, the search bar, the sort order — is one call of
``core.browse.grid_ids`` on the database thread: the search engine's ordered id array, the
same path as ``albumtag search``. The grid holds only those ids and reads rows by id for what
it shows (through :meth:`Browser.read_rows`). Answers that a newer question made stale are
dropped, and while indexing runs the browser refreshes at most every ``refresh_interval`` ms,
so the grid fills in as tags arrive without a query per photo.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.gui.grid import IdsAnswer, PhotoGridView, ids_answer
from app.gui.imageloader import ImageLoader
from app.gui.session import AlbumSession
from app.gui.sidebar import Filter, TagTree
from core import browse
from core.errors import QueryError
from core.library import Library
from core.search.folders import folder_tree

logger = logging.getLogger(__name__)


class Browser(QObject):
    """What the grid shows: a filter from the tree plus a search from the search bar."""

    rows_shown = Signal(int, bool)  # photos the grid shows now; whether that is all of them
    filter_changed = Signal(object)  # the Filter now shown
    query_failed = Signal(str)  # a message for the search bar
    query_accepted = Signal()
    order_shown = Signal(str)  # the sort order the grid uses now (Needs review keeps its own)
    words_loaded = Signal(list)  # label names and aliases, for completion

    def __init__(
        self,
        session: AlbumSession,
        grid: PhotoGridView,
        tree: TagTree,
        loader: ImageLoader,
        *,
        refresh_interval: int = 800,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._grid = grid
        self._tree = tree
        self._loader = loader
        self.filter = Filter()
        self.query = ""
        self.order = browse.Order.TAKEN
        #: Needs review's own order: what an answer would teach first (issue 14.2), unless the
        #: user picks another while looking at it.
        self.review_order = browse.Order.TEACHES
        self.shown_query = ""  # the search the grid's rows answer (the last one that worked)
        self.error: QueryError | None = None  # why the search in the bar failed, if it did
        self._busy = False  # a rows query is in flight
        self._again = False
        self.first_screen = 400  # rows read with the ids when the photos shown change
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(refresh_interval)
        self._timer.timeout.connect(self._on_timer_timeout)
        session.opened.connect(self._on_opened)
        session.tags_changed.connect(self._on_tags_changed)
        session.labels_changed.connect(self._on_labels_changed)
        session.indexing_progressed.connect(self._on_indexing_progressed)
        tree.filter_chosen.connect(self._on_filter_chosen)
        grid.photo_model().set_fetcher(self.read_rows)

    # -- what to show ---------------------------------------------------------------------
    def set_filter(self, flt: Filter) -> None:
        self._tree.select_filter(flt, emit=False)
        self._on_filter_chosen(flt)

    def set_query(self, text: str) -> None:
        self.query = text
        self.refresh_rows(first_screen=True)

    @property
    def shown_order(self) -> browse.Order:
        """The order the grid sorts by now: Needs review has its own."""
        return self.review_order if self.filter.scope == browse.Scope.REVIEW else self.order

    def set_order(self, order: str) -> None:
        if self.filter.scope == browse.Scope.REVIEW:
            self.review_order = browse.Order(order)
        else:
            self.order = browse.Order(order)
        self._grid.expect_reorder()
        self.order_shown.emit(self.shown_order.value)
        self.refresh_rows(first_screen=True)

    def _key(self) -> tuple:
        return (self.filter, self.query, self.shown_order)

    def _on_filter_chosen(self, flt: Filter) -> None:
        before = self.shown_order
        self.filter = flt
        self.filter_changed.emit(flt)
        if self.shown_order != before:
            self.order_shown.emit(self.shown_order.value)
        self.refresh_rows(first_screen=True)

    # -- asking the session ---------------------------------------------------------------
    def refresh(self) -> None:
        """Ask again for the rows and the tree counts."""
        self.refresh_rows()
        self.refresh_tree()

    def refresh_rows(self, *, first_screen: bool = False) -> None:
        """Ask for the photos shown again. Every answer comes whole, with the rows of its first
        screen; ``first_screen`` is accepted for the callers that ask after a new view."""
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._again = False
        key = self._key()
        model = self._grid.photo_model()
        if not self._ask(key, (model.ids, model.revision, model.recent_ids())):
            self._busy = False  # no album yet: nothing to ask

    def read_rows(self, photo_ids: list[int], done: Callable[[list], None]) -> bool:
        """Read grid rows by id on the database thread (the grid's pages)."""
        return self._session.query(
            lambda library: browse.grid_rows_by_ids(library, photo_ids), done
        )

    def _ask(self, key: tuple, snapshot: tuple) -> bool:
        flt, text, order = key
        old, revision, held = snapshot
        first = self.first_screen

        def work(library: Library) -> IdsAnswer:
            ids = browse.grid_ids(
                library, text, flt.scope, flt.label_id, order, sidebar=flt.query
            )  # a folder's term (app.gui.folders)
            # The first screen comes with the ids, and fresh copies of the rows the grid
            # holds that are still shown (one read by id, however many photos there are).
            shown = ids[:first].tolist()
            seen = set(shown)
            wanted = shown + [i for i in held if i not in seen]
            return ids_answer(ids, old, revision, browse.grid_rows_by_ids(library, wanted))

        return self._session.query(
            work,
            lambda answer: self._on_rows(key, answer),
            lambda exc: self._on_rows_failed(key, exc),
        )

    def _on_rows(self, key: tuple, answer: IdsAnswer) -> None:
        if key == self._key():
            self._grid.show_rows(answer)
            self.shown_query, self.error = self.query, None
            self.query_accepted.emit()
            self.rows_shown.emit(len(answer.ids), True)
        self._busy = False
        if self._again:  # asked again meanwhile
            self.refresh_rows()

    def _on_rows_failed(self, key: tuple, exc: BaseException) -> None:
        self._busy = False
        if isinstance(exc, QueryError):
            if key == self._key():
                self.error = exc
                self.query_failed.emit(str(exc))
        else:
            logger.error("listing photos failed", exc_info=exc)
            self.query_failed.emit(f"cannot list photos: {exc}")
        if self._again:
            self.refresh_rows()

    def refresh_tree(self) -> None:
        def work(library: Library) -> tuple:
            return (
                library.label_tree(),
                browse.scope_counts(library),
                folder_tree(library.store.db),
                library.root.name,
            )

        self._session.query(work, lambda result: self._tree.set_content(*result))

    def refresh_words(self) -> None:
        self._session.query(browse.label_words, self.words_loaded.emit)

    # -- reacting to the session ----------------------------------------------------------
    def _on_opened(self, root: str) -> None:
        self._timer.stop()
        self._tree.tree_model.reset()
        self._tree.set_content([], browse.ScopeCounts())
        self.filter = Filter()
        self.filter_changed.emit(self.filter)
        self.query = self.shown_query = ""
        self.error = None
        self._grid.show_rows([])
        self.refresh_rows(first_screen=True)
        self.refresh_tree()
        self.refresh_words()

    def _on_tags_changed(self, photo_ids: object) -> None:
        if isinstance(photo_ids, list) and photo_ids:  # repaint the edited photos at once
            ids = list(photo_ids)
            self._session.query(
                lambda library: browse.grid_rows_by_ids(library, ids),
                self._grid.photo_model().update_rows,
            )
        self.refresh()

    def _on_labels_changed(self) -> None:
        self.refresh_words()
        self.refresh_tree()

    def _on_indexing_progressed(self, progress: object) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _on_timer_timeout(self) -> None:
        self.refresh()

    def stop(self) -> None:
        """Stop the refresh timer (the window is closing)."""
        self._timer.stop()
