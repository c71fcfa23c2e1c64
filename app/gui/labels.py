"""The label manager (issue 15.5): rename, merge, move, aliases and delete the user's labels.

The operations are :mod:`core.ops`' (rename_label, merge_labels...); each runs on the session's
database thread and is one step of the window's undo stack (Ctrl+Z), the same as verdicts.
``LabelManager`` asks for the details (input dialogs) and runs them; ``LabelManagerDialog``
lists the user's labels with the five buttons. The tag tree's context menu
(``app.gui.learning``) offers the same entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.session import AlbumSession
from core import ops
from core.library import LabelNode, Library

logger = logging.getLogger(__name__)

#: (title, label, text or items) -> the answer, or None when cancelled; tests give a fake.
Asker = Callable[[str, str, object], str | None]


def _ask(parent: QWidget) -> Asker:
    def ask(title: str, prompt: str, default: object) -> str | None:
        if isinstance(default, list):
            text, ok = QInputDialog.getItem(parent, title, prompt, default, 0, True)
        else:
            text, ok = QInputDialog.getText(parent, title, prompt, text=str(default))
        return text if ok else None

    return ask


class LabelManager(QObject):
    """Runs label manager operations for one window."""

    def __init__(self, session: AlbumSession, parent: QWidget, asker: Asker | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._parent = parent
        self.ask = asker or _ask(parent)
        self.dialog: LabelManagerDialog | None = None

    # -- the operations (no questions) ------------------------------------------------------
    def rename(self, name: str, new_name: str) -> None:
        self._session.run_op(ops.rename_label, name, new_name, announce=True)

    def merge(self, source: str, target: str) -> None:
        self._session.run_op(ops.merge_labels, source, target, announce=True)

    def move(self, name: str, parent: str | None) -> None:
        self._session.run_op(ops.move_label, name, parent, announce=True)

    def set_aliases(self, name: str, aliases: list[str]) -> None:
        self._session.run_op(ops.set_aliases, name, aliases, announce=True)

    def delete(self, name: str) -> None:
        self._session.run_op(ops.delete_label, name, announce=True)

    # -- asking first ---------------------------------------------------------------------
    def _names(self, then: Callable[[list[str]], None]) -> None:
        self._session.query(
            lambda library: sorted((r.name for r in library.store.labels()), key=str.lower), then
        )

    def ask_rename(self, name: str) -> None:
        new = self.ask(f"Rename “{name}”", "New name:", name)
        if new and new.strip() != name:
            self.rename(name, new)

    def ask_merge(self, name: str) -> None:
        def then(names: list[str]) -> None:
            target = self.ask(
                f"Merge “{name}” into…",
                f"Every photo tagged “{name}” gets this label instead:",
                [n for n in names if n != name],
            )
            if target:
                self.merge(name, target)

        self._names(then)

    def ask_move(self, name: str) -> None:
        def then(names: list[str]) -> None:
            parent = self.ask(
                f"Move “{name}”",
                "Put it under (empty: at the top level):",
                ["", *(n for n in names if n != name)],
            )
            if parent is not None:
                self.move(name, parent.strip() or None)

        self._names(then)

    def ask_aliases(self, name: str, current: tuple[str, ...] = ()) -> None:
        text = self.ask(
            f"Aliases of “{name}”", "Other words for it, separated by commas:", ", ".join(current)
        )
        if text is not None:
            self.set_aliases(name, [w.strip() for w in text.split(",") if w.strip()])

    def ask_aliases_for(self, name: str) -> None:
        self._session.query(
            lambda library: next((r.aliases for r in library.store.labels() if r.name == name), ()),
            lambda current: self.ask_aliases(name, current),
        )

    def show_dialog(self) -> LabelManagerDialog:
        if self.dialog is None:
            self.dialog = LabelManagerDialog(self, self._session, self._parent)
        self.dialog.show()
        self.dialog.reload()
        return self.dialog

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()


class LabelManagerDialog(QDialog):
    """Your labels, with where they sit, their aliases and photos, and what can be done."""

    def __init__(
        self, manager: LabelManager, session: AlbumSession, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Labels")
        self.setObjectName("labelManager")
        self.resize(560, 380)
        self._manager = manager
        self._session = session
        self._aliases: dict[str, tuple[str, ...]] = {}
        self.table = QTreeWidget(self)
        self.table.setHeaderLabels(["Label", "Under", "Aliases", "Photos"])
        self.table.setRootIsDecorated(False)
        self.table.setColumnWidth(0, 160)
        self.table.setColumnWidth(1, 120)
        self.table.setColumnWidth(2, 160)
        note = QLabel(
            "Your own labels. Every change keeps your verdicts and can be undone "
            "with Ctrl+Z; built-in labels come with albumtag and stay.",
            self,
        )
        note.setWordWrap(True)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for text, act in (
            ("Rename…", manager.ask_rename),
            ("Merge into…", manager.ask_merge),
            ("Move under…", manager.ask_move),
            ("Aliases…", lambda n: manager.ask_aliases(n, self._aliases[n])),
            ("Delete", manager.delete),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(lambda _=False, a=act: self._on_button_clicked(a))
            buttons.addWidget(button)
            self.buttons[text] = button
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(close)
        session.labels_changed.connect(self.reload)

    def reload(self) -> None:
        if self.isVisible():
            self._session.query(lambda library: _own_labels(library), self._show)

    def _show(self, nodes: list[LabelNode]) -> None:
        current = self.current_label()
        names = {n.label.id: n.label.name for n in nodes}
        self.table.clear()
        self._aliases = {n.label.name: n.label.aliases for n in nodes}
        for node in nodes:
            if node.label.kind != "user":
                continue
            item = QTreeWidgetItem(
                [
                    node.label.name,
                    names.get(node.label.parent_id, ""),
                    ", ".join(node.label.aliases),
                    f"{node.count:,}",
                ]
            )
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.addTopLevelItem(item)
            if node.label.name == current:
                self.table.setCurrentItem(item)
        if self.table.currentItem() is None and self.table.topLevelItemCount():
            self.table.setCurrentItem(self.table.topLevelItem(0))

    def current_label(self) -> str | None:
        item = self.table.currentItem()
        return item.text(0) if item is not None else None

    def labels_shown(self) -> list[str]:
        return [self.table.topLevelItem(i).text(0) for i in range(self.table.topLevelItemCount())]

    def _on_button_clicked(self, act: Callable[[str], None]) -> None:
        name = self.current_label()
        if name is not None:
            act(name)


def _own_labels(library: Library) -> list[LabelNode]:
    """Every label (names of parents are needed), the user's in the order shown."""
    return sorted(
        library.label_tree(), key=lambda n: (n.label.kind != "user", n.label.name.lower())
    )
