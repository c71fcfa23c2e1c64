"""MainWindow: composes the panes, the actions and the background session. Nothing else."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QWidget,
)

from app.gui import icons
from app.gui.actions import build_actions, build_menus
from app.gui.browser import Browser
from app.gui.dialogs import ShortcutsDialog, about_text
from app.gui.grid import PhotoGridModel, PhotoGridView
from app.gui.imageloader import ImageLoader
from app.gui.inspector import Inspector
from app.gui.learning import Learning
from app.gui.marks import Marks
from app.gui.modelmenu import ModelMenu
from app.gui.panels import CentrePanel, SidePanel
from app.gui.photomenu import PhotoMenu
from app.gui.preview import Previewer
from app.gui.search import SearchBar
from app.gui.searchfeedback import SearchFeedback
from app.gui.session import AlbumSession, background_workers
from app.gui.settings import AppSettings
from app.gui.sidebar import TagTree
from app.gui.sidecars import SidecarWriter
from app.gui.statusbar import StatusBar
from app.gui.viewstate import ViewMemory
from core import browse
from core.browse import GridRow

logger = logging.getLogger(__name__)

#: Version of the saved window state (``QMainWindow.saveState``); raise it when the window's
#: tool bars or dock widgets change, so an old state is not applied to the new layout.
WINDOW_STATE_VERSION = 1


class MainWindow(QMainWindow):
    """The albumtag window over one ``AlbumSession``."""

    def __init__(
        self,
        settings: AppSettings,
        session: AlbumSession | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.session = session or AlbumSession()
        self.session.setParent(self)
        self.loader = ImageLoader(workers=min(2, background_workers()), parent=self)
        self.grid = PhotoGridView(PhotoGridModel(self.loader, self), self.loader)
        self.tree = TagTree()
        self.search = SearchBar()
        self.inspector = Inspector(self.session, self.loader)
        self.centre = CentrePanel(self.grid, self.search)
        self.sidebar = SidePanel(self.tree)
        self.browser = Browser(self.session, self.grid, self.tree, self.loader, parent=self)
        self.status = StatusBar(self)
        self.pages = QStackedWidget()  # the grid's page, or the preview in its place
        self.previewer = Previewer(self.session, self.loader, self.grid, self, self.pages)
        self.search_feedback = SearchFeedback(
            self.browser, self.search, self.centre, self.grid, self
        )
        self.view_memory = ViewMemory(
            settings.qsettings, self.session, self.browser, self.grid, self.tree, self.search, self
        )
        self.photo_menu = PhotoMenu(
            self.grid, self.session, self.inspector, self.previewer, parent=self
        )
        self._closed = False
        self._compose()
        self.album_actions = build_actions(self)
        self.recent_menu, self.size_group, self.order_group = build_menus(self, self.album_actions)
        self.model_menu = ModelMenu(
            self.session, self.album_actions.retrain, self.album_actions.history, self
        )
        self.learning = Learning(self, self.session, self.previewer, self.tree, settings.qsettings)
        self.model_menu.background = self.learning.start_retrain
        self.sidecars = SidecarWriter(self.session, self)
        self.marks = Marks(self, self.grid, self.session)
        self._connect()
        self._restore()

    def _compose(self) -> None:
        self.setWindowTitle("albumtag")
        self.setWindowIcon(icons.app_icon())
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.pages.addWidget(self.centre)
        self.pages.addWidget(self.previewer.page)
        self.pages.setCurrentWidget(self.centre)
        self.previewer.chrome = [self.sidebar, self.status]  # hidden in full screen
        for widget, stretch in ((self.sidebar, 0), (self.pages, 1), (self.inspector, 0)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(self.splitter.indexOf(widget), stretch)
        self.splitter.setSizes([240, 900, 330])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)
        self.setStatusBar(self.status)
        self.centre.show_welcome()

    def _connect(self) -> None:
        a, s = self.album_actions, self.session
        for action in a.local():
            self.grid.addAction(action)
            self.inspector.tag_list.addAction(action)
        # the preview answers the same tagging and rating keys as the grid
        self.previewer.page.addActions([a.confirm, a.reject, a.add_tag, *self.marks.actions])
        a.open_album.triggered.connect(self.ask_for_album)
        a.rescan.triggered.connect(s.start_indexing)
        a.export_xmp.triggered.connect(self.sidecars.ask)
        a.quit.triggered.connect(self.close)
        a.undo.triggered.connect(s.undo)
        a.redo.triggered.connect(s.redo)
        a.select_all.triggered.connect(self._on_select_all_triggered)
        a.find.triggered.connect(self._on_find_triggered)
        a.confirm.triggered.connect(self.inspector.confirm)
        a.reject.triggered.connect(self.inspector.reject)
        a.add_tag.triggered.connect(self.inspector.focus_add)
        a.preview.triggered.connect(self.previewer.show_current)
        a.zoom_in.triggered.connect(lambda: self.set_thumb_size(self.loader.side + 32))
        a.zoom_out.triggered.connect(lambda: self.set_thumb_size(self.loader.side - 32))
        a.shortcuts.triggered.connect(lambda: ShortcutsDialog(self).open())
        a.about.triggered.connect(
            lambda: QMessageBox.about(self, "About albumtag", about_text(s.model_info))
        )
        self.size_group.triggered.connect(lambda act: self.set_thumb_size(act.data()))
        self.status.zoom.zoom_changed.connect(self.set_thumb_size)
        self.order_group.triggered.connect(lambda act: self.set_order(act.data()))
        self.recent_menu.aboutToShow.connect(self._on_recent_menu_about_to_show)
        self.centre.welcome.open_requested.connect(self.ask_for_album)
        s.opened.connect(self._on_opened)
        s.open_failed.connect(self._on_open_failed)
        s.history_changed.connect(self._on_history_changed)
        s.marks_changed.connect(lambda _ids: self.browser.refresh_rows())  # stars, flags
        s.error_raised.connect(self.status.say)
        s.indexing_started.connect(self.status.indexing.show_started)
        s.indexing_progressed.connect(self.status.indexing.show_progress)
        s.indexing_finished.connect(self._on_indexing_finished)
        self.status.indexing.cancel_requested.connect(self._on_cancel_requested)
        self.grid.selection_changed.connect(self._on_selection_changed)
        self.grid.preview_requested.connect(self.previewer.show)
        self.search.query_changed.connect(self.browser.set_query)
        self.search.escaped.connect(self.grid.setFocus)
        self.inspector.focus_released.connect(self._on_focus_released)
        self.inspector.status_message.connect(self.status.say)
        self.photo_menu.status_message.connect(self.status.say)
        self.sidecars.status_message.connect(self.status.say)
        self.marks.status_message.connect(self.status.say)
        self.browser.rows_shown.connect(self._on_rows_shown)
        s.indexing.follow(self.grid)  # the photos on screen are tagged first
        self.browser.words_loaded.connect(self.search.set_label_words)
        self.browser.words_loaded.connect(self.inspector.set_label_words)
        self.browser.filter_changed.connect(lambda flt: self.centre.set_title(flt.title))
        self.browser.order_shown.connect(self._on_order_shown)

    def _restore(self) -> None:
        if (geometry := self.settings.geometry()) is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        if (state := self.settings.window_state()) is not None:
            # tool bars and dock widgets; a state saved by another layout version is ignored
            self.restoreState(state, WINDOW_STATE_VERSION)
        if (splitter := self.settings.splitter_state()) is not None:
            self.splitter.restoreState(splitter)
        self.set_thumb_size(self.settings.thumb_size, save=False)
        self.set_order(self.settings.order, save=False)

    # -- albums ---------------------------------------------------------------------------
    def open_album(self, path: str | Path) -> None:
        self.status.say(f"Opening {path}…")
        self.session.open(path)

    def ask_for_album(self) -> None:
        start = self.settings.last_album or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", start)
        if folder:
            self.open_album(folder)

    def _on_opened(self, root: str) -> None:
        self.settings.remember_album(root)
        name = Path(root).name or root
        self.setWindowTitle(f"{name} — albumtag")
        if self.session.read_only is not None:  # e.g. an album on a read-only disk
            self.setWindowTitle(f"{name} (read-only) — albumtag")
            self.status.say(
                f"The album is read-only ({self.session.read_only}): searching works, "
                "edits are off",
                seconds=600,
            )
        self.sidebar.set_album(name, root)
        self.loader.configure(
            self.session.root, self.session.thumbnails, self.loader.side, self.devicePixelRatioF()
        )
        self.grid.setFocus()

    def _on_open_failed(self, path: str, message: str) -> None:
        self.settings.forget_album(path)
        self.centre.welcome.status.setText(f"Cannot open {path}: {message}")
        self.centre.show_welcome()

    def _on_recent_menu_about_to_show(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_albums():
            action = QAction(path, self.recent_menu)
            action.triggered.connect(lambda _=False, p=path: self.open_album(p))
            self.recent_menu.addAction(action)
        self.recent_menu.setEnabled(True)
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent albums").setEnabled(False)

    # -- view -----------------------------------------------------------------------------
    def set_thumb_size(self, side: int, *, save: bool = True) -> None:
        side = min(max(int(side), 96), 320)
        if (side, self.session.root) != (self.loader.side, self.loader.root):
            self.loader.configure(
                self.session.root, self.session.thumbnails, side, self.devicePixelRatioF()
            )
        self.grid.set_thumb_side(side)
        for action in self.size_group.actions():
            action.setChecked(action.data() == side)
        self.status.zoom.set_value(side)
        if save:
            self.settings.thumb_size = side

    def set_order(self, order: str, *, save: bool = True) -> None:
        try:
            order = browse.Order(order)
        except ValueError:
            order = browse.Order.TAKEN
        for action in self.order_group.actions():
            action.setChecked(action.data() == order.value)
        if order != self.browser.shown_order:
            self.browser.set_order(order)
        if save and order == self.browser.order:  # Needs review's own order is not saved
            self.settings.order = order.value

    def _on_order_shown(self, order: str) -> None:
        for action in self.order_group.actions():
            action.setChecked(action.data() == order)

    def _on_rows_shown(self, rows: int, complete: bool) -> None:
        self.centre.show_grid(rows, searching=bool(self.browser.query), complete=complete)
        if complete:
            self.status.set_counts(shown=rows)

    def _on_selection_changed(self, rows: list[GridRow]) -> None:
        self.inspector.set_selection(rows)
        self.status.set_counts(selected=len(rows))

    def _on_select_all_triggered(self) -> None:
        self.grid.setFocus()
        self.grid.selectAll()

    def _on_focus_released(self) -> None:
        (self.previewer.page if self.previewer.is_open else self.grid).setFocus()

    def _on_find_triggered(self) -> None:
        self.previewer.back()  # the search bar is on the grid's page
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _on_history_changed(self, can_undo: bool, can_redo: bool) -> None:
        self.album_actions.undo.setEnabled(can_undo)
        self.album_actions.redo.setEnabled(can_redo)

    def _on_indexing_finished(self, summary: object) -> None:
        self.status.indexing.show_finished()
        self.status.summarise(summary)

    def _on_cancel_requested(self) -> None:
        self.status.indexing.show_cancelling()
        self.session.cancel_indexing()

    # -- closing --------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(
            self.saveGeometry(), self.saveState(WINDOW_STATE_VERSION), self.splitter.saveState()
        )
        self.settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every timer, watcher and worker this window started (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.browser.stop()
        self.grid.stop()
        self.search.stop()
        self.status.stop()
        self.model_menu.close()
        self.learning.close()
        self.inspector.close_dialogs()
        self.previewer.close()
        self.session.close()
        self.loader.close()
