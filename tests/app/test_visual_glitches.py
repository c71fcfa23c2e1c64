"""Visual glitches of issue 15.12: overlapping tag text, "…g" parents, the model history table,
and a completion that needed two Enters."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics

from app.gui.modeldialogs import ModelHistoryDialog
from app.gui.taglist import name_line
from core.library import Library
from tests.app.conftest import ARTIFACTS


def _metrics() -> tuple[QFontMetrics, QFontMetrics]:
    name, small = QFont(), QFont()
    name.setPointSizeF(10.0)
    name.setWeight(QFont.Weight.DemiBold)
    small.setPointSizeF(8.0)
    return QFontMetrics(name), QFontMetrics(small)


@pytest.mark.parametrize("width", [120, 160, 200, 240, 320])
def test_the_name_line_never_overlaps_or_cuts_a_parent_inside_a_word(qapp, width: int) -> None:
    name_m, small_m = _metrics()
    path = ("animal", "dog", "german shepherd")
    source = "1 of 4 · 1 confirmed"
    line = name_line(path[-1], path, source, width, name_m, small_m)
    source_left = width - small_m.horizontalAdvance(source)
    name_right = name_m.horizontalAdvance(line.name)
    assert name_right < source_left, "the name runs into the source"
    if line.crumb:
        assert line.crumb_x + small_m.horizontalAdvance(line.crumb) < source_left
        words = line.crumb.removeprefix("in ").split(" › ")
        assert all(w in ("…", *path[:-1]) for w in words), line.crumb  # whole levels only
        assert line.name == path[-1]


def test_a_long_tag_name_in_a_many_photo_selection(opened, real_album: Path, qtbot) -> None:
    rows = opened.grid.photo_model().rows
    opened.grid.setFocus()
    opened.grid.select_photo(rows[0].id)
    qtbot.waitUntil(lambda: opened.inspector.photo_ids == [rows[0].id], timeout=2_000)
    opened.inspector.focus_add()
    qtbot.keyClicks(opened.inspector.add_field, "german shepherd")
    opened.inspector.add_field._completer.popup().hide()
    qtbot.keyClick(opened.inspector.add_field, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: any(t.label == "german shepherd" for t in opened.inspector.tag_list.tag_model.rows),
        timeout=5_000,
    )
    opened.inspector.resize(280, opened.inspector.height())
    opened.album_actions.select_all.trigger()
    tag_list = opened.inspector.tag_list
    qtbot.waitUntil(lambda: len(opened.inspector.photo_ids) == len(rows), timeout=2_000)
    qtbot.waitUntil(
        lambda: any(
            t.label == "german shepherd" and t.summary.photos == len(rows)
            for t in tag_list.tag_model.rows
        ),
        timeout=5_000,
    )
    row = next(t for t in tag_list.tag_model.rows if t.label == "german shepherd")
    assert row.source_text().startswith(f"1 of {len(rows)}")
    index = next(i for i, t in enumerate(tag_list.tag_model.rows) if t is row)
    width = tag_list.visualRect(tag_list.tag_model.index(index)).width() - 14 - 70
    name_m, small_m = _metrics()
    line = name_line(row.label, row.summary.path, row.source_text(), width, name_m, small_m)
    assert name_m.horizontalAdvance(line.name) < width - small_m.horizontalAdvance(
        row.source_text()
    )
    ARTIFACTS.mkdir(exist_ok=True)
    opened.inspector.grab().save(str(ARTIFACTS / "inspector_many_photos.png"))


def test_model_history_speaks_words_and_fits(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        store = library.store
        store.add_model(
            store.active_model().version + 1,
            "tf_efficientnet_lite0@579344248a93",
            None,
            {},
            {
                "kind": "trained",
                "head": "residual",
                "loss": "asl",
                "seed": 0,
                "photos": 24,
                "verified_photos": 6,
                "verified_tags": 9,
                "verdicts_through": 41,
                "parent_version": 0,
                "f1": 0.603,
                "before": {"f1": 0.25},
                "after": {"f1": 0.603},
            },
            activate=False,
        )
        models = store.models()
    dialog = ModelHistoryDialog(models, opened)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert all("_" not in h for h in headers), headers
    cells = [
        table.item(r, c).text() for r in range(table.rowCount()) for c in range(table.columnCount())
    ]
    assert not any("@" in c for c in cells), cells
    assert "0.603" in cells and "6 photos you verified" in cells
    assert table.horizontalScrollBar().maximum() == 0  # nothing to scroll sideways
    ARTIFACTS.mkdir(exist_ok=True)
    dialog.grab().save(str(ARTIFACTS / "model_history.png"))
    dialog.close()


def test_one_enter_in_the_completion_list_adds_the_tag(opened, real_album: Path, qtbot) -> None:
    row = next(r for r in opened.grid.photo_model().rows if r.status == "ok")
    opened.grid.setFocus()
    opened.grid.select_photo(row.id)
    qtbot.waitUntil(lambda: opened.inspector.photo_ids == [row.id], timeout=2_000)
    field = opened.inspector.add_field
    opened.inspector.focus_add()
    qtbot.keyClicks(field, "puppi")
    popup = field._completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=2_000)
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)  # one Enter: completed and added
    assert not popup.isVisible()
    qtbot.waitUntil(
        lambda: any(
            t.label == "dog" and t.summary.confirmed
            for t in opened.inspector.tag_list.tag_model.rows
        ),
        timeout=5_000,
    )
    assert field.text() == ""

    # Enter with nothing highlighted takes the text as typed, also at once
    qtbot.keyClicks(field, "bea")
    qtbot.waitUntil(popup.isVisible, timeout=2_000)
    field.setText("beach")
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: any(
            t.label == "beach" and t.summary.confirmed
            for t in opened.inspector.tag_list.tag_model.rows
        ),
        timeout=5_000,
    )
