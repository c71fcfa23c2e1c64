"""The GUI thread never blocks: the event loop keeps ticking while an album is indexed.

The album is the real photos four times over (96 files): real decoding, real thumbnails, real
SQLite writes; the model is the fake one with a pause per batch standing in for inference
(torch releases the GIL while it computes, and so does sleeping). Meanwhile the test scrolls
the grid, moves the selection (so the inspector queries) and searches.

Two limits. The GUI thread's own work between two ticks (its CPU time) stays under 100 ms,
always. The wall-clock gap between ticks stays under 100 ms too, checked whenever the machine
has a CPU to give: on a box running more than two runnable threads per core for other
people, waiting for a CPU is not something this window can fix, so the figure is reported
instead of failing the test.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import fake_indexer, photo_files, wait_idle
from tests.app.ticks import TickCounter

MAX_STALL = 0.100


def _bigger_album(album: Path, copies: int) -> None:
    originals = photo_files(album)
    for n in range(1, copies):
        for src in originals:
            dest = album / f"copy{n}" / src.relative_to(album)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)


def test_event_loop_never_stalls_while_indexing(make_window, real_album: Path, qtbot) -> None:  # noqa: ANN001
    _bigger_album(real_album, 4)
    total = len(photo_files(real_album))
    window = make_window(indexer_factory=fake_indexer(delay=0.05, batch_size=8))
    with TickCounter() as ticks:
        window.open_album(real_album)
        qtbot.waitUntil(lambda: window.session.is_indexing, timeout=10_000)
        step = 0
        while window.session.is_indexing or not window.session.is_idle():
            step += 1
            window.grid.verticalScrollBar().setValue((step * 97) %
                                                     max(1, window.grid.verticalScrollBar()
                                                         .maximum()))
            if window.grid.photo_model().rowCount():
                qtbot.keyClick(window.grid, Qt.Key.Key_Right)
            if step % 10 == 0:
                window.browser.set_query("animal" if step % 20 else "")
            qtbot.wait(20)
            assert step < 3000, "indexing did not finish"
        wait_idle(qtbot, window)
    assert window.grid.photo_model().rowCount() == total or window.browser.query
    print(f"\nlongest gap between event-loop ticks {ticks.longest_gap * 1000:.0f} ms, longest "
          f"stretch of GUI-thread work {ticks.longest_busy * 1000:.0f} ms, {ticks.ticks} ticks")
    assert ticks.ticks > 100
    assert ticks.longest_busy < MAX_STALL, (
        f"the GUI thread worked {ticks.longest_busy * 1000:.0f} ms without a break")
    message = (f"the GUI thread stalled for {ticks.longest_gap * 1000:.0f} ms (its own work: "
               f"at most {ticks.longest_busy * 1000:.0f} ms) "
               f"(worst gaps: {[round(g * 1000) for g in sorted(ticks.gaps)[-5:]]} ms)")
    if _machine_is_free():
        assert ticks.longest_gap < MAX_STALL, message
    elif ticks.longest_gap >= MAX_STALL:
        warnings.warn(f"{message}, on a machine with load {os.getloadavg()[0]:.1f} on "
                      f"{os.cpu_count()} CPUs", stacklevel=1)


def _machine_is_free() -> bool:
    """Fewer than two runnable threads per CPU over the last minute (other than ours)."""
    return os.getloadavg()[0] < 2.0 * (os.cpu_count() or 1)
