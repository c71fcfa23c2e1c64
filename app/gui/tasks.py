"""Background work for the window: one database thread, and results handed back on the GUI thread.

Anki's pattern: everything that touches the album store runs on one worker thread (a
single-thread executor), and the callbacks run on the GUI thread through a queued signal. A
closed runner drops late results instead of touching widgets that are gone.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

from app.gui.collector import collect_on_gui_thread

logger = logging.getLogger(__name__)

T = TypeVar("T")
Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class TaskRunner(QObject):
    """Runs callables on one named background thread; ``done``/``failed`` run on the GUI thread.

    Create it on the GUI thread. ``close`` waits for the running task and drops queued ones.
    """

    finished = Signal(object)  # a zero-argument callable to run on the GUI thread
    failed = Signal(object)  # an exception no ``failed`` callback took

    def __init__(self, name: str = "albumtag-db", parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()  # a cycle of Qt objects must never be freed on the pool thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False
        self._lock = threading.Lock()
        self._outstanding = 0
        self.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        work: Callable[[], T],
        done: Callable[[T], None] | None = None,
        failed: Failed | None = None,
    ) -> Future | None:
        """Run ``work()`` in the background; ``done(result)`` or ``failed(exc)`` afterwards."""
        if self._closed:
            return None
        with self._lock:
            self._outstanding += 1
        future = self._pool.submit(work)
        future.add_done_callback(lambda f: self._handoff(f, done, failed))
        return future

    def _handoff(self, future: Future, done: Done | None, failed: Failed | None) -> None:
        def deliver() -> None:
            with self._lock:
                self._outstanding -= 1
            if self._closed or future.cancelled():
                return
            exc = future.exception()
            if exc is None:
                if done is not None:
                    done(future.result())
            elif failed is not None:
                failed(exc)
            else:
                logger.error("background task failed", exc_info=exc)
                self.failed.emit(exc)

        self.finished.emit(deliver)

    def _on_finished(self, deliver: Callable[[], None]) -> None:
        deliver()

    def is_idle(self) -> bool:
        """No task running or queued, and no result waiting to be delivered."""
        with self._lock:
            return self._outstanding == 0

    def close(self) -> None:
        """Stop taking work, drop queued tasks, wait for the one running (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)


def lower_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI thread (Linux; a no-op elsewhere).

    Threads it starts afterwards (the indexer's decode pool) inherit the lower priority.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError, PermissionError):  # other platforms, or not allowed
        pass


class IndexJob:
    """One indexing run on its own thread, cancellable through an event."""

    def __init__(self, target: Callable[[threading.Event], None]) -> None:
        self.cancel_event = threading.Event()

        def run(cancel: threading.Event) -> None:
            lower_priority()
            target(cancel)

        self._thread = threading.Thread(
            target=run, args=(self.cancel_event,), name="albumtag-index"
        )

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.cancel_event.set()

    def join(self, timeout: float) -> bool:
        """Wait for the run to end; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()
