"""The search bar: the engine's query language, completion of label names and aliases."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QObject, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from app.gui import icons
from app.gui.theme import COLOURS

#: Words of the language itself, offered along with label names.
KEYWORDS = ("untagged", "OR", "NOT", "label:=", "unverified:", "path:", "folder:", "year:", "date:")
_TOKEN_START = re.compile(r"[\s()]-?|^-?")


def is_album_undo_key(event: QKeyEvent) -> bool:
    """Whether a key press is one of the window's undo / redo keys (never a field's own)."""
    pressed = QKeySequence(event.keyCombination())
    keys = (
        QKeySequence(QKeySequence.StandardKey.Undo),
        QKeySequence(QKeySequence.StandardKey.Redo),
        QKeySequence("Ctrl+Shift+Z"),
        QKeySequence("Ctrl+Y"),
    )
    return any(
        not k.isEmpty() and pressed.matches(k) == QKeySequence.SequenceMatch.ExactMatch
        for k in keys
    )


def current_token(text: str, cursor: int) -> tuple[int, str]:
    """Where the word under the cursor starts, and the word (no leading '-' or '"')."""
    head = text[:cursor]
    quote = head.count('"') % 2 == 1
    if quote:
        start = head.rfind('"') + 1
        return start, head[start:]
    start = 0
    for m in _TOKEN_START.finditer(head):
        start = m.end()
    word = head[start:]
    if ":" in word:  # complete the value of label:/unverified:/tag:
        field, _, value = word.partition(":")
        if field.lower() in ("label", "unverified", "tag"):
            offset = len(field) + 1 + (1 if value.startswith("=") else 0)
            return start + offset, word[offset:]
    return start, word


class CompletingLineEdit(QLineEdit):
    """A line edit that completes the word under the cursor from a list of words."""

    escaped = Signal()  # Escape with nothing to cancel: hand the keyboard back

    def __init__(self, parent: QWidget | None = None, *, whole_text: bool = False) -> None:
        super().__init__(parent)
        self._whole = whole_text
        self._words = QStringListModel(self)
        self._completer = QCompleter(self._words, self)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self._completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self._completer.setMaxVisibleItems(10)
        self._completer.setWidget(self)
        self._completer.activated.connect(self._on_completer_activated)
        self._completer.popup().installEventFilter(self)  # before QCompleter's own filter
        self.textEdited.connect(self._on_text_edited)

    def set_words(self, words: list[str]) -> None:
        self._words.setStringList(words)

    def completer_popup_visible(self) -> bool:
        return self._completer.popup().isVisible()

    def _on_text_edited(self, text: str) -> None:
        if self._whole:
            word = text
        else:
            _start, word = current_token(text, self.cursorPosition())
        if len(word.strip()) < 1:
            self._completer.popup().hide()
            return
        self._completer.setCompletionPrefix(word)
        if self._completer.completionCount() == 0 or (
            self._completer.completionCount() == 1
            and self._completer.currentCompletion().lower() == word.lower()
        ):
            self._completer.popup().hide()
            return
        rect = self.cursorRect()
        rect.setWidth(max(220, self._completer.popup().sizeHintForColumn(0) + 24))
        self._completer.complete(rect)

    def _on_completer_activated(self, chosen: str) -> None:
        if self._whole:
            self.setText(chosen)
            return
        text, cursor = self.text(), self.cursorPosition()
        start, _ = current_token(text, cursor)
        in_quote = text[:start].count('"') % 2 == 1
        needs_quote = " " in chosen and not in_quote and not chosen.endswith(":")
        insert = f'"{chosen}"' if needs_quote else chosen
        if in_quote and not text[cursor:].startswith('"'):
            insert += '"'
        tail = text[cursor:]
        spacer = "" if insert.endswith((":", ":=")) or tail.startswith(" ") else " "
        self.setText(text[:start] + insert + spacer + tail)
        self.setCursorPosition(start + len(insert) + len(spacer))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """One Enter in the completion list completes and submits (issue 15.12).

        QCompleter's own handling spent the first Enter hiding the list; a second one was
        needed to add the tag or run the search.
        """
        popup = self._completer.popup()
        if (
            watched is popup
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            current = popup.currentIndex()
            popup.hide()
            if current.isValid():
                self._on_completer_activated(current.data())
            self.returnPressed.emit()
            return True
        return super().eventFilter(watched, event)

    def event(self, event: QEvent) -> bool:
        """Ctrl+Z and Ctrl+Shift+Z undo album changes even while typing here (issue 15.2)."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and is_album_undo_key(event)
        ):
            event.ignore()  # not overridden: the window's Undo / Redo action gets the key
            return False
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        popup = self._completer.popup()
        if event.key() == Qt.Key.Key_Escape and not popup.isVisible():
            self.escaped.emit()
            return
        if popup.isVisible() and event.key() in (
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
            Qt.Key.Key_Tab,
        ):
            current = popup.currentIndex()
            popup.hide()
            if event.key() == Qt.Key.Key_Tab:  # Tab takes the highlighted or first word
                chosen = (
                    current.data() if current.isValid() else (self._completer.currentCompletion())
                )
                if chosen:
                    self._on_completer_activated(chosen)
                return
            if current.isValid():  # Enter on a highlighted word completes and submits it
                self._on_completer_activated(current.data())
                self.returnPressed.emit()
                return
        super().keyPressEvent(event)


class SearchBar(CompletingLineEdit):
    """Emits ``query_changed`` a moment after typing stops, and at once on Enter."""

    query_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchBar")
        self.setPlaceholderText("Search tags…")
        self._help = (
            'Labels and aliases, "quoted names", OR, -not, untagged, '
            "unverified:dog, path:trips/2024, folder:trips/** (with subfolders), "
            "year:2023"
        )
        self.setToolTip(self._help)
        self.setClearButtonEnabled(True)
        self.addAction(icons.icon("search", COLOURS.dim), QLineEdit.ActionPosition.LeadingPosition)
        self.setMinimumWidth(240)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(350)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.textChanged.connect(self._on_text_changed)
        self.returnPressed.connect(self._on_timer_timeout)
        self._last = ""

    def set_label_words(self, words: list[str]) -> None:
        self.set_words([*words, *KEYWORDS])

    def show_error(self, message: str | None) -> None:
        self.setProperty("invalid", bool(message))
        self.setToolTip(message or self._help)
        self.style().unpolish(self)
        self.style().polish(self)

    def _on_text_changed(self, _text: str) -> None:
        self._timer.start()

    def submit(self, text: str | None = None) -> None:
        """Search now (for ``text``, when given, as if it had been typed)."""
        if text is not None:
            self.setText(text)
        self._on_timer_timeout()

    def _on_timer_timeout(self) -> None:
        self._timer.stop()
        text = self.text().strip()
        if text != self._last:
            self._last = text
            self.query_changed.emit(text)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and not self.completer_popup_visible() and self.text():
            self.clear()
            self._on_timer_timeout()
            return
        super().keyPressEvent(event)

    def stop(self) -> None:
        self._timer.stop()
