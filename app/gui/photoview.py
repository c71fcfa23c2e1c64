"""PhotoView: one photo, fitted to the window or at any zoom, with wheel zoom and drag to pan.

Zoom is measured against the photo's full resolution (1.0 is 100 %: one photo pixel per screen
pixel), whatever image is shown meanwhile: the thumbnail first, then a screen-sized decode, then
the full one when the zoom needs more pixels than the image at hand (``detail_wanted``). The
view never decodes anything itself; the previewer asks the image loader's workers.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui import icons
from app.gui.theme import COLOURS

#: The most a photo is magnified (relative to its full resolution); the least is "fit".
MAX_ZOOM = 8.0
#: "Fit" enlarges a photo smaller than the window at most this much (pixels stay crisp enough).
FIT_LIMIT = 2.0
#: One notch of the wheel (120 units) or one press of + / -.
ZOOM_STEP = 1.25


class PhotoView(QWidget):
    """Paints a photo at ``zoom`` (None: fitted) around ``centre`` (in full-resolution pixels)."""

    zoom_changed = Signal(float, bool)  # the zoom now shown, and whether it is "fit"
    detail_wanted = Signal()  # the zoom shows the photo larger than the image at hand

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoView")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.pixmap: QPixmap | None = None
        self.full_size = QSize()  # the photo's full resolution, upright
        self.message = ""  # shown instead of the photo (loading, cannot read)
        self.failed = False
        self._zoom: float | None = None  # None: fit to the window
        self._centre = QPointF()
        self._drag: QPointF | None = None

    def sizeHint(self) -> QSize:
        return QSize(900, 640)

    # -- what to show -----------------------------------------------------------------------
    def show_photo(self, pixmap: QPixmap | None, full_size: QSize, message: str = "") -> None:
        """A new photo (fitted), or its thumbnail while it loads; ``message`` while nothing."""
        self.pixmap, self.message, self.failed = pixmap, message, False
        self.full_size = (
            QSize(full_size)
            if full_size.isValid()
            else (pixmap.size() if pixmap is not None else QSize())
        )
        self._zoom = None
        self._centre = QPointF(self.full_size.width() / 2, self.full_size.height() / 2)
        self._emit_zoom()
        self._refresh()

    def set_image(self, pixmap: QPixmap, full_size: QSize | None = None) -> None:
        """A sharper image of the photo shown (same view, more pixels)."""
        if full_size is not None and full_size.isValid() and full_size != self.full_size:
            self._rescale(full_size)
        self.pixmap, self.message, self.failed = pixmap, "", False
        self._emit_zoom()
        self._refresh()

    def show_failure(self, message: str) -> None:
        self.pixmap, self.message, self.failed = None, message, True
        self._refresh()

    def _rescale(self, full_size: QSize) -> None:
        """The full resolution became known: keep the same part of the photo in view."""
        if self.full_size.isValid() and self.full_size.width():
            ratio = full_size.width() / self.full_size.width()
            self._centre *= ratio
            if self._zoom is not None:
                self._zoom /= ratio
        else:
            self._centre = QPointF(full_size.width() / 2, full_size.height() / 2)
        self.full_size = QSize(full_size)

    # -- zoom -------------------------------------------------------------------------------
    @property
    def is_fit(self) -> bool:
        return self._zoom is None

    def fit_zoom(self) -> float:
        """The zoom at which the whole photo fits the window (a small photo at most doubled)."""
        if not self.full_size.isValid() or self.full_size.isEmpty():
            return 1.0
        return min(
            FIT_LIMIT,
            (self.width() - 8) / self.full_size.width(),
            (self.height() - 8) / self.full_size.height(),
        )

    def zoom(self) -> float:
        return self.fit_zoom() if self._zoom is None else self._zoom

    def fit(self) -> None:
        self._zoom = None
        self._centre = QPointF(self.full_size.width() / 2, self.full_size.height() / 2)
        self._emit_zoom()
        self._refresh()

    def set_zoom(self, zoom: float, around: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the photo point under ``around`` (widget pixels) in place."""
        old = self.zoom()
        if zoom <= self.fit_zoom() + 1e-6:  # zooming out past the whole photo: fitted again
            self.fit()
            return
        zoom = min(zoom, MAX_ZOOM)
        here = around if around is not None else QPointF(self.width() / 2, self.height() / 2)
        mid = QPointF(self.width() / 2, self.height() / 2)
        point = self._centre + (here - mid) / old  # the photo pixel under ``here``
        self._zoom = zoom
        self._centre = point - (here - mid) / zoom
        self._clamp()
        self._emit_zoom()
        self._refresh()

    def zoom_by(self, factor: float, around: QPointF | None = None) -> None:
        self.set_zoom(self.zoom() * factor, around)

    def toggle_full_size(self, around: QPointF | None = None) -> None:
        """Between fitted and 100 % (around the cursor, or the middle)."""
        if self._zoom is None:
            self.set_zoom(1.0, around)
        else:
            self.fit()

    def _emit_zoom(self) -> None:
        self.zoom_changed.emit(self.zoom(), self._zoom is None)
        if self.pixmap is not None and self.full_size.isValid() and self.full_size.width():
            shown = self.pixmap.width() / self.full_size.width()  # image pixels per photo pixel
            if self.zoom() * self.devicePixelRatioF() > shown * 1.05 and shown < 1.0:
                self.detail_wanted.emit()

    def _clamp(self) -> None:
        """Keep the photo over the window: no empty margin where the photo could fill it."""
        zoom = self.zoom()
        for axis in (0, 1):
            extent = (self.full_size.width(), self.full_size.height())[axis]
            view = (self.width(), self.height())[axis] / zoom
            value = (self._centre.x(), self._centre.y())[axis]
            if extent <= view:
                value = extent / 2
            else:
                value = min(max(value, view / 2), extent - view / 2)
            if axis == 0:
                self._centre.setX(value)
            else:
                self._centre.setY(value)

    def image_rect(self) -> QRectF:
        """Where the photo is drawn, in widget pixels."""
        zoom = self.zoom()
        size = QSizeF(self.full_size) * zoom
        centre = (
            self._centre
            if self._zoom is not None
            else QPointF(self.full_size.width() / 2, self.full_size.height() / 2)
        )
        top_left = QPointF(self.width() / 2, self.height() / 2) - centre * zoom
        return QRectF(top_left, size)

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), COLOURS.q("canvas"))
        if self.pixmap is None or self.pixmap.isNull():
            self._paint_message(painter)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom() < 2.0)
        painter.drawPixmap(self.image_rect(), self.pixmap, QRectF(self.pixmap.rect()))

    def _paint_message(self, painter: QPainter) -> None:
        text = self.message or "Loading…"
        box = QRectF(self.rect()).adjusted(40, 0, -40, 0)
        if self.failed:
            side = 48
            glyph = icons.pixmap("broken", side, COLOURS.bad, self.devicePixelRatioF())
            painter.drawPixmap(
                QPointF(self.width() / 2 - side / 2, self.height() / 2 - side - 12), glyph
            )
            box = QRectF(box.x(), self.height() / 2, box.width(), 60)
            painter.setPen(COLOURS.q("bad"))
        else:
            painter.setPen(COLOURS.q("dim"))
        painter.drawText(
            box,
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
            if self.failed
            else Qt.AlignmentFlag.AlignCenter,
            text,
        )

    # -- mouse ------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps and self.pixmap is not None:
            self.zoom_by(ZOOM_STEP**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._pannable():
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            self.pan(event.position() - self._drag)
            self._drag = event.position()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            self._drag = None
            self._update_cursor()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.pixmap is not None:
            self.toggle_full_size(event.position())

    def pan(self, delta: QPointF) -> None:
        """Move the photo by ``delta`` widget pixels (as a drag does)."""
        if self._zoom is None:
            return
        self._centre -= delta / self._zoom
        self._clamp()
        self._refresh()

    def _pannable(self) -> bool:
        rect = self.image_rect()
        return self._zoom is not None and (
            rect.width() > self.width() + 0.5 or rect.height() > self.height() + 0.5
        )

    def _update_cursor(self) -> None:
        if self._pannable():
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._zoom is not None:
            self._clamp()
        self._emit_zoom()

    def _refresh(self) -> None:
        self._update_cursor()
        self.update()
