"""Menus (Model menu explained when disabled, retrain, history), settings that persist."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.gui import launcher
from app.gui.dialogs import about_text
from app.gui.main_window import WINDOW_STATE_VERSION, MainWindow
from app.gui.modeldialogs import ModelHistoryDialog, RetrainDialog, trainer_available
from app.gui.modelmenu import NO_ALBUM, NO_TRAINER, ONLY_PRIOR
from app.gui.settings import DEFAULT_THUMB, THUMB_SIZES, AppSettings
from core.db.store import Status
from core.library import Library
from tests.app.conftest import FAKE_BACKBONE, wait_idle


def test_menus_exist_with_the_issue_entries(make_window) -> None:
    window = make_window()
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Model", "Help"]

    def entries(name: str) -> list[str]:
        return [a.text().replace("&", "") for a in menus[name].actions() if a.text()]

    assert entries("File") == [
        "Open album…",
        "Open recent",
        "Rescan folder",
        "Write tags to sidecars…",
        "Quit",
    ]
    assert entries("Edit")[:3] == ["Undo tag change", "Redo tag change", "Select all photos"]
    assert "Thumbnail size" in entries("View")
    assert entries("Model") == [
        "Retrain…",
        "Model history…",
        "Teach a label…",
        "Label quality…",
        "Labels…",
        "Retrain automatically",
    ]
    assert "Rating and flag" in entries("Edit")
    assert entries("Help") == ["Keyboard shortcuts", "About albumtag"]


def test_model_menu_is_present_but_disabled_with_an_explanation(
    make_window, real_album: Path, qtbot
) -> None:
    window = make_window()
    retrain, history = window.album_actions.retrain, window.album_actions.history
    assert not retrain.isEnabled() and retrain.toolTip() == NO_ALBUM
    assert not history.isEnabled()
    window.open_album(real_album)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.session.model_info.get("versions") == [0], timeout=5_000)
    assert not history.isEnabled() and history.toolTip() == ONLY_PRIOR
    if trainer_available():
        assert retrain.isEnabled()
    else:
        assert not retrain.isEnabled() and retrain.toolTip() == NO_TRAINER
    about = about_text(window.session.model_info)
    assert "version 0" in about and FAKE_BACKBONE in about


def test_write_tags_to_sidecars_from_the_file_menu(make_window, real_album: Path, qtbot) -> None:
    window = make_window()
    window.open_album(real_album)
    wait_idle(qtbot, window)
    with Library(real_album) as library:
        library.set_verdicts([library.photo("home/chelsea.png")], confirm=["cat"])
        photos = len(library.store.photos(Status.OK))
    messages: list[str] = []
    window.sidecars.status_message.connect(messages.append)
    window.album_actions.export_xmp.trigger()  # the dialog offers the command line's choices
    dialog = window.sidecars.dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.include_model.isChecked() and dialog.ext.isChecked()
    assert not dialog.embedded.isChecked()
    dialog.accept()
    qtbot.waitUntil(lambda: any(m.startswith("Wrote") for m in messages), timeout=10_000)
    wait_idle(qtbot, window)
    sidecar = real_album / "home" / "chelsea.png.xmp"
    assert sidecar.exists()
    assert "animal|cat" in sidecar.read_text(encoding="utf-8")
    assert (real_album / "home" / "chelsea.png").stat().st_size > 0  # original untouched
    # the others have nothing confirmed: "nothing to write", not "already up to date"
    assert messages[-1] == f"Wrote 1 sidecar, {photos - 1} with nothing to write."

    window.album_actions.export_xmp.trigger()  # again, with the model's tags and Adobe's names
    dialog = window.sidecars.dialog
    dialog.include_model.setChecked(True)
    dialog.base.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(
        lambda: len([m for m in messages if m.startswith("Wrote")]) == 2, timeout=10_000
    )
    wait_idle(qtbot, window)
    assert messages[-1] == f"Wrote {photos} sidecars."
    assert (real_album / "home" / "chelsea.xmp").exists()
    assert window.sidecars.choices.include_model  # remembered for the next time
    window.album_actions.export_xmp.trigger()
    assert window.sidecars.dialog.include_model.isChecked()
    window.sidecars.dialog.reject()


def test_model_history_lists_versions_and_activates_one(
    make_window, real_album: Path, qtbot
) -> None:
    window = make_window()
    window.open_album(real_album)
    wait_idle(qtbot, window)
    with Library(real_album) as library:  # a trained version 1, as the trainer would write
        library.store.add_model(
            1, FAKE_BACKBONE, None, {}, {"map": 0.61, "f1": 0.55}, activate=True
        )
    window.session.reload_model()
    qtbot.waitUntil(lambda: window.album_actions.history.isEnabled(), timeout=5_000)
    wait_idle(qtbot, window)
    window.album_actions.history.trigger()
    qtbot.waitUntil(lambda: isinstance(window.model_menu.dialog, ModelHistoryDialog), timeout=5_000)
    dialog = window.model_menu.dialog
    assert dialog.table.rowCount() == 2
    headers = [
        dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())
    ]
    assert "mAP" in headers
    dialog.select_version(0)
    assert dialog.activate_button.isEnabled()
    dialog.activate_button.click()
    qtbot.waitUntil(lambda: window.session.model_info.get("active") == 0, timeout=5_000)
    wait_idle(qtbot, window)
    with Library(real_album) as library:
        assert library.store.active_model().version == 0
        assert {p.model_version for p in library.store.photos(Status.OK)} == {0}


def _fake_trainer(lines: list[dict], exit_code: int = 0) -> list[str]:
    script = (
        "import json, sys, time\n"
        + "".join(f"print(json.dumps({line!r}), flush=True); time.sleep(0.05)\n" for line in lines)
        + f"sys.exit({exit_code})\n"
    )
    return [sys.executable, "-c", script]


def test_retrain_dialog_shows_progress_and_metrics(qtbot) -> None:
    events = [
        {"event": "progress", "phase": "training", "done": 3, "total": 10},
        {
            "event": "done",
            "version": 1,
            "activated": True,
            "before": {"precision": 0.5, "map": 0.4},
            "after": {"precision": 0.6, "map": 0.5},
        },
    ]
    dialog = RetrainDialog(_fake_trainer(events))
    qtbot.addWidget(dialog)
    dialog.open()
    with qtbot.waitSignal(dialog.finished_training, timeout=10_000) as blocker:
        dialog.start()
    assert blocker.args == [True]
    assert "Version 1 is now active" in dialog.phase.text()
    cells = [
        [dialog.metrics.item(r, c).text() for c in range(3)]
        for r in range(dialog.metrics.rowCount())
    ]
    assert cells == [["Precision", "0.500", "0.600"], ["mAP", "0.400", "0.500"]]
    qtbot.waitUntil(
        lambda: dialog.process.state() == dialog.process.ProcessState.NotRunning, timeout=5_000
    )
    dialog.close()


def test_retrain_dialog_reports_errors_and_cancels(qtbot) -> None:
    dialog = RetrainDialog(_fake_trainer([{"event": "error", "message": "no verified tags"}]))
    qtbot.addWidget(dialog)
    dialog.start()
    qtbot.waitUntil(lambda: "no verified tags" in dialog.phase.text(), timeout=10_000)
    slow = RetrainDialog(
        [sys.executable, "-c", "import time; print('{}', flush=True); time.sleep(60)"]
    )
    qtbot.addWidget(slow)
    slow.start()
    qtbot.waitUntil(
        lambda: slow.process.state() == slow.process.ProcessState.Running, timeout=10_000
    )
    slow.cancel_button.click()  # cancel = terminate the trainer
    assert slow.process.state() == slow.process.ProcessState.NotRunning
    qtbot.waitUntil(
        lambda: dialog.process.state() == dialog.process.ProcessState.NotRunning, timeout=5_000
    )


def test_geometry_album_and_thumbnail_size_persist(
    make_window,
    real_album: Path,
    tmp_path: Path,
    qtbot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ini = tmp_path / "persist.ini"
    first = AppSettings(QSettings(str(ini), QSettings.Format.IniFormat))
    window = make_window(app_settings=first, size=(760, 640))
    window.open_album(real_album)
    wait_idle(qtbot, window)
    window.album_actions.zoom_in.trigger()
    side = window.loader.side
    size = (window.width(), window.height())
    window.close()

    again = AppSettings(QSettings(str(ini), QSettings.Format.IniFormat))
    assert again.last_album == str(real_album.resolve())
    assert again.recent_albums() == [str(real_album.resolve())]
    assert again.thumb_size == side
    assert launcher.choose_album(None, again) == str(real_album.resolve())
    assert launcher.choose_album("/elsewhere", again) == "/elsewhere"
    assert again.geometry() is not None and again.splitter_state() is not None
    assert again.window_state() is not None
    restored: list[tuple[bytes, int]] = []
    real_restore = MainWindow.restoreState
    monkeypatch.setattr(
        MainWindow,
        "restoreState",
        lambda self, state, version=0: (
            restored.append((bytes(state), version)),
            real_restore(self, state, version),
        )[1],
    )
    second = make_window(app_settings=again, size=None)
    assert restored == [(bytes(again.window_state()), WINDOW_STATE_VERSION)]
    # the offscreen screen is 800×800, so restoring clamps the width; the height fits
    assert second.height() == size[1] and second.width() <= size[0]
    assert second.loader.side == side
    assert side == DEFAULT_THUMB + 32  # one step bigger: no size of the menu
    checked = [a.data() for a in second.size_group.actions() if a.isChecked()]
    assert checked == []
    second.set_thumb_size(THUMB_SIZES["large"])
    checked = [a.data() for a in second.size_group.actions() if a.isChecked()]
    assert checked == [THUMB_SIZES["large"]]


def test_default_settings_never_touch_the_real_config(private_settings: Path) -> None:
    settings = AppSettings()
    settings.remember_album("/some/album")
    settings.sync()
    written = [p for p in private_settings.rglob("*") if p.is_file()]
    assert written, "QSettings wrote outside the test's folder"
    assert any("/some/album" in p.read_text(errors="replace") for p in written)


def test_a_missing_album_shows_the_welcome_page_with_the_reason(
    make_window, tmp_path: Path, qtbot
) -> None:
    window = make_window()
    missing = tmp_path / "gone"
    window.settings.remember_album(missing)
    window.open_album(missing)
    qtbot.waitUntil(lambda: "gone" in window.centre.welcome.status.text(), timeout=5_000)
    assert "not a folder" in window.centre.welcome.status.text()
    assert window.centre.stack.currentWidget() is window.centre.welcome
    assert str(missing) not in window.settings.recent_albums()


def test_recent_albums_menu_reopens_an_album(make_window, real_album: Path, qtbot) -> None:
    window = make_window()
    window.settings.remember_album(real_album.resolve())
    window.recent_menu.aboutToShow.emit()
    entries = [a for a in window.recent_menu.actions() if a.text() == str(real_album.resolve())]
    assert entries
    entries[0].trigger()
    wait_idle(qtbot, window)
    assert window.session.root == real_album.resolve()
    assert window.grid.photo_model().rowCount() > 0


def _run_gui_until_opened(
    monkeypatch, qtbot, album: str | None, *, picked: Path | None = None
) -> tuple[int, str | None]:
    """Run ``run_gui`` with an event loop that stops once an album is open."""
    from PySide6.QtWidgets import QApplication, QFileDialog

    from app.gui.main_window import MainWindow
    from tests.app.conftest import fake_indexer

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui installs its own
    monkeypatch.setattr(
        QFileDialog,
        "getExistingDirectory",
        staticmethod(lambda *a, **k: str(picked) if picked else ""),
    )
    import app.gui.main_window as main_window_module
    from app.gui.session import AlbumSession

    monkeypatch.setattr(
        main_window_module, "AlbumSession", lambda: AlbumSession(indexer_factory=fake_indexer())
    )
    opened: list[str | None] = []

    def exec_(self) -> int:
        window = next(
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        )
        qtbot.waitUntil(lambda: window.session.is_open, timeout=10_000)
        qtbot.wait(100)
        opened.append(str(window.session.root) if window.session.root else None)
        wait_idle(qtbot, window) if window.session.is_open else None
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", exec_)
    code = launcher.run_gui(album)
    return code, opened[0]


def test_run_gui_opens_the_given_album_then_the_last_one(
    monkeypatch, real_album: Path, qtbot
) -> None:
    assert AppSettings().last_album is None
    code, opened = _run_gui_until_opened(monkeypatch, qtbot, str(real_album))
    assert (code, opened) == (0, str(real_album.resolve()))
    assert AppSettings().last_album == str(real_album.resolve())  # the default settings file
    code, opened = _run_gui_until_opened(monkeypatch, qtbot, None)  # no argument: the last one
    assert (code, opened) == (0, str(real_album.resolve()))


def test_run_gui_asks_for_a_folder_when_there_is_no_last_album(
    monkeypatch, real_album: Path, qtbot
) -> None:
    code, opened = _run_gui_until_opened(monkeypatch, qtbot, None, picked=real_album)
    assert (code, opened) == (0, str(real_album.resolve()))
