"""The large preview (Space or double-click): the photo, big, with its tags underneath."""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.gui.grid import PhotoGridView
from app.gui.imageloader import ImageLoader
from app.gui.session import AlbumSession
from app.gui.theme import COLOURS
from core import browse
from core.browse import GridRow, TagSummary


class _Canvas(QWidget):
    """Paints a pixmap as large as fits, centred, on the dark canvas."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pixmap: QPixmap | None = None
        self.message = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(900, 640)

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), COLOURS.q("canvas"))
        if self.pixmap is None or self.pixmap.isNull():
            painter.setPen(COLOURS.q("dim"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                             self.message or "Loading…")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        size = self.pixmap.size().scaled(self.size() * 0.96, Qt.AspectRatioMode.KeepAspectRatio)
        size = size.boundedTo(self.pixmap.size() * 2)
        x = (self.width() - size.width()) / 2
        y = (self.height() - size.height()) / 2
        painter.drawPixmap(QRectF(x, y, size.width(), size.height()), self.pixmap,
                           QRectF(self.pixmap.rect()))


class PreviewDialog(QDialog):
    """One photo at a time; arrows step through the grid, Space or Escape close."""

    step_requested = Signal(int)

    def __init__(self, loader: ImageLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewDialog")
        self.setWindowTitle("Preview")
        self._loader = loader
        self._token = 0
        self.row: GridRow | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.canvas = _Canvas(self)
        layout.addWidget(self.canvas, 1)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setStyleSheet(f"background: {COLOURS.panel}; padding: 12px 18px;")
        layout.addWidget(self.caption)
        loader.preview_loaded.connect(self._on_preview_loaded)
        self.resize(1100, 780)

    def show_photo(self, row: GridRow) -> None:
        self.row = row
        self.setWindowTitle(row.shown_path)
        self.canvas.pixmap = self._loader.pixmap(row)  # the thumbnail until the big one comes
        self.canvas.message = "" if row.status != "error" else f"Cannot read: {row.error}"
        self.canvas.update()
        self.set_tags([])
        if row.status != "error":
            self._token = self._loader.load_preview(row, 1600)

    def set_tags(self, summaries: list[TagSummary]) -> None:
        if self.row is None:
            return
        chips = []
        for s in summaries:
            if not s.has or not (s.direct or s.confirmed):
                continue
            colour = COLOURS.good if s.confirmed else COLOURS.accent
            score = f" {s.score:.0%}" if s.score is not None else ""
            chips.append(f"<span style='color:{colour}'>●</span>&nbsp;{s.label}"
                         f"<span style='color:{COLOURS.dim}'>{score}</span>")
        tags = "&nbsp;&nbsp;&nbsp;".join(chips) or f"<span style='color:{COLOURS.dim}'>" \
                                                   "no tags yet</span>"
        name, path = html.escape(self.row.name), html.escape(self.row.shown_path)
        self.caption.setText(f"<b>{name}</b>&nbsp;&nbsp;<span style='color:"
                             f"{COLOURS.dim}'>{path}</span><br>{tags}")

    def _on_preview_loaded(self, token: int, image: QImage | None, reason: str) -> None:
        if token != self._token:
            return
        if image is None:
            self.canvas.message = f"Cannot read this photo: {reason}"
        else:
            self.canvas.pixmap = QPixmap.fromImage(image)
        self.canvas.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Space, Qt.Key.Key_Escape, Qt.Key.Key_Return):
            self.accept()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.step_requested.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.step_requested.emit(-1)
        else:
            super().keyPressEvent(event)


class Previewer(QObject):
    """Opens the preview for the grid's photos, fetches their tags, follows the arrows."""

    def __init__(self, session: AlbumSession, loader: ImageLoader, grid: PhotoGridView,
                 window: QWidget) -> None:
        super().__init__(window)
        self._session = session
        self._loader = loader
        self._grid = grid
        self._window = window
        self.dialog: PreviewDialog | None = None

    def show_current(self) -> None:
        row = self._grid.current_row()
        if row is not None:
            self.show(row)

    def show(self, row: GridRow) -> None:
        if self.dialog is None:
            self.dialog = PreviewDialog(self._loader, self._window)
            self.dialog.step_requested.connect(self._on_step_requested)
        dialog = self.dialog
        dialog.show_photo(row)
        self._session.query(lambda library: browse.tag_summary(library, [row.id]),
                            lambda tags: dialog.set_tags(tags) if dialog.row == row else None)
        dialog.show()
        dialog.raise_()

    def _on_step_requested(self, delta: int) -> None:
        row = self._grid.step(delta)
        if row is not None:
            self.show(row)

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
