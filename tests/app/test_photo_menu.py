"""The grid's context menu (issue 15.6): open, show in folder, copy paths, tag, sidecars."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

from app.gui.photomenu import PhotoMenu, sidecar_message
from core.library import Library
from tests.app.conftest import wait_idle


def _action(menu, text: str):
    found = [a for a in menu.actions() if a.text() == text]
    assert found, [a.text() for a in menu.actions()]
    return found[0]


def test_right_click_selects_the_photo_and_offers_the_menu(opened, qtbot) -> None:
    grid = opened.grid
    model = grid.photo_model()
    grid.select_photo(model.rows[0].id)
    index = model.index(3)
    grid.scrollTo(index)
    grid.customContextMenuRequested.emit(grid.visualRect(index).center())
    menu = opened.photo_menu.menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    assert [r.id for r in grid.selected_rows()] == [model.rows[3].id]  # selected first
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == [
        "Open",
        "Show in file manager",
        "Copy path",
        "Preview",
        "Confirm suggested tags",
        "Add a tag…",
        "Write tags to sidecar",
    ]
    menu.close()


def test_the_entries_do_what_they_say(opened, real_album: Path, qtbot) -> None:
    opened_urls: list[QUrl] = []
    menu_owner = PhotoMenu(
        opened.grid,
        opened.session,
        opened.inspector,
        opened.previewer,
        open_url=lambda url: opened_urls.append(url) or True,
        parent=opened,
    )
    messages: list[str] = []
    menu_owner.status_message.connect(messages.append)
    model = opened.grid.photo_model()
    rows = [r for r in model.rows if r.status == "ok"][:2]
    opened.grid.select_photo(rows[0].id)
    selection = opened.grid.selectionModel()
    selection.select(model.index(model.row_of(rows[1].id)), selection.SelectionFlag.Select)
    menu = menu_owner.build(opened.grid.selected_rows())
    paths = [real_album / r.path for r in opened.grid.selected_rows()]

    _action(menu, "Open 2 photos").trigger()
    assert [Path(u.toLocalFile()) for u in opened_urls] == paths
    opened_urls.clear()
    _action(menu, "Show in file manager").trigger()
    assert [Path(u.toLocalFile()) for u in opened_urls] == list(
        dict.fromkeys(p.parent for p in paths)
    )
    _action(menu, "Copy paths").trigger()
    assert QGuiApplication.clipboard().text().splitlines() == [str(p) for p in paths]
    assert messages[-1] == "Copied 2 paths."

    _action(menu, "Write tags to sidecars").trigger()
    wait_idle(qtbot, opened)
    assert messages[-1].startswith("Wrote ")
    _action(menu, "Confirm suggested tags").trigger()
    wait_idle(qtbot, opened)
    with Library(real_album) as library:
        for row in rows:
            assert any(t.verdict == 1 for t in library.tags(library.store.photo(row.id)))
    _action(menu, "Write tags to sidecars").trigger()
    wait_idle(qtbot, opened)
    assert messages[-1] == "Wrote 2 sidecars."
    assert all(Path(f"{p}.xmp").is_file() for p in paths)
    _action(menu, "Add a tag…").trigger()
    assert opened.inspector.add_field.hasFocus()


def test_sidecar_message_words() -> None:
    assert sidecar_message(1, 0, 0) == "Wrote 1 sidecar."
    assert sidecar_message(0, 3, 1) == (
        "Wrote 0 sidecars, 3 already up to date, 1 could not be written."
    )


def test_preview_from_the_menu(opened, qtbot) -> None:
    row = opened.grid.photo_model().rows[0]
    opened.grid.select_photo(row.id)
    menu = opened.photo_menu.build(opened.grid.selected_rows())
    _action(menu, "Preview").trigger()
    assert opened.previewer.is_open and opened.previewer.row == row
    opened.previewer.back()
