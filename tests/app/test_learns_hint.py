"""Prior-blind labels ("forest", the user's own) say in the window that they learn from examples;
"sky", which no ImageNet class feeds but the shipped starter corrects, does not."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from app.gui.sidebar import LEARNS_ROLE
from app.gui.taglist import LEARNS_HINT
from tests.app.conftest import ARTIFACTS, wait_idle


def _tag_row(window, label: str):
    return next((r for r in window.inspector.tag_list.tag_model.rows if r.label == label), None)


def test_prior_blind_labels_carry_the_hint_in_the_tree_and_the_inspector(opened, qtbot) -> None:
    window = opened
    row = next(r for r in window.grid.photo_model().rows if r.status == "ok")
    window.grid.setFocus()
    window.grid.select_photo(row.id)
    qtbot.waitUntil(lambda: window.inspector.photo_ids == [row.id], timeout=2_000)
    qtbot.waitUntil(lambda: window.inspector.tag_list.tag_model.rowCount() > 0, timeout=5_000)
    fed = next(r for r in window.inspector.tag_list.tag_model.rows if r.state == "on")

    window.inspector._session.add_tag([row.id], "forest")  # a blind built-in
    window.inspector._session.add_tag([row.id], "sky")  # blind, but the starter tags it
    window.inspector._session.add_tag([row.id], "Grandma", "people")  # the user's
    qtbot.waitUntil(
        lambda: all(_tag_row(window, n) is not None for n in ("forest", "sky", "Grandma")),
        timeout=5_000,
    )
    wait_idle(qtbot, window)

    # the inspector: a tooltip and a suffix on the blind labels, none on a label the model sees
    model = window.inspector.tag_list.tag_model
    for name in ("forest", "Grandma"):
        tag = _tag_row(window, name)
        assert tag.summary.learns_from_examples, name
        tip = model.data(model.index(model.rows.index(tag)), Qt.ItemDataRole.ToolTipRole)
        assert LEARNS_HINT in tip
    for name in (fed.label, "sky"):
        assert not _tag_row(window, name).summary.learns_from_examples, name
        tip = model.data(
            model.index(model.rows.index(_tag_row(window, name))), Qt.ItemDataRole.ToolTipRole
        )
        assert LEARNS_HINT not in tip
    assert LEARNS_HINT.startswith("Learns from your examples")

    # the tag tree: the same hint on forest and on the user's label, not on the fed one or sky
    tree = window.tree.tree_model
    qtbot.waitUntil(lambda: tree.find_label("forest") is not None, timeout=5_000)
    forest = tree.find_label("forest")
    assert forest.data(LEARNS_ROLE) is True
    assert LEARNS_HINT in forest.data(Qt.ItemDataRole.ToolTipRole)
    assert forest.data(Qt.ItemDataRole.DecorationRole) is not None  # the subtle icon
    assert tree.find_label("sky").data(LEARNS_ROLE) is None
    assert tree.find_label(fed.label).data(LEARNS_ROLE) is None
    assert LEARNS_HINT not in tree.find_label(fed.label).data(Qt.ItemDataRole.ToolTipRole)
    user = [item for (kind, _), item in tree._items.items() if kind == "user"]
    assert [i.text() for i in user] == ["Grandma"] and user[0].data(LEARNS_ROLE) is True

    # no teach button yet: the hint only says it
    assert not any(
        "teach" in b.text().lower()
        for b in window.findChildren(type(window.inspector.confirm_button))
    )
    if os.environ.get("ALBUMTAG_SCREENSHOTS"):
        ARTIFACTS.mkdir(exist_ok=True)
        window.tree.expandAll()
        tag = _tag_row(window, "forest")
        window.inspector.tag_list.setCurrentIndex(model.index(model.rows.index(tag)))
        window.grab().save(str(ARTIFACTS / "learns_hint.png"))
