"""A closed window's Qt objects are freed on the GUI thread, never on a worker (app.gui.collector).

The flake this guards against: a full test run crashed now and then with a segfault on the
database thread while it opened an album (reading the ImageNet map: pure Python). That thread
had allocated enough to start CPython's cycle collection, which freed the previous test's
closed window (its widgets, thumbnail pixmaps and models) there, off the GUI thread, while the
GUI thread painted the new window's thumbnails. Real window, real album, real threads.
"""

from __future__ import annotations

import gc
import threading
import weakref
from pathlib import Path

import shiboken6
from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent, QSettings

from app.gui.collector import collect_on_gui_thread
from app.gui.grid import PhotoGridModel
from app.gui.imageloader import ImageLoader
from app.gui.main_window import MainWindow
from app.gui.session import AlbumSession
from app.gui.settings import AppSettings
from core.browse import GridRow
from tests.app.conftest import fake_indexer, wait_idle


class _Node:
    """A small object in a reference cycle, as parsed data and closures make them."""

    def __init__(self) -> None:
        self.me = self
        self.data = {"synset": "n02123045", "labels": ["cat"]}


def _allocate_like_opening_an_album(count: int = 200_000) -> None:
    nodes = [_Node() for _ in range(count)]
    del nodes


def _close_a_window(qtbot, album: Path, tmp_path: Path) -> tuple[weakref.ref, weakref.ref]:
    """Open ``album`` in a window with thumbnails shown, close it the way pytest-qt and the
    app do, and let Qt delete it: its Python side is then cycles only a collection frees.
    Weak references to its image loader and grid model."""
    settings = AppSettings(QSettings(str(tmp_path / "a.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, AlbumSession(indexer_factory=fake_indexer(), watch=False))
    window.resize(1000, 700)
    window.show()
    window.open_album(album)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.loader.cached_count() > 0, timeout=20_000)  # pixmaps made
    refs = weakref.ref(window.loader), weakref.ref(window.grid.photo_model())
    window.close()
    qtbot.waitUntil(window.session.is_idle, timeout=5_000)
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.waitUntil(lambda: not shiboken6.isValid(window), timeout=5_000)
    return refs


def test_a_closed_windows_objects_are_freed_on_the_gui_thread(
    qtbot, real_album: Path, tmp_path: Path
) -> None:
    loader, model = _close_a_window(qtbot, real_album, tmp_path)
    assert loader() is not None  # garbage, waiting for a collection

    threads: list[str] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    gc.callbacks.append(record)
    try:
        # what opening the next album does on the database thread, meanwhile
        worker = threading.Thread(target=_allocate_like_opening_an_album, name="albumtag-db-test")
        worker.start()
        worker.join()
        assert not threads, f"{len(threads)} collections on {sorted(set(threads))}"
        # the GUI thread's timer collects them instead, and frees the window's objects there
        qtbot.waitUntil(lambda: loader() is None and model() is None, timeout=10_000)
    finally:
        gc.callbacks.remove(record)
    assert threads and set(threads) == {threading.main_thread().name}


def test_the_collector_collects_with_cpythons_thresholds(qtbot) -> None:
    collector = collect_on_gui_thread()
    assert collector is not None and collector is collect_on_gui_thread()
    assert not gc.isenabled()
    before = list(collector.collections)
    _allocate_like_opening_an_album(5_000)  # 5,000 new objects: the youngest generation is due
    qtbot.waitUntil(lambda: collector.collections != before, timeout=5_000)
    assert not gc.isenabled()
    # off the GUI thread there is no GUI thread to collect on: nothing changes
    answers: list[object] = []
    worker = threading.Thread(target=lambda: answers.append(collect_on_gui_thread()))
    worker.start()
    worker.join()
    assert answers == [None]


def test_closing_a_busy_loader_stops_its_workers_and_reports_nothing_after(
    qtbot, real_album: Path
) -> None:
    """Close while both workers decode large previews: the threads end, no late result
    reaches the GUI thread, and the loader keeps no pixmap."""
    for i in range(4):
        Image.effect_noise((3000, 2000), 64).convert("RGB").save(real_album / f"big{i}.png")
    files = sorted(real_album.glob("big*.png")) * 5
    rows = [
        GridRow(i + 1, f.name, f.stat().st_size, f.stat().st_mtime_ns, "ok", None, 0)
        for i, f in enumerate(files)
    ]
    loader = ImageLoader(workers=2)
    model = PhotoGridModel(loader)
    loader.configure(real_album, None, 176)
    answers: list[int] = []
    loader.preview_loaded.connect(lambda token, image, reason: answers.append(token))
    loader.thumbnail_loaded.connect(answers.append)
    for row in rows:
        loader.load_preview(row, 4096)
    loader.close()
    assert not any(t.is_alive() for t in loader._threads)
    qtbot.wait(200)
    assert answers == [] and loader.cached_count() == 0
    del model
