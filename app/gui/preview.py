"""The preview: a page of the main window (in the grid's place) to look at one photo and tag it.

Space, a double-click or the photo menu open it; the inspector stays beside it on the
previewed photo, so every tagging key works as in the grid (the window adds the same actions to
the page). Left/Right step through the grid's order, Z switches between fitted and 100 %, the
wheel zooms around the cursor and a drag pans, F is full screen; Esc leaves full screen first,
then goes back to the grid with the photo selected and in view. The photo decodes on the image
loader's workers: the thumbnail first, a screen-sized image next, full resolution when a zoom
needs it. A file that cannot be read says why in the page.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QImage, QKeyEvent, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import icons
from app.gui.grid import PhotoGridView
from app.gui.imageloader import FULL_SIZE_KEY, ImageLoader
from app.gui.photoview import ZOOM_STEP, PhotoView
from app.gui.session import AlbumSession
from app.gui.theme import COLOURS
from core import browse
from core.browse import GridRow, TagSummary
from core.db import ratings
from core.library import Library

#: The largest shorter side asked of the loader for "100 %" (it decodes at most this much).
FULL_RESOLUTION = 4096


def _full_size(image: QImage) -> QSize:
    """The photo's full resolution the loader wrote on a preview image (else the image's)."""
    width, _, height = image.text(FULL_SIZE_KEY).partition("x")
    if width.isdigit() and height.isdigit():
        return QSize(int(width), int(height))
    return image.size()


def caption_html(row: GridRow, summaries: list[TagSummary], rating: int, flag: int) -> str:
    """The line under the photo: name, stars and flag, then the tags that are on."""
    chips = []
    for s in summaries:
        if not s.has or not (s.direct or s.confirmed):
            continue
        colour = COLOURS.good if s.confirmed else COLOURS.accent
        score = f" {s.score:.0%}" if s.score is not None else ""
        chips.append(
            f"<span style='color:{colour}'>●</span>&nbsp;{html.escape(s.label)}"
            f"<span style='color:{COLOURS.dim}'>{score}</span>"
        )
    tags = "&nbsp;&nbsp;&nbsp;".join(chips) or (
        f"<span style='color:{COLOURS.dim}'>no tags yet</span>"
    )
    marks = ""
    if rating:
        marks += f"&nbsp;&nbsp;<span style='color:#ffc23d'>{'★' * rating}</span>"
    if flag:
        colour, word = (COLOURS.good, "pick") if flag > 0 else (COLOURS.bad, "rejected")
        marks += f"&nbsp;&nbsp;<span style='color:{colour}'>⚑ {word}</span>"
    name, path = html.escape(row.name), html.escape(row.shown_path)
    return (
        f"<b>{name}</b>{marks}&nbsp;&nbsp;<span style='color:{COLOURS.dim}'>{path}</span><br>{tags}"
    )


class PreviewPage(QWidget):
    """The page: a small tool bar, the photo, and its caption. Keys go to the previewer."""

    back_requested = Signal()  # Space, the Grid button
    escape_pressed = Signal()  # Esc: full screen first, then the grid
    step_requested = Signal(int)  # Left/Right

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewPage")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.view = PhotoView(self)
        self.view.setFocusProxy(self)  # a click on the photo gives the keys back to the page
        self.view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.title = QLabel(self)
        self.title.setObjectName("previewTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.zoom_label = QLabel("Fit", self)
        self.zoom_label.setObjectName("previewZoom")
        self.zoom_label.setMinimumWidth(44)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setStyleSheet(f"background: {COLOURS.panel}; padding: 10px 16px;")
        self.back_action = self._action("Grid", "Back to the grid (Esc, Space)", icon="grid")
        self.back_action.triggered.connect(self.back_requested)
        self.fit_action = self._action("Fit", "Fit the photo to the window (Z switches)")
        self.fit_action.triggered.connect(self.view.fit)
        self.full_action = self._action("100%", "One photo pixel per screen pixel (Z switches)")
        self.full_action.triggered.connect(lambda: self.view.set_zoom(1.0))
        self.toggle_action = self._action("Fit / 100%", "", keys=["Z"])
        self.toggle_action.triggered.connect(lambda: self.view.toggle_full_size())
        self.zoom_out_action = self._action("−", "Zoom out (-)", keys=["-"])
        self.zoom_out_action.triggered.connect(lambda: self.view.zoom_by(1 / ZOOM_STEP))
        self.zoom_in_action = self._action("+", "Zoom in (+)", keys=["+", "="])
        self.zoom_in_action.triggered.connect(lambda: self.view.zoom_by(ZOOM_STEP))
        self.full_screen_action = self._action("Full screen", "Full screen (F)", keys=["F"])
        self.full_screen_action.setCheckable(True)
        self.view.zoom_changed.connect(self._on_zoom_changed)
        self._compose()

    def _action(
        self, text: str, tip: str, *, keys: list[str] = (), icon: str | None = None
    ) -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(icons.icon(icon))
        action.setToolTip(tip)
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(action)
        return action

    def _compose(self) -> None:
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 6, 8, 6)
        bar.setSpacing(4)

        def button(action: QAction) -> QToolButton:
            tool = QToolButton(self)
            tool.setDefaultAction(action)
            tool.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            tool.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            return tool

        bar.addWidget(button(self.back_action))
        bar.addSpacing(8)
        bar.addWidget(self.title, 1)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for action in (self.fit_action, self.full_action, self.zoom_out_action):
            bar.addWidget(button(action))
        bar.addWidget(self.zoom_label)
        bar.addWidget(button(self.zoom_in_action))
        bar.addSpacing(8)
        bar.addWidget(button(self.full_screen_action))
        chrome = QWidget(self)
        chrome.setObjectName("previewBar")
        chrome.setLayout(bar)
        chrome.setStyleSheet(f"#previewBar {{ background: {COLOURS.panel}; }}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(chrome)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)

    def _on_zoom_changed(self, zoom: float, fit: bool) -> None:
        self.zoom_label.setText(f"{zoom:.0%}")
        self.zoom_label.setToolTip("fitted to the window" if fit else "")
        self.fit_action.setEnabled(not fit)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            super().keyPressEvent(event)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.step_requested.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.step_requested.emit(-1)
        elif key == Qt.Key.Key_Space:
            self.back_requested.emit()
        elif key == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
        else:
            super().keyPressEvent(event)


class Previewer(QObject):
    """Puts the preview page in the grid's place and keeps it on the grid's current photo."""

    def __init__(
        self,
        session: AlbumSession,
        loader: ImageLoader,
        grid: PhotoGridView,
        window: QMainWindow,
        pages: QStackedWidget,
    ) -> None:
        super().__init__(window)
        self._session = session
        self._loader = loader
        self._grid = grid
        self._window = window
        self._pages = pages
        self.page = PreviewPage()  # the window puts it in ``pages``, after the grid's page
        self.row: GridRow | None = None
        self.chrome: list[QWidget] = []  # hidden in full screen (the window fills this in)
        self._back_to: QWidget | None = None
        self._token = 0
        # "thumb": the thumbnail shows, a screen-sized decode is on its way; "screen": that
        # decode shows; "full": the full resolution is asked for or shows
        self._stage = ""
        self._was_maximized = False
        self.page.back_requested.connect(self.back)
        self.page.escape_pressed.connect(self._on_escape_pressed)
        self.page.step_requested.connect(self.step)
        self.page.full_screen_action.toggled.connect(self.set_full_screen)
        self.page.view.detail_wanted.connect(self._on_detail_wanted)
        loader.preview_loaded.connect(self._on_preview_loaded)
        loader.thumbnail_loaded.connect(self._on_thumbnail_loaded)
        session.tags_changed.connect(self._on_tags_changed)
        session.marks_changed.connect(self._on_tags_changed)
        session.opened.connect(lambda _root: self.back())  # another album: its grid

    @property
    def is_open(self) -> bool:
        return self._pages.currentWidget() is self.page

    # -- opening, stepping, closing ------------------------------------------------------
    def show_current(self) -> None:
        row = self._grid.current_row()
        if row is not None:
            self.show(row)

    def show(self, row: GridRow) -> None:
        """Preview this photo (selecting it in the grid, so the inspector shows it)."""
        if not self.is_open:
            self._back_to = self._pages.currentWidget()
            self._pages.setCurrentWidget(self.page)
        in_grid = self._grid.select_photo(row.id)
        if not in_grid:  # e.g. from teach mode, a photo the grid's search leaves out
            self._grid.clearSelection()
        self.row = row
        self._show_image(row)
        self._show_title(row, in_grid)
        self.page.caption.setText(caption_html(row, [], row.rating, row.flag))
        self._load_caption()
        self.page.setFocus(Qt.FocusReason.OtherFocusReason)

    def step(self, delta: int) -> None:
        """The previous (-1) or next (+1) photo in the grid's order."""
        row = self._grid.step(delta)
        if row is not None and (self.row is None or row.id != self.row.id):
            self.show(row)

    def back(self) -> None:
        """Back to the grid, with the previewed photo selected and scrolled into view."""
        if not self.is_open:
            return
        self.set_full_screen(False)
        self._pages.setCurrentWidget(self._back_to or self._pages.widget(0))
        self._loader_token_reset()
        if self.row is not None and self._grid.select_photo(self.row.id):
            self._grid.scrollTo(
                self._grid.currentIndex(), QAbstractItemView.ScrollHint.EnsureVisible
            )
        self._grid.setFocus(Qt.FocusReason.OtherFocusReason)

    def close(self) -> None:
        """The window is closing."""
        self.set_full_screen(False)
        self._loader_token_reset()

    def _loader_token_reset(self) -> None:
        self._token = 0  # an answer still on its way is dropped

    def _on_escape_pressed(self) -> None:
        if self._window.isFullScreen():
            self.set_full_screen(False)
        else:
            self.back()

    def set_full_screen(self, on: bool) -> None:
        """The window full screen with only the photo and the inspector, or back."""
        action = self.page.full_screen_action
        if action.isChecked() != on:
            action.setChecked(on)  # calls back here through toggled
            return
        if on == self._window.isFullScreen():
            return
        for widget in self.chrome:
            widget.setVisible(not on)
        if on:
            self._was_maximized = self._window.isMaximized()
            self._window.showFullScreen()
        elif self._was_maximized:
            self._window.showMaximized()
        else:
            self._window.showNormal()

    # -- the image ---------------------------------------------------------------------
    def _show_image(self, row: GridRow) -> None:
        """The thumbnail at once (fitted), and a screen-sized decode asked of the workers."""
        view = self.page.view
        self._token, self._stage = 0, ""
        if row.status == "error":
            view.show_photo(None, QSize())
            view.show_failure(f"Cannot read this photo: {row.error or 'unreadable'}")
            return
        thumb = self._loader.pixmap(row)
        view.show_photo(thumb, self._fitted(thumb))
        ratio = view.devicePixelRatioF()
        side = max(1024, round(max(view.width(), view.height()) * ratio))
        self._token, self._stage = self._loader.load_preview(row, side), "thumb"

    def _fitted(self, thumb: QPixmap | None) -> QSize:
        """A stand-in full size for a thumbnail: as large as fits (until the real one comes)."""
        if thumb is None:
            return QSize()
        return (
            thumb.deviceIndependentSize()
            .toSize()
            .scaled(self.page.view.size(), Qt.AspectRatioMode.KeepAspectRatio)
        )

    def _on_thumbnail_loaded(self, photo_id: int) -> None:
        view = self.page.view
        if (
            self.row is not None
            and photo_id == self.row.id
            and self._stage == "thumb"
            and view.pixmap is None
            and not view.failed
        ):
            thumb = self._loader.pixmap(self.row)
            view.show_photo(thumb, self._fitted(thumb))

    def _on_preview_loaded(self, token: int, image: QImage | None, reason: str) -> None:
        if not token or token != self._token:
            return
        view = self.page.view
        if image is None:
            if self._stage == "thumb":  # nothing sharper than the thumbnail: say why
                view.show_failure(f"Cannot read this photo: {reason}")
            return
        full = _full_size(image)
        whole = image.width() >= full.width()
        self._stage = "full" if whole or self._stage == "full" else "screen"
        view.set_image(QPixmap.fromImage(image), full)  # may ask for detail (below)

    def _on_detail_wanted(self) -> None:
        """A zoom needs more pixels than the screen-sized image: decode the full one."""
        if self.row is not None and self._stage == "screen":
            self._stage = "full"
            self._token = self._loader.load_preview(self.row, FULL_RESOLUTION)

    # -- the caption -------------------------------------------------------------------
    def _show_title(self, row: GridRow, in_grid: bool) -> None:
        model = self._grid.photo_model()
        where = model.row_of(row.id) if in_grid else None
        place = (
            f"{where + 1} of {model.rowCount()}"
            if where is not None
            else "not in the grid's view: the tagging keys act on nothing here"
        )
        self.page.title.setText(f"{row.shown_path}    {place}")

    def _load_caption(self) -> None:
        row = self.row
        if row is None:
            return

        def work(library: Library) -> tuple[list[TagSummary], tuple]:
            marks = ratings.marks(library.store, [row.id]).get(row.id, (None, None))
            return browse.tag_summary(library, [row.id]), marks

        def done(result: tuple[list[TagSummary], tuple]) -> None:
            if self.row is not None and self.row.id == row.id:
                summaries, (rating, flag) = result
                self.page.caption.setText(caption_html(row, summaries, rating or 0, flag or 0))

        self._session.query(work, done)

    def _on_tags_changed(self, photo_ids: object) -> None:
        if (
            self.row is not None
            and self.is_open
            and (not isinstance(photo_ids, list) or self.row.id in photo_ids)
        ):
            self._load_caption()
