"""The photo grid: a list model over the ids of the photos shown, and a fast icon-mode view.

The model holds what a search answered — the photo ids in display order, a numpy array (8
bytes a photo) — and reads full rows (path, status, badges) by id only for what is on screen,
a page at a time and a page either side, through the browser's database thread; a bounded LRU
keeps the rows read last. A million-photo album therefore costs the grid a few megabytes, not
a row object per photo. The view lays its cells out by arithmetic
(:mod:`app.gui.gridview`; ``QListView`` took seconds to lay out a million), with one
delegate; the model answers the thumbnail role from the image loader's LRU
(which fetches what is missing in the background) and repaints just the row whose thumbnail
or details arrived.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QFrame, QStyle, QWidget

from app.gui.delegate import FAILURE_ROLE, ROW_ROLE, ThumbnailDelegate
from app.gui.gridview import UniformGridView
from app.gui.imageloader import ImageLoader
from core.browse import GridRow

logger = logging.getLogger(__name__)

_Index = QModelIndex | QPersistentModelIndex

#: Rows read at a time when the view needs rows it does not hold.
PAGE = 200
#: Rows the model keeps (least recently used ones go first): about 30 screens.
CACHE_ROWS = 6000
#: Rows a refresh re-reads to keep what is on screen fresh (the most recently used ones).
REFRESHED_ROWS = 1000

#: ``fetch(ids, done)``: read these photos' rows off the GUI thread, then ``done(rows)`` on it;
#: False when there is nothing to read from (no album).
Fetcher = Callable[[list[int], Callable[[list[GridRow]], None]], bool]

_NO_IDS = np.empty(0, dtype=np.int64)


def positions(ids: np.ndarray) -> np.ndarray:
    """Where each photo id sits in ``ids`` (-1 where it does not): an array indexed by id."""
    size = int(ids.max()) + 1 if len(ids) else 0
    out = np.full(size, -1, dtype=np.int32 if len(ids) < 2**31 else np.int64)
    out[ids] = np.arange(len(ids), dtype=out.dtype)
    return out


@dataclass(frozen=True)
class IdsAnswer:
    """What the grid should show, as the database thread answered it."""

    ids: np.ndarray  # photo ids in display order
    positions: np.ndarray  # :func:`positions` of ``ids``
    rows: list[GridRow]  # rows read with the answer: the first screen, fresh copies of held rows
    revision: int  # the model's revision the answer was compared against
    same_order: bool  # the same ids in the same order as that revision showed


def ids_answer(ids: np.ndarray, old: np.ndarray, revision: int, rows: list[GridRow]) -> IdsAnswer:
    """Compare new ids with the ones shown (cheap enough for a worker thread at a million)."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    ids.flags.writeable = False
    return IdsAnswer(ids, positions(ids), rows, revision, bool(np.array_equal(ids, old)))


