"""The window's indexing (app.gui.indexing): a child process that the window steers.

Real album, real SQLite, real thumbnails, a real child process (``python -m app.indexchild``)
with the fake model of ``tests.fakes`` (``tests/app/child_indexers.py``), real Qt widgets.
What is checked: the child tags the album and the window shows it; the folder watcher starts
it again; cancel, a failure and a SIGKILL are reported and a new run completes the album; the
user's keys and clicks step the child back to fewer workers and idleness gives it every core;
and the photos on screen (the selected one first) are tagged before the rest — read from the
store, in the order the features were written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtTest import QTest

from app.gui.indexing import IndexingControl, busy_workers, idle_workers
from app.gui.main_window import MainWindow
from app.gui.session import AlbumSession
from app.gui.settings import AppSettings
from app.indexchild import _follow_commands
from benchmarks.bench_responsiveness import bigger_album
from core.db.store import Status
from core.library import Library
from core.pipeline.indexer import Indexer
from tests.app.conftest import background_workers, fake_model, photo_files, wait_idle

FAKE = "tests.app.child_indexers:fake"


@pytest.fixture
def child_window(qtbot, settings: AppSettings) -> Iterator[Callable[..., MainWindow]]:
    """A window whose indexing runs in the child process (closed and checked after)."""
    windows: list[MainWindow] = []

    def make(child_indexer: str | None = FAKE, *, watch: bool = False) -> MainWindow:
        session = AlbumSession(child_indexer=child_indexer, watch=watch, watch_debounce=0.3)
        window = MainWindow(settings, session)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert window.session.is_idle(), "the session still has work running after close"
        assert window.session.indexing.process is None


def finished(window: MainWindow) -> list[object]:
    """Every summary the window's indexing ends with, as they come."""
    seen: list[object] = []
    window.session.indexing_finished.connect(seen.append)
    return seen


def messages(window: MainWindow) -> list[str]:
    said: list[str] = []
    window.session.error_raised.connect(said.append)
    return said


def statuses(album: Path) -> dict[str, int]:
    with Library(album) as library:
        return library.store.count_photos()


def test_the_child_tags_the_album_and_the_window_shows_it(
    child_window, real_album: Path, qtbot
) -> None:
    window = child_window(watch=True)
    ends = finished(window)
    window.open_album(real_album)
    qtbot.waitUntil(lambda: window.session.indexing.process is not None, timeout=10_000)
    child = window.session.indexing.child_pid
    assert child and child != os.getpid()
    wait_idle(qtbot, window, timeout=60_000)
    total = len(photo_files(real_album))
    summary = ends[-1]
    assert summary is not None and summary.tagged == total and not summary.cancelled
    assert statuses(real_album) == {"ok": total}
    with Library(real_album) as library:
        assert {p.path for p in library.search("cat")}  # the fake tags are searchable
    # a photo copied in: the watcher starts the child again, and it tags the newcomer
    shutil.copy2(real_album / "home" / "chelsea.png", real_album / "home" / "newcomer.png")
    qtbot.waitUntil(lambda: len(ends) >= 2, timeout=60_000)
    wait_idle(qtbot, window, timeout=60_000)
    assert any(s is not None and s.tagged == 1 for s in ends[1:])
    assert statuses(real_album) == {"ok": total + 1}
    qtbot.waitUntil(lambda: window.grid.photo_model().rowCount() == total + 1, timeout=10_000)


