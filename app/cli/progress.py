"""A one-line progress bar for the terminal (stderr), silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from core.pipeline.indexer import Progress

_PHASES = {"scan": "Scanning", "tag": "Tagging", "rescore": "Re-scoring"}


class TextProgress:
    """Draws ``Tagging  [#######.......]  340/1000  45.2 photos/s`` in place.

    Called with an indexer :class:`Progress`, or through :meth:`show` with a phase name, as the
    trainer's progress lines give them; ``phases`` names the phases, ``unit`` (None for no
    rate) what is counted.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
        phases: dict[str, str] | None = None,
        unit: str | None = "photos",
    ) -> None:
        self.stream = stream or sys.stderr
        self.phases = phases or _PHASES
        self.unit = unit
        self.enabled = self.stream.isatty()
        self.width = width
        self.min_interval = min_interval
        self._last = 0.0
        self._phase = ""
        self._phase_start = time.perf_counter()
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        self.show(p.phase, p.done, p.total)

    def show(self, phase: str, done: int, total: int) -> None:
        """Redraw the line (at most every ``min_interval`` seconds, and at the end)."""
        p = Progress(phase, done, total)
        if not self.enabled:
            return
        now = time.perf_counter()
        if p.phase != self._phase:
            self._phase, self._phase_start = p.phase, now
        if now - self._last < self.min_interval and p.done < p.total:
            return
        self._last = now
        label = self.phases.get(p.phase, p.phase)
        if p.total <= 0:
            line = f"{label}…"
        else:
            filled = int(self.width * min(p.done, p.total) / p.total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"{label:<11}[{bar}] {p.done}/{p.total}"
            if self.unit:
                rate = p.done / max(now - self._phase_start, 1e-6)
                line += f"  {rate:.1f} {self.unit}/s"
        self.stream.write("\r" + line.ljust(78)[:100])
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the progress line so that what follows starts on a clean line."""
        if self._drawn:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()
            self._drawn = False