class PhotoGridModel(QAbstractListModel):
    """The photos a grid shows: their ids in order, and the rows of those seen lately."""

    def __init__(self, loader: ImageLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._ids: np.ndarray = _NO_IDS
        self._pos: np.ndarray = positions(_NO_IDS)
        self._cache: OrderedDict[int, GridRow] = OrderedDict()  # LRU, newest last
        self._given: dict[int, GridRow] = {}  # rows handed in whole (set_rows): never dropped
        self._held: dict[int, GridRow] = {}  # rows of the selection, while it is selected
        self._asked: set[int] = set()  # pages being read for this revision
        self._gone: set[int] = set()  # ids read for this revision that the album no longer has
        self._fetch: Fetcher | None = None
        self.capacity = CACHE_ROWS
        self.revision = 0  # bumped whenever the list of photos is replaced
        loader.thumbnail_loaded.connect(self._on_thumbnail_loaded)
        loader.thumbnail_failed.connect(self._on_thumbnail_failed)

    def set_fetcher(self, fetch: Fetcher | None) -> None:
        """How rows the model does not hold are read (without one, only given rows show)."""
        self._fetch = fetch

    def read(self, photo_ids: list[int], done: Callable[[list[GridRow]], None]) -> bool:
        """Read these photos' rows off the GUI thread; False when there is no reader."""
        return self._fetch is not None and self._fetch(photo_ids, done)

    # -- the adapter ----------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._ids):
            return None
        row = self.row_at(index.row())
        if row is None:
            self._want(index.row())
            return None
        if role == Qt.ItemDataRole.DecorationRole:
            return self._loader.pixmap(row)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name
        if role == FAILURE_ROLE:
            return row.error if row.status == "error" else self._loader.failure(row.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            reason = row.error if row.status == "error" else self._loader.failure(row.id)
            return f"{row.shown_path}\nCannot be read: {reason}" if reason else row.shown_path
        return None

    # -- ids and rows ---------------------------------------------------------------------
    @property
    def ids(self) -> np.ndarray:
        """The photo ids shown, in order (read-only)."""
        return self._ids

    @property
    def rows(self) -> list[GridRow | None]:
        """Every row in order, None where not read yet: a copy, for small grids and tests."""
        return [self.row_at(i) for i in range(len(self._ids))]

    def id_at(self, row: int) -> int:
        return int(self._ids[row])

    def row_at(self, row: int) -> GridRow | None:
        """The row at a position, if the model holds it (no read)."""
        return self.row_by_id(int(self._ids[row]))

    def row_by_id(self, photo_id: int) -> GridRow | None:
        row = self._cache.get(photo_id)
        if row is not None:
            self._cache.move_to_end(photo_id)
            return row
        return self._given.get(photo_id) or self._held.get(photo_id)

    def row_of(self, photo_id: int) -> int | None:
        if 0 <= photo_id < len(self._pos) and (i := int(self._pos[photo_id])) >= 0:
            return i
        return None

    def rows_of(self, photo_ids: np.ndarray) -> np.ndarray:
        """Positions of these photos that are shown, sorted (the others left out)."""
        photo_ids = np.asarray(photo_ids, dtype=np.int64)
        inside = photo_ids[(photo_ids >= 0) & (photo_ids < len(self._pos))]
        found = self._pos[inside]
        return np.sort(found[found >= 0]).astype(np.int64)

    def recent_ids(self, limit: int = REFRESHED_ROWS) -> list[int]:
        """The ids of the rows used last (at most ``limit``), to re-read on a refresh."""
        out: list[int] = []
        for pid in reversed(self._cache):
            if len(out) >= limit:
                break
            out.append(pid)
        return out

    def hold(self, rows: Sequence[GridRow], keep: set[int]) -> None:
        """Keep these rows while their photos are selected (``keep``: the selected ids)."""
        self._held = {pid: r for pid, r in self._held.items() if pid in keep}
        self._held.update((r.id, r) for r in rows)

    def _want(self, row: int) -> None:
        """Read the page holding ``row`` and the pages either side, unless asked already."""
        if self._fetch is None:
            return
        page = row // PAGE
        last = (len(self._ids) - 1) // PAGE
        wanted: list[int] = []
        pages = []
        for p in (page, page + 1, page - 1):
            if 0 <= p <= last and p not in self._asked:
                ids = self._ids[p * PAGE : (p + 1) * PAGE].tolist()
                missing = [i for i in ids if self.row_by_id(i) is None and i not in self._gone]
                self._asked.add(p)
                if missing:
                    pages.append(p)
                    wanted += missing
        if not wanted:
            return
        revision = self.revision
        if not self._fetch(wanted, lambda rows: self._on_fetched(revision, pages, wanted, rows)):
            self._asked.difference_update(pages)

    def _on_fetched(
        self, revision: int, pages: list[int], wanted: list[int], rows: list[GridRow]
    ) -> None:
        if revision == self.revision:
            self._asked.difference_update(pages)
            if len(rows) < len(wanted):  # deleted meanwhile: not asked again (no read loop)
                self._gone.update(set(wanted) - {r.id for r in rows})
        self._remember(rows)
        shown = self.rows_of(np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows)))
        if len(shown):
            self.dataChanged.emit(self.index(int(shown[0])), self.index(int(shown[-1])))

    def _remember(self, rows: Sequence[GridRow]) -> None:
        cache = self._cache
        for r in rows:
            cache[r.id] = r
            cache.move_to_end(r.id)
        while len(cache) > self.capacity:
            cache.popitem(last=False)

    # -- updates --------------------------------------------------------------------------
    def apply(self, answer: IdsAnswer) -> bool:
        """Show an answer; returns True when the list changed (not only details)."""
        if answer.same_order and answer.revision == self.revision:
            self.update_rows(answer.rows)
            return False
        self._replace(answer.ids, answer.positions, answer.rows)
        return True

    def set_rows(self, rows: list[GridRow]) -> bool:
        """Show exactly these rows, all held; returns True when the list changed."""
        ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
        if np.array_equal(ids, self._ids):
            self._given = {r.id: r for r in rows}
            self.update_rows(rows)
            return False
        self._given = {r.id: r for r in rows}
        self._replace(ids, positions(ids), [])
        return True

    def _replace(self, ids: np.ndarray, pos: np.ndarray, rows: Sequence[GridRow]) -> None:
        self.revision += 1
        self.beginResetModel()
        self._ids, self._pos = ids, pos
        self._asked.clear()
        self._gone.clear()
        self._remember(rows)
        self.endResetModel()

    def update_rows(self, rows: Sequence[GridRow]) -> None:
        """Fresh details (status, badges) of photos; repaint just those shown."""
        for fresh in rows:
            old = self.row_by_id(fresh.id)
            if old == fresh:
                continue
            if fresh.id in self._given:
                self._given[fresh.id] = fresh
            if fresh.id in self._held:
                self._held[fresh.id] = fresh
            if fresh.id in self._cache or fresh.id not in self._given:
                self._remember([fresh])
            if old is not None and (old.size, old.mtime_ns, old.status) != (
                fresh.size,
                fresh.mtime_ns,
                fresh.status,
            ):
                self._loader.forget([fresh.id])
            i = self.row_of(fresh.id)
            if i is not None:
                index = self.index(i)
                self.dataChanged.emit(index, index)

    def _on_thumbnail_loaded(self, photo_id: int) -> None:
        i = self.row_of(photo_id)
        if i is not None:
            index = self.index(i)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _on_thumbnail_failed(self, photo_id: int, reason: str) -> None:
        self._on_thumbnail_loaded(photo_id)


