"""The grid at scale: it holds ids, reads rows by page for what is on screen, keeps a bounded
number of them, and lays out any number of cells by arithmetic."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.gui.delegate import ROW_ROLE
from app.gui.grid import PAGE, PhotoGridModel, PhotoGridView, ids_answer
from app.gui.imageloader import ImageLoader
from core.browse import GridRow


class FakeReader:
    """Stands in for the browser's database thread: answers when told to."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self._waiting: list[tuple[list[int], Callable[[list[GridRow]], None]]] = []

    def __call__(self, ids: list[int], done: Callable[[list[GridRow]], None]) -> bool:
        self.asked.append(list(ids))
        self._waiting.append((list(ids), done))
        return True

    def answer(self, status: str = "ok") -> None:
        waiting, self._waiting = self._waiting, []
        for ids, done in waiting:
            done([_row(i, status) for i in ids])


def _row(photo_id: int, status: str = "ok") -> GridRow:
    return GridRow(photo_id, f"p/{photo_id}.jpg", 1, 1, status, None, 0)


@pytest.fixture
def grid(qtbot) -> Iterator[tuple[PhotoGridView, PhotoGridModel, FakeReader]]:
    loader = ImageLoader(workers=1)
    model = PhotoGridModel(loader)
    reader = FakeReader()
    model.set_fetcher(reader)
    view = PhotoGridView(model, loader)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    yield view, model, reader
    loader.close()


def _show(
    view: PhotoGridView, model: PhotoGridModel, ids: np.ndarray, rows: list[GridRow] | None = None
) -> None:
    view.show_rows(ids_answer(ids, model.ids, model.revision, rows or []))


def test_a_million_ids_show_at_once_and_only_what_is_on_screen_is_read(grid, qtbot) -> None:
    view, model, reader = grid
    ids = np.arange(1_000_000, 0, -1, dtype=np.int64)  # newest first
    _show(view, model, ids, [_row(int(i)) for i in ids[:5]])  # a screen holds more
    assert model.rowCount() == 1_000_000
    view.viewport().repaint()
    qtbot.waitUntil(lambda: bool(reader.asked))
    assert sum(map(len, reader.asked)) <= 2 * PAGE  # the first pages, not the album
    reader.answer()
    assert model.row_at(25) == _row(int(ids[25]))
    bar = view.verticalScrollBar()
    reader.asked.clear()
    bar.setValue(bar.maximum())  # the bottom: its rows are read, once
    view.viewport().repaint()
    view.viewport().repaint()
    assert len(reader.asked) == 1 and int(ids[-1]) in reader.asked[0]
    reader.answer()
    last = model.index(model.rowCount() - 1)
    assert last.data(ROW_ROLE).id == 1
    rect = view.visualRect(last)
    assert view.viewport().rect().contains(rect.center())
    assert view.indexAt(rect.center()).row() == model.rowCount() - 1


def test_the_rows_kept_are_bounded(grid) -> None:
    view, model, reader = grid
    model.capacity = 500
    _show(view, model, np.arange(1, 100_001, dtype=np.int64))
    for start in range(0, 20_000, PAGE):
        model.data(model.index(start), ROW_ROLE)
        reader.answer()
    held = sum(model.row_at(i) is not None for i in range(20_000))
    assert held == 500
    assert model.row_at(19_999 - PAGE) is not None and model.row_at(0) is None  # LRU


def test_a_selection_of_rows_not_read_yet_is_announced_once_they_are(grid, qtbot) -> None:
    view, model, reader = grid
    _show(view, model, np.arange(1, 50_001, dtype=np.int64))
    seen: list[list[int]] = []
    view.selection_changed.connect(lambda rows: seen.append([r.id for r in rows]))
    view.selectAll()
    assert seen == [] and reader.asked  # the rows are being read
    reader.answer()
    assert len(seen) == 1 and len(seen[0]) == 50_000
    assert len(view.selected_ids()) == 50_000


def test_new_ids_keep_the_selected_photo_and_fresh_rows_repaint_just_theirs(grid, qtbot) -> None:
    view, model, _ = grid
    ids = np.arange(1, 2001, dtype=np.int64)
    _show(view, model, ids, [_row(i) for i in range(1, 401)])
    view.setFocus()
    assert view.select_photo(50)
    _show(view, model, ids[::-1].copy())  # another order
    assert view.current_id() == 50 and view.selected_ids().tolist() == [50]
    assert model.row_of(50) == 2000 - 50
    changed: list[int] = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.append(a.row()))
    model.update_rows([_row(50, "pending")])
    assert model.row_by_id(50).status == "pending" and changed == [model.row_of(50)]


def test_keys_move_by_cells_and_shift_selects_a_run(grid, qtbot) -> None:
    view, model, _ = grid
    _show(view, model, np.arange(1, 101, dtype=np.int64), [_row(i) for i in range(1, 101)])
    columns = view.columns()
    assert columns >= 2
    view.setFocus()
    view.select_photo(1)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 1
    qtbot.keyClick(view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert view.currentIndex().row() == 1 + columns
    assert view.selected_ids().tolist() == list(range(2, 3 + columns))  # a run, not a block
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.currentIndex().row() == 99
    qtbot.mouseClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=QPoint(view.visualRect(model.index(99)).center()),
    )
    assert view.selected_ids().tolist() == [100]


def test_a_photo_deleted_before_its_page_is_read_is_not_asked_for_again(grid) -> None:
    view, model, reader = grid
    _show(view, model, np.arange(1, 1001, dtype=np.int64))
    model.data(model.index(3), ROW_ROLE)
    asked = reader.asked.pop()
    waiting, reader._waiting = reader._waiting, []
    for ids, done in waiting:
        done([_row(i) for i in ids if i != 4])  # photo 4 was deleted meanwhile
    for _ in range(3):
        view.viewport().repaint()
        model.data(model.index(3), ROW_ROLE)
    assert 4 in asked and not reader.asked
    assert model.row_at(3) is None and model.row_at(4) is not None
