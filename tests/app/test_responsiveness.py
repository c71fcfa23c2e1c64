"""The GUI thread never does the heavy work: it keeps running its event loop while an album
is indexed.

The album is the real photos four times over (96 files): real decoding, real thumbnails, real
SQLite writes; the model is the fake one with a pause per batch standing in for inference
(torch releases the GIL while it computes, and so does sleeping). Meanwhile the test scrolls
the grid, moves the selection (so the inspector queries) and searches.

What is checked does not depend on how busy the machine is: decoding, thumbnails, the model
and the grid's thumbnail reads all ran, and none of them on the GUI thread; the event loop
kept ticking; and at the end the grid shows every photo. How long the GUI thread stalls (the
wall-clock gap between two ticks, and its own CPU time in that gap) is a measurement, made by
``python -m benchmarks.bench_responsiveness``, not a pass/fail limit of the unit suite.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

import app.gui.imageloader
import core.pipeline.indexer
from benchmarks.bench_responsiveness import bigger_album, exercise
from core.media.thumbnails import ThumbnailCache
from tests.app.conftest import FakeTagger, fake_indexer, photo_files
from tests.app.ticks import TickCounter


class Calls:
    """Counts calls of patched functions, and notes those made on the GUI thread."""

    def __init__(self) -> None:
        self.count: defaultdict[str, int] = defaultdict(int)
        self.on_gui: set[str] = set()

    def wrap(self, name: str, real: Callable) -> Callable:
        def record(*args, **kwargs):
            self.count[name] += 1
            if threading.current_thread() is threading.main_thread():
                self.on_gui.add(name)
            return real(*args, **kwargs)

        return record


def test_heavy_work_stays_off_the_gui_thread_while_indexing(
    make_window,
    real_album: Path,
    qtbot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = Calls()
    for owner, name in (
        (core.pipeline.indexer, "decode"),
        (FakeTagger, "run"),
        (ThumbnailCache, "put"),
        (app.gui.imageloader, "read_thumbnail"),
    ):
        monkeypatch.setattr(owner, name, calls.wrap(name, getattr(owner, name)))
    bigger_album(real_album, 4)
    total = len(photo_files(real_album))
    window = make_window(indexer_factory=fake_indexer(delay=0.05, batch_size=8))
    with TickCounter() as ticks:
        window.open_album(real_album)
        exercise(window)
    assert calls.on_gui == set(), f"ran on the GUI thread: {sorted(calls.on_gui)}"
    assert calls.count["decode"] >= total and calls.count["run"] >= total // 8
    assert calls.count["put"] >= total and calls.count["read_thumbnail"] > 0
    assert ticks.ticks > 100  # the event loop went on running all along
    window.browser.set_query("")
    qtbot.waitUntil(lambda: window.grid.photo_model().rowCount() == total, timeout=10_000)
