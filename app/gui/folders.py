"""The sidebar's folder tree: the album's folders with photo counts (issue 15.4).

A section of the tag tree (:mod:`app.gui.sidebar`): the album folder, its folders below it, each
with the number of photos choosing it shows, and a checkbox "Include subfolders" (remembered in
the settings). Choosing a folder is a search term, ``folder:2019/rome`` or with subfolders
``folder:2019/rome/**`` (:mod:`core.search.folders`), evaluated by the search engine like any
other search. A folder with no photo of its own and one subfolder shows with it as one entry
(``2019/rome``; a longer chain as its ends, ``a/…/z``, the whole path in the tooltip), so a deep
chain of folders stays readable in a narrow sidebar; names that are
not valid UTF-8 show their odd bytes as ``\\xNN``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QGuiApplication, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QMenu, QWidget

from app.gui import icons
from app.gui.theme import COLOURS
from core.paths import readable
from core.search.folders import Folder, folder_term

logger = logging.getLogger(__name__)

FOLDER_ROLE = Qt.ItemDataRole.UserRole + 20  # a folder entry's Folder (a str path would lose
#                                               the odd bytes of a name on its way through Qt)
TOGGLE_ROLE = Qt.ItemDataRole.UserRole + 21  # True on the "Include subfolders" entry
SETTING = "view/folder_subfolders"

#: (folder, the name it shows, with subfolders) → what the sidebar's entry filters by.
FilterFactory = Callable[[Folder, str, bool], object]


def shown_entries(folder: Folder) -> list[tuple[Folder, str]]:
    """A folder's children as the tree shows them: a child with no photo of its own and one
    subfolder is merged with it (``2019/rome``), down to the first folder that holds photos
    or branches."""
    out = []
    for child in folder.children:
        names, shown = [child.name], child
        while shown.own == 0 and len(shown.children) == 1:
            shown = shown.children[0]
            names.append(shown.name)
        # a long chain shows its ends: where it starts and the folder that holds the photos
        out.append((shown, "/".join(names) if len(names) <= 3 else f"{names[0]}/…/{names[-1]}"))
    return out


def _shows(root: Folder | None) -> bool:
    return root is not None and root.total > root.own


class FolderSection(QObject):
    """Fills and updates the "Folders" section of a QStandardItemModel."""

    subfolders_changed = Signal(bool)

    def __init__(
        self,
        model: QStandardItemModel,
        make_filter: FilterFactory,
        *,
        filter_role: int,
        count_role: int,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._make_filter = make_filter
        self._filter_role = filter_role
        self._count_role = count_role
        self.root: Folder | None = None
        self.album = ""  # the album folder's name, shown for its entry
        self.subfolders = True
        self.expanded: set[str] = {""}  # folders whose branch is open (the album's at first)
        self._items: dict[str, QStandardItem] = {}
        self._toggle: QStandardItem | None = None
        self._settings: QSettings | None = None
        model.itemChanged.connect(self._on_item_changed)

    # -- content --------------------------------------------------------------------------
    @staticmethod
    def shape(root: Folder | None) -> tuple:
        """What decides the entries (not their counts): a change here rebuilds the section."""
        if root is None or root.total == 0:
            return ()
        out: list[tuple[str, str]] = []
        stack = [root]
        while stack:
            folder = stack.pop()
            for child, name in shown_entries(folder):
                out.append((child.path, name))
                stack.append(child)
        return tuple(out)

    @property
    def has_entries(self) -> bool:
        """Whether the section shows: the album has photos in at least one folder below it
        (a flat album's only folder is "All photos" already)."""
        return _shows(self.root)

    def set_root(self, root: Folder | None, album: str = "") -> bool:
        """Take new folders; returns True when the entries changed (the section rebuilds),
        False when only counts did (updated in place)."""
        changed = (
            self.shape(root) != self.shape(self.root)
            or album != self.album
            or (_shows(root) != self.has_entries)
        )
        self.root, self.album = root, album
        if not changed:
            self._update_counts()
        return changed

    def forget(self) -> None:
        """Drop everything (the model was cleared: another album)."""
        self.root, self.album = None, ""
        self._items.clear()
        self._toggle = None

    def build(self, section: QStandardItem) -> None:
        """Put the entries under ``section`` (the model's "FOLDERS" header)."""
        self._items.clear()
        self._toggle = None
        if not self.has_entries:
            return
        toggle = QStandardItem("Include subfolders")
        toggle.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
        toggle.setData(True, TOGGLE_ROLE)
        toggle.setToolTip("Choosing a folder shows the photos in the folders below it too")
        blocked = self._model.blockSignals(True)
        toggle.setCheckState(Qt.CheckState.Checked if self.subfolders else Qt.CheckState.Unchecked)
        self._model.blockSignals(blocked)
        self._toggle = toggle
        section.appendRow(toggle)
        root_item = self._entry(self.root, self.album or "Album folder")
        section.appendRow(root_item)
        stack: list[tuple[Folder, QStandardItem]] = [(self.root, root_item)]
        while stack:
            folder, item = stack.pop()
            for child, name in shown_entries(folder):
                child_item = self._entry(child, name)
                item.appendRow(child_item)
                stack.append((child, child_item))

    def _entry(self, folder: Folder, name: str) -> QStandardItem:
        item = QStandardItem(name)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        item.setIcon(icons.icon("folder", COLOURS.dim))
        self._items[folder.path] = item
        self._fill(item, folder)
        return item

    def _fill(self, item: QStandardItem, folder: Folder) -> None:
        name = item.text()
        item.setData(folder, FOLDER_ROLE)
        item.setData(self._make_filter(folder, name, self.subfolders), self._filter_role)
        count = folder.count(self.subfolders)
        if item.data(self._count_role) != count:
            item.setData(count, self._count_role)
        where = folder.shown_path or self.album or "the album folder"
        item.setToolTip(
            f"{where}\n{folder.own:,} photos here, {folder.total:,} with the folders below"
        )

    def _update_counts(self) -> None:
        if self.root is None:
            return
        for folder in self.root.walk():
            item = self._items.get(folder.path)
            if item is not None:
                self._fill(item, folder)

    # -- looking up -----------------------------------------------------------------------
    def index_of(self, flt: object) -> QModelIndex | None:
        """The entry that shows ``flt``, if it is a folder's (its term compared as shown: a
        filter restored from the settings spells odd bytes as ``\\xNN``)."""
        wanted = readable(getattr(flt, "query", ""))
        for item in self._items.values():
            mine = item.data(self._filter_role)
            if mine == flt or readable(getattr(mine, "query", "")) == wanted:
                return item.index()
        return None

    @staticmethod
    def folder_at(index: QModelIndex) -> Folder | None:
        """The folder an entry shows (None: not a folder's entry)."""
        folder = index.data(FOLDER_ROLE)
        return folder if isinstance(folder, Folder) else None

    def term(self, path: str) -> str:
        return folder_term(path, self.subfolders)

    # -- the option -----------------------------------------------------------------------
    def remember_in(self, settings: QSettings) -> None:
        """Read the option from ``settings`` and write it there whenever it changes."""
        self._settings = settings
        value = settings.value(SETTING, True)
        self.set_subfolders(value not in (False, "false", "0", 0))

    def set_subfolders(self, on: bool) -> None:
        if on == self.subfolders:
            return
        self.subfolders = on
        if self._settings is not None:
            self._settings.setValue(SETTING, on)
        if self._toggle is not None:
            state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
            if self._toggle.checkState() != state:
                self._toggle.setCheckState(state)
        self._update_counts()
        self.subfolders_changed.emit(on)

    def _on_item_changed(self, item: QStandardItem) -> None:
        if item.data(TOGGLE_ROLE):
            self.set_subfolders(item.checkState() == Qt.CheckState.Checked)

    # -- open branches --------------------------------------------------------------------
    def note_folded(self, index: QModelIndex, expanded: bool) -> None:
        folder = self.folder_at(index)
        if folder is not None:
            (self.expanded.add if expanded else self.expanded.discard)(folder.path)

    def open_branches(self, expand: Callable[[QModelIndex], None]) -> None:
        """Open the album folder's entry and the branches the user had open."""
        for path, item in self._items.items():
            if path in self.expanded:
                expand(item.index())


def folder_menu(section: FolderSection, index: QModelIndex, parent: QWidget) -> QMenu | None:
    """The context menu of a folder's entry (None for any other entry)."""
    folder = section.folder_at(index)
    if folder is None:
        return None
    menu = QMenu(parent)
    option = menu.addAction("Include subfolders")
    option.setCheckable(True)
    option.setChecked(section.subfolders)
    option.toggled.connect(section.set_subfolders)
    menu.addAction(
        "Copy folder path", lambda: QGuiApplication.clipboard().setText(folder.shown_path)
    )
    # what choosing it searches, for the search bar (folder:… is the language's own term)
    menu.addAction(f"Searches {readable(section.term(folder.path))}").setEnabled(False)
    return menu
