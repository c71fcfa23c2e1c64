"""The inspector: the selected photos' tags, and confirm / reject / add on all of them at once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import PurePosixPath

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui import icons
from app.gui.dialogs import NewLabelDialog
from app.gui.imageloader import ImageLoader
from app.gui.photocard import PhotoCard
from app.gui.search import CompletingLineEdit
from app.gui.session import AlbumSession
from app.gui.taglist import TagListView, TagRow, tag_rows
from app.gui.theme import COLOURS
from core import browse
from core.browse import GridRow
from core.db.store import PhotoRow
from core.labels.policy import CONFIRMED, NO_VERDICT, REJECTED
from core.library import Library

logger = logging.getLogger(__name__)


class Inspector(QWidget):
    """Shows what the selection is tagged with and edits it (one undo step per action)."""

    status_message = Signal(str)
    focus_released = Signal()  # Escape: give the keyboard back to the grid
    tags_loaded = Signal()

    def __init__(
        self, session: AlbumSession, loader: ImageLoader, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self._session = session
        self._loader = loader
        self._rows: list[GridRow] = []
        self._generation = 0
        self._words: set[str] = set()
        self._dialog: NewLabelDialog | None = None
        self._card_token = (0, 0)  # (photo id, preview request) shown in the card
        self._given: dict[str, int] = {}  # verdicts given in this view (this selection)
        self._build()
        session.tags_changed.connect(self._on_tags_changed)
        loader.thumbnail_loaded.connect(self._on_thumbnail_loaded)
        loader.preview_loaded.connect(self._on_preview_loaded)

    def _build(self) -> None:
        self.setMinimumWidth(260)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._pages = QStackedWidget(self)
        outer.addWidget(self._pages)
        empty = QLabel("Select a photo to see its tags.\n\nArrows move · Space previews")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setProperty("role", "dim")
        self._pages.addWidget(empty)
        page = QWidget(self)
        self._pages.addWidget(page)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(16, 16, 12, 12)
        layout.setSpacing(8)
        self._card = PhotoCard(page)
        layout.addWidget(self._card)
        layout.addSpacing(4)
        self._title = QLabel(page)
        self._title.setProperty("role", "title")
        self._title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._details = QLabel(page)
        self._details.setProperty("role", "dim")
        self._details.setWordWrap(True)
        layout.addWidget(self._title)
        layout.addWidget(self._details)
        self._error = QLabel(page)
        self._error.setProperty("role", "error")
        self._error.setWordWrap(True)
        self._error.setStyleSheet(
            f"background: #2a1f21; border: 1px solid {COLOURS.bad};"
            "border-radius: 6px; padding: 8px;"
        )
        layout.addWidget(self._error)
        heading = QHBoxLayout()
        tags_label = QLabel("TAGS", page)
        tags_label.setProperty("role", "heading")
        hint = QLabel("↵ confirm · Del reject · T add", page)
        hint.setProperty("role", "dim")
        hint.setStyleSheet("font-size: 11px;")
        heading.addWidget(tags_label)
        heading.addStretch(1)
        heading.addWidget(hint)
        layout.addSpacing(6)
        layout.addLayout(heading)
        self.tag_list = TagListView(page)
        self.tag_list.delegate.button_clicked.connect(self._on_button_clicked)
        self.tag_list.escape_pressed.connect(self.focus_released)
        layout.addWidget(self.tag_list, 1)
        self.confirm_button = QPushButton(
            icons.icon("check", "#ffffff"), "Confirm suggestions", page
        )
        self.confirm_button.setProperty("primary", True)
        self.confirm_button.setToolTip("Confirm every tag the model suggested here (Enter)")
        self.confirm_button.clicked.connect(self._on_confirm_clicked)
        layout.addWidget(self.confirm_button)
        add_row = QHBoxLayout()
        self.add_field = CompletingLineEdit(page, whole_text=True)
        self.add_field.setObjectName("addTag")
        self.add_field.setPlaceholderText("Add a tag…   (T)")
        self.add_field.addAction(
            icons.icon("tag", COLOURS.dim), CompletingLineEdit.ActionPosition.LeadingPosition
        )
        self.add_field.returnPressed.connect(self._on_add_return_pressed)
        self.add_field.escaped.connect(self.focus_released)
        add_button = QToolButton(page)
        add_button.setIcon(icons.icon("plus"))
        add_button.setToolTip("Add this tag to the selected photos")
        add_button.clicked.connect(self._on_add_return_pressed)
        add_row.addWidget(self.add_field, 1)
        add_row.addWidget(add_button)
        layout.addLayout(add_row)

    # -- what is selected -----------------------------------------------------------------
    @property
    def photo_ids(self) -> list[int]:
        return [r.id for r in self._rows]

    def set_label_words(self, words: list[str]) -> None:
        self._words = {w.lower() for w in words}
        self.add_field.set_words(words)

    def set_selection(self, rows: Sequence[GridRow]) -> None:
        if [r.id for r in rows] != self.photo_ids:
            self._given = {}  # a new view: Enter may confirm again what was judged elsewhere
        self._rows = list(rows)
        self.tag_list.clearSelection()  # a tag chosen on one photo is not chosen on the next
        if not self._rows:
            self._generation += 1
            self._pages.setCurrentIndex(0)
            self.tag_list.tag_model.set_rows([])
            return
        self._pages.setCurrentIndex(1)
        self._show_header(None)
        self.reload()

    def reload(self) -> None:
        self._generation += 1
        generation, ids = self._generation, self.photo_ids

        def work(library: Library) -> tuple[PhotoRow | None, list[browse.TagSummary]]:
            photo = library.store.photo(ids[0]) if len(ids) == 1 else None
            return photo, browse.tag_summary(library, ids)

        self._session.query(work, lambda result: self._on_loaded(generation, *result))

    def _on_loaded(
        self, generation: int, photo: PhotoRow | None, summaries: list[browse.TagSummary]
    ) -> None:
        if generation != self._generation:
            return
        selected = {r.label for r in self.tag_list.selected_tags()}
        self.tag_list.tag_model.set_rows(tag_rows(summaries))
        for i, row in enumerate(self.tag_list.tag_model.rows):
            if row.label in selected:
                self.tag_list.selectionModel().select(
                    self.tag_list.tag_model.index(i),
                    self.tag_list.selectionModel().SelectionFlag.Select,
                )
        self._show_header(photo)
        self.confirm_button.setEnabled(
            any(r.state == "on" and r.summary.suggested for r in self.tag_list.tag_model.rows)
        )
        self.tags_loaded.emit()

    def _show_header(self, photo: PhotoRow | None) -> None:
        rows = self._rows
        if len(rows) == 1:
            row = rows[0]
            self._title.setText(row.name)
            folder = str(PurePosixPath(row.shown_path).parent)
            bits = [] if folder == "." else [folder]
            if photo is not None and photo.width:
                bits.append(f"{photo.width} × {photo.height}")
            if photo is not None and photo.taken_at:
                bits.append(photo.taken_at.replace("T", " ")[:16])
            if row.status == "pending":
                bits.append("waiting for tags…")
            self._details.setText(" · ".join(bits))
            reason = row.error if row.status == "error" else self._loader.failure(row.id)
            if self._card_token[0] != row.id:  # a new photo: its thumbnail, then a sharper one
                self._card.set_pixmaps([self._loader.pixmap(row)], broken=bool(reason))
                token = 0 if reason else self._loader.load_preview(row, 480)
                self._card_token = (row.id, token)
        else:
            self._title.setText(f"{len(rows):,} photos")
            self._details.setText("Changes apply to every selected photo.")
            self._card.set_pixmaps([self._loader.pixmap(r) for r in rows[:3]])
            self._card_token = (0, 0)
            errors = sum(r.status == "error" for r in rows)
            reason = f"{errors} of them cannot be read" if errors else None
        self._error.setVisible(bool(reason))
        self._error.setText(
            f"Cannot read this photo: {reason}" if len(rows) == 1 and reason else reason or ""
        )

    def _on_thumbnail_loaded(self, photo_id: int) -> None:
        if len(self._rows) > 1 and photo_id in {r.id for r in self._rows[:3]}:
            self._card.set_pixmaps([self._loader.pixmap(r) for r in self._rows[:3]])
        elif len(self._rows) == 1 and self._rows[0].id == photo_id and self._card_pending():
            self._card.set_pixmaps([self._loader.pixmap(self._rows[0])])

    def _card_pending(self) -> bool:
        return self._card_token[1] != 0

    def _on_preview_loaded(self, token: int, image: QImage | None, _reason: str) -> None:
        if token and token == self._card_token[1] and image is not None:
            self._card_token = (self._card_token[0], 0)
            self._card.set_pixmaps([QPixmap.fromImage(image)])

    def _on_tags_changed(self, photo_ids: object) -> None:
        if self._rows and (photo_ids is None or set(photo_ids) & set(self.photo_ids)):
            self.reload()

    # -- editing --------------------------------------------------------------------------
    def selected_labels(self) -> list[str]:
        return [r.label for r in self.tag_list.selected_tags()]

    def confirm(self) -> None:
        """Confirm the tags chosen in the list, or every suggestion when none is chosen.

        Enter never overturns a verdict given in this view: a tag just rejected stays
        rejected (its ✓ button still confirms it, deliberately).
        """
        if not self._rows:
            self.status_message.emit("Select photos first.")
            return
        labels = self.selected_labels()
        if not labels:
            self._session.confirm_suggestions(self.photo_ids)
            return
        keep = [label for label in labels if self._given.get(label) != REJECTED]
        self.tag_list.advance_past(labels, skip=set(self._given))
        if not keep:
            self.status_message.emit(
                f"“{labels[0]}” was just rejected here; Enter does not "
                "overturn it (click its ✓ to confirm it)."
            )
            return
        self._given.update(dict.fromkeys(keep, CONFIRMED))
        self._session.confirm(self.photo_ids, keep)

    def _on_confirm_clicked(self) -> None:
        if self._rows:
            self._session.confirm_suggestions(self.photo_ids)

    def reject(self) -> None:
        """Reject the tags chosen in the list; the cursor moves on to the next tag."""
        labels = self.selected_labels()
        if not self._rows:
            self.status_message.emit("Select photos first.")
        elif not labels:
            self.status_message.emit(
                "Choose a tag in the inspector to reject (click it, or "
                "Tab to the list and use the arrows)."
            )
        else:
            self._given.update(dict.fromkeys(labels, REJECTED))
            self.tag_list.advance_past(labels, skip=set(self._given))
            self._session.reject(self.photo_ids, labels)

    def _on_button_clicked(self, row: TagRow, action: str) -> None:
        s = row.summary
        if action == "confirm":
            done = s.confirmed == s.photos
            verdict = NO_VERDICT if done else CONFIRMED
        else:
            done = s.rejected == s.photos
            verdict = NO_VERDICT if done else REJECTED
        self._given[s.label] = verdict
        self._session.set_verdict(self.photo_ids, [s.label], verdict)

    def focus_add(self) -> None:
        if self._rows:
            self.add_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.add_field.selectAll()
        else:
            self.status_message.emit("Select photos first.")

    def _on_add_return_pressed(self) -> None:
        name = " ".join(self.add_field.text().split())
        if not name or not self._rows:
            return
        if name.lower() in self._words:
            self._session.add_tag(self.photo_ids, name)
            self.add_field.clear()
            return
        self._dialog = NewLabelDialog(name, sorted(self._words), self)
        self._dialog.accepted.connect(self._on_new_label_accepted)
        self._dialog.open()

    def _on_new_label_accepted(self) -> None:
        dialog, self._dialog = self._dialog, None
        if dialog is None:
            return
        name, parent = dialog.result_label()
        self._session.add_tag(self.photo_ids, name, parent)
        self.add_field.clear()
        self.status_message.emit(f"Created your label “{name}”.")

    def close_dialogs(self) -> None:
        if self._dialog is not None:
            self._dialog.reject()
            self._dialog = None
