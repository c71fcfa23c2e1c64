"""The grid stays put: the current photo keeps its place on screen when the rows re-sort.

Issue 15.9: while indexing read capture dates the grid re-sorted and the view jumped; changing
the sort order left the view at the bottom.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.browse import Order
from tests.app.conftest import photo_files, wait_idle


@pytest.fixture
def opened(make_window, real_album: Path, qtbot):
    window = make_window(size=(1000, 560))
    window.open_album(real_album)
    wait_idle(qtbot, window)
    window.set_thumb_size(240)
    qtbot.wait(50)
    return window


def _top_of(window, photo_id: int) -> int:
    model = window.grid.photo_model()
    return window.grid.visualRect(model.index(model.row_of(photo_id))).top()


def _watch_selection(window) -> list[list[int]]:
    seen: list[list[int]] = []
    window.grid.selection_changed.connect(lambda rows: seen.append([r.id for r in rows]))
    return seen


def _pick_in_view(window, qtbot, index: int):
    """Select the photo at ``index`` and scroll so that it sits in the middle of the view."""
    grid, model = window.grid, window.grid.photo_model()
    row = model.rows[index]
    grid.setFocus()
    grid.select_photo(row.id)
    grid.scrollTo(model.index(index), grid.ScrollHint.PositionAtCenter)
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [row.id], timeout=2_000)
    assert 0 <= _top_of(window, row.id) < grid.viewport().height()
    return row


def test_a_new_sort_order_keeps_the_current_photo_in_place(opened, qtbot) -> None:
    grid = opened.grid
    assert grid.verticalScrollBar().maximum() > 0, "the album must not fit on one screen"
    opened.browser.first_screen = 4  # the first screen of the new order lacks the photo
    row = _pick_in_view(opened, qtbot, len(grid.photo_model().rows) - 3)
    where = _top_of(opened, row.id)
    seen = _watch_selection(opened)
    before = [r.id for r in grid.photo_model().rows]
    opened.set_order(Order.NAME.value)
    qtbot.waitUntil(
        lambda: (
            len(grid.photo_model().rows) == len(before)
            and [r.id for r in grid.photo_model().rows] != before
        ),
        timeout=5_000,
    )
    wait_idle(qtbot, opened)
    assert grid.photo_model().row_of(row.id) != before.index(row.id)
    assert grid.current_row().id == row.id
    assert [r.id for r in grid.selected_rows()] == [row.id]
    bar = grid.verticalScrollBar()
    assert abs(_top_of(opened, row.id) - where) <= 1, (bar.value(), bar.maximum())
    assert all(ids == [row.id] for ids in seen), seen  # never lost, not even for a moment
    assert opened.inspector.photo_ids == [row.id]


def test_an_order_change_brings_an_off_screen_current_photo_into_view(opened, qtbot) -> None:
    grid = opened.grid
    rows = grid.photo_model().rows
    row = _pick_in_view(opened, qtbot, len(rows) - 1)
    grid.scrollToTop()
    qtbot.wait(20)
    assert _top_of(opened, row.id) > grid.viewport().height()  # scrolled away from it
    opened.set_order(Order.TAKEN_OLDEST.value)
    qtbot.waitUntil(lambda: grid.photo_model().rows != rows, timeout=5_000)
    wait_idle(qtbot, opened)
    top = _top_of(opened, row.id)
    assert 0 <= top < grid.viewport().height()
    assert grid.current_row().id == row.id


def test_indexing_that_re_sorts_the_grid_does_not_move_the_current_photo(
    opened, real_album: Path, qtbot
) -> None:
    """File dates change on disk; the rescan re-sorts the grid (newest file first)."""
    grid = opened.grid
    opened.set_order(Order.NEWEST.value)
    wait_idle(qtbot, opened)
    row = _pick_in_view(opened, qtbot, len(grid.photo_model().rows) // 2)
    where = _top_of(opened, row.id)
    seen = _watch_selection(opened)
    before = [r.id for r in grid.photo_model().rows]
    later = time.time() + 60
    files = [p for p in photo_files(real_album) if p.name != row.name]
    for i, path in enumerate(files[::2]):  # half the others become the newest files
        os.utime(path, (later + i, later + i))
    opened.album_actions.rescan.trigger()
    qtbot.waitUntil(lambda: [r.id for r in grid.photo_model().rows] != before, timeout=15_000)
    wait_idle(qtbot, opened)
    assert grid.photo_model().row_of(row.id) != before.index(row.id)  # it did move in the list
    assert grid.current_row().id == row.id
    assert abs(_top_of(opened, row.id) - where) <= 1  # but not on the screen
    assert all(ids == [row.id] for ids in seen), seen
