"""The label manager in the window (issue 15.5) and the rating keys (issue 15.7): real widgets,
the real album database, real photos; every change undone with Ctrl+Z.

With ALBUMTAG_SCREENSHOTS=1 the label manager is saved to tests/app/artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.gui.sidebar import FILTER_ROLE
from core.db import ratings
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from tests.app.conftest import ARTIFACTS, wait_idle


@pytest.fixture
def opened(make_window, real_album: Path, qtbot):
    window = make_window(watch=False)
    window.open_album(real_album)
    wait_idle(qtbot, window)
    return window


def _verdicts(album: Path, name: str) -> dict[str, int]:
    with Library(album) as library:
        rows = {r.name: r.id for r in library.store.labels()}
        if name not in rows:
            return {}
        return {
            library.store.photo(p).path: v
            for p, lab, v in library.store.verdict_rows()
            if lab == rows[name]
        }


def _labels(album: Path) -> dict[str, str]:
    with Library(album) as library:
        return {r.name: r.kind for r in library.store.labels()}


def _entries(tree) -> list[tuple[str, str]]:
    """(section, label) of every label item in the sidebar."""
    model = tree.tree_model
    out = []
    for row in range(model.rowCount()):
        section = model.index(row, 0)
        stack = [model.index(r, 0, section) for r in range(model.rowCount(section))]
        while stack:
            index = stack.pop()
            flt = index.data(FILTER_ROLE)
            if flt is not None and flt.label_id is not None:
                out.append((section.data(), flt.label))
            stack += [model.index(r, 0, index) for r in range(model.rowCount(index))]
    return out


def _undo(window, qtbot) -> None:
    qtbot.waitUntil(window.album_actions.undo.isEnabled, timeout=5_000)
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)


def test_rename_merge_delete_from_the_tree_menu_and_undo(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        chelsea, coffee = library.photo("home/chelsea.png"), library.photo("home/coffee.png")
        library.create_label("Rexx", "dog")
        library.create_label("Rex")
        library.set_verdicts([chelsea, coffee], confirm=["Rexx"])
        library.set_verdicts([coffee], reject=["Rex"])
    opened.session.labels_changed.emit()
    tree = opened.tree
    qtbot.waitUntil(lambda: tree.tree_model.find_label("Rexx") is not None, timeout=5_000)
    answers: list[str] = []
    manager = opened.learning.labels
    manager.ask = lambda title, prompt, default: answers.pop(0)
    messages: list[str] = []
    opened.session.error_raised.connect(messages.append)

    # the context menu keeps Teach and Quality and adds the manager's entries
    index = tree.tree_model.find_label("Rexx")
    tree.scrollTo(index)
    tree.customContextMenuRequested.emit(tree.visualRect(index).center())
    texts = [a.text() for a in opened.learning.tree_menu.actions() if not a.isSeparator()]
    assert texts == [
        "Teach “Rexx”…",
        "Quality of “Rexx”…",
        "Rename…",
        "Merge into…",
        "Move under…",
        "Aliases…",
        "Delete",
    ]
    answers.append("Rexy")
    next(a for a in opened.learning.tree_menu.actions() if a.text() == "Rename…").trigger()
    opened.learning.tree_menu.close()
    qtbot.waitUntil(lambda: "Rexy" in _labels(real_album), timeout=5_000)
    assert _verdicts(real_album, "Rexy") == {
        "home/chelsea.png": CONFIRMED,
        "home/coffee.png": CONFIRMED,
    }
    qtbot.waitUntil(lambda: tree.tree_model.find_label("Rexy") is not None, timeout=5_000)
    qtbot.waitUntil(lambda: messages[-1] == "Renamed Rexx to Rexy.", timeout=5_000)

    answers.append("Rex")
    manager.ask_merge("Rexy")
    qtbot.waitUntil(lambda: "Rexy" not in _labels(real_album), timeout=5_000)
    assert _verdicts(real_album, "Rex") == {
        "home/chelsea.png": CONFIRMED,
        "home/coffee.png": CONFIRMED,
    }
    qtbot.waitUntil(
        lambda: "1 photo confirmed under one and rejected under the other stay" in messages[-1],
        timeout=5_000,
    )

    manager.delete("dog")  # built-in: refused, with the reason
    qtbot.waitUntil(lambda: "built-in" in messages[-1], timeout=5_000)
    assert "dog" in _labels(real_album)

    _undo(opened, qtbot)  # the merge
    qtbot.waitUntil(lambda: "Rexy" in _labels(real_album), timeout=5_000)
    assert _verdicts(real_album, "Rex") == {"home/coffee.png": REJECTED}
    _undo(opened, qtbot)  # the rename
    qtbot.waitUntil(lambda: "Rexx" in _labels(real_album), timeout=5_000)
    qtbot.waitUntil(lambda: tree.tree_model.find_label("Rexx") is not None, timeout=5_000)

    manager.delete("Rexx")  # a typo can go
    qtbot.waitUntil(lambda: "Rexx" not in _labels(real_album), timeout=5_000)
    qtbot.waitUntil(lambda: tree.tree_model.find_label("Rexx") is None, timeout=5_000)
    _undo(opened, qtbot)
    qtbot.waitUntil(lambda: "Rexx" in _labels(real_album), timeout=5_000)
    assert _verdicts(real_album, "Rexx") == {
        "home/chelsea.png": CONFIRMED,
        "home/coffee.png": CONFIRMED,
    }


def test_each_label_once_and_a_person_icon_only_for_people(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        # as keyword import makes them: Family|Grandma, and a person under people
        family = library.store.upsert_label("Family", parent_id=None, kind="user", threshold=0.5)
        library.store.upsert_label("Grandma", parent_id=family, kind="user", threshold=0.5)
        library.create_label("Eileen", "people")
        library.create_label("our boat")
    opened.session.labels_changed.emit()
    tree = opened.tree
    qtbot.waitUntil(lambda: tree.tree_model.find_label("our boat") is not None, timeout=5_000)
    entries = _entries(tree)
    names = [name for _, name in entries]
    for name in ("Family", "Grandma", "Eileen", "our boat"):
        assert names.count(name) == 1, entries
        assert ("YOUR LABELS", name) in entries
    grandma = tree.tree_model.find_label("Grandma")
    assert grandma.parent().data() == "Family"  # the imported hierarchy, nested once
    items = tree.tree_model._items
    with Library(real_album) as library:
        ids = {r.name: r.id for r in library.store.labels()}
    icon = {
        name: items[("user", ids[name])].icon().cacheKey()
        for name in ("Eileen", "our boat", "Grandma")
    }
    assert icon["our boat"] == icon["Grandma"] != icon["Eileen"]


def test_the_label_manager_dialog(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        library.create_label("Whiskers", "cat")
        library.create_label("Rexx", "dog")
        library.set_verdicts([library.photo("home/chelsea.png")], confirm=["Whiskers"])
    manager = opened.learning.labels
    opened.learning.labels_action.trigger()
    dialog = manager.dialog
    qtbot.waitUntil(lambda: dialog.labels_shown() == ["Rexx", "Whiskers"], timeout=5_000)
    manager.ask = lambda title, prompt, default: "Oma, Nana" if "Aliases" in title else "Rex"
    dialog.table.setCurrentItem(dialog.table.topLevelItem(0))
    dialog.buttons["Rename…"].click()
    qtbot.waitUntil(lambda: dialog.labels_shown() == ["Rex", "Whiskers"], timeout=5_000)
    dialog.buttons["Aliases…"].click()
    qtbot.waitUntil(lambda: dialog.table.topLevelItem(0).text(2) == "Oma, Nana", timeout=5_000)
    assert dialog.table.topLevelItem(0).text(1) == "dog"
    assert dialog.table.topLevelItem(1).text(3) == "1"
    if os.environ.get("ALBUMTAG_SCREENSHOTS"):
        ARTIFACTS.mkdir(exist_ok=True)
        QApplication.processEvents()
        assert dialog.grab().save(str(ARTIFACTS / "label_manager.png"))
    dialog.close()


def test_rating_and_flag_keys(opened, real_album: Path, qtbot) -> None:
    grid = opened.grid
    row = next(r for r in grid.photo_model().rows if r.status == "ok")
    grid.select_photo(row.id)
    grid.setFocus()

    def marks() -> tuple:
        with Library(real_album) as library:
            return ratings.marks(library.store, [row.id])[row.id]

    qtbot.keyClick(grid, Qt.Key.Key_4)
    qtbot.waitUntil(lambda: marks() == (4, None), timeout=5_000)
    qtbot.keyClick(grid, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: marks() == (4, 1), timeout=5_000)
    qtbot.keyClick(grid, Qt.Key.Key_X)
    qtbot.waitUntil(lambda: marks() == (4, -1), timeout=5_000)
    qtbot.keyClick(grid, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: marks() == (4, 0), timeout=5_000)
    qtbot.keyClick(grid, Qt.Key.Key_0)
    qtbot.waitUntil(lambda: marks() == (0, 0), timeout=5_000)
    _undo(opened, qtbot)
    qtbot.waitUntil(lambda: marks() == (4, 0), timeout=5_000)
    opened.search.setText("rating:>=4 flag:none")
    opened.browser.set_query("rating:>=4 flag:none")
    qtbot.waitUntil(lambda: [r.id for r in grid.photo_model().rows] == [row.id], timeout=5_000)
