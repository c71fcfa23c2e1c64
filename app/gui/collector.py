"""Python's cycle collector, run on the GUI thread only while the window's threads exist.

CPython frees reference cycles on whichever thread allocates when a generation fills up. In
the window that is often the database thread opening an album (reading the vocabulary and the
ImageNet map allocates a lot) or a thumbnail worker. A closed window's widgets, its thumbnail
pixmaps and its models form such cycles with their Python wrappers, so the collection there
destroyed pixmaps and Qt objects off the GUI thread while the GUI thread painted: a segfault
in code that looked pure Python. ``collect_on_gui_thread`` turns automatic collection off and
lets a timer on the GUI thread collect instead, generation by generation, with CPython's own
thresholds. Everything that starts a thread in a Qt process (the database runner, the image
loader) asks for it.
"""

from __future__ import annotations

import gc
import logging

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

logger = logging.getLogger(__name__)

#: How often the GUI thread looks at the collector's counts (ms).
INTERVAL_MS = 250

_collector: GuiCollector | None = None


class GuiCollector(QObject):
    """Collects cycles when CPython would have, but from the GUI thread's event loop."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.was_enabled = gc.isenabled()
        self.collections = [0, 0, 0]  # per generation, for tests and diagnosis
        self._timer = QTimer(self)
        self._timer.setObjectName("gcTimer")
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.tick)
        gc.disable()
        self._timer.start()

    def tick(self) -> None:
        """Collect the oldest generation CPython would have collected since the last tick.

        Its rule: a collection of the youngest generation every ``threshold[0]`` new objects,
        of the middle one every ``threshold[1]`` of those, of all every ``threshold[2]`` of
        those. Between two ticks the youngest generation may have filled many times over.
        """
        young, middle, old = gc.get_count()
        t0, t1, t2 = gc.get_threshold()
        if t0 <= 0 or young <= t0:
            return
        young_runs = middle + young // t0  # collections of the youngest generation owed
        if old + young_runs // max(1, t1) > t2:
            generation = 2
        elif young_runs > t1:
            generation = 1
        else:
            generation = 0
        gc.collect(generation)
        self.collections[generation] += 1

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        """Collect everything now (on the GUI thread) and give collection back to CPython."""
        self._timer.stop()
        gc.collect()
        if self.was_enabled:
            gc.enable()


def collect_on_gui_thread() -> GuiCollector | None:
    """Make sure cycles are collected only on the GUI thread (idempotent).

    Returns the collector, or None when there is no Qt application or the caller is not on
    its thread (then nothing changes: there is no GUI thread to collect on).
    """
    global _collector
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    if _collector is not None and shiboken6.isValid(_collector) and _collector.active:
        return _collector
    _collector = GuiCollector(app)
    logger.debug("cycles are collected on the GUI thread from now on")
    return _collector


def stop_collecting_on_gui_thread() -> None:
    """Collect now and hand collection back to CPython (a test session that is done with
    windows; the application itself keeps the collector until it exits)."""
    global _collector
    collector, _collector = _collector, None
    if collector is not None and shiboken6.isValid(collector):
        collector.stop()
        collector.deleteLater()
