"""A view of equal cells in rows, left to right, whose layout is arithmetic.

``QListView`` lays out every item when its model resets: about 2.5 s for a million photos in
list mode and 4.5 s in icon mode on this machine, before anything is painted. Here a cell's
place is computed from its row number (``row // columns``, ``row % columns``), so a model of
any size costs nothing to lay out; painting, hit testing and the keyboard touch only the cells
on screen. Selection is by ranges of rows, so selecting a million photos is one range.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPoint, QRect, QSize
from PySide6.QtGui import QCursor, QMouseEvent, QPainter, QPaintEvent, QRegion
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QWidget

_Move = QAbstractItemView.CursorAction


class UniformGridView(QAbstractItemView):
    """Cells of ``grid_size()`` in as many columns as fit; vertical scrolling by pixel."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cell = QSize(192, 212)  # the grid's pitch
        self._item: QSize | None = None  # an item's own size, at the left of its cell
        self._hover = -1
        self.setMouseTracking(True)

    # -- geometry -------------------------------------------------------------------------
    def gridSize(self) -> QSize:
        return QSize(self._cell)

    def setGridSize(self, size: QSize) -> None:
        if size != self._cell and size.width() > 0 and size.height() > 0:
            self._cell = QSize(size)
            self.scheduleDelayedItemsLayout()

    def set_item_size(self, size: QSize | None) -> None:
        """Items narrower than the grid's cells sit at the cell's left (None: fill it)."""
        self._item = QSize(size) if size is not None else None

    def _item_width(self) -> int:
        width = self._cell.width()
        return min(width, self._item.width()) if self._item is not None else width

    def columns(self) -> int:
        return max(1, self.viewport().width() // max(1, self._cell.width()))

    def _count(self) -> int:
        model = self.model()
        return model.rowCount() if model is not None else 0

    def _lines(self) -> int:
        return -(-self._count() // self.columns())

    def _cell_rect(self, row: int) -> QRect:
        cols = self.columns()
        return QRect(
            (row % cols) * self._cell.width(),
            (row // cols) * self._cell.height() - self.verticalOffset(),
            self._item_width(),
            self._cell.height(),
        )

    def _row_at(self, point: QPoint) -> int:
        col = point.x() // max(1, self._cell.width())
        line = (point.y() + self.verticalOffset()) // max(1, self._cell.height())
        if (
            point.x() < 0
            or col >= self.columns()
            or line < 0
            or point.x() - col * self._cell.width() >= self._item_width()
        ):
            return -1
        row = line * self.columns() + col
        return row if row < self._count() else -1

    def visualRect(self, index: QModelIndex) -> QRect:
        if not index.isValid() or index.row() >= self._count():
            return QRect()
        return self._cell_rect(index.row())

    def indexAt(self, point: QPoint) -> QModelIndex:
        row = self._row_at(point)
        model = self.model()
        return model.index(row, 0, self.rootIndex()) if row >= 0 and model else QModelIndex()

    def scrollTo(
        self,
        index: QModelIndex,
        hint: QAbstractItemView.ScrollHint = QAbstractItemView.ScrollHint.EnsureVisible,
    ) -> None:
        if not index.isValid():
            return
        self.executeDelayedItemsLayout()
        bar = self.verticalScrollBar()
        top = (index.row() // self.columns()) * self._cell.height()
        height, cell = self.viewport().height(), self._cell.height()
        hints = QAbstractItemView.ScrollHint
        if hint == hints.PositionAtTop:
            bar.setValue(top)
        elif hint == hints.PositionAtBottom:
            bar.setValue(top + cell - height)
        elif hint == hints.PositionAtCenter:
            bar.setValue(top - (height - cell) // 2)
        elif top < bar.value():
            bar.setValue(top)
        elif top + cell > bar.value() + height:
            bar.setValue(top + cell - height)

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex) -> bool:
        return False

    def updateGeometries(self) -> None:
        bar = self.verticalScrollBar()
        height = self.viewport().height()
        bar.setRange(0, max(0, self._lines() * self._cell.height() - height))
        bar.setPageStep(max(1, height))
        super().updateGeometries()

    # -- keyboard and selection -----------------------------------------------------------
    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: object) -> QModelIndex:
        count = self._count()
        if not count:
            return QModelIndex()
        current = self.currentIndex()
        row = current.row() if current.isValid() else -1
        if row < 0:
            row = 0
        else:
            cols = self.columns()
            page = max(1, self.viewport().height() // max(1, self._cell.height())) * cols
            step = {
                _Move.MoveLeft: -1,
                _Move.MovePrevious: -1,
                _Move.MoveRight: 1,
                _Move.MoveNext: 1,
                _Move.MoveUp: -cols,
                _Move.MoveDown: cols,
                _Move.MovePageUp: -page,
                _Move.MovePageDown: page,
            }.get(action)
            if action == _Move.MoveHome:
                row = 0
            elif action == _Move.MoveEnd:
                row = count - 1
            elif step is not None:
                row = (
                    row + step
                    if 0 <= row + step < count
                    else (row if abs(step) == 1 else min(max(row + step, 0), count - 1))
                )
        model = self.model()
        return model.index(row, 0, self.rootIndex()) if model is not None else QModelIndex()

    def setSelection(self, rect: QRect, command: QItemSelectionModel.SelectionFlag) -> None:
        """Select the photos from the cell at one corner of ``rect`` to the cell at the other,
        in reading order (as a shift-click does in a photo manager)."""
        model = self.model()
        if model is None or not self._count():
            return
        ends = sorted(self._nearest(p) for p in (rect.topLeft(), rect.bottomRight()))
        selection = QItemSelection(
            model.index(ends[0], 0, self.rootIndex()), model.index(ends[1], 0, self.rootIndex())
        )
        if rect.width() <= 1 and rect.height() <= 1 and self._row_at(rect.topLeft()) < 0:
            selection = QItemSelection()  # a click on empty space
        self.selectionModel().select(selection, command)

    def _nearest(self, point: QPoint) -> int:
        col = min(max(point.x() // max(1, self._cell.width()), 0), self.columns() - 1)
        line = max((point.y() + self.verticalOffset()) // max(1, self._cell.height()), 0)
        return min(line * self.columns() + col, self._count() - 1)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        return QRegion(self.viewport().rect()) if not selection.isEmpty() else QRegion()

    # -- painting -------------------------------------------------------------------------
    def _visible_rows(self) -> range:
        cols, cell = self.columns(), max(1, self._cell.height())
        first = (self.verticalOffset() // cell) * cols
        last = ((self.verticalOffset() + self.viewport().height()) // cell + 1) * cols
        return range(first, min(last, self._count()))

    def paintEvent(self, event: QPaintEvent) -> None:
        model, delegate = self.model(), self.itemDelegate()
        if model is None or delegate is None:
            return
        painter = QPainter(self.viewport())
        current = self.currentIndex()
        selection = self.selectionModel()
        hover = (
            self._row_at(self.viewport().mapFromGlobal(QCursor.pos()))
            if self.viewport().underMouse()
            else -1
        )
        region = event.rect()
        for row in self._visible_rows():
            rect = self._cell_rect(row)
            if not rect.intersects(region):
                continue
            index = model.index(row, 0, self.rootIndex())
            option = QStyleOptionViewItem()
            self.initViewItemOption(option)
            option.rect = rect
            state = option.state & ~(
                QStyle.StateFlag.State_Selected
                | QStyle.StateFlag.State_MouseOver
                | QStyle.StateFlag.State_HasFocus
            )
            if selection.isSelected(index):
                state |= QStyle.StateFlag.State_Selected
            if row == hover:
                state |= QStyle.StateFlag.State_MouseOver
            if index == current and self.hasFocus():
                state |= QStyle.StateFlag.State_HasFocus
            option.state = state
            delegate.paint(painter, option, index)
        painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        row = self._row_at(event.position().toPoint())
        if row != self._hover:
            for old in (self._hover, row):
                if old >= 0:
                    self.viewport().update(self._cell_rect(old))
            self._hover = row
