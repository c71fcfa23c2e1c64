"""Ratings and flags drawn on the grid's thumbnails (issue 15.7): stars at the bottom left,
the pick or reject flag at the top left, from the photo's row."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from app.gui.delegate import ROW_ROLE, STAR_COLOUR, ThumbnailDelegate
from app.gui.imageloader import ImageLoader
from app.gui.theme import COLOURS
from core.browse import GridRow
from core.db.ratings import marks
from core.library import Library
from tests.app.conftest import wait_idle

_CELL = QRect(0, 0, 192, 212)


class _Index:
    """The one thing the delegate asks an index for: the row."""

    def __init__(self, row: GridRow) -> None:
        self._row = row

    def data(self, role: int) -> object:
        return self._row if role == ROW_ROLE else None


def _paint(row: GridRow) -> QImage:
    loader = ImageLoader(workers=0)  # no album: every cell shows its placeholder
    try:
        delegate = ThumbnailDelegate(loader)
        image = QImage(_CELL.size(), QImage.Format.Format_ARGB32)
        image.fill(QColor(COLOURS.canvas))
        painter = QPainter(image)
        option = QStyleOptionViewItem()
        option.rect = _CELL
        delegate.paint(painter, option, _Index(row))  # type: ignore[arg-type]
        painter.end()
        return image
    finally:
        loader.close()


def _count(image: QImage, colour: str, rect: QRect, tolerance: int = 40) -> int:
    want = QColor(colour)
    n = 0
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            c = image.pixelColor(x, y)
            if (
                abs(c.red() - want.red())
                + abs(c.green() - want.green())
                + abs(c.blue() - want.blue())
            ) < tolerance:
                n += 1
    return n


def _row(rating: int = 0, flag: int = 0) -> GridRow:
    return GridRow(1, "a.jpg", 10, 1, "ok", None, 0, rating, flag)


def test_stars_are_drawn_one_per_rating_point(qapp) -> None:
    bottom_left = QRect(0, 140, 110, 60)
    counts = [_count(_paint(_row(rating)), STAR_COLOUR, bottom_left) for rating in range(6)]
    assert counts[0] == 0  # no stars: nothing gold
    per_star = counts[1]
    assert per_star > 15  # a star big enough to see
    for rating in range(2, 6):  # each star as large as the first
        assert abs(counts[rating] - rating * per_star) <= rating * 4, counts


def test_pick_and_reject_flags_are_drawn_at_the_top_left(qapp) -> None:
    top_left = QRect(0, 0, 50, 60)
    plain, pick, reject = (_paint(_row(flag=f)) for f in (0, 1, -1))
    assert _count(plain, COLOURS.good, top_left) == 0 == _count(plain, COLOURS.bad, top_left)
    assert _count(pick, COLOURS.good, top_left) > 60 and _count(pick, COLOURS.bad, top_left) == 0
    assert _count(reject, COLOURS.bad, top_left) > 60
    assert _count(reject, COLOURS.good, top_left) == 0


def test_a_rating_key_puts_stars_on_the_thumbnail(opened, qtbot) -> None:
    grid = opened.grid
    model = grid.photo_model()
    row = next(r for r in model.rows if r.status == "ok")
    grid.setFocus()
    grid.select_photo(row.id)
    rect = grid.visualRect(model.index(model.row_of(row.id)))
    before = _count(grid.viewport().grab().toImage(), STAR_COLOUR, rect)
    qtbot.keyClick(grid, Qt.Key.Key_4)
    qtbot.keyClick(grid, Qt.Key.Key_P)
    qtbot.waitUntil(
        lambda: (lambda r: (r.rating, r.flag))(model.rows[model.row_of(row.id)]) == (4, 1),
        timeout=10_000,
    )
    wait_idle(qtbot, opened)
    rect = grid.visualRect(model.index(model.row_of(row.id)))
    image = grid.viewport().grab().toImage()
    assert _count(image, STAR_COLOUR, rect) > before + 4 * 20
    assert _count(image, COLOURS.good, rect) > 60  # the pick flag


def test_a_rating_key_rates_every_selected_photo_even_before_their_rows_are_read(
    opened, real_album, qtbot, monkeypatch
) -> None:
    """A big selection's rows arrive later (read off the GUI thread); the key acts at once on
    all of its photos, not only on the rows the grid already holds."""
    grid = opened.grid
    model = grid.photo_model()
    ok = [r.id for r in model.rows if r.status == "ok"]
    assert len(ok) >= 3
    grid.setFocus()
    grid.selectAll()
    wait_idle(qtbot, opened)
    held = ok[0]
    monkeypatch.setattr(
        model,
        "row_by_id",  # the others' rows not read yet
        lambda pid, real=model.row_by_id: real(pid) if pid == held else None,
    )
    qtbot.keyClick(grid, Qt.Key.Key_2)

    def rated() -> bool:
        with Library(real_album) as library:
            return all(rating == 2 for rating, _ in marks(library.store, ok).values())

    qtbot.waitUntil(rated, timeout=10_000)
