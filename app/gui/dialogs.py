"""Small dialogs: a new label of the user's own, the keyboard shortcuts, About."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

SHORTCUTS = (
    (
        "Browse",
        (
            ("Arrows", "Move between photos"),
            ("Shift+Arrows", "Extend the selection"),
            ("Ctrl+A", "Select all photos"),
            ("Space", "Preview (Space again closes)"),
            ("Ctrl+F", "Search"),
            ("Esc", "Back to the grid"),
        ),
    ),
    (
        "Preview",
        (
            ("Left / Right", "Previous / next photo"),
            ("Z", "Fit / 100 %"),
            ("+ / -, wheel", "Zoom in / out (drag to pan)"),
            ("F", "Full screen"),
            ("Esc", "Leave full screen, then back to the grid"),
            ("0-5, P, X, U", "Rating and flag (also in the grid)"),
        ),
    ),
    (
        "Tag",
        (
            ("Enter", "Confirm the chosen tags, or every suggestion"),
            ("Delete", "Reject the chosen tags"),
            ("T", "Add a tag (a new name makes a label)"),
            ("Tab", "Move into the tag list"),
        ),
    ),
    (
        "Album",
        (
            ("Ctrl+Z", "Undo"),
            ("Ctrl+Shift+Z", "Redo"),
            ("Ctrl+O", "Open an album"),
            ("F5", "Scan the folder again"),
            ("Ctrl+= / Ctrl+-", "Bigger / smaller thumbnails"),
        ),
    ),
)


class NewLabelDialog(QDialog):
    """Creates a label of the user's own, optionally under an existing label."""

    def __init__(self, name: str, labels: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newLabelDialog")
        self.setWindowTitle("New label")
        self.setModal(True)
        self.setMinimumWidth(400)
        layout = QVBoxLayout(self)
        intro = QLabel(f"“{name}” is not a label yet. Create it as your own label?")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.name_field = QLineEdit(name, self)
        self.parent_field = QLineEdit(self)
        self.parent_field.setPlaceholderText("optional, e.g. person or dog")
        completer = QCompleter(labels, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.parent_field.setCompleter(completer)
        form.addRow("Name", self.name_field)
        form.addRow("Under", self.parent_field)
        layout.addLayout(form)
        hint = QLabel("A label under “person” is found by searching for person too.")
        hint.setProperty("role", "dim")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create and tag")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.parent_field.setFocus()

    def result_label(self) -> tuple[str, str | None]:
        name = " ".join(self.name_field.text().split())
        parent = " ".join(self.parent_field.text().split()) or None
        return name, parent


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut, grouped."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(24)
        grid.setVerticalSpacing(6)
        row = 0
        for group, items in SHORTCUTS:
            heading = QLabel(group.upper())
            heading.setProperty("role", "heading")
            grid.addWidget(heading, row, 0, 1, 2)
            row += 1
            for keys, what in items:
                key_label = QLabel(f"<b>{keys}</b>")
                grid.addWidget(key_label, row, 0)
                grid.addWidget(QLabel(what), row, 1)
                row += 1
            grid.setRowMinimumHeight(row, 10)
            row += 1
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        grid.addWidget(buttons, row, 0, 1, 2)


def about_text(model_info: dict) -> str:
    """The About box's text, with the active model and its version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        app_version = version("albumtag")
    except PackageNotFoundError:
        app_version = "development"
    active = model_info.get("active")
    if active is None:
        model = "No model has run on this album yet."
    else:
        kind = "the prior head (ImageNet)" if active == 0 else "trained on your corrections"
        model = (
            f"Active model: version {active}, {kind}<br>Backbone: "
            f"{model_info.get('backbone')}<br>Created: {model_info.get('created')}"
        )
    return (
        f"<h3>albumtag {app_version}</h3><p>A photo album that tags itself and learns from "
        f"your corrections.</p><p>{model}</p>"
    )
