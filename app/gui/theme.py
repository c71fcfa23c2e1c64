"""The look: a dark, photo-first theme (neutral greys so photos pop, one accent colour)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from core.resources import assets_dir


@dataclass(frozen=True)
class Colours:
    """Every colour the window uses, in one place."""

    canvas: str = "#141416"  # behind the photos
    panel: str = "#1d1d20"  # sidebar, inspector
    raised: str = "#26262a"  # inputs, cards, placeholders
    hover: str = "#2e2e33"
    line: str = "#2c2c31"
    text: str = "#e8e8ea"
    dim: str = "#8e8e96"
    faint: str = "#5c5c63"
    accent: str = "#3d8bfd"
    accent_soft: str = "#1d3a66"
    good: str = "#34c759"
    bad: str = "#ff5a4f"
    warn: str = "#ffb340"

    def q(self, name: str, alpha: int = 255) -> QColor:
        colour = QColor(getattr(self, name))
        colour.setAlpha(alpha)
        return colour


COLOURS = Colours()


def _stylesheet(c: Colours) -> str:
    icons = (assets_dir() / "icons").as_posix()
    return f"""
QMainWindow, QDialog {{ background: {c.panel}; }}
QWidget {{ color: {c.text}; }}
QToolTip {{ background: {c.raised}; color: {c.text}; border: 1px solid {c.line};
            padding: 4px 6px; border-radius: 4px; }}
QSplitter::handle {{ background: {c.canvas}; }}
QSplitter::handle:horizontal {{ width: 1px; }}
QMenuBar {{ background: {c.panel}; border-bottom: 1px solid {c.line}; }}
QMenuBar::item {{ padding: 4px 10px; background: transparent; border-radius: 4px; }}
QMenuBar::item:selected {{ background: {c.hover}; }}
QMenu {{ background: {c.raised}; border: 1px solid {c.line}; padding: 4px;
         border-radius: 6px; }}
QMenu::item {{ padding: 5px 24px 5px 22px; border-radius: 4px; }}
QMenu::item:selected {{ background: {c.accent}; color: white; }}
QMenu::item:disabled {{ color: {c.faint}; }}
QMenu::separator {{ height: 1px; background: {c.line}; margin: 4px 8px; }}
QLineEdit {{ background: {c.raised}; border: 1px solid {c.line}; border-radius: 7px;
             padding: 5px 9px; selection-background-color: {c.accent}; }}
QLineEdit:focus {{ border: 1px solid {c.accent}; }}
QLineEdit[invalid="true"] {{ border: 1px solid {c.bad}; }}
QPushButton {{ background: {c.raised}; border: 1px solid {c.line}; border-radius: 6px;
               padding: 5px 14px; }}
QPushButton:hover {{ background: {c.hover}; }}
QPushButton:default, QPushButton[primary="true"] {{ background: {c.accent}; color: white;
               border: 1px solid {c.accent}; }}
QPushButton:disabled {{ color: {c.faint}; }}
QPushButton[primary="true"]:disabled {{ background: {c.accent_soft}; border-color: {c.accent_soft};
               color: {c.dim}; }}
QToolButton {{ background: transparent; border: none; border-radius: 5px; padding: 3px; }}
QToolButton:hover {{ background: {c.hover}; }}
QStatusBar {{ background: {c.panel}; border-top: 1px solid {c.line}; color: {c.dim}; }}
QStatusBar::item {{ border: none; }}
QStatusBar QLabel {{ color: {c.dim}; }}
QProgressBar {{ background: {c.raised}; border: none; border-radius: 3px; max-height: 6px;
                text-align: center; }}
QProgressBar::chunk {{ background: {c.accent}; border-radius: 3px; }}
QTreeView, QListView {{ background: {c.panel}; border: none; outline: 0; }}
QTreeView {{ show-decoration-selected: 0; }}
QTreeView::item {{ padding: 3px 2px; border-radius: 5px; }}
QTreeView::item:hover {{ background: {c.hover}; }}
QTreeView::item:selected {{ background: {c.accent_soft}; color: {c.text}; }}
QTreeView::branch {{ background: transparent; }}
QTreeView::branch:selected {{ background: {c.accent_soft}; }}
QTreeView::branch:has-children:!has-siblings:closed,
QTreeView::branch:closed:has-children:has-siblings {{
    image: url({icons}/branch-closed.svg); }}
QTreeView::branch:open:has-children:!has-siblings,
QTreeView::branch:open:has-children:has-siblings {{
    image: url({icons}/branch-open.svg); }}
QHeaderView::section {{ background: {c.panel}; color: {c.dim}; border: none;
                        border-bottom: 1px solid {c.line}; padding: 4px 6px; }}
QTableWidget {{ background: {c.panel}; gridline-color: {c.line}; border: none; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
QScrollBar::handle:vertical {{ background: {c.hover}; min-height: 32px; border-radius: 3px; }}
QScrollBar::handle:vertical:hover {{ background: {c.faint}; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
QScrollBar::handle:horizontal {{ background: {c.hover}; min-width: 32px; border-radius: 3px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QLabel[role="heading"] {{ color: {c.dim}; font-size: 11px; font-weight: 600;
                          letter-spacing: 1px; }}
QLabel[role="title"] {{ font-size: 15px; font-weight: 600; }}
QLabel[role="dim"] {{ color: {c.dim}; }}
QLabel[role="error"] {{ color: {c.bad}; }}
QFrame[role="panel"] {{ background: {c.panel}; }}
QFrame[role="canvas"] {{ background: {c.canvas}; }}
QFrame[role="rule"] {{ background: {c.line}; max-height: 1px; min-height: 1px; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion with a dark palette and the house stylesheet, for the whole application."""
    c = COLOURS
    app.setStyle(QStyleFactory.create("Fusion"))
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: c.panel,
        QPalette.ColorRole.WindowText: c.text,
        QPalette.ColorRole.Base: c.raised,
        QPalette.ColorRole.AlternateBase: c.panel,
        QPalette.ColorRole.Text: c.text,
        QPalette.ColorRole.Button: c.raised,
        QPalette.ColorRole.ButtonText: c.text,
        QPalette.ColorRole.Highlight: c.accent,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: c.raised,
        QPalette.ColorRole.ToolTipText: c.text,
        QPalette.ColorRole.PlaceholderText: c.faint,
        QPalette.ColorRole.Link: c.accent,
        QPalette.ColorRole.Mid: c.line,
        QPalette.ColorRole.Dark: c.canvas,
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, value in roles.items():
        pal.setColor(role, QColor(value))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.ButtonText,
    ):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(c.faint))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 9.5))
    app.setFont(font)
    app.setStyleSheet(_stylesheet(c))
