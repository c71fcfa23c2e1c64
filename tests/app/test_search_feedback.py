"""A search that cannot run says so honestly: stale rows dimmed and named, suggestions clickable.

Issue 15.3: typing ``dgo`` or ``(dog`` showed the error but left the last results in the grid
as if they answered it.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt

from app.gui.searchfeedback import replace_word, stale_note
from core.errors import QueryError
from core.library import Library
from tests.app.conftest import ARTIFACTS


def _search(window, qtbot, text: str) -> None:
    window.album_actions.find.trigger()
    window.search.clear()
    qtbot.keyClicks(window.search, text)
    window.search._completer.popup().hide()
    qtbot.keyClick(window.search, Qt.Key.Key_Return)


def _paths(window) -> set[str]:
    return {r.path for r in window.grid.photo_model().rows}


def _click_link(label, qtbot) -> bool:
    """Activate the label's first link as a click would (hovering for it depends on fonts)."""
    hrefs = re.findall(r'<a href="([^"]*)"', label.text())
    links = Qt.TextInteractionFlag.LinksAccessibleByMouse
    if not hrefs or not label.textInteractionFlags() & links:
        return False
    label.linkActivated.emit(hrefs[0])
    qtbot.wait(10)
    return True


def test_a_bad_search_dims_the_stale_rows_and_names_their_search(
    opened, real_album: Path, qtbot
) -> None:
    with Library(real_album) as library:
        by_path = {p.path for p in library.search("path:home")}
        dogs = {p.path for p in library.search("dog")}
    _search(opened, qtbot, "path:home")
    qtbot.waitUntil(lambda: _paths(opened) == by_path, timeout=5_000)
    assert not opened.grid.delegate.dimmed

    _search(opened, qtbot, "(dog")
    qtbot.waitUntil(lambda: opened.grid.delegate.dimmed, timeout=5_000)
    assert "unclosed parenthesis" in opened.centre.message.toolTip()
    assert _paths(opened) == by_path  # still there, but dimmed and named
    assert "path:home" in opened.centre.count.text()
    assert opened.search.property("invalid") is True

    _search(opened, qtbot, "dgo")
    qtbot.waitUntil(lambda: "did you mean" in opened.centre.message.text(), timeout=5_000)
    assert opened.centre.count.text() == stale_note(len(by_path), "path:home")
    ARTIFACTS.mkdir(exist_ok=True)
    opened.grab().save(str(ARTIFACTS / "search_suggestion.png"))

    # the suggestion is a link: clicking it searches for dog
    assert _click_link(opened.centre.message, qtbot)
    qtbot.waitUntil(lambda: opened.search.text() == "dog", timeout=2_000)
    qtbot.waitUntil(
        lambda: _paths(opened) == dogs and not opened.grid.delegate.dimmed, timeout=5_000
    )
    assert opened.centre.message.text() == ""
    assert opened.search.property("invalid") is False
    assert "from the search" not in opened.centre.count.text()


def test_replace_word_puts_the_suggestion_where_the_typo_was() -> None:
    error = QueryError("no label called 'dgo'", 6, word="dgo", suggestions=("dog",))
    assert replace_word("beach dgo -cat", error, "dog") == "beach dog -cat"
    error = QueryError(
        "no label called 'sprots car'", 0, word="sprots car", suggestions=("sports car",)
    )
    assert replace_word("sprots car", error, "sports car") == '"sports car"'
    assert replace_word('"sprots car"', error, "sports car") == '"sports car"'
    assert replace_word("beach", QueryError("unclosed quote", 0), "dog") == "beach"
