"""Indexing behind the window: in a child process, at the user's pace, what is on screen first.

``IndexingControl`` runs one indexing pass at a time for the session:

- by default in a child process (``python -m app.indexchild``, JSON lines both ways): the
  window never imports torch nor holds the model's memory, and the model's work never holds
  the GUI thread's interpreter lock. Each batch commits on its own, so a child that dies loses
  at most the batch in flight and the next run completes the album;
- with an ``indexer_factory`` (tests, benchmarks with a fake model) on a thread of this process.

Either way the same three controls reach the indexer while it runs:

- **pace**: every core while the user is idle; half of them (one on two cores) while they
  type, click, scroll or move the mouse, and for ``UserActivity.idle_after`` seconds after;
- **first**: the photos on screen (and the one selected) are tagged next; ``ScreenFollower``
  sends them again whenever the grid scrolls, its rows change or the selection moves;
- **cancel**.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QObject,
    QPoint,
    QProcess,
    QProcessEnvironment,
    QRect,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QApplication

from app.errors import describe
from app.gui.grid import PhotoGridView
from app.gui.tasks import IndexJob
from core.library import Library
from core.pipeline.indexer import Indexer, IndexSummary, Progress

logger = logging.getLogger(__name__)

IndexerFactory = Callable[[Library], Indexer]

#: How long a closing window waits for the child to stop before killing it (s).
STOP_TIMEOUT = 10.0


def background_workers() -> int:
    """Threads for the window's other background work: every core but one."""
    return max(1, (os.cpu_count() or 2) - 1)


def idle_workers() -> int:
    """Indexing workers while the user is away: every core."""
    return max(1, os.cpu_count() or 1)


