"""The tag tree: the album's scopes, the user's labels and the label hierarchy, with counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QPainter, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

from app.gui import icons
from app.gui.folders import FOLDER_ROLE, FolderSection, folder_menu
from app.gui.taglist import LEARNS_HINT
from app.gui.theme import COLOURS
from core.browse import Scope, ScopeCounts
from core.library import LabelNode
from core.search.folders import Folder, folder_term

logger = logging.getLogger(__name__)

FILTER_ROLE = Qt.ItemDataRole.UserRole + 10
COUNT_ROLE = Qt.ItemDataRole.UserRole + 11
HEADER_ROLE = Qt.ItemDataRole.UserRole + 12
LEARNS_ROLE = Qt.ItemDataRole.UserRole + 13  # True: a prior-blind label (learns from examples)
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Filter:
    """What the grid shows before the search: a scope, or one label with its subtree, or a
    search term the entry stands for (a folder: ``folder:2019/rome``)."""

    scope: Scope = Scope.ALL
    label_id: int | None = None
    label: str = ""
    query: str = ""

    @property
    def title(self) -> str:
        if self.scope == Scope.LABEL or self.query:
            return self.label
        return _SCOPES[self.scope][0]


_SCOPES = {
    Scope.ALL: ("All photos", "grid"),
    Scope.REVIEW: ("Needs review", "review"),
    Scope.UNTAGGED: ("Untagged", "untagged"),
    Scope.ERRORS: ("Unreadable", "warning"),
}


class TagTreeModel(QStandardItemModel):
    """Scopes, user labels and the hierarchy. Counts update in place; structure rebuilds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._shape: tuple = ()
        self._items: dict[tuple, QStandardItem] = {}
        self.folders = FolderSection(
            self, _folder_filter, filter_role=FILTER_ROLE, count_role=COUNT_ROLE, parent=self
        )

    def reset(self) -> None:
        self.clear()
        self._items.clear()
        self._shape = ()
        self.folders.forget()

    def set_content(
        self,
        nodes: list[LabelNode],
        counts: ScopeCounts,
        folders: Folder | None = None,
        album: str = "",
    ) -> bool:
        """Show these labels, counts and folders; returns True when the tree was rebuilt."""
        visible = self._visible(nodes)
        shape = (
            tuple((n.label.id, n.label.parent_id, n.label.name) for n in visible),
            counts.errors > 0,
        )
        new_folders = folders is not None and self.folders.set_root(folders, album)
        if shape == self._shape:
            self._update_counts(visible, counts)
            if new_folders:
                self._rebuild_folders()
            return new_folders
        self._shape = shape
        self._rebuild(visible, counts)
        return True

    def _rebuild_folders(self) -> None:
        last = self.item(self.rowCount() - 1) if self.rowCount() else None
        if last is not None and last.data(HEADER_ROLE) and last.text() == "FOLDERS":
            self.removeRow(last.row())
        if self.folders.has_entries:
            self.folders.build(self._section("Folders"))

    @staticmethod
    def _visible(nodes: list[LabelNode]) -> list[LabelNode]:
        """Labels with photos (and their ancestors), and every label the user made."""
        keep: set[int] = set()
        by_id = {n.label.id: n for n in nodes}
        for node in nodes:
            if node.count > 0 or node.label.kind == "user":
                lid: int | None = node.label.id
                while lid is not None and lid not in keep:
                    keep.add(lid)
                    lid = by_id[lid].label.parent_id if lid in by_id else None
        return [n for n in nodes if n.label.id in keep]

    def _rebuild(self, visible: list[LabelNode], counts: ScopeCounts) -> None:
        self.clear()
        self._items.clear()
        library = self._section("Library")
        for scope, (title, icon_name) in _SCOPES.items():
            if scope == Scope.ERRORS and counts.errors == 0:
                continue
            item = self._entry(title, Filter(scope), getattr(counts, scope.value))
            item.setIcon(icons.icon(icon_name, COLOURS.dim))
            library.appendRow(item)
            self._items[("scope", scope)] = item
        # Each label once: the user's (made by hand or imported from keywords) as their own
        # tree under "Your labels", the built-in hierarchy under "Labels".
        by_id = {n.label.id: n for n in visible}
        user = [n for n in visible if n.label.kind == "user"]
        if user:
            mine = self._section("Your labels")
            placed: dict[int, QStandardItem] = {}
            for node in sorted(user, key=lambda n: (n.depth, n.label.name.lower())):
                item = self._label_entry(node)
                item.setIcon(icons.icon("user" if _is_person(node, by_id) else "tag", COLOURS.dim))
                placed.get(node.label.parent_id, mine).appendRow(item)
                placed[node.label.id] = item
                self._items[("user", node.label.id)] = item
        tree = self._section("Labels")
        parents: dict[int, QStandardItem] = {}
        for node in visible:
            if node.label.kind == "user":
                continue
            item = self._label_entry(node)
            parent = parents.get(node.label.parent_id, tree) if node.label.parent_id else tree
            parent.appendRow(item)
            parents[node.label.id] = item
            self._items[("label", node.label.id)] = item
        self._rebuild_folders()  # last: the album's folders (app.gui.folders)

    def _update_counts(self, visible: list[LabelNode], counts: ScopeCounts) -> None:
        for scope in _SCOPES:
            item = self._items.get(("scope", scope))
            if item is not None:
                item.setData(getattr(counts, scope.value), COUNT_ROLE)
        for node in visible:
            for kind in ("user", "label"):
                item = self._items.get((kind, node.label.id))
                if item is not None and item.data(COUNT_ROLE) != node.count:
                    item.setData(node.count, COUNT_ROLE)

    def _section(self, title: str) -> QStandardItem:
        item = QStandardItem(title.upper())
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setData(True, HEADER_ROLE)
        font = QFont()
        font.setPointSizeF(7.5)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 1.0)
        item.setFont(font)
        self.appendRow(item)
        return item

    @staticmethod
    def _entry(title: str, flt: Filter, count: int) -> QStandardItem:
        item = QStandardItem(title)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        item.setData(flt, FILTER_ROLE)
        item.setData(count, COUNT_ROLE)
        return item

    def _label_entry(self, node: LabelNode) -> QStandardItem:
        item = self._entry(
            node.label.name, Filter(Scope.LABEL, node.label.id, node.label.name), node.count
        )
        tip = f"{node.label.name}: {node.count} photos · threshold {node.threshold:.2f}" + (
            " · your label" if node.label.kind == "user" else ""
        )
        if node.learns_from_examples:
            tip += f"\n{LEARNS_HINT}"
            item.setData(True, LEARNS_ROLE)
            if node.label.kind != "user":  # a user label already wears the "user" icon
                item.setIcon(icons.icon("learn", COLOURS.faint))
        item.setToolTip(tip)
        return item

    def index_of(self, flt: Filter) -> QModelIndex | None:
        if flt.query:
            return self.folders.index_of(flt)
        if flt.scope != Scope.LABEL:
            item = self._items.get(("scope", flt.scope))
        else:
            item = self._items.get(("label", flt.label_id)) or self._items.get(
                ("user", flt.label_id)
            )
        return item.index() if item is not None else None

    def find_label(self, name: str) -> QModelIndex | None:
        for (kind, _), item in self._items.items():
            if kind in ("label", "user") and item.text().lower() == name.lower():
                return item.index()
        return None


