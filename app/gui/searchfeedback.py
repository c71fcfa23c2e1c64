"""What the window says about the search: a bad query's reason, its suggestions, stale rows.

A search that cannot run leaves the grid with the rows of the last one that did. Those rows are
dimmed, the header says which search they answer, and "did you mean dog?" is a link that puts
the suggestion into the query and runs it (issue 15.3).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt

from app.gui.browser import Browser
from app.gui.grid import PhotoGridView
from app.gui.panels import CentrePanel
from app.gui.search import SearchBar
from app.gui.theme import COLOURS
from core.errors import QueryError

_MESSAGE_WIDTH = 300  # pixels of the reason before it is elided (the tooltip has it whole)


def replace_word(text: str, error: QueryError, suggestion: str) -> str:
    """The query with the unknown word the error names replaced by ``suggestion``."""
    word = error.word or ""
    if not word:
        return text
    lower, start = text.lower(), error.position or 0
    at = lower.find(word.lower(), start)
    if at < 0:
        at = lower.find(word.lower())
    if at < 0:
        return text
    quoted = at > 0 and text[at - 1] == '"'
    insert = f'"{suggestion}"' if " " in suggestion and not quoted else suggestion
    return text[:at] + insert + text[at + len(word) :]


def stale_note(rows: int, shown_query: str) -> str:
    """The header's count while the grid shows an earlier search's rows."""
    photos = f"{rows:,} photo{'s' if rows != 1 else ''}"
    if shown_query:
        return f"{photos} from the search “{shown_query}”"
    return f"{photos} from before this search"


class SearchFeedback(QObject):
    """Connects the browser's verdict on a query to the search bar, the header and the grid."""

    def __init__(
        self,
        browser: Browser,
        search: SearchBar,
        centre: CentrePanel,
        grid: PhotoGridView,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._browser = browser
        self._search = search
        self._centre = centre
        self._grid = grid
        message = centre.message
        message.setTextFormat(Qt.TextFormat.RichText)
        message.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        message.setOpenExternalLinks(False)
        message.linkActivated.connect(self._on_link_activated)
        browser.query_failed.connect(self._on_query_failed)
        browser.query_accepted.connect(self._on_query_accepted)

    @property
    def suggestions(self) -> tuple[str, ...]:
        error = self._browser.error
        return error.suggestions if error is not None else ()

    def _on_query_failed(self, text: str) -> None:
        self._search.show_error(text)
        error = self._browser.error
        if error is not None and error.suggestions:
            reason = f"no label called “{error.word}”"
        else:
            reason = text
        metrics = self._centre.message.fontMetrics()
        shown = html.escape(metrics.elidedText(reason, Qt.TextElideMode.ElideRight, _MESSAGE_WIDTH))
        if error is not None and error.suggestions:
            links = ", ".join(
                f'<a href="{i}" style="color: {COLOURS.accent};">{html.escape(name)}</a>'
                for i, name in enumerate(error.suggestions)
            )
            shown += f" — did you mean {links}?"
        self._centre.message.setText(shown)
        self._centre.message.setToolTip(text)
        rows = self._grid.photo_model().rowCount()
        self._centre.count.setText(stale_note(rows, self._browser.shown_query))
        self._centre.count.setToolTip(
            "The grid still shows the last search that worked; fix the search to update it."
        )
        self._grid.set_stale(True)

    def _on_query_accepted(self) -> None:
        self._search.show_error(None)
        self._centre.message.clear()
        self._centre.message.setToolTip("")
        self._centre.count.setToolTip("")
        self._grid.set_stale(False)

    def _on_link_activated(self, link: str) -> None:
        error = self._browser.error
        if error is None or not link.isdigit() or int(link) >= len(error.suggestions):
            return
        self._search.submit(replace_word(self._search.text(), error, error.suggestions[int(link)]))
