"""A stall detector: counts the GUI event loop's ticks and records the longest gaps.

Two measures per gap between ticks: wall-clock time, and the GUI thread's own CPU time
(``time.thread_time``). The second is the work the GUI thread did without returning to the
event loop, whatever else the machine is busy with; the first includes waiting for a CPU.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class TickCounter(QObject):
    """Ticks every ``interval`` ms on the GUI thread; ``longest_gap`` is the worst stall (s)."""

    def __init__(self, interval: int = 5) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval)
        self.timer.timeout.connect(self._on_timeout)
        self.ticks = 0
        self.longest_gap = 0.0
        self.longest_busy = 0.0  # GUI-thread CPU seconds within one gap
        self._last = 0.0
        self._last_cpu = 0.0
        self.gaps: list[float] = []

    def start(self) -> None:
        self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _on_timeout(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gap = now - self._last
        self.longest_busy = max(self.longest_busy, cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu
        self.ticks += 1
        self.gaps.append(gap)
        self.longest_gap = max(self.longest_gap, gap)

    def __enter__(self) -> TickCounter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
