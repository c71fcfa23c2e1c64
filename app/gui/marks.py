"""Ratings and flags from the keyboard, as in Lightroom (issue 15.7): 0-5 rate the selected
photos, P picks, X rejects, U unflags. Each key press is one undo step (Ctrl+Z)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QWidget

from app.gui.grid import PhotoGridView
from app.gui.session import AlbumSession
from core.db.ratings import PICK, REJECT, UNFLAGGED

logger = logging.getLogger(__name__)

_FLAG_WORDS = {PICK: "Picked", REJECT: "Rejected", UNFLAGGED: "Unflagged"}


def stars(rating: int) -> str:
    return "★" * rating + "☆" * (5 - rating)


class Marks(QObject):
    """The rating and flag keys of one window, on the grid (and any widget given)."""

    status_message = Signal(str)

    def __init__(
        self,
        window: QMainWindow,
        grid: PhotoGridView,
        session: AlbumSession,
        widgets: tuple[QWidget, ...] = (),
    ) -> None:
        super().__init__(window)
        self._grid = grid
        self._session = session
        self.actions: list[QAction] = []
        for n in range(6):
            self._add(
                window,
                f"Rate {stars(n)}" if n else "No stars",
                str(n),
                lambda _=False, n=n: self.rate(n),
            )
        for key, flag, text in (
            ("P", PICK, "Flag as pick"),
            ("X", REJECT, "Flag as reject"),
            ("U", UNFLAGGED, "Remove the flag"),
        ):
            self._add(window, text, key, lambda _=False, f=flag: self.flag(f))
        for widget in (grid, *widgets):
            widget.addActions(self.actions)
        self._add_menu(window)

    def _add(self, parent: QWidget, text: str, key: str, slot) -> None:
        action = QAction(text, parent)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.actions.append(action)

    def _add_menu(self, window: QMainWindow) -> None:
        edit = next(
            (
                a.menu()
                for a in window.menuBar().actions()
                if a.menu() is not None and a.text().replace("&", "") == "Edit"
            ),
            None,
        )
        if edit is None:
            return
        edit.addSeparator()
        rating = edit.addMenu("Rating and &flag")
        rating.addActions(self.actions[:6])
        rating.addSeparator()
        rating.addActions(self.actions[6:])

    def _selected(self) -> list[int]:
        """Every selected photo, also those of a big selection whose rows are still being
        read (a key acts at once); photos known to be unreadable are left out."""
        model = self._grid.photo_model()
        return [
            pid
            for pid in self._grid.selected_ids().tolist()
            if (row := model.row_by_id(pid)) is None or row.status == "ok"
        ]

    def rate(self, rating: int) -> None:
        ids = self._selected()
        if ids:
            self._session.set_marks(ids, rating=rating)
            self.status_message.emit(
                f"{stars(rating)} on {len(ids)} photo{'s' if len(ids) != 1 else ''}."
            )

    def flag(self, flag: int) -> None:
        ids = self._selected()
        if ids:
            self._session.set_marks(ids, flag=flag)
            self.status_message.emit(
                f"{_FLAG_WORDS[flag]} {len(ids)} photo{'s' if len(ids) != 1 else ''}."
            )