def _folder_filter(folder: Folder, name: str, subfolders: bool) -> Filter:
    return Filter(Scope.ALL, None, folder.shown_path or name, folder_term(folder.path, subfolders))


def _is_person(node: LabelNode, by_id: dict[int, LabelNode]) -> bool:
    """Whether a label sits under "people" (only those wear the person icon)."""
    lid: int | None = node.label.parent_id
    for _ in range(64):
        if lid is None or lid not in by_id:
            return False
        if by_id[lid].label.name.lower() in ("people", "person"):
            return True
        lid = by_id[lid].label.parent_id
    return False


class _CountDelegate(QStyledItemDelegate):
    """Draws the item, then its photo count right-aligned in a quiet colour."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        count = index.data(COUNT_ROLE)
        if index.data(HEADER_ROLE):
            painter.save()
            painter.setPen(COLOURS.q("faint"))
            painter.setFont(index.data(Qt.ItemDataRole.FontRole))
            rect = option.rect.adjusted(2, 6, 0, 0)
            painter.drawText(
                rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, index.data()
            )
            painter.restore()
            return
        text = f"{count:,}" if isinstance(count, int) else ""
        width = option.fontMetrics.horizontalAdvance(text) + 14 if text else 0
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.rect = option.rect.adjusted(0, 0, -width, 0)
        super().paint(painter, opt, index)
        if text:
            painter.save()
            painter.setPen(COLOURS.q("faint" if count == 0 else "dim"))
            rect = QRect(
                option.rect.right() - width, option.rect.y(), width - 8, option.rect.height()
            )
            painter.drawText(
                rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text
            )
            painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        size = super().sizeHint(option, index)
        extra = 10 if index.data(HEADER_ROLE) else 4
        return QSize(size.width(), size.height() + extra)


class TagTree(QTreeView):
    """The sidebar tree; choosing an entry emits ``filter_chosen``."""

    filter_chosen = Signal(object)  # Filter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagTree")
        self.tree_model = TagTreeModel(self)
        self.setModel(self.tree_model)
        self.setItemDelegate(_CountDelegate(self))
        self.setHeaderHidden(True)
        self.setIndentation(14)
        self.setRootIsDecorated(False)  # the sections themselves do not fold
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAnimated(False)
        self.setMouseTracking(True)
        self.setFrameShape(QTreeView.Shape.NoFrame)
        self._current = Filter()
        self._wanted_expanded: set[int] | None = None  # labels to open once the tree is built
        self.selectionModel().currentChanged.connect(self._on_current_changed)
        folders = self.tree_model.folders
        self.expanded.connect(lambda index: folders.note_folded(index, True))
        self.collapsed.connect(lambda index: folders.note_folded(index, False))
        folders.subfolders_changed.connect(self._on_subfolders_changed)
        self.customContextMenuRequested.connect(self._on_folder_menu_requested)
        self.folder_menu: QMenu | None = None

    @property
    def current_filter(self) -> Filter:
        return self._current

    def set_content(
        self,
        nodes: list[LabelNode],
        counts: ScopeCounts,
        folders: Folder | None = None,
        album: str = "",
    ) -> None:
        expanded = self._expanded_labels() if self.tree_model.rowCount() else None
        # Rows removed under the current entry (a folder gone) move Qt's current index to a
        # neighbour: no entry is "chosen" by that; the one shown is selected again below.
        blocked = self.selectionModel().blockSignals(True)
        try:
            rebuilt = self.tree_model.set_content(nodes, counts, folders, album)
        finally:
            self.selectionModel().blockSignals(blocked)
        if not rebuilt:
            return
        if nodes and self._wanted_expanded is not None:
            expanded, self._wanted_expanded = self._wanted_expanded, None
        for row in range(self.tree_model.rowCount()):  # sections open, labels as they were
            self.expand(self.tree_model.index(row, 0))
        self._expand_labels(expanded)
        self.tree_model.folders.open_branches(self.expand)
        if (
            self._current.query
            and self.tree_model.folders.root is not None
            and self.tree_model.index_of(self._current) is None
        ):
            self.select_filter(Filter(), emit=False)  # the folder shown is gone: all photos
            self.filter_chosen.emit(self._current)
            return
        self.select_filter(self._current, emit=False)

    def expand_when_built(self, labels: set[int]) -> None:
        """Open these labels when the tree next gets its labels (restoring a session)."""
        self._wanted_expanded = set(labels)

    @property
    def expansion_pending(self) -> bool:
        return self._wanted_expanded is not None

    def expanded_labels(self) -> set[int]:
        """The labels whose branch is open."""
        return self._expanded_labels()

    def _expanded_labels(self) -> set[int]:
        out: set[int] = set()
        stack = [self.tree_model.index(r, 0) for r in range(self.tree_model.rowCount())]
        while stack:
            index = stack.pop()
            flt = index.data(FILTER_ROLE)
            if flt is not None and flt.label_id is not None and self.isExpanded(index):
                out.add(flt.label_id)
            stack += [
                self.tree_model.index(r, 0, index) for r in range(self.tree_model.rowCount(index))
            ]
        return out

    def _expand_labels(self, labels: set[int] | None) -> None:
        if labels is None:
            return
        for lid in labels:
            index = self.tree_model.index_of(Filter(Scope.LABEL, lid))
            if index is not None:
                self.expand(index)

    def select_filter(self, flt: Filter, *, emit: bool = True) -> None:
        index = self.tree_model.index_of(flt)
        self._current = flt
        if index is None:
            return
        blocker = not emit
        if blocker:
            self.selectionModel().blockSignals(True)
        self.setCurrentIndex(index)
        if blocker:
            self.selectionModel().blockSignals(False)
            self.viewport().update()
        self.scrollTo(index)

    def _on_folder_menu_requested(self, pos: QPoint) -> None:
        """A folder's own menu (labels get theirs from app.gui.learning)."""
        menu = folder_menu(self.tree_model.folders, self.indexAt(pos), self)
        if menu is not None:
            menu.popup(self.viewport().mapToGlobal(pos))
            self.folder_menu = menu

    def _on_subfolders_changed(self, _on: bool) -> None:
        """The folder shown keeps showing, with or without its subfolders now."""
        if self._current.query and self.currentIndex().data(FOLDER_ROLE) is not None:
            flt = self.currentIndex().data(FILTER_ROLE)
            if flt is not None and flt != self._current:
                self._current = flt
                self.filter_chosen.emit(flt)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        flt = current.data(FILTER_ROLE) if current.isValid() else None
        if flt is not None and flt != self._current:
            self._current = flt
            self.filter_chosen.emit(flt)
