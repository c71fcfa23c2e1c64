"""The window's three panes: the sidebar, the centre (header, grid or welcome) and their chrome."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.gui import icons
from app.gui.grid import PhotoGridView
from app.gui.search import SearchBar
from app.gui.sidebar import TagTree
from app.gui.theme import COLOURS


class SidePanel(QFrame):
    """The album's name above the tag tree."""

    def __init__(self, tree: TagTree, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "panel")
        self.setMinimumWidth(180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 14, 6, 8)
        layout.setSpacing(6)
        head = QHBoxLayout()
        logo = QLabel(self)
        logo.setPixmap(icons.pixmap("app", 22))
        self.album = QLabel("No album", self)
        self.album.setProperty("role", "title")
        head.addWidget(logo)
        head.addWidget(self.album, 1)
        layout.addLayout(head)
        layout.addSpacing(4)
        layout.addWidget(tree, 1)

    def set_album(self, name: str, path: str) -> None:
        self.album.setText(name)
        self.album.setToolTip(path)


class Welcome(QWidget):
    """What the centre shows before an album is open."""

    open_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        logo = QLabel(self)
        logo.setPixmap(icons.pixmap("app", 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title = QLabel("Open a folder of photos", self)
        title.setStyleSheet("font-size: 20px; font-weight: 600;")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "albumtag shows your photos at once and tags them in the background.\n"
            "Correct a tag and it learns. Your files are never changed.",
            self,
        )
        text.setProperty("role", "dim")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status = QLabel("", self)
        self.status.setProperty("role", "error")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton("Open album…", self)
        self.button.setProperty("primary", True)
        self.button.setIcon(icons.icon("folder", "#ffffff"))
        self.button.clicked.connect(self.open_requested)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.button)
        row.addStretch(1)
        for widget in (logo, title, text, self.status):
            layout.addWidget(widget)
        layout.addSpacing(12)
        layout.addLayout(row)
        layout.addStretch(3)


class CentrePanel(QFrame):
    """A header (what is shown, how many, the search) above the grid."""

    def __init__(
        self, grid: PhotoGridView, search: SearchBar, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setProperty("role", "canvas")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QFrame(self)
        header.setProperty("role", "canvas")
        row = QHBoxLayout(header)
        row.setContentsMargins(18, 12, 14, 10)
        row.setSpacing(12)
        self.title = QLabel("All photos", header)
        self.title.setStyleSheet("font-size: 17px; font-weight: 600;")
        self.count = QLabel("", header)
        self.count.setProperty("role", "dim")
        self.message = QLabel("", header)
        self.message.setObjectName("searchMessage")
        self.message.setStyleSheet(f"color: {COLOURS.bad};")
        self.message.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.title)
        row.addWidget(self.count)
        row.addStretch(1)
        row.addWidget(self.message, 2)
        row.addWidget(search)
        layout.addWidget(header)
        self.stack = QStackedWidget(self)
        self.welcome = Welcome(self)
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(grid)
        self.empty = QLabel("No photos here.", self)
        self.empty.setProperty("role", "dim")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.empty)
        layout.addWidget(self.stack, 1)
        self._grid = grid

    def show_welcome(self) -> None:
        self.stack.setCurrentWidget(self.welcome)
        self.title.setText("Welcome")
        self.count.clear()

    def show_grid(self, rows: int, *, searching: bool, complete: bool = True) -> None:
        if rows:
            self.stack.setCurrentWidget(self._grid)
        else:
            self.empty.setText(
                "No photo matches this search." if searching else "No photos here yet."
            )
            self.stack.setCurrentWidget(self.empty)
        self.count.setText(f"{rows:,} photo{'s' if rows != 1 else ''}" if complete else "counting…")

    def set_title(self, title: str) -> None:
        self.title.setText(title)

    def set_message(self, text: str) -> None:
        elided = self.message.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, 420)
        self.message.setText(elided)
        self.message.setToolTip(text)
