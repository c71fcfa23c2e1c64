"""How one photo cell of the grid is painted: cheap, never blocking, always the same size."""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.gui import icons
from app.gui.imageloader import ImageLoader
from app.gui.theme import COLOURS

_Index = QModelIndex | QPersistentModelIndex

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
FAILURE_ROLE = Qt.ItemDataRole.UserRole + 2


#: The grid's rating stars: their width in pixels and their colour (Lightroom's are white;
#: gold reads better on dark photos and light ones alike, on the dark pill).
STAR_SIZE = 11.0
STAR_COLOUR = "#ffc23d"


def star_path(centre: QPointF, radius: float) -> QPainterPath:
    """A five-pointed star around ``centre`` (point up), for painting."""
    path = QPainterPath()
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.48
        angle = math.pi / 2 + i * math.pi / 5
        point = QPointF(centre.x() + r * math.cos(angle), centre.y() - r * math.sin(angle))
        path.moveTo(point) if i == 0 else path.lineTo(point)
    path.closeSubpath()
    return path


class ThumbnailDelegate(QStyledItemDelegate):
    """A rounded thumbnail on a quiet card, a caption, a selection ring and small badges."""

    pad = 8
    caption = 20

    def __init__(self, loader: ImageLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._side = 176
        self._font = QFont()
        self._font.setPointSizeF(8.5)
        self._metrics = QFontMetrics(self._font)
        self._badge_font = QFont()
        self._badge_font.setPointSizeF(8.0)
        self._badge_font.setBold(True)
        self.dimmed = False  # the rows are stale (they belong to an earlier search)

    def set_side(self, side: int) -> None:
        self._side = side

    def cell_size(self) -> QSize:
        return QSize(self._side + 2 * self.pad, self._side + 2 * self.pad + self.caption)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return self.cell_size()

    # -- painting -------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        row = index.data(ROW_ROLE)
        if row is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.dimmed:
            painter.setOpacity(0.3)
        cell = QRectF(option.rect).adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(COLOURS.q("accent", 46))
            painter.drawRoundedRect(cell, 10, 10)
        elif hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(COLOURS.q("hover", 160))
            painter.drawRoundedRect(cell, 10, 10)
        left = option.rect.x() + (option.rect.width() - self._side) // 2
        frame = QRect(left, option.rect.y() + self.pad, self._side, self._side)
        if row.status == "error":
            pixmap, failure = None, row.error or "unreadable"
        else:
            pixmap, failure = self._loader.pixmap(row), self._loader.failure(row.id)
        if pixmap is not None:
            image_rect = self._draw_pixmap(painter, frame, pixmap)
        elif failure:
            image_rect = self._draw_unreadable(painter, frame, failure)
        else:
            image_rect = self._draw_placeholder(painter, frame)
        self._draw_badges(painter, image_rect, row, failure)
        self._draw_marks(painter, image_rect, row)
        if selected:
            ring = QRectF(image_rect).adjusted(-2.5, -2.5, 2.5, 2.5)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(COLOURS.q("accent"), 2.2))
            painter.drawRoundedRect(ring, 8, 8)
        self._draw_caption(painter, option.rect, row.name, selected)
        painter.restore()

    def _draw_pixmap(self, painter: QPainter, frame: QRect, pixmap: QPixmap) -> QRectF:
        size = pixmap.deviceIndependentSize()
        x = frame.x() + (frame.width() - size.width()) / 2
        y = frame.y() + (frame.height() - size.height()) / 2
        painter.drawPixmap(QPointF(x, y), pixmap)
        return QRectF(x, y, size.width(), size.height())

    def _draw_placeholder(self, painter: QPainter, frame: QRect) -> QRectF:
        rect = QRectF(frame).adjusted(0, self._side * 0.125, 0, -self._side * 0.125)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(COLOURS.q("raised"))
        painter.drawRoundedRect(rect, 6, 6)
        glyph = icons.pixmap(
            "photo", max(16, self._side // 6), COLOURS.faint, painter.device().devicePixelRatioF()
        )
        gsize = glyph.deviceIndependentSize()
        painter.drawPixmap(
            QPointF(rect.center().x() - gsize.width() / 2, rect.center().y() - gsize.height() / 2),
            glyph,
        )
        return rect

    def _draw_unreadable(self, painter: QPainter, frame: QRect, reason: str) -> QRectF:
        rect = QRectF(frame).adjusted(0, self._side * 0.125, 0, -self._side * 0.125)
        painter.setPen(QPen(COLOURS.q("bad", 90), 1.2))
        painter.setBrush(QColor("#2a1f21"))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        glyph_side = max(18, self._side // 6)
        glyph = icons.pixmap(
            "broken", glyph_side, COLOURS.bad, painter.device().devicePixelRatioF()
        )
        top = rect.center().y() - glyph_side * 0.9
        painter.drawPixmap(QPointF(rect.center().x() - glyph_side / 2, top), glyph)
        painter.setFont(self._font)
        painter.setPen(COLOURS.q("bad", 220))
        text_rect = QRectF(
            rect.x() + 8, top + glyph_side + 4, rect.width() - 16, self._metrics.height() * 2 + 2
        )
        short = reason.split(":")[0]
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, short)
        return rect

    def _draw_badges(
        self, painter: QPainter, image: QRectF, row: object, failure: str | None
    ) -> None:
        corner = QPointF(image.right() - 9, image.top() + 9)
        if failure or getattr(row, "status", "") == "error":
            painter.setPen(QPen(QColor(0, 0, 0, 120), 1.5))
            painter.setBrush(COLOURS.q("bad"))
            painter.drawEllipse(corner, 7.5, 7.5)
            painter.setPen(QColor("white"))
            painter.setFont(self._badge_font)
            painter.drawText(
                QRectF(corner.x() - 7.5, corner.y() - 7.5, 15, 15),
                Qt.AlignmentFlag.AlignCenter,
                "!",
            )
        elif getattr(row, "needs_review", False):
            painter.setPen(QPen(QColor(0, 0, 0, 150), 1.6))
            painter.setBrush(COLOURS.q("accent"))
            painter.drawEllipse(corner, 4.0, 4.0)
        elif getattr(row, "status", "") == "pending":
            painter.setPen(QPen(QColor(255, 255, 255, 150), 1.6))
            painter.setBrush(QColor(0, 0, 0, 90))
            painter.drawEllipse(corner, 4.0, 4.0)

    def _draw_marks(self, painter: QPainter, image: QRectF, row: object) -> None:
        """Stars on a dark pill at the bottom left, the pick or reject flag at the top left."""
        rating, flag = getattr(row, "rating", 0) or 0, getattr(row, "flag", 0) or 0
        if rating > 0:
            step = STAR_SIZE + 1.5
            pill = QRectF(
                image.left() + 5, image.bottom() - STAR_SIZE - 10, rating * step + 7, STAR_SIZE + 5
            )
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 150))
            painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
            painter.setBrush(QColor(STAR_COLOUR))
            for i in range(rating):
                centre = QPointF(pill.left() + 4 + step * i + STAR_SIZE / 2, pill.center().y())
                painter.drawPath(star_path(centre, STAR_SIZE / 2))
        if flag:
            corner = QPointF(image.left() + 10, image.top() + 10)
            painter.setPen(QPen(QColor(0, 0, 0, 130), 1.4))
            painter.setBrush(COLOURS.q("good" if flag > 0 else "bad"))
            painter.drawEllipse(corner, 7.5, 7.5)
            painter.setPen(
                QPen(QColor("white"), 1.7, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            )
            if flag > 0:  # a small flag on its pole
                painter.drawLine(
                    QPointF(corner.x() - 2.5, corner.y() - 4),
                    QPointF(corner.x() - 2.5, corner.y() + 4.5),
                )
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor("white"))
                flag_path = QPainterPath(QPointF(corner.x() - 2, corner.y() - 4))
                flag_path.lineTo(corner.x() + 4, corner.y() - 2)
                flag_path.lineTo(corner.x() - 2, corner.y() + 0.5)
                flag_path.closeSubpath()
                painter.drawPath(flag_path)
            else:  # a cross
                painter.drawLine(
                    QPointF(corner.x() - 3, corner.y() - 3), QPointF(corner.x() + 3, corner.y() + 3)
                )
                painter.drawLine(
                    QPointF(corner.x() + 3, corner.y() - 3), QPointF(corner.x() - 3, corner.y() + 3)
                )

    def _draw_caption(self, painter: QPainter, cell: QRect, name: str, selected: bool) -> None:
        painter.setFont(self._font)
        painter.setPen(COLOURS.q("text" if selected else "dim"))
        rect = QRect(
            cell.x() + self.pad,
            cell.y() + self.pad + self._side + 3,
            cell.width() - 2 * self.pad,
            self.caption - 4,
        )
        text = self._metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, rect.width())
        painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, text)