class PhotoGridView(UniformGridView):
    """The grid. Emits what is selected as core rows, and asks for a preview on Space."""

    selection_changed = Signal(object)  # list[GridRow]
    preview_requested = Signal(object)  # GridRow

    def __init__(
        self, model: PhotoGridModel, loader: ImageLoader, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._loader = loader
        self.setObjectName("photoGrid")
        # The columns are fitted once a window resize settles (see resizeEvent).
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(120)
        self._relayout.timeout.connect(self._fit_columns)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContentsMargins(0, 0, 0, 0)
        self.setViewportMargins(8, 8, 0, 8)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._quiet = False  # show_rows is putting the selection back: no signal yet
        self._pending: tuple[np.ndarray, int, int | None] | None = None
        self._reorder = False
        self.delegate = ThumbnailDelegate(loader, self)
        self.setItemDelegate(self.delegate)
        self.setModel(model)
        self.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.doubleClicked.connect(self._on_double_clicked)
        self.verticalScrollBar().setSingleStep(24)

    def photo_model(self) -> PhotoGridModel:
        model = self.model()
        assert isinstance(model, PhotoGridModel)
        return model

    def set_thumb_side(self, side: int) -> None:
        self.delegate.set_side(side)
        self.verticalScrollBar().setSingleStep(max(24, side // 4))
        self._fit_columns(force=True)
        self._update_capacity()

    def _fit_columns(self, *, force: bool = False) -> None:
        """As many columns as fit, sharing the spare width between them (a grid of cells)."""
        self._relayout.stop()
        # The width left when the scroll bar shows, so that it showing changes nothing.
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = self.maximumViewportSize().width() - extent - 1
        natural = self.delegate.cell_size()
        self.set_item_size(natural)
        columns = max(1, width // natural.width())
        grid = QSize(max(natural.width(), width // columns), natural.height())
        if grid != self.gridSize():
            self.setGridSize(grid)
        elif force:
            self.scheduleDelayedItemsLayout()

    def set_stale(self, stale: bool) -> None:
        """Dim the rows: they answer an earlier search, not the one in the search bar."""
        if stale != self.delegate.dimmed:
            self.delegate.dimmed = stale
            self.viewport().update()

    # -- rows and selection ---------------------------------------------------------------
    def selected_ids(self) -> np.ndarray:
        """The selected photos' ids, in grid order."""
        ids = self.photo_model().ids
        parts = [ids[rng.top() : rng.bottom() + 1] for rng in self.selectionModel().selection()]
        if not parts:
            return _NO_IDS
        if len(parts) == 1:
            return parts[0]
        model = self.photo_model()
        return model.ids[model.rows_of(np.concatenate(parts))]  # ranges in grid order

    def selected_rows(self) -> list[GridRow]:
        """The selected photos' rows that the grid holds (all of them once
        ``selection_changed`` has been emitted for this selection)."""
        model = self.photo_model()
        return [
            r for pid in self.selected_ids().tolist() if (r := model.row_by_id(pid)) is not None
        ]

    def current_id(self) -> int | None:
        index = self.currentIndex()
        return self.photo_model().id_at(index.row()) if index.isValid() else None

    def current_row(self) -> GridRow | None:
        index = self.currentIndex()
        return self.photo_model().row_at(index.row()) if index.isValid() else None

    def show_rows(self, rows: list[GridRow] | IdsAnswer, *, complete: bool = True) -> None:
        """Replace the photos, keeping the selection, the current photo and its place in view.

        The current photo stays where it was on screen when it was in view (indexing
        re-sorts, a new sort order); otherwise the photo at the top stays at the top.
        ``complete`` False (a partial answer) that lacks the current photo changes nothing the
        user sees of the selection: the next complete answer restores it.
        """
        model = self.photo_model()
        pending, self._pending = self._pending, None
        before = self.selected_ids()
        if pending is not None:
            selected, current, offset = pending
        else:
            selected, current = before, self.current_id()
            offset = self._offset_in_view(self.currentIndex())
        current_pos = self.currentIndex().row()
        top = self.indexAt(QPoint(self.delegate.pad * 2, self.delegate.pad * 2))
        anchor = model.id_at(top.row()) if top.isValid() else None
        self._quiet = True
        try:
            changed = model.apply(rows) if isinstance(rows, IdsAnswer) else model.set_rows(rows)
            if changed or pending is not None:
                if not complete and current is not None:  # a later answer places it
                    self._pending = (selected, current, offset)
                self._restore(selected, current, current_pos, anchor, offset)
        finally:
            self._quiet = False
        if complete:
            self._reorder = False
        shown = current is not None and model.row_of(current) is not None
        if (self._pending is None or shown) and not np.array_equal(self.selected_ids(), before):
            self._on_selection_changed()

    def expect_reorder(self) -> None:
        """The user changed the sort order: the next rows bring the current photo into view."""
        self._reorder = True

    def _offset_in_view(self, index: QModelIndex) -> int | None:
        """Where a photo's cell starts in the viewport, if it can be seen at all."""
        if not index.isValid():
            return None
        rect = self.visualRect(index)
        return rect.top() if rect.intersects(self.viewport().rect()) else None

    def _restore(
        self,
        selected: np.ndarray,
        current: int | None,
        current_pos: int,
        anchor: int | None,
        offset: int | None,
    ) -> None:
        model = self.photo_model()
        c = model.row_of(current) if current is not None else None
        if c is not None and offset is not None:  # the current photo stays put on screen
            self.executeDelayedItemsLayout()
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() + self.visualRect(model.index(c)).top() - offset)
        elif c is not None and self._reorder:
            self.scrollTo(model.index(c), QAbstractItemView.ScrollHint.PositionAtCenter)
        elif self._reorder and self._pending is None:
            self.scrollToTop()
        elif anchor is not None and (a := model.row_of(anchor)) is not None:
            self.scrollTo(model.index(a), QAbstractItemView.ScrollHint.PositionAtTop)
        if self._pending is not None and c is None:
            return  # the current photo is in an answer still to come
        rows = model.rows_of(selected)
        if c is not None:
            self.selectionModel().setCurrentIndex(
                model.index(c), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        elif current_pos >= 0 and model.rowCount():
            c = min(current_pos, model.rowCount() - 1)
            self.selectionModel().setCurrentIndex(
                model.index(c), QItemSelectionModel.SelectionFlag.NoUpdate
            )
            if len(selected) and not len(rows):
                rows = np.array([c])  # the photo the user was on left this view: its neighbour
        self.select_rows(rows)

    def select_rows(self, rows: Sequence[int] | np.ndarray) -> None:
        """Select exactly these row numbers (sorted), as few ranges as possible."""
        model = self.photo_model()
        rows = np.asarray(rows, dtype=np.int64)
        selection = QItemSelection()
        if len(rows):
            breaks = np.flatnonzero(np.diff(rows) != 1)
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [len(rows) - 1]])
            for a, b in zip(rows[starts].tolist(), rows[ends].tolist(), strict=True):
                selection.select(model.index(a), model.index(b))
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def select_photo(self, photo_id: int) -> bool:
        row = self.photo_model().row_of(photo_id)
        if row is None:
            return False
        index = self.photo_model().index(row)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.scrollTo(index)
        return True

    def step(self, delta: int) -> GridRow | None:
        """Move the current photo by ``delta`` rows of the list (the preview's arrows)."""
        model = self.photo_model()
        if not model.rowCount():
            return None
        row = min(max(self.currentIndex().row() + delta, 0), model.rowCount() - 1)
        self.select_photo(model.id_at(row))
        return model.row_at(row)

    def _on_selection_changed(self, *_: object) -> None:
        """Emit the selection's rows, once the grid holds all of them (a big selection's rows
        are read first, off the GUI thread)."""
        if self._quiet:  # show_rows emits once, after the rows are back in place
            return
        model = self.photo_model()
        ids = self.selected_ids()
        missing = [pid for pid in ids.tolist() if model.row_by_id(pid) is None]
        if not missing:
            model.hold([], set(ids.tolist()))
            self.selection_changed.emit(self.selected_rows())
            return

        def read(rows: list[GridRow]) -> None:
            now = self.selected_ids()
            if np.array_equal(now, ids):
                model.hold(rows, set(now.tolist()))
                self.selection_changed.emit(self.selected_rows())

        if not model.read(missing, read):
            self.selection_changed.emit(self.selected_rows())

    def _on_double_clicked(self, index: QModelIndex) -> None:
        row = self.photo_model().row_at(index.row()) if index.isValid() else None
        if row is not None:
            self.preview_requested.emit(row)

    # -- events ---------------------------------------------------------------------------
    def keyboardSearch(self, search: str) -> None:
        """Typing in the grid does not jump to file names (letters are shortcuts here)."""

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._relayout.start()
        self._update_capacity()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_columns()

    def stop(self) -> None:
        """Stop the pending relayout (the window is closing)."""
        self._relayout.stop()

    def _update_capacity(self) -> None:
        cell = self.gridSize() if self.gridSize().isValid() else self.delegate.cell_size()
        cols = max(1, self.viewport().width() // max(1, cell.width()))
        rows = max(1, self.viewport().height() // max(1, cell.height()) + 1)
        self._loader.set_capacity(cols * rows * 3)
