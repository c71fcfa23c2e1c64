"""The grid's context menu: open, show in the file manager, copy paths, preview, tag, sidecars.

A right-click on a photo outside the selection selects it first, as file managers do; the menu
then acts on the whole selection (issue 15.6). Label menus live with the tag tree's owners
(``app.gui.learning`` adds teach and quality there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu

from app.cli.output import sidecar_message
from app.gui.grid import PhotoGridView
from app.gui.inspector import Inspector
from app.gui.preview import Previewer
from app.gui.session import AlbumSession
from core.browse import GridRow
from core.library import Library

logger = logging.getLogger(__name__)

UrlOpener = Callable[[QUrl], bool]


class PhotoMenu(QObject):
    """Builds and shows the grid's context menu; ``open_url`` is the desktop's (or a fake)."""

    status_message = Signal(str)

    def __init__(
        self,
        grid: PhotoGridView,
        session: AlbumSession,
        inspector: Inspector,
        previewer: Previewer,
        *,
        open_url: UrlOpener = QDesktopServices.openUrl,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._grid = grid
        self._session = session
        self._inspector = inspector
        self._previewer = previewer
        self._open_url = open_url
        self.menu: QMenu | None = None
        grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        grid.customContextMenuRequested.connect(self._on_menu_requested)

    def _paths(self, rows: list[GridRow]) -> list[Path]:
        root = self._session.root
        return [] if root is None else [root / r.path for r in rows]

    def build(self, rows: list[GridRow]) -> QMenu:
        """The menu for these photos (the selection)."""
        menu = QMenu(self._grid)
        many = len(rows) > 1
        menu.addAction(
            "Open" if not many else f"Open {len(rows)} photos", lambda: self.open_photos(rows)
        )
        menu.addAction("Show in file manager", lambda: self.show_in_folder(rows))
        menu.addAction("Copy paths" if many else "Copy path", lambda: self.copy_paths(rows))
        menu.addSeparator()
        menu.addAction("Preview", lambda: self._previewer.show(rows[0])).setEnabled(not many)
        menu.addAction("Confirm suggested tags", self._inspector.confirm)
        menu.addAction("Add a tag…", self._inspector.focus_add)
        menu.addSeparator()
        menu.addAction(
            "Write tags to sidecars" if many else "Write tags to sidecar",
            lambda: self.write_sidecars(rows),
        )
        return menu

    def _on_menu_requested(self, pos: QPoint) -> None:
        index = self._grid.indexAt(pos)
        if not index.isValid():
            return
        photo_id = self._grid.photo_model().id_at(index.row())
        if photo_id not in set(self._grid.selected_ids().tolist()):
            self._grid.select_photo(photo_id)
        rows = self._grid.selected_rows()
        if self.menu is not None:
            self.menu.deleteLater()
        self.menu = self.build(rows)
        self.menu.popup(self._grid.viewport().mapToGlobal(pos))

    # -- what the entries do --------------------------------------------------------------
    def open_photos(self, rows: list[GridRow]) -> None:
        for path in self._paths(rows)[:20]:  # a slip of Ctrl+A must not open 10,000 viewers
            if not self._open_url(QUrl.fromLocalFile(str(path))):
                self.status_message.emit(f"No application opens {path.name}.")

    def show_in_folder(self, rows: list[GridRow]) -> None:
        folders = list(dict.fromkeys(p.parent for p in self._paths(rows)))
        for folder in folders[:5]:
            self._open_url(QUrl.fromLocalFile(str(folder)))

    def copy_paths(self, rows: list[GridRow]) -> None:
        paths = [str(p) for p in self._paths(rows)]
        QGuiApplication.clipboard().setText("\n".join(paths))
        self.status_message.emit(
            "Copied the path." if len(paths) == 1 else f"Copied {len(paths)} paths."
        )

    def write_sidecars(self, rows: list[GridRow]) -> None:
        ids = [r.id for r in rows]

        def work(library: Library) -> str:
            photos = [p for i in ids if (p := library.store.photo(i)) is not None]
            report = library.export_xmp(photos)
            return sidecar_message(
                report.written, report.unchanged, len(report.errors), report.nothing
            )

        self._session.query(
            work,
            self.status_message.emit,
            lambda exc: self.status_message.emit(f"Writing sidecars failed: {exc}"),
        )
