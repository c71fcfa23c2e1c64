"""The window remembers where you were in an album across restarts (issue 15.10)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt

from app.gui.settings import AppSettings
from app.gui.sidebar import FILTER_ROLE
from core.browse import Scope
from tests.app.conftest import wait_idle


def _open(make_window, settings: AppSettings, album: Path, qtbot):
    window = make_window(app_settings=settings)
    window.open_album(album)
    wait_idle(qtbot, window)
    return window


def _click_tree(window, qtbot, index) -> None:
    window.tree.scrollTo(index)
    qtbot.mouseClick(
        window.tree.viewport(),
        Qt.MouseButton.LeftButton,
        pos=window.tree.visualRect(index).center(),
    )


def test_photo_sidebar_branches_and_search_come_back(
    make_window, real_album: Path, tmp_path: Path, qtbot
) -> None:
    settings = AppSettings(QSettings(str(tmp_path / "memory.ini"), QSettings.Format.IniFormat))
    window = _open(make_window, settings, real_album, qtbot)
    tree = window.tree

    # the sidebar: the "animal" branch, opened by a click on its arrow (the user's way)
    animal = tree.tree_model.find_label("animal")
    assert animal is not None and not tree.isExpanded(animal)
    tree.expand(animal)
    _click_tree(window, qtbot, animal)
    qtbot.waitUntil(lambda: window.centre.title.text() == "animal", timeout=5_000)
    animal_id = animal.data(FILTER_ROLE).label_id

    # a search within it, and a photo chosen
    window.album_actions.find.trigger()
    qtbot.keyClicks(window.search, "-cat")
    window.search._completer.popup().hide()
    qtbot.keyClick(window.search, Qt.Key.Key_Return)
    wait_idle(qtbot, window)
    rows = window.grid.photo_model().rows
    assert len(rows) >= 2
    chosen = rows[-1]
    window.grid.setFocus()
    window.grid.select_photo(chosen.id)
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [chosen.id], timeout=2_000)
    shown = [r.id for r in rows]
    window.close()

    again = _open(make_window, settings, real_album, qtbot)
    qtbot.waitUntil(lambda: again.inspector.photo_ids == [chosen.id], timeout=10_000)
    assert again.search.text() == "-cat"
    assert again.browser.query == "-cat"
    assert again.browser.filter.label_id == animal_id
    assert again.centre.title.text() == "animal"
    assert [r.id for r in again.grid.photo_model().rows] == shown
    assert again.grid.current_row().id == chosen.id
    index = again.tree.tree_model.index_of(again.browser.filter)
    qtbot.waitUntil(lambda: again.tree.currentIndex() == index, timeout=5_000)
    assert again.tree.isExpanded(index)
    rect = again.grid.visualRect(again.grid.currentIndex())
    assert rect.intersects(again.grid.viewport().rect())


def test_each_album_has_its_own_view_and_a_vanished_label_falls_back(
    make_window, real_album: Path, tmp_path: Path, qtbot
) -> None:
    settings = AppSettings(QSettings(str(tmp_path / "memory.ini"), QSettings.Format.IniFormat))
    window = _open(make_window, settings, real_album, qtbot)
    window.view_memory._set("filter", ["label", 987654, "gone"])
    window.view_memory._set("search", "dgo")  # a search that no longer parses
    window.view_memory._set("photo", 123456)
    window.close()
    again = _open(make_window, settings, real_album, qtbot)
    qtbot.waitUntil(lambda: again.search.text() == "dgo", timeout=5_000)
    assert again.browser.filter.scope == Scope.ALL  # the label is gone: all photos
    qtbot.waitUntil(lambda: again.grid.delegate.dimmed, timeout=5_000)  # the honest bad search
    assert again.inspector.photo_ids == []
    again.close()

    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes((real_album / "home" / "coffee.png").read_bytes())
    third = _open(make_window, settings, other, qtbot)
    assert third.search.text() == ""
    assert third.browser.filter.scope == Scope.ALL
