"""The inspector's picture: the selected photo large, or a small stack for a multiple selection."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui import icons
from app.gui.theme import COLOURS


class PhotoCard(QWidget):
    """Paints one pixmap fitted and rounded, or up to three as a fanned stack."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmaps: list[QPixmap | None] = []
        self._broken = False
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(300, 210)

    def set_pixmaps(self, pixmaps: list[QPixmap | None], *, broken: bool = False) -> None:
        self._pixmaps = pixmaps[:3]
        self._broken = broken
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        area = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        if len(self._pixmaps) <= 1:
            pixmap = self._pixmaps[0] if self._pixmaps else None
            self._card(painter, area, pixmap, shadow=False)
            return
        angles = (-6.0, 5.0, 0.0)[-len(self._pixmaps) :]
        side = min(area.height() * 0.82, area.width() * 0.6)
        for pixmap, angle in zip(reversed(self._pixmaps), angles, strict=False):
            painter.save()
            painter.translate(area.center())
            painter.rotate(angle)
            self._card(painter, QRectF(-side / 2, -side / 2, side, side), pixmap, shadow=True)
            painter.restore()

    def _card(
        self, painter: QPainter, box: QRectF, pixmap: QPixmap | None, *, shadow: bool
    ) -> None:
        if pixmap is None or pixmap.isNull():
            painter.setPen(QPen(COLOURS.q("bad" if self._broken else "line"), 1.2))
            painter.setBrush(COLOURS.q("raised"))
            painter.drawRoundedRect(box, 10, 10)
            name = "broken" if self._broken else "photo"
            glyph = icons.pixmap(
                name, 40, COLOURS.bad if self._broken else COLOURS.faint, self.devicePixelRatioF()
            )
            painter.drawPixmap(QPointF(box.center().x() - 20, box.center().y() - 20), glyph)
            return
        size = pixmap.deviceIndependentSize().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(
            box.center().x() - size.width() / 2,
            box.center().y() - size.height() / 2,
            size.width(),
            size.height(),
        )
        if shadow:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(COLOURS.q("canvas", 200))
            painter.drawRoundedRect(target.adjusted(-3, -2, 4, 5), 10, 10)
        path = QPainterPath()
        path.addRoundedRect(target, 9, 9)
        painter.setClipPath(path)
        painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
        painter.setClipping(False)
        if shadow:
            painter.setPen(QPen(COLOURS.q("text", 60), 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(target, 9, 9)
