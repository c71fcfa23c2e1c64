"""The window edits through core.ops: a version the album cannot serve is refused the same way
by the model history and by ``albumtag models --activate`` (issue 11.1), and the window
refreshes from what each op says it changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.cli import main
from app.gui.modeldialogs import ModelHistoryDialog
from core.db import ratings
from core.library import Library
from tests.app.conftest import ARTIFACTS, FAKE_BACKBONE, wait_idle


def _cli_error(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize(
    "version, why",
    [
        (1, "kept for comparison only"),  # an attention head: trained for comparison, never served
        (2, "cannot be used"),  # a linear head whose file is gone
    ],
)
def test_an_unusable_version_is_refused_alike_by_the_window_and_the_cli(
    opened, real_album: Path, qtbot, capsys, version: int, why: str
) -> None:
    with Library(real_album) as library:
        library.store.add_model(
            1,
            FAKE_BACKBONE,
            "models/v1.attention.safetensors",
            {},
            {"head": "attention", "f1": 0.7},
            activate=False,
        )
        library.store.add_model(
            2,
            FAKE_BACKBONE,
            "models/v2.safetensors",
            {},
            {"head": "linear", "f1": 0.6},
            activate=False,
        )
    messages: list[str] = []
    opened.session.error_raised.connect(messages.append)

    opened.session.refresh_model_info()  # the model history lists the new versions
    qtbot.waitUntil(opened.album_actions.history.isEnabled, timeout=5_000)
    opened.album_actions.history.trigger()
    qtbot.waitUntil(lambda: isinstance(opened.model_menu.dialog, ModelHistoryDialog), timeout=5_000)
    dialog = opened.model_menu.dialog
    dialog.select_version(version)
    dialog.activate_button.click()
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert opened.status.message.text().strip() == messages[-1]  # what the user reads
    ARTIFACTS.mkdir(exist_ok=True)
    assert opened.grab().save(str(ARTIFACTS / f"refused_version_{version}.png"))
    wait_idle(qtbot, opened)
    code, err = _cli_error(capsys, "models", str(real_album), "--activate", str(version))

    assert code == 2
    assert err == f"albumtag: {messages[-1]}"  # the same refusal, word for word
    assert why in err and f"version {version}" in err
    with Library(real_album) as library:
        assert library.store.active_model().version == 0  # neither activated it
    assert opened.session.model_info.get("active") == 0


def test_the_window_refreshes_from_what_an_op_changed(opened, real_album: Path, qtbot) -> None:
    with Library(real_album) as library:
        chelsea = library.photo("home/chelsea.png").id
    seen: dict[str, list] = {"tags": [], "labels": [], "created": [], "marks": []}
    session = opened.session
    session.tags_changed.connect(seen["tags"].append)
    session.labels_changed.connect(lambda: seen["labels"].append(True))
    session.label_created.connect(seen["created"].append)
    session.marks_changed.connect(seen["marks"].append)

    session.add_tag([chelsea], "Mimi", "animal")
    qtbot.waitUntil(lambda: seen["created"] == ["Mimi"], timeout=5_000)
    assert seen["tags"] == [[chelsea]] and seen["labels"] == [True]
    qtbot.waitUntil(opened.album_actions.undo.isEnabled, timeout=5_000)

    messages: list[str] = []
    session.error_raised.connect(messages.append)
    session.set_marks([chelsea], rating=7)  # refused: said in the status bar, nothing written
    qtbot.waitUntil(lambda: any("0 to 5" in m for m in messages), timeout=5_000)
    session.set_marks([chelsea], rating=4)
    qtbot.waitUntil(lambda: seen["marks"] == [[chelsea]], timeout=5_000)

    session.undo()  # the rating
    qtbot.waitUntil(lambda: len(seen["marks"]) == 2, timeout=5_000)
    session.undo()  # the tag
    qtbot.waitUntil(lambda: len(seen["tags"]) == 2, timeout=5_000)
    assert seen["tags"][-1] == [chelsea]
    wait_idle(qtbot, opened)
    with Library(real_album) as library:
        photo = library.photo("home/chelsea.png")
        assert "Mimi" not in {v.label for v in library.tags(photo) if v.has}
        assert ratings.marks(library.store, [photo.id])[photo.id][0] is None
