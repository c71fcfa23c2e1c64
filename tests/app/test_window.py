"""The window on a real album (real photos, fake model): grid, tree, search, inspector, undo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.gui.delegate import FAILURE_ROLE, ROW_ROLE
from app.gui.sidebar import FILTER_ROLE
from core.browse import Scope
from core.library import Library
from tests.app.conftest import photo_files, wait_idle


def _grid_paths(window) -> list[str]:
    return [r.path for r in window.grid.photo_model().rows]


def _tree_item(window, name: str):
    index = window.tree.tree_model.find_label(name)
    assert index is not None, f"{name} is not in the tag tree"
    return index


def _tree_count(window, name: str) -> int:
    index = window.tree.tree_model.find_label(name)
    return 0 if index is None else index.data(Qt.ItemDataRole.UserRole + 11)


def _scope_count(window, scope: Scope) -> int:
    from app.gui.sidebar import Filter

    index = window.tree.tree_model.index_of(Filter(scope))
    return index.data(Qt.ItemDataRole.UserRole + 11)


def test_grid_shows_every_photo_with_thumbnails(opened, real_album: Path, qtbot) -> None:
    files = photo_files(real_album)
    expected = {p.relative_to(real_album).as_posix() for p in files}
    qtbot.waitUntil(lambda: set(_grid_paths(opened)) == expected, timeout=10_000)
    model = opened.grid.photo_model()
    for row in range(model.rowCount()):  # every thumbnail loads (painting asks for them)
        model.index(row).data(Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: opened.loader.cached_count() == len(files), timeout=20_000)
    assert opened.centre.count.text() == f"{len(files)} photos"
    assert opened.windowTitle().startswith("album")


def test_clicking_a_tag_in_the_tree_filters_the_grid(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        label = max(
            ("cat", "dog", "coffee", "rocket", "bird", "car", "flower", "beach"),
            key=lambda n: len(library.search(n)),
        )
        expected = {p.path for p in library.search(label)}
    assert 0 < len(expected) < len(photo_files(real_album))
    index = _tree_item(opened, label)
    opened.tree.scrollTo(index)
    rect = opened.tree.visualRect(index)
    qtbot.mouseClick(opened.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: set(_grid_paths(opened)) == expected, timeout=5_000)
    assert opened.centre.title.text() == label
    assert _tree_count(opened, label) == len(expected)
    # back to everything
    all_index = opened.tree.tree_model.index_of(opened.tree.current_filter.__class__())
    qtbot.mouseClick(
        opened.tree.viewport(),
        Qt.MouseButton.LeftButton,
        pos=opened.tree.visualRect(all_index).center(),
    )
    qtbot.waitUntil(lambda: len(_grid_paths(opened)) == len(photo_files(real_album)), timeout=5_000)


def test_search_filters_the_grid_and_reports_bad_queries(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        expected = {p.path for p in library.search("animal -cat")}
        by_path = {p.path for p in library.search("path:home")}
    opened.album_actions.find.trigger()
    assert opened.search.hasFocus()
    qtbot.keyClicks(opened.search, "animal -cat")
    qtbot.keyClick(opened.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: set(_grid_paths(opened)) == expected, timeout=5_000)
    opened.search.clear()
    qtbot.keyClicks(opened.search, "path:home")
    qtbot.keyClick(opened.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: set(_grid_paths(opened)) == by_path, timeout=5_000)
    opened.search.clear()
    qtbot.keyClicks(opened.search, "dog OR")
    qtbot.keyClick(opened.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: opened.centre.message.toolTip() != "", timeout=5_000)
    assert "OR" in opened.centre.message.toolTip()
    assert opened.search.property("invalid") is True
    assert set(_grid_paths(opened)) == by_path  # a bad query leaves the grid as it was
    opened.search.clear()
    qtbot.keyClicks(opened.search, "dgo")
    qtbot.keyClick(opened.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "dog" in opened.centre.message.toolTip(), timeout=5_000)


def test_search_completes_label_names_and_aliases(opened, qtbot) -> None:
    words = opened.search._words.stringList()
    assert "dog" in words and "puppies" in words and "unverified:" in words
    opened.search.setFocus()
    qtbot.keyClicks(opened.search, "beach -pupp")
    popup = opened.search._completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=2_000)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert opened.search.text().startswith("beach -pupp")
    assert opened.search.text().split()[-1] in ("-puppies", "-puppy")


def _select_first(window, qtbot, *, status: str = "ok"):
    model = window.grid.photo_model()
    row = next(r for r in model.rows if r.status == status)
    window.grid.setFocus()
    window.grid.select_photo(row.id)
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [row.id], timeout=2_000)
    qtbot.waitUntil(lambda: window.inspector.tag_list.tag_model.rowCount() > 0, timeout=5_000)
    return row


def test_inspector_confirm_reject_add_and_undo(opened, real_album: Path, qtbot) -> None:
    row = _select_first(opened, qtbot)
    tags = opened.inspector.tag_list.tag_model.rows
    on = [t for t in tags if t.state == "on"]
    assert on and on[0].summary.score == pytest.approx(0.92, abs=1e-3)
    assert any(t.state == "maybe" for t in tags)  # the near miss is listed, dimmed
    label = on[0].label
    review_before = _scope_count(opened, Scope.REVIEW)

    # Enter with no tag chosen confirms every suggestion on the photo
    qtbot.keyClick(opened.grid, Qt.Key.Key_Return)
    with Library(real_album) as library:
        qtbot.waitUntil(
            lambda: any(
                t.verdict == 1 and t.label == label
                for t in library.tags(library.store.photo(row.id))
            ),
            timeout=5_000,
        )
    qtbot.waitUntil(lambda: _scope_count(opened, Scope.REVIEW) == review_before - 1, timeout=5_000)
    qtbot.waitUntil(lambda: opened.album_actions.undo.isEnabled(), timeout=2_000)

    # choose the tag in the list, Delete rejects it; the tree count drops
    count_before = _tree_count(opened, label)
    opened.inspector.tag_list.setFocus()
    opened.inspector.tag_list.setCurrentIndex(opened.inspector.tag_list.tag_model.index(0))
    assert opened.inspector.selected_labels() == [label]
    qtbot.keyClick(opened.inspector.tag_list, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: _tree_count(opened, label) == count_before - 1, timeout=5_000)
    with Library(real_album) as library:
        verdicts = {t.label: t.verdict for t in library.tags(library.store.photo(row.id))}
    assert verdicts[label] == -1

    # T, type a known alias, Enter: the label is confirmed
    opened.grid.setFocus()
    qtbot.keyClick(opened.grid, Qt.Key.Key_T)
    assert opened.inspector.add_field.hasFocus()
    qtbot.keyClicks(opened.inspector.add_field, "puppies")
    opened.inspector.add_field._completer.popup().hide()
    qtbot.keyClick(opened.inspector.add_field, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: (
            _tree_count(opened, "dog") >= 1
            and any(
                t.label == "dog" and t.summary.confirmed
                for t in opened.inspector.tag_list.tag_model.rows
            )
        ),
        timeout=5_000,
    )

    # undo the add, then the reject: the store and the tree follow
    opened.album_actions.undo.trigger()
    qtbot.waitUntil(
        lambda: (
            not any(
                t.label == "dog" and t.summary.confirmed
                for t in opened.inspector.tag_list.tag_model.rows
            )
        ),
        timeout=5_000,
    )
    opened.album_actions.undo.trigger()
    qtbot.waitUntil(lambda: _tree_count(opened, label) == count_before, timeout=5_000)
    with Library(real_album) as library:
        verdicts = {t.label: t.verdict for t in library.tags(library.store.photo(row.id))}
    assert verdicts[label] == 1
    opened.album_actions.redo.trigger()
    qtbot.waitUntil(lambda: _tree_count(opened, label) == count_before - 1, timeout=5_000)


def test_many_photos_at_once_and_a_new_label(opened, real_album: Path, qtbot) -> None:
    opened.grid.setFocus()
    opened.album_actions.select_all.trigger()
    total = opened.grid.photo_model().rowCount()
    qtbot.waitUntil(lambda: len(opened.inspector.photo_ids) == total, timeout=2_000)
    assert opened.inspector._title.text() == f"{total} photos"
    opened.inspector.focus_add()
    qtbot.keyClicks(opened.inspector.add_field, "Holiday 2024")
    opened.inspector.add_field._completer.popup().hide()
    qtbot.keyClick(opened.inspector.add_field, Qt.Key.Key_Return)
    dialog = opened.inspector._dialog
    assert dialog is not None and dialog.isVisible()
    dialog.parent_field.setText("event")
    dialog.accept()
    qtbot.waitUntil(lambda: _tree_count(opened, "Holiday 2024") == total, timeout=5_000)
    with Library(real_album) as library:
        row = next(r for r in library.store.labels() if r.name == "Holiday 2024")
        assert row.kind == "user"
        assert next(r for r in library.store.labels() if r.id == row.parent_id).name == "event"
        assert len(library.search("holiday 2024")) == total
        assert len(library.search("event")) == total  # found through its parent too
    index = opened.tree.tree_model.index_of(
        next(
            opened.tree.tree_model.item(r).child(0).data(FILTER_ROLE)
            for r in range(opened.tree.tree_model.rowCount())
            if opened.tree.tree_model.item(r).text() == "YOUR LABELS"
        )
    )
    assert index is not None and index.data() == "Holiday 2024"


def test_a_photo_copied_into_the_folder_appears_and_gets_tags(
    opened, real_album: Path, real_photo_paths, qtbot
) -> None:
    before = len(_grid_paths(opened))
    (real_album / "new").mkdir()
    shutil.copy2(real_photo_paths["chelsea"], real_album / "new" / "arrival.png")
    qtbot.waitUntil(lambda: "new/arrival.png" in _grid_paths(opened), timeout=15_000)
    wait_idle(qtbot, opened)
    assert len(_grid_paths(opened)) == before + 1
    model = opened.grid.photo_model()
    row = model.rows[model.row_of(next(r.id for r in model.rows if r.path == "new/arrival.png"))]
    qtbot.waitUntil(lambda: model.rows[model.row_of(row.id)].status == "ok", timeout=10_000)
    opened.grid.select_photo(row.id)
    qtbot.waitUntil(
        lambda: any(t.state == "on" for t in opened.inspector.tag_list.tag_model.rows),
        timeout=5_000,
    )


def test_an_unreadable_file_shows_a_badge_and_its_reason(
    make_window, real_album: Path, qtbot
) -> None:
    (real_album / "home" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    window = make_window()
    window.open_album(real_album)
    wait_idle(qtbot, window)
    model = window.grid.photo_model()
    qtbot.waitUntil(
        lambda: any(r.path == "home/broken.jpg" and r.status == "error" for r in model.rows),
        timeout=10_000,
    )
    i = next(i for i, r in enumerate(model.rows) if r.path == "home/broken.jpg")
    index = model.index(i)
    reason = index.data(FAILURE_ROLE)
    assert (reason and "truncated" in reason) or "corrupt" in reason
    assert reason in index.data(Qt.ItemDataRole.ToolTipRole)
    window.grid.select_photo(index.data(ROW_ROLE).id)
    qtbot.waitUntil(lambda: window.inspector._error.isVisible(), timeout=2_000)
    assert reason in window.inspector._error.text()
    assert _scope_count(window, Scope.ERRORS) == 1


def test_space_opens_a_large_preview_with_tags(opened, qtbot) -> None:
    row = _select_first(opened, qtbot)
    qtbot.keyClick(opened.grid, Qt.Key.Key_Space)
    previewer, page = opened.previewer, opened.previewer.page
    assert previewer.is_open and page.isVisible() and previewer.row == row
    qtbot.waitUntil(
        lambda: page.view.pixmap is not None and page.view.pixmap.width() > 256, timeout=10_000
    )
    qtbot.waitUntil(lambda: "●" in page.caption.text(), timeout=5_000)
    qtbot.keyClick(page, Qt.Key.Key_Right)
    assert previewer.row != row
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert not page.isVisible() and opened.grid.isVisible()


def test_cancel_stops_indexing(make_window, real_album: Path, qtbot) -> None:
    from tests.app.conftest import fake_indexer

    window = make_window(indexer_factory=fake_indexer(delay=0.5, batch_size=2))
    window.open_album(real_album)
    qtbot.waitUntil(
        lambda: window.status.indexing.isVisible() and window.session.is_indexing, timeout=10_000
    )
    qtbot.waitUntil(lambda: "Tagging" in window.status.indexing.label.text(), timeout=10_000)
    qtbot.mouseClick(window.status.indexing.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.is_indexing, timeout=10_000)
    qtbot.waitUntil(lambda: not window.status.indexing.isVisible(), timeout=5_000)
    assert "stopped" in window.status.message.text()


def test_grid_columns_fill_the_width_at_every_size(opened, qtbot) -> None:
    grid = opened.grid
    for action in (
        None,
        opened.album_actions.zoom_in,
        opened.album_actions.zoom_out,
        opened.album_actions.zoom_out,
    ):
        if action is not None:
            action.trigger()
        qtbot.wait(50)
        model = grid.photo_model()
        rects = [grid.visualRect(model.index(i)) for i in range(model.rowCount())]
        first_row = [r for r in rects if r.y() == rects[0].y()]
        cell = grid.delegate.cell_size()
        assert rects[0].width() == cell.width() == opened.loader.side + 16
        spare = grid.viewport().width() - len(first_row) * cell.width()
        assert 0 <= spare < cell.width() + 16, "a whole column's worth of space is left empty"
        assert first_row[-1].right() <= grid.viewport().width()
