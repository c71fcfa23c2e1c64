"""Icons: the SVGs in ``assets/icons``, tinted to any colour and cached."""

from __future__ import annotations

import functools
import logging

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.gui.theme import COLOURS
from core.resources import assets_dir

logger = logging.getLogger(__name__)


@functools.cache
def _svg(name: str) -> str:
    path = assets_dir() / "icons" / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        logger.warning("icon %s is missing", path)
        return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"/>'


def render(name: str, size: int, colour: str | None = None, ratio: float = 1.0) -> QImage:
    """An SVG icon rendered to a transparent image of ``size`` logical pixels."""
    text = _svg(name).replace("currentColor", colour or COLOURS.text)
    renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
    side = max(1, round(size * ratio))
    image = QImage(side, side, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, side, side))
    painter.end()
    image.setDevicePixelRatio(ratio)
    return image


@functools.cache
def icon(name: str, colour: str | None = None) -> QIcon:
    """A QIcon for menus and buttons (normal and disabled states)."""
    result = QIcon()
    for size in (16, 20, 24, 32, 48):
        result.addPixmap(QPixmap.fromImage(render(name, size, colour)), QIcon.Mode.Normal)
        result.addPixmap(QPixmap.fromImage(render(name, size, COLOURS.faint)), QIcon.Mode.Disabled)
    return result


@functools.cache
def pixmap(name: str, size: int, colour: str | None = None, ratio: float = 1.0) -> QPixmap:
    """A tinted icon as a pixmap, for painting in delegates (GUI thread only)."""
    return QPixmap.fromImage(render(name, size, colour, ratio))


def app_icon() -> QIcon:
    """albumtag's own icon (full colour)."""
    result = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        result.addPixmap(QPixmap.fromImage(render("app", size)))
    return result
