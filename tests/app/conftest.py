"""Fixtures for the window's tests: offscreen Qt, private settings, a fake model, leak checks.

Every test that builds a window gets it through ``make_window``; after the test the window is
closed and the test fails if any thread, worker or timer it started is still running.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QThreadPool, QTimer
from PySide6.QtWidgets import QApplication

from app.gui.collector import stop_collecting_on_gui_thread
from app.gui.main_window import MainWindow
from app.gui.session import AlbumSession, background_workers
from app.gui.settings import AppSettings
from app.gui.theme import apply_theme
from core.library import Library
from core.model.preprocess import Preprocessing
from core.model.versions import ActiveModel
from core.pipeline.indexer import Indexer

ARTIFACTS = Path(__file__).parent / "artifacts"

#: Labels the fake model picks from (all in the built-in vocabulary).
FAKE_LABELS = ("cat", "dog", "coffee", "rocket", "bird", "car", "flower", "beach")
FAKE_BACKBONE = "fake@1"


class _FakeBackbone:
    input_size = 64
    crop_pct = 0.875
    preprocessing = Preprocessing(64, 0.875, "bicubic", (0.5,) * 3, (0.5,) * 3)


class FakeTagger:
    """Deterministic stand-in for the timm tagger: a label from the photo's mean colour.

    Each photo gets one label at 0.92 (over any threshold) and a second at 0.2 (a near miss).
    ``delay`` seconds per batch mimic inference time (sleeping releases the GIL, as torch does).
    """

    backbone = _FakeBackbone()

    def __init__(
        self, label_ids: tuple[int, ...], columns: dict[str, int], delay: float = 0.0
    ) -> None:
        self.n = len(label_ids)
        self.columns = columns
        self.delay = delay

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.delay:
            time.sleep(self.delay)
        means = batch.reshape(len(batch), 3, -1).mean(-1).astype(np.float32) / 255.0
        features = np.concatenate([means, means**2], axis=1).astype(np.float32)
        return features, self.score_features(features)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        scores = np.zeros((len(features), self.n), np.float32)
        for i, f in enumerate(features):
            pick = int(float(f[:3].sum()) * 1000) % len(FAKE_LABELS)
            scores[i, self.columns[FAKE_LABELS[pick]]] = 0.92
            scores[i, self.columns[FAKE_LABELS[(pick + 3) % len(FAKE_LABELS)]]] = 0.2
        return scores


def fake_model(library: Library, delay: float = 0.0) -> ActiveModel:
    """An ActiveModel over every label of the album, registered as the active version."""
    store = library.store
    if not any(m.backbone == FAKE_BACKBONE for m in store.models()):
        store.add_model(0, FAKE_BACKBONE, None, {}, {"kind": "prior"}, activate=True)
    labels = store.labels()
    ids = tuple(r.id for r in labels)
    columns = {r.name: i for i, r in enumerate(labels)}
    version = store.active_model().version
    return ActiveModel(FakeTagger(ids, columns, delay), ids, version, FAKE_BACKBONE)


def fake_indexer(delay: float = 0.0, batch_size: int = 8) -> Callable[[Library], Indexer]:
    def make(library: Library) -> Indexer:
        return Indexer(
            library.root,
            library.store,
            lambda: fake_model(library, delay),
            library.thumbnails,
            workers=background_workers(),
            batch_size=batch_size,
        )

    return make


# -- Qt ----------------------------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _themed_app(qapp: QApplication) -> QApplication:
    apply_theme(qapp)
    return qapp


@pytest.fixture(scope="package", autouse=True)
def _cycles_back_to_python(_themed_app: QApplication) -> Iterator[None]:
    """The window's threads make cycles collect on the GUI thread only (app.gui.collector);
    once this package's tests are done, the closed windows are freed here, on the GUI thread,
    and the tests after them (no event loop) get CPython's own collection back."""
    yield
    stop_collecting_on_gui_thread()


@pytest.fixture(autouse=True)
def private_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep every QSettings of the test off the user's real configuration."""
    folder = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(folder / "system"))
    yield folder


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "albumtag.ini"), QSettings.Format.IniFormat))


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail the test if it leaves a thread, a pool worker or a watcher running."""
    before = set(threading.enumerate())
    yield
    pool = QThreadPool.globalInstance()
    pool.waitForDone(5000)
    assert pool.activeThreadCount() == 0, "a QThreadPool task is still running"
    deadline = time.monotonic() + 5.0
    while True:
        extra = [
            t
            for t in threading.enumerate()
            if t not in before
            and t.is_alive()
            and not isinstance(t, threading._DummyThread)  # Qt threads
            and (not t.daemon or t.name.startswith("albumtag"))
        ]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"threads left running: {[t.name for t in extra]}"


@pytest.fixture
def make_window(qtbot, settings: AppSettings) -> Iterator[Callable[..., MainWindow]]:
    """Build a shown window (fake model unless told otherwise); closed and checked after."""
    windows: list[MainWindow] = []

    def make(
        *,
        indexer_factory: Callable[[Library], Indexer] | None = None,
        watch: bool = True,
        app_settings: AppSettings | None = None,
        size: tuple[int, int] | None = (1280, 800),
    ) -> MainWindow:
        session = AlbumSession(
            indexer_factory=indexer_factory or fake_indexer(), watch=watch, watch_debounce=0.3
        )
        window = MainWindow(app_settings or settings, session)
        qtbot.addWidget(window)
        if size is not None:
            window.resize(*size)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        timers = [t for t in window.findChildren(QTimer) if t.isActive()]
        assert not timers, f"timers still active after close: {[t.objectName() for t in timers]}"
        assert window.session.is_idle(), "the session still has work running after close"


def wait_idle(qtbot, window: MainWindow, timeout: int = 30_000) -> None:
    """Wait until indexing and every database task are done and the grid is up to date."""
    qtbot.waitUntil(
        lambda: (
            window.session.is_open and window.session.is_idle() and not window.session.is_indexing
        ),
        timeout=timeout,
    )
    qtbot.wait(50)
    qtbot.waitUntil(window.session.is_idle, timeout=timeout)


def photo_files(album: Path) -> list[Path]:
    return sorted(p for p in album.rglob("*") if p.is_file() and ".albumtag" not in p.parts)


@pytest.fixture
def opened(make_window, real_album: Path, qtbot) -> MainWindow:
    """A window with the real test album opened and indexed."""
    window = make_window()
    window.open_album(real_album)
    wait_idle(qtbot, window)
    return window