def test_a_killed_child_loses_nothing_and_the_next_run_completes(
    child_window, real_album: Path, qtbot, monkeypatch
) -> None:
    monkeypatch.setenv("ALBUMTAG_FAKE_DELAY", "0.25")  # per batch of two
    window = child_window()
    ends, said = finished(window), messages(window)
    window.open_album(real_album)
    control = window.session.indexing
    qtbot.waitUntil(
        lambda: (
            control.last_progress is not None
            and control.last_progress.phase == "tag"
            and control.last_progress.done >= 6
        ),
        timeout=60_000,
    )
    os.kill(control.child_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: bool(ends), timeout=20_000)
    assert ends == [None] and any("stopped unexpectedly" in m for m in said), said
    counts = statuses(real_album)
    total = len(photo_files(real_album))
    assert counts.get("ok", 0) >= 4 and counts.get("pending", 0) >= 1, counts
    window.session.start_indexing()  # what File → Rescan does
    qtbot.waitUntil(lambda: len(ends) == 2, timeout=60_000)
    assert ends[1] is not None and ends[1].tagged == counts["pending"]
    assert statuses(real_album) == {"ok": total}
    # the window says so, as the command line does
    assert ends[1].scan.resumed == counts["pending"]
    said_now = window.status.message.text()
    assert f"{counts['pending']} resumed from an interrupted run" in said_now, said_now


def test_cancel_and_a_failing_child_are_reported(
    child_window, real_album: Path, qtbot, monkeypatch
) -> None:
    monkeypatch.setenv("ALBUMTAG_FAKE_DELAY", "0.25")
    window = child_window()
    ends = finished(window)
    window.open_album(real_album)
    control = window.session.indexing
    qtbot.waitUntil(
        lambda: control.last_progress is not None and control.last_progress.phase == "tag",
        timeout=60_000,
    )
    qtbot.mouseClick(window.status.indexing.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ends), timeout=30_000)
    assert ends[0] is not None and ends[0].cancelled
    assert statuses(real_album).get("pending", 0) >= 1  # it stopped before the end

    broken = child_window("tests.app.child_indexers:broken")
    ends, said = finished(broken), messages(broken)
    broken.open_album(real_album)
    qtbot.waitUntil(lambda: bool(ends), timeout=30_000)
    assert ends == [None]
    assert any(m.startswith("Indexing stopped:") and "no model here" in m for m in said), said


def test_the_child_steps_back_while_the_user_interacts(
    child_window, real_album: Path, qtbot, monkeypatch
) -> None:
    monkeypatch.setenv("ALBUMTAG_FAKE_DELAY", "0.2")
    bigger_album(real_album, 3)
    window = child_window()
    control = window.session.indexing
    control.activity.idle_after = 0.5
    window.open_album(real_album)
    qtbot.waitUntil(
        lambda: control.reported_workers is not None and control.last_progress.phase == "tag",
        timeout=60_000,
    )
    assert control.reported_workers == idle_workers()  # nobody touched anything: every core
    keys = iter([Qt.Key.Key_Right, Qt.Key.Key_Left] * 100_000)

    def interacting() -> bool:  # the user keeps moving through the grid
        QTest.keyClick(window.grid, next(keys))
        assert control.activity.busy and control.workers == busy_workers()
        return control.reported_workers == busy_workers()

    qtbot.waitUntil(interacting, timeout=30_000)
    # half a second without a key, click or scroll: every core again
    qtbot.waitUntil(lambda: not control.activity.busy, timeout=10_000)
    qtbot.waitUntil(lambda: control.reported_workers == idle_workers(), timeout=20_000)
    window.session.cancel_indexing()
    qtbot.waitUntil(lambda: not window.session.is_indexing, timeout=30_000)


