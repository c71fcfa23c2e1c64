"""The photo grid: a thin list model over core's grid rows, and a fast icon-mode view.

calibre's cover grid: ``QListView`` in icon mode with uniform item sizes and one delegate; the
model answers the thumbnail role from the image loader's LRU (which fetches what is missing in
the background) and repaints just the row whose thumbnail arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

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
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QWidget

from app.gui.delegate import FAILURE_ROLE, ROW_ROLE, ThumbnailDelegate
from app.gui.imageloader import ImageLoader
from core.browse import GridRow

logger = logging.getLogger(__name__)

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class RowsDiff:
    """New rows for the grid, compared (off the GUI thread) with the ones it showed."""

    rows: list[GridRow]
    revision: int  # the model's revision the comparison was made against
    same_order: bool  # the same photos in the same order: only ``changed`` need repainting
    changed: list[GridRow]


def diff_rows(old: Sequence[GridRow], revision: int, new: list[GridRow]) -> RowsDiff:
    """Compare two row lists (cheap enough for a worker thread even at 100,000 rows)."""
    same = len(old) == len(new) and all(a.id == b.id for a, b in zip(old, new, strict=True))
    changed = [b for a, b in zip(old, new, strict=True) if a != b] if same else []
    return RowsDiff(new, revision, same, changed)


class PhotoGridModel(QAbstractListModel):
    """Rows of photos, as core's ``browse.grid_rows`` returns them."""

    def __init__(self, loader: ImageLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._rows: list[GridRow] = []
        self._row_of: dict[int, int] = {}
        self.revision = 0  # bumped whenever the list of photos is replaced
        loader.thumbnail_loaded.connect(self._on_thumbnail_loaded)
        loader.thumbnail_failed.connect(self._on_thumbnail_failed)

    # -- the adapter ----------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
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

    # -- updates --------------------------------------------------------------------------
    @property
    def rows(self) -> list[GridRow]:
        return self._rows

    def row_of(self, photo_id: int) -> int | None:
        return self._row_of.get(photo_id)

    def apply(self, diff: RowsDiff) -> bool:
        """Show the rows of a diff; returns True when the list changed (not only details)."""
        if diff.same_order and diff.revision == self.revision:
            self.update_rows(diff.changed)
            return False
        return self.set_rows(diff.rows)

    def set_rows(self, rows: list[GridRow]) -> bool:
        """Show these rows; returns True when the list changed (not only row details)."""
        if len(rows) == len(self._rows) and all(
                a.id == b.id for a, b in zip(rows, self._rows, strict=True)):
            self.update_rows(rows)
            return False
        self.revision += 1
        self.beginResetModel()
        self._rows = list(rows)
        self._row_of = {r.id: i for i, r in enumerate(self._rows)}
        self.endResetModel()
        return True

    def update_rows(self, rows: Sequence[GridRow]) -> None:
        """Fresh details (status, review flag) of rows already shown; repaint just those."""
        for fresh in rows:
            i = self._row_of.get(fresh.id)
            if i is None or self._rows[i] == fresh:
                continue
            old = self._rows[i]
            self._rows[i] = fresh
            if (old.size, old.mtime_ns, old.status) != (fresh.size, fresh.mtime_ns,
                                                       fresh.status):
                self._loader.forget([fresh.id])
            index = self.index(i)
            self.dataChanged.emit(index, index)

    def _on_thumbnail_loaded(self, photo_id: int) -> None:
        i = self._row_of.get(photo_id)
        if i is not None:
            index = self.index(i)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _on_thumbnail_failed(self, photo_id: int, reason: str) -> None:
        self._on_thumbnail_loaded(photo_id)


class PhotoGridView(QListView):
    """The grid. Emits what is selected as core rows, and asks for a preview on Space."""

    selection_changed = Signal(object)  # list[GridRow]
    preview_requested = Signal(object)  # GridRow

    def __init__(self, model: PhotoGridModel, loader: ImageLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self.setObjectName("photoGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        # Laying out 100,000 cells takes a moment: not on every pixel of a window resize,
        # but once the size settles (see resizeEvent).
        self.setResizeMode(QListView.ResizeMode.Fixed)
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(120)
        self._relayout.timeout.connect(self._fit_columns)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setSpacing(0)
        self.setContentsMargins(0, 0, 0, 0)
        self.setViewportMargins(8, 8, 0, 8)
        self.setFrameShape(QListView.Shape.NoFrame)
        self._quiet = False  # show_rows is putting the selection back: no signal yet
        self._pending: tuple[set[int], GridRow, int | None] | None = None
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
        # QListView lays out as if a scroll bar of the style's width were there, and wraps
        # a row once it reaches the edge.
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = self.maximumViewportSize().width() - extent - 1
        natural = self.delegate.cell_size()
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
    def selected_rows(self) -> list[GridRow]:
        rows = self.photo_model().rows
        out: list[GridRow] = []
        for rng in self.selectionModel().selection():
            out += rows[rng.top() : rng.bottom() + 1]
        return out

    def current_row(self) -> GridRow | None:
        index = self.currentIndex()
        return index.data(ROW_ROLE) if index.isValid() else None

    def show_rows(self, rows: list[GridRow] | RowsDiff, *, complete: bool = True) -> None:
        """Replace the rows, keeping the selection, the current photo and its place in view.

        The current photo stays where it was on screen when it was in view (indexing
        re-sorts, a new sort order); otherwise the photo at the top stays at the top. A
        partial answer (``complete`` False, the first screen) that lacks the current photo
        changes nothing the user sees of the selection: the full answer restores it.
        """
        model = self.photo_model()
        pending, self._pending = self._pending, None
        before = [r.id for r in self.selected_rows()]
        if pending is not None:
            selected, current, offset = pending
        else:
            selected, current = set(before), self.current_row()
            offset = self._offset_in_view(self.currentIndex())
        current_pos = self.currentIndex().row()
        top = self.indexAt(QPoint(self.delegate.pad * 2, self.delegate.pad * 2))
        anchor = top.data(ROW_ROLE) if top.isValid() else None
        self._quiet = True
        try:
            changed = model.apply(rows) if isinstance(rows, RowsDiff) else model.set_rows(rows)
            if changed or pending is not None:
                if not complete and current is not None:  # the full answer places it
                    self._pending = (selected, current, offset)
                self._restore(selected, current, current_pos, anchor, offset)
        finally:
            self._quiet = False
        if complete:
            self._reorder = False
        shown = current is not None and model.row_of(current.id) is not None
        if ((self._pending is None or shown)
                and [r.id for r in self.selected_rows()] != before):
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

    def _restore(self, selected: set[int], current: GridRow | None, current_pos: int,
                 anchor: GridRow | None, offset: int | None) -> None:
        model = self.photo_model()
        c = model.row_of(current.id) if current is not None else None
        if c is not None and offset is not None:  # the current photo stays put on screen
            self.executeDelayedItemsLayout()
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() + self.visualRect(model.index(c)).top() - offset)
        elif c is not None and self._reorder:
            self.scrollTo(model.index(c), QAbstractItemView.ScrollHint.PositionAtCenter)
        elif self._reorder and self._pending is None:
            self.scrollToTop()
        elif anchor is not None and (a := model.row_of(anchor.id)) is not None:
            self.scrollTo(model.index(a), QAbstractItemView.ScrollHint.PositionAtTop)
        if self._pending is not None and c is None:
            return  # the current photo is in the full answer still to come
        rows = sorted(i for pid in selected if (i := model.row_of(pid)) is not None)
        if c is not None:
            self.selectionModel().setCurrentIndex(model.index(c),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)
        elif current_pos >= 0 and model.rowCount():
            c = min(current_pos, model.rowCount() - 1)
            self.selectionModel().setCurrentIndex(model.index(c),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)
            if selected and not rows:
                rows = [c]  # the photo the user was on left this view: move to its neighbour
        self.select_rows(rows)

    def select_rows(self, rows: Sequence[int]) -> None:
        """Select exactly these row numbers (sorted), as few ranges as possible."""
        model = self.photo_model()
        selection = QItemSelection()
        start = prev = None
        for r in [*rows, None]:
            if r is not None and prev is not None and r == prev + 1:
                prev = r
                continue
            if start is not None:
                selection.select(model.index(start), model.index(prev))
            start = prev = r
        self.selectionModel().select(selection,
                                     QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def select_photo(self, photo_id: int) -> bool:
        row = self.photo_model().row_of(photo_id)
        if row is None:
            return False
        index = self.photo_model().index(row)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.scrollTo(index)
        return True

    def step(self, delta: int) -> GridRow | None:
        """Move the current photo by ``delta`` rows of the list (the preview's arrows)."""
        model = self.photo_model()
        if not model.rowCount():
            return None
        row = min(max(self.currentIndex().row() + delta, 0), model.rowCount() - 1)
        self.select_photo(model.rows[row].id)
        return model.rows[row]

    def _on_selection_changed(self, *_: object) -> None:
        if not self._quiet:  # show_rows emits once, after the rows are back in place
            self.selection_changed.emit(self.selected_rows())

    def _on_double_clicked(self, index: QModelIndex) -> None:
        row = index.data(ROW_ROLE)
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
