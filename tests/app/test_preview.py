"""The preview lives in the window (issue 15.8): it takes the grid's place, steps through the
grid's order, zooms (fit, 100 %, wheel, drag), answers the tagging and rating keys on the
photo it shows, goes full screen, and Esc returns to the grid on the same photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QDialog

from app.gui.main_window import MainWindow
from core.db import ratings
from core.library import Library
from tests.app.conftest import wait_idle

BIG = (4000, 2667)  # a large photo (a real one, enlarged): the preview has to decode it


@pytest.fixture
def big_album(real_album: Path, real_photo_paths: dict[str, Path]) -> Path:
    with Image.open(real_photo_paths["chelsea"]) as cat:
        cat.convert("RGB").resize(BIG).save(real_album / "home" / "big_cat.jpg", quality=88)
    (real_album / "home" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short, not a JPEG")
    return real_album


@pytest.fixture
def window(make_window, big_album: Path, qtbot) -> MainWindow:
    window = make_window()
    window.open_album(big_album)
    wait_idle(qtbot, window)
    return window


def _open(window: MainWindow, qtbot, path: str):
    model = window.grid.photo_model()
    row = next(r for r in model.rows if r.path == path)
    window.grid.setFocus()
    window.grid.select_photo(row.id)
    qtbot.keyClick(window.grid, Qt.Key.Key_Space)
    assert window.previewer.is_open and window.previewer.row.id == row.id
    return row


def _sharp(window: MainWindow) -> bool:
    """The screen-sized decode (or a sharper one) has replaced the thumbnail."""
    view = window.previewer.page.view
    return view.pixmap is not None and view.pixmap.width() > 300


def test_preview_takes_the_grids_place_steps_and_returns_to_the_same_photo(
    window: MainWindow, qtbot
) -> None:
    grid, page = window.grid, window.previewer.page
    model = grid.photo_model()
    first = next(i for i, r in enumerate(model.rows) if r.status == "ok")
    row = _open(window, qtbot, model.rows[first].path)
    # inside the main window: the grid's page is swapped out, no other window opened
    assert window.pages.currentWidget() is page and page.isVisible()
    assert not grid.isVisible() and window.inspector.isVisible()
    assert not [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()
    ]
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [row.id], timeout=5_000)
    qtbot.waitUntil(lambda: "●" in page.caption.text(), timeout=5_000)
    assert page.hasFocus()

    # Right and Left follow the grid's order; the inspector follows the photo
    qtbot.keyClick(page, Qt.Key.Key_Right)
    assert window.previewer.row.id == model.rows[first + 1].id
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [model.rows[first + 1].id], timeout=5_000)
    qtbot.keyClick(page, Qt.Key.Key_Left)
    assert window.previewer.row.id == row.id
    for _ in range(model.rowCount()):  # to the end of the grid (past it changes nothing)
        qtbot.keyClick(page, Qt.Key.Key_Right)
    last = model.rows[-1]
    assert window.previewer.row.id == last.id
    assert str(model.rowCount()) in page.title.text()

    # Esc: back to the grid, the last previewed photo selected and in view
    qtbot.keyClick(page, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.centre and grid.isVisible()
    qtbot.waitUntil(grid.hasFocus, timeout=2_000)
    assert grid.current_row().id == last.id
    assert [r.id for r in grid.selected_rows()] == [last.id]
    rect = grid.visualRect(grid.currentIndex())
    assert grid.viewport().rect().contains(rect.center()), (rect, grid.viewport().rect())
    # and Space opens it again where it was; Space closes too
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    assert window.previewer.row.id == last.id
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert not window.previewer.is_open


def test_zoom_fit_and_full_size_wheel_and_drag(window: MainWindow, qtbot) -> None:
    _open(window, qtbot, "home/big_cat.jpg")
    page = window.previewer.page
    view = page.view
    qtbot.waitUntil(lambda: _sharp(window), timeout=20_000)
    assert (view.full_size.width(), view.full_size.height()) == BIG
    # fitted: the whole photo inside the view, shown from a screen-sized decode, not the
    # full 10 megapixels
    assert view.is_fit and view.zoom() < 0.5
    rect = view.image_rect()
    assert rect.width() <= view.width() + 1 and rect.height() <= view.height() + 1
    assert max(rect.width(), rect.height()) >= 0.9 * min(view.width(), view.height())
    assert view.pixmap.width() < BIG[0]
    assert page.zoom_label.text() == f"{view.zoom():.0%}"

    qtbot.keyClick(page, Qt.Key.Key_Z)  # 100 %: one photo pixel per screen pixel
    assert not view.is_fit and view.zoom() == pytest.approx(1.0)
    assert view.image_rect().width() == pytest.approx(BIG[0])
    assert page.zoom_label.text() == "100%"
    qtbot.waitUntil(lambda: view.pixmap.width() == BIG[0], timeout=20_000)  # full decode
    qtbot.keyClick(page, Qt.Key.Key_Z)
    assert view.is_fit
    page.full_action.trigger()
    assert view.zoom() == pytest.approx(1.0)
    page.fit_action.trigger()
    assert view.is_fit

    # the wheel zooms around the cursor: the photo point under it stays put
    cursor = QPointF(view.width() * 0.3, view.height() * 0.45)
    before = view.image_rect()
    at = ((cursor.x() - before.x()) / before.width(), (cursor.y() - before.y()) / before.height())
    event = QWheelEvent(
        cursor,
        view.mapToGlobal(cursor),
        QPoint(),
        QPoint(0, 360),  # three notches
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, event)
    after = view.image_rect()
    assert view.zoom() == pytest.approx(before.width() / BIG[0] * 1.25**3, rel=1e-3)
    assert (cursor.x() - after.x()) / after.width() == pytest.approx(at[0], abs=1e-3)
    assert (cursor.y() - after.y()) / after.height() == pytest.approx(at[1], abs=1e-3)

    # a drag pans (the photo follows the mouse)
    qtbot.keyClick(page, Qt.Key.Key_Z)
    qtbot.keyClick(page, Qt.Key.Key_Z)  # 100 %, centred
    start = view.image_rect().topLeft()
    middle = QPoint(view.width() // 2, view.height() // 2)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=middle)
    qtbot.mouseMove(view, middle + QPoint(-120, -80))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=middle + QPoint(-120, -80))
    moved = view.image_rect().topLeft() - start
    assert (moved.x(), moved.y()) == (pytest.approx(-120), pytest.approx(-80))
    for _ in range(12):  # zooming out past the whole photo is "fit" again
        qtbot.keyClick(page, Qt.Key.Key_Minus)
    assert view.is_fit


def test_tagging_and_rating_keys_work_on_the_previewed_photo(
    window: MainWindow, big_album: Path, qtbot
) -> None:
    row = _open(window, qtbot, "home/chelsea.png")
    page = window.previewer.page
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [row.id], timeout=5_000)
    qtbot.waitUntil(
        lambda: any(t.state == "on" for t in window.inspector.tag_list.tag_model.rows),
        timeout=5_000,
    )
    suggested = [t.label for t in window.inspector.tag_list.tag_model.rows if t.state == "on"]
    page.setFocus()
    qtbot.keyClick(page, Qt.Key.Key_Return)  # Enter: confirm the suggestions, as in the grid
    qtbot.keyClick(page, Qt.Key.Key_3)  # three stars
    qtbot.keyClick(page, Qt.Key.Key_P)  # picked
    wait_idle(qtbot, window)
    with Library(big_album) as library:
        verdicts = {t.label: t.verdict for t in library.tags(library.store.photo(row.id))}
        marks = ratings.marks(library.store, [row.id])[row.id]
    assert suggested and all(verdicts[label] == 1 for label in suggested), verdicts
    assert marks == (3, ratings.PICK)
    qtbot.waitUntil(
        lambda: "★★★" in page.caption.text() and "pick" in page.caption.text(), timeout=5_000
    )
    assert window.previewer.is_open and window.previewer.row.id == row.id  # still there


def test_a_corrupt_photo_says_why_in_the_preview(window: MainWindow, qtbot) -> None:
    model = window.grid.photo_model()
    qtbot.waitUntil(
        lambda: any(r.path == "home/corrupt.jpg" and r.status == "error" for r in model.rows),
        timeout=10_000,
    )
    _open(window, qtbot, "home/corrupt.jpg")
    view = window.previewer.page.view
    assert view.failed and view.pixmap is None
    assert view.message.startswith("Cannot read this photo: ")
    assert (
        "corrupt" in view.message or "truncated" in view.message or "not an image" in view.message
    )
    qtbot.keyClick(window.previewer.page, Qt.Key.Key_Right)  # stepping on still works
    assert (
        window.previewer.row.path != "home/corrupt.jpg" or model.rows[-1].path == "home/corrupt.jpg"
    )


def test_full_screen_and_escape_leaves_it_first(window: MainWindow, qtbot) -> None:
    _open(window, qtbot, "home/chelsea.png")
    page = window.previewer.page
    qtbot.keyClick(page, Qt.Key.Key_F)
    qtbot.waitUntil(window.isFullScreen, timeout=5_000)
    assert not window.sidebar.isVisible() and window.inspector.isVisible()
    assert page.full_screen_action.isChecked()
    qtbot.keyClick(page, Qt.Key.Key_Escape)  # leaves full screen, stays in the preview
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5_000)
    assert window.previewer.is_open and window.sidebar.isVisible()
    qtbot.keyClick(page, Qt.Key.Key_F)
    qtbot.waitUntil(window.isFullScreen, timeout=5_000)
    qtbot.keyClick(page, Qt.Key.Key_Space)  # back to the grid leaves full screen too
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5_000)
    assert not window.previewer.is_open and window.sidebar.isVisible()


def test_a_photo_that_breaks_after_indexing_says_why_instead_of_its_image(
    make_window, big_album: Path, qtbot
) -> None:
    window = make_window(watch=False)  # nobody tells the grid the file changed
    window.open_album(big_album)
    wait_idle(qtbot, window)
    (big_album / "home" / "big_cat.jpg").write_bytes(b"\xff\xd8\xff\xe0 overwritten")
    row = _open(window, qtbot, "home/big_cat.jpg")
    assert row.status == "ok"
    view = window.previewer.page.view
    qtbot.waitUntil(lambda: view.failed, timeout=20_000)  # the decode on the loader's worker
    assert view.message.startswith("Cannot read this photo: ") and view.pixmap is None
    assert window.previewer.is_open  # the window goes on: step, or go back
    qtbot.keyClick(window.previewer.page, Qt.Key.Key_Escape)
    assert not window.previewer.is_open