def test_the_screen_and_the_selected_photo_are_tagged_first(
    make_window, real_album: Path, qtbot
) -> None:
    """The model waits until the user has scrolled to the bottom and picked a photo in the
    middle; then that photo is tagged first, the bottom screen next, the rest after."""
    bigger_album(real_album, 4)
    total = len(photo_files(real_album))
    gate = threading.Event()

    def gated(library: Library) -> Indexer:
        def model():
            assert gate.wait(30), "the test never let the model load"
            return fake_model(library)

        return Indexer(
            library.root,
            library.store,
            model,
            library.thumbnails,
            workers=background_workers(),
            batch_size=8,
        )

    window = make_window(indexer_factory=gated, watch=False)
    window.open_album(real_album)
    grid, model = window.grid, window.grid.photo_model()
    qtbot.waitUntil(
        lambda: model.rowCount() == total and window.session.is_indexing, timeout=20_000
    )
    middle = model.index(total // 2)
    grid.selectionModel().setCurrentIndex(middle, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    bar = grid.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=5_000)  # laid out
    bar.setValue(bar.maximum())
    follower = window.session.indexing.follower
    shown = follower.visible_ids()
    picked = model.id_at(total // 2)
    assert shown[0] == picked and picked not in shown[1:]
    screen = set(shown[1:])
    assert 4 <= len(screen) < total // 2
    assert screen <= set(model.ids[total // 2 :].tolist())  # the bottom of the grid
    qtbot.waitUntil(lambda: window.session.indexing._first == tuple(shown), timeout=5_000)
    gate.set()
    qtbot.waitUntil(lambda: not window.session.is_indexing, timeout=180_000)
    wait_idle(qtbot, window, timeout=60_000)
    with Library(real_album) as library:
        order = [
            r[0] for r in library.store.db.query("SELECT photo_id FROM features ORDER BY rowid")
        ]
        assert not library.store.photos(Status.PENDING)
    assert len(order) == total
    assert order[0] == picked
    assert set(order[1 : 1 + len(screen)]) == screen


def test_the_child_follows_the_windows_commands(real_album: Path) -> None:
    with Library(real_album) as library:
        indexer = library.indexer(workers=4)
        cancel = threading.Event()
        lines = [
            json.dumps({"first": [5, 3]}),
            "not json",
            json.dumps({"workers": 1}),
            json.dumps({"workers": 2, "first": [7]}),
        ]
        _follow_commands(io.StringIO("\n".join(lines) + "\n"), indexer, cancel)
        assert indexer._first == (7,) and indexer.pace.limit == 2
        assert cancel.is_set()  # stdin closed: the window is gone, the run stops
        cancel.clear()
        _follow_commands(io.StringIO('{"cancel": true}\n'), indexer, cancel)
        assert cancel.is_set()


def test_a_control_without_a_run_ignores_controls(qtbot) -> None:
    control = IndexingControl()
    control.show_first([1, 2])
    control.set_workers(1)
    control.cancel()
    assert not control.running and control.workers == 1
    control.close()


def test_while_the_preview_covers_the_grid_its_photo_is_the_one_sent(
    make_window, real_album: Path, qtbot
) -> None:
    window = make_window(watch=False)
    window.open_album(real_album)
    wait_idle(qtbot, window)
    grid = window.grid
    qtbot.waitUntil(lambda: grid.photo_model().rowCount() > 3, timeout=10_000)
    grid.setFocus()
    grid.select_photo(grid.photo_model().id_at(2))
    control = window.session.indexing
    control.follower.send()
    assert control._first[0] == grid.photo_model().id_at(2) and len(control._first) > 3
    QTest.keyClick(grid, Qt.Key.Key_Space)  # the preview takes the grid's place
    qtbot.waitUntil(lambda: not grid.isVisible(), timeout=5_000)
    QTest.keyClick(window.previewer.page, Qt.Key.Key_Right)  # the next photo
    qtbot.waitUntil(lambda: control._first == (grid.photo_model().id_at(3),), timeout=5_000)


@pytest.mark.slow
def test_the_real_model_tags_the_album_from_the_child(
    child_window, real_album: Path, qtbot
) -> None:
    """The window's own path, nothing faked: the default child loads the real model."""
    window = child_window(child_indexer=None)
    ends, said = finished(window), messages(window)
    window.open_album(real_album)
    qtbot.waitUntil(lambda: bool(ends), timeout=300_000)
    assert ends[0] is not None, said
    total = len(photo_files(real_album))
    assert ends[0].tagged == total
    with Library(real_album) as library:
        assert "home/chelsea.png" in {p.path for p in library.search("cat")}
    qtbot.waitUntil(
        lambda: window.session.model_info.get("backbone") is not None, timeout=10_000
    )  # the window learns of the model the child registered
