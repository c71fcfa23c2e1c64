"""The window's actions and menus: File, Edit, View, Model, Help."""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from app.gui import icons
from app.gui.settings import THUMB_SIZES
from core.browse import Order

#: View → Sort by: every order, in the enum's order, with the words core gives it.
SORT_ORDERS = tuple((order, order.label) for order in Order)

_LOCAL = Qt.ShortcutContext.WidgetWithChildrenShortcut


@dataclass
class Actions:
    """Every action of the window, created once."""

    open_album: QAction
    rescan: QAction
    export_xmp: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    select_all: QAction
    find: QAction
    confirm: QAction
    reject: QAction
    add_tag: QAction
    preview: QAction
    zoom_in: QAction
    zoom_out: QAction
    retrain: QAction
    history: QAction
    shortcuts: QAction
    about: QAction

    def local(self) -> list[QAction]:
        """Actions whose keys only work in the grid and the tag list (letters, Enter, Del)."""
        return [self.confirm, self.reject, self.add_tag, self.preview]

    def all(self) -> list[QAction]:
        return [getattr(self, f.name) for f in fields(self)]


def _action(
    parent: QWidget,
    text: str,
    keys: object = None,
    *,
    icon: str | None = None,
    tip: str = "",
    local: bool = False,
    anywhere: bool = False,
) -> QAction:
    action = QAction(text, parent)
    if keys is not None:
        if isinstance(keys, list):
            action.setShortcuts(keys)
        else:
            action.setShortcut(keys)
    if icon:
        action.setIcon(icons.icon(icon))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.setShortcutContext(
        _LOCAL
        if local
        else Qt.ShortcutContext.ApplicationShortcut
        if anywhere
        else Qt.ShortcutContext.WindowShortcut
    )
    return action


def build_actions(window: QWidget) -> Actions:
    key = QKeySequence
    return Actions(
        open_album=_action(window, "&Open album…", key.StandardKey.Open, icon="folder"),
        rescan=_action(
            window,
            "&Rescan folder",
            key("F5"),
            tip="Look for new, changed and removed photos and tag them",
        ),
        export_xmp=_action(
            window,
            "&Write tags to sidecars…",
            tip="Write confirmed tags to photo.jpg.xmp files other apps read "
            "(originals are not modified)",
        ),
        quit=_action(window, "&Quit", key.StandardKey.Quit),
        undo=_action(window, "&Undo tag change", key.StandardKey.Undo, anywhere=True),
        redo=_action(
            window, "&Redo tag change", [key("Ctrl+Shift+Z"), key("Ctrl+Y")], anywhere=True
        ),
        select_all=_action(window, "Select &all photos", key.StandardKey.SelectAll),
        find=_action(window, "&Find…", key.StandardKey.Find, icon="search"),
        confirm=_action(
            window,
            "&Confirm tags",
            [key(Qt.Key.Key_Return), key(Qt.Key.Key_Enter)],
            icon="check",
            local=True,
            tip="Confirm the chosen tags, or every suggested tag when none is chosen",
        ),
        reject=_action(
            window,
            "&Reject tag",
            key(Qt.Key.Key_Delete),
            icon="cross",
            local=True,
            tip="Reject the tags chosen in the inspector",
        ),
        add_tag=_action(window, "Add &tag…", key(Qt.Key.Key_T), icon="tag", local=True),
        preview=_action(window, "&Preview", key(Qt.Key.Key_Space), local=True),
        zoom_in=_action(window, "&Bigger thumbnails", [key("Ctrl+="), key("Ctrl++")]),
        zoom_out=_action(window, "&Smaller thumbnails", key("Ctrl+-")),
        retrain=_action(window, "&Retrain…", icon="model"),
        history=_action(window, "Model &history…"),
        shortcuts=_action(window, "&Keyboard shortcuts", key("F1")),
        about=_action(window, "&About albumtag"),
    )


def build_menus(window: QMainWindow, actions: Actions) -> tuple[QMenu, QActionGroup, QActionGroup]:
    """Fill the menu bar; returns the Recent albums menu, the size and the sort groups."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions.open_album)
    recent = file_menu.addMenu("Open &recent")
    recent.setObjectName("recentMenu")
    file_menu.addSeparator()
    file_menu.addAction(actions.rescan)
    file_menu.addAction(actions.export_xmp)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)

    edit = bar.addMenu("&Edit")
    for action in (
        actions.undo,
        actions.redo,
        None,
        actions.select_all,
        actions.find,
        None,
        actions.confirm,
        actions.reject,
        actions.add_tag,
    ):
        edit.addSeparator() if action is None else edit.addAction(action)

    view = bar.addMenu("&View")
    view.addAction(actions.preview)
    view.addSeparator()
    sizes = QActionGroup(window)
    size_menu = view.addMenu("Thumbnail &size")
    for name, side in THUMB_SIZES.items():
        action = QAction(name.capitalize(), window)
        action.setCheckable(True)
        action.setData(side)
        sizes.addAction(action)
        size_menu.addAction(action)
    view.addAction(actions.zoom_in)
    view.addAction(actions.zoom_out)
    view.addSeparator()
    orders = QActionGroup(window)
    order_menu = view.addMenu("Sort &by")
    for order, text in SORT_ORDERS:
        action = QAction(text, window)
        action.setCheckable(True)
        action.setData(order.value)
        orders.addAction(action)
        order_menu.addAction(action)

    model = bar.addMenu("&Model")
    model.setToolTipsVisible(True)
    model.addAction(actions.retrain)
    model.addAction(actions.history)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(actions.shortcuts)
    help_menu.addAction(actions.about)
    for menu in (file_menu, edit, view, help_menu):
        menu.setToolTipsVisible(True)
    return recent, sizes, orders
