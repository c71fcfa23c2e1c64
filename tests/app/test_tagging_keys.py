"""Tagging from the keyboard: a verdict moves the cursor on, and Enter never overturns one.

Issue 15.1: Del rejected the tag under the cursor, the cursor stayed on it, and the next Enter
("confirm the rest") confirmed the tag just rejected. Verdicts feed training: that was data loss.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from core.library import Library
from tests.app.conftest import wait_idle


def _verdicts(album: Path, photo_id: int) -> dict[str, int]:
    with Library(album) as library:
        return {t.label: t.verdict for t in library.tags(library.store.photo(photo_id))}


def _show(window, qtbot, rows) -> None:
    ids = [r.id for r in rows]
    window.grid.setFocus()
    window.grid.select_photo(ids[0])
    if len(ids) > 1:
        model = window.grid.photo_model()
        selection = window.grid.selectionModel()
        for photo_id in ids[1:]:
            selection.select(model.index(model.row_of(photo_id)), selection.SelectionFlag.Select)
    qtbot.waitUntil(lambda: sorted(window.inspector.photo_ids) == sorted(ids), timeout=2_000)
    qtbot.waitUntil(
        lambda: any(t.state == "on" for t in window.inspector.tag_list.tag_model.rows),
        timeout=5_000,
    )


def _choose(window, label: str) -> None:
    tag_list = window.inspector.tag_list
    tag_list.setFocus()
    row = next(i for i, t in enumerate(tag_list.tag_model.rows) if t.label == label)
    tag_list.setCurrentIndex(tag_list.tag_model.index(row))
    assert window.inspector.selected_labels() == [label]


def _on_label(window) -> str:
    return next(t.label for t in window.inspector.tag_list.tag_model.rows if t.state == "on")


def test_enter_right_after_del_keeps_the_rejection(opened, real_album: Path, qtbot) -> None:
    row = next(r for r in opened.grid.photo_model().rows if r.status == "ok")
    _show(opened, qtbot, [row])
    label = _on_label(opened)
    _choose(opened, label)
    tag_list = opened.inspector.tag_list
    qtbot.keyClick(tag_list, Qt.Key.Key_Delete)
    assert label not in opened.inspector.selected_labels()  # the cursor moved on at once
    qtbot.keyClick(tag_list, Qt.Key.Key_Return)  # before the list has even reloaded
    wait_idle(qtbot, opened)
    qtbot.waitUntil(
        lambda: any(t.label == label and t.state == "rejected" for t in tag_list.tag_model.rows),
        timeout=5_000,
    )
    assert _verdicts(real_album, row.id)[label] == -1

    # choosing the rejected tag again and pressing Enter does not overturn it either
    _choose(opened, label)
    qtbot.keyClick(tag_list, Qt.Key.Key_Return)
    wait_idle(qtbot, opened)
    assert _verdicts(real_album, row.id)[label] == -1
    assert "does not overturn" in opened.status.message.text()

    # the ✓ button is a deliberate click and does confirm it
    _choose(opened, label)
    index = next(i for i, t in enumerate(tag_list.tag_model.rows) if t.label == label)
    confirm_rect, _ = tag_list.delegate._buttons(
        tag_list.visualRect(tag_list.tag_model.index(index))
    )
    qtbot.mouseClick(tag_list.viewport(), Qt.MouseButton.LeftButton, pos=confirm_rect.center())
    wait_idle(qtbot, opened)
    assert _verdicts(real_album, row.id)[label] == 1


def test_a_verdict_moves_the_cursor_to_the_next_suggestion(opened, real_album: Path, qtbot) -> None:
    rows = opened.grid.photo_model().rows
    by_label: dict[str, object] = {}
    with Library(real_album) as library:
        for r in rows:
            if r.status == "ok":
                on = [
                    t.label for t in library.tags(library.store.photo(r.id)) if t.direct and t.has
                ]
                if on and on[0] not in by_label:
                    by_label[on[0]] = r
            if len(by_label) == 2:
                break
    (first, second), photos = list(by_label), list(by_label.values())
    _show(opened, qtbot, photos)
    _choose(opened, first)
    tag_list = opened.inspector.tag_list
    qtbot.keyClick(tag_list, Qt.Key.Key_Delete)
    assert opened.inspector.selected_labels() == [second]
    qtbot.keyClick(tag_list, Qt.Key.Key_Return)
    wait_idle(qtbot, opened)
    for photo in photos:
        verdicts = _verdicts(real_album, photo.id)
        assert verdicts[first] == -1 and verdicts[second] == 1
    # nothing suggested is left unjudged: the list has no choice, Enter confirms the rest
    qtbot.waitUntil(lambda: not opened.inspector.selected_labels(), timeout=5_000)


def _dog_confirmed(window) -> bool:
    return any(
        t.label == "dog" and t.summary.confirmed for t in window.inspector.tag_list.tag_model.rows
    )


def test_ctrl_z_undoes_album_changes_from_the_add_tag_field(
    opened, real_album: Path, qtbot
) -> None:
    row = next(r for r in opened.grid.photo_model().rows if r.status == "ok")
    _show(opened, qtbot, [row])
    qtbot.keyClick(opened.grid, Qt.Key.Key_T)
    field = opened.inspector.add_field
    assert field.hasFocus()
    qtbot.keyClicks(field, "puppies")
    field._completer.popup().hide()
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _dog_confirmed(opened), timeout=5_000)
    qtbot.waitUntil(opened.album_actions.undo.isEnabled, timeout=2_000)
    assert field.hasFocus() and field.text() == ""

    # right after adding, in the field: Ctrl+Z undoes the tag, not the field's text
    qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not _dog_confirmed(opened), timeout=5_000)
    assert field.text() == ""
    assert _verdicts(real_album, row.id).get("dog", 0) == 0
    qtbot.waitUntil(opened.album_actions.redo.isEnabled, timeout=2_000)
    qtbot.keyClick(
        field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.waitUntil(lambda: _dog_confirmed(opened), timeout=5_000)
    qtbot.waitUntil(opened.album_actions.undo.isEnabled, timeout=2_000)

    # and from the search bar, with text typed in it
    opened.album_actions.find.trigger()
    qtbot.keyClicks(opened.search, "beach")
    qtbot.keyClick(opened.search, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not _dog_confirmed(opened), timeout=5_000)
    assert opened.search.text() == "beach"
    assert _verdicts(real_album, row.id).get("dog", 0) == 0

    # and from the preview, once the grid shows the whole album again (the search for
    # "beach" runs after the search box's pause and may leave the photo out)
    opened.search.clear()
    qtbot.keyClick(opened.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: opened.browser.shown_query == "", timeout=5_000)
    qtbot.waitUntil(lambda: opened.grid.photo_model().row_of(row.id) is not None, timeout=5_000)
    qtbot.waitUntil(opened.album_actions.redo.isEnabled, timeout=2_000)
    opened.album_actions.redo.trigger()
    qtbot.waitUntil(lambda: _dog_confirmed(opened), timeout=5_000)
    qtbot.waitUntil(opened.album_actions.undo.isEnabled, timeout=2_000)
    opened.grid.select_photo(row.id)
    opened.previewer.show(row)
    preview = opened.previewer.page
    opened.activateWindow()  # the search's completion list was the active window
    qtbot.waitUntil(preview.hasFocus, timeout=2_000)
    qtbot.keyClick(preview, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not _dog_confirmed(opened), timeout=5_000)
    assert preview.hasFocus() and opened.previewer.is_open