def busy_workers() -> int:
    """Indexing workers while the user interacts: half the cores (one on two)."""
    return max(1, idle_workers() // 2)


def child_command(
    root: Path, data_dir: Path | None, *, workers: int, indexer: str | None = None
) -> list[str]:
    """The command line of the indexing child for an album."""
    command = [sys.executable, "-m", "app.indexchild", str(root), "--start-workers", str(workers)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    if indexer:
        command += ["--indexer", indexer]
    return command


class UserActivity(QObject):
    """Whether the user is interacting: a key, a click, the wheel or the mouse moving in any
    of the application's windows within the last ``idle_after`` seconds."""

    busy_changed = Signal(bool)

    EVENTS = frozenset(
        {
            QEvent.Type.KeyPress,
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonDblClick,
            QEvent.Type.Wheel,
            QEvent.Type.MouseMove,
        }
    )

    def __init__(self, idle_after: float = 2.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.idle_after = idle_after
        self.busy = False
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setObjectName("userIdleTimer")
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._app = QApplication.instance()
        if self._app is not None:
            self._app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self.EVENTS:
            self.touch()
        return False

    def touch(self) -> None:
        """The user did something now."""
        self._last = time.monotonic()
        if not self.busy:
            self.busy = True
            self._timer.start(int(self.idle_after * 1000))
            self.busy_changed.emit(True)

    def _on_timeout(self) -> None:
        left = self.idle_after - (time.monotonic() - self._last)
        if left > 0.01:
            self._timer.start(max(1, int(left * 1000)))
            return
        self.busy = False
        self.busy_changed.emit(False)

    def stop(self) -> None:
        self._timer.stop()
        if self._app is not None:
            self._app.removeEventFilter(self)
            self._app = None


class IndexingControl(QObject):
    """One indexing run at a time, in a child process or (with a factory) a thread."""

    started = Signal()
    progressed = Signal(object)  # core.pipeline.indexer.Progress
    ended = Signal(object, object)  # IndexSummary or None, error message or None

    _thread_progressed = Signal(object)
    _thread_ended = Signal(object, object)

    def __init__(
        self,
        indexer_factory: IndexerFactory | None = None,
        *,
        child_indexer: str | None = None,
        idle_after: float = 2.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._factory = indexer_factory
        self._child_indexer = child_indexer
        self.activity = UserActivity(idle_after, self)
        self.activity.busy_changed.connect(self._on_busy_changed)
        self._first: tuple[int, ...] = ()
        self.workers = busy_workers() if self.activity.busy else idle_workers()
        self.last_progress: Progress | None = None
        self.reported_workers: int | None = None  # the pace the child last reported
        # a thread run
        self._job: IndexJob | None = None
        self._indexer: Indexer | None = None
        self._lock = threading.Lock()
        # a child run
        self.process: QProcess | None = None
        self._buffer = b""
        self._final: dict | None = None
        self._thread_progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._thread_ended.connect(self._on_thread_ended, Qt.ConnectionType.QueuedConnection)
        self.follower: ScreenFollower | None = None

    def follow(self, grid: PhotoGridView) -> ScreenFollower:
        """Tag the photos ``grid`` shows first, as it scrolls (see ``ScreenFollower``)."""
        self.follower = ScreenFollower(grid, self, parent=self)
        return self.follower

    @property
    def in_child(self) -> bool:
        return self._factory is None

    @property
    def running(self) -> bool:
        if self.process is not None:
            return True
        return self._job is not None and self._job.is_alive()

    def start(self, library: Library) -> bool:
        """Start a run on ``library``; False (nothing started) while one is under way."""
        if self.running:
            return False
        self.last_progress = None
        if self.in_child:
            self._start_child(library)
        else:
            self._start_thread(library)
        self.started.emit()
        return True

    # -- controls ---------------------------------------------------------------------------
    def show_first(self, photo_ids: Sequence[int]) -> None:
        """The photos on screen now, most wanted first: tagged before the rest."""
        first = tuple(int(i) for i in photo_ids)
        if first == self._first:
            return
        self._first = first
        self._send({"first": list(first)})
        with self._lock:
            if self._indexer is not None:
                self._indexer.show_first(first)

    def set_workers(self, count: int) -> None:
        self.workers = max(1, int(count))
        self._send({"workers": self.workers})
        with self._lock:
            if self._indexer is not None:
                self._indexer.set_workers(self.workers)

    def _on_busy_changed(self, busy: bool) -> None:
        self.set_workers(busy_workers() if busy else idle_workers())

    def cancel(self) -> None:
        """Stop after the batch in flight; ``ended`` follows."""
        self._send({"cancel": True})
        if self._job is not None:
            self._job.cancel()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Cancel the run and wait for it (another album opens, or closing): no signal follows."""
        job, self._job = self._job, None
        if job is not None:
            job.cancel()
            if not job.join(max(timeout, 60.0)):
                logger.warning("indexing did not stop within %.0f s", timeout)
        process, self.process = self.process, None
        if process is not None:
            process.blockSignals(True)
            if process.state() != QProcess.ProcessState.NotRunning:
                process.write(b'{"cancel": true}\n')
                process.closeWriteChannel()
                if not process.waitForFinished(int(timeout * 1000)):
                    logger.warning(
                        "the indexing process did not stop within %.0f s; killing it", timeout
                    )
                    process.kill()
                    process.waitForFinished(5000)
            process.deleteLater()

    def close(self) -> None:
        """Stop the run, the idle timer and the screen follower (the window is closing)."""
        self.stop()
        self.activity.stop()
        if self.follower is not None:
            self.follower.stop()

    # -- a run in a child process -----------------------------------------------------------
    def _start_child(self, library: Library) -> None:
        command = child_command(
            library.root, library.data_dir, workers=self.workers, indexer=self._child_indexer
        )
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        env = QProcessEnvironment.systemEnvironment()
        here = str(Path(__file__).resolve().parents[2])  # so the child runs this very code
        env.insert("PYTHONPATH", os.pathsep.join(p for p in (here, env.value("PYTHONPATH")) if p))
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._on_ready_read)
        process.finished.connect(self._on_child_finished)
        process.errorOccurred.connect(self._on_child_error)
        self.process, self._buffer, self._final = process, b"", None
        self.reported_workers = None
        process.start(command[0], command[1:])
        if self._first:
            self._send({"first": list(self._first)})

    def _send(self, command: dict) -> None:
        process = self.process
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.write((json.dumps(command) + "\n").encode())

    @property
    def child_pid(self) -> int | None:
        process = self.process
        return int(process.processId()) if process is not None else None

    def _on_ready_read(self) -> None:
        process = self.process
        if process is None:
            return
        self._buffer += bytes(process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line.decode("utf-8", errors="replace"))
            except json.JSONDecodeError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("event") == "progress":
                self.reported_workers = int(event.get("workers") or 0) or None
                self._on_progress(
                    Progress(
                        str(event.get("phase", "")),
                        int(event.get("done", 0)),
                        int(event.get("total", 0)),
                        str(event.get("current", "")),
                    )
                )
            elif event.get("event") in ("done", "failed"):
                self._final = event

    def _on_child_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        process = self.sender() if isinstance(self.sender(), QProcess) else self.process
        if process is not self.process:
            return
        self._on_ready_read()
        final, self.process = self._final, None
        summary, error = None, None
        if final is not None and final.get("event") == "done":
            summary = IndexSummary.from_record(final.get("summary") or {})
        elif final is not None:
            error = str(final.get("message") or "indexing failed")
        else:
            err = bytes(process.readAllStandardError()).decode(errors="replace").strip()
            crashed = status == QProcess.ExitStatus.CrashExit
            error = (
                "the indexing process stopped unexpectedly"
                if crashed
                else f"the indexing process ended with status {code}"
            )
            if err:
                error += f": {err.splitlines()[-1]}"
        process.deleteLater()
        self.ended.emit(summary, error)

    def _on_child_error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self.process is None:
            return  # a crash ends in finished()
        process, self.process = self.process, None
        process.deleteLater()
        self.ended.emit(None, f"cannot start the indexing process: {process.errorString()}")

    # -- a run on a thread (an injected indexer) --------------------------------------------
    def _start_thread(self, library: Library) -> None:
        factory = self._factory
        assert factory is not None

        def run(cancel: threading.Event) -> None:
            summary, error = None, None
            try:
                indexer = factory(library)
                indexer.show_first(self._first)
                indexer.set_workers(self.workers)
                with self._lock:
                    self._indexer = indexer
                summary = indexer.run(self._thread_progressed.emit, cancel)
            except Exception as exc:
                logger.exception("indexing %s failed", library.root)
                error = describe(exc)
            finally:
                with self._lock:
                    self._indexer = None
            self._thread_ended.emit(summary, error)

        self._job = IndexJob(run)
        self._job.start()

    def _on_thread_ended(self, summary: object, error: object) -> None:
        job = self._job
        if job is None:
            return  # stopped (closing): nobody listens any more
        job.join(1.0)
        self._job = None
        self.ended.emit(summary, error)

    def _on_progress(self, progress: Progress) -> None:
        self.last_progress = progress
        self.progressed.emit(progress)


class ScreenFollower(QObject):
    """Tells the indexing which photos a grid shows: the selected one, then the screen (only
    the selected one while the preview covers the grid: that is the photo being looked at).

    Follows the grid's scrolling, its rows changing and the selection, each settling for
    ``delay`` ms before the ids go out.
    """

    def __init__(
        self,
        grid: PhotoGridView,
        control: IndexingControl,
        *,
        delay: int = 120,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent or grid)
        self._grid = grid
        self._control = control
        self._timer = QTimer(self)
        self._timer.setObjectName("screenFollowerTimer")
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay)
        self._timer.timeout.connect(self.send)
        grid.verticalScrollBar().valueChanged.connect(self._soon)
        model = grid.model()
        for signal in (
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.layoutChanged,
        ):
            signal.connect(self._soon)
        grid.selectionModel().currentChanged.connect(self._soon)
        control.started.connect(self._soon)

    def _soon(self, *_: object) -> None:
        self._timer.start()

    def visible_ids(self) -> list[int]:
        """The photo ids on screen, the current one first, then in display order."""
        grid, model = self._grid, self._grid.photo_model()
        count = model.rowCount()
        ids: list[int] = []
        current = grid.currentIndex()
        if current.isValid() and current.row() < count:
            ids.append(model.id_at(current.row()))
        area: QRect = grid.viewport().rect()
        top = grid.indexAt(area.topLeft() + QPoint(4, 4))
        row = top.row() if top.isValid() else 0
        # back to the first cell of the top line (the point may miss a partly hidden cell)
        while row > 0 and grid.visualRect(model.index(row - 1, 0)).intersects(area):
            row -= 1
        found, misses, end = False, 0, row + 4000  # a screen never holds 4,000 cells
        while row < min(count, end) and misses < 64:  # a line is shorter than 64
            if grid.visualRect(model.index(row, 0)).intersects(area):
                ids.append(model.id_at(row))
                found, misses = True, 0
            elif found:
                misses += 1
            row += 1
        seen: set[int] = set()
        return [i for i in ids if not (i in seen or seen.add(i))]

    def send(self) -> None:
        """Send the screen's ids; while the preview covers the grid, only the photo it shows."""
        if self._grid.isVisible():
            self._control.show_first(self.visible_ids())
            return
        current = self._grid.currentIndex()
        if current.isValid():
            self._control.show_first([self._grid.photo_model().id_at(current.row())])

    def stop(self) -> None:
        self._timer.stop()
