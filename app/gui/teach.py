"""Teach mode: the model asks about one label, the user answers with single keys, and the label
is refitted live in a child process (``python -m trainer teach``) every few answers.

``TeachChild`` wraps the child in a ``QProcess``: commands go to its stdin as JSON lines, each
answer comes back as a signal; the window never waits for it. ``TeachDialog`` is the review
grid: Y or Enter confirms the current photo and moves on, N or Delete rejects it, Space opens
the preview, Backspace undoes the last answer. Verdicts go through ``AlbumSession`` (the same
undoable path as the inspector), on the database thread; the refit is asked for only after the
database thread has stored them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.gui.grid import PhotoGridModel, PhotoGridView
from app.gui.imageloader import ImageLoader
from app.gui.session import AlbumSession
from core import browse
from core.browse import GridRow
from core.labels.policy import CONFIRMED, REJECTED

logger = logging.getLogger(__name__)

#: The label is refitted after this many answers.
REFIT_EVERY = 3


def teach_command(album: str | Path, label: str, data_dir: str | Path | None = None) -> list[str]:
    """The argv of teach mode's child for ``label``."""
    command = [sys.executable, "-m", "trainer", "teach", str(album), "--label", label]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    return command


class TeachChild(QObject):
    """The long-lived ``python -m trainer teach`` child, spoken to through signals."""

    ready = Signal(dict)  # {"event": "ready", "label", "photos"}
    fitted = Signal(dict)  # {"event": "fitted", "threshold", "queue", "scores", counts...}
    failed = Signal(str)

    def __init__(self, command: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._command = command
        self._buffer = b""
        self.busy = False  # a refit is under way
        self.pending = False  # another refit was asked for meanwhile
        self.latencies: list[float] = []  # seconds from asking to the answer, per refit
        self._asked_at = 0.0
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._on_ready_read)
        self.process.finished.connect(self._on_finished)
        self.process.errorOccurred.connect(self._on_error_occurred)

    def start(self) -> None:
        self.process.start(self._command[0], self._command[1:])

    def refit(self) -> None:
        """Ask for a refit now, or right after the one under way."""
        if self.process.state() != QProcess.ProcessState.Running:
            self.pending = True
            return
        if self.busy:
            self.pending = True
            return
        self.busy, self.pending = True, False
        self._asked_at = time.perf_counter()
        self._send({"cmd": "refit"})

    def _send(self, command: dict) -> None:
        self.process.write((json.dumps(command) + "\n").encode())

    def _on_ready_read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            self._handle(event)

    def _handle(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "ready":
            self.ready.emit(event)
            if self.pending:
                self.refit()
        elif kind == "fitted":
            self.busy = False
            self.latencies.append(time.perf_counter() - self._asked_at)
            self.fitted.emit(event)
            if self.pending:
                self.refit()
        elif kind == "error":
            self.busy = False
            self.failed.emit(str(event.get("message", "teach mode failed")))

    def _on_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        if code not in (0, None) and not self._closing:
            err = bytes(self.process.readAllStandardError()).decode(errors="replace").strip()
            self.failed.emit(err.splitlines()[-1] if err else f"exit status {code}")

    def _on_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit("teach mode's learner could not start")

    _closing = False

    def close(self) -> None:
        """Ask the child to quit; kill it if it does not within two seconds."""
        self._closing = True
        if self.process.state() == QProcess.ProcessState.NotRunning:
            return
        self._send({"cmd": "quit"})
        self.process.closeWriteChannel()
        if not self.process.waitForFinished(2000):
            self.process.kill()
            self.process.waitForFinished(2000)


@dataclass(frozen=True)
class Answer:
    row: GridRow
    position: int
    verdict: int


class TeachDialog(QDialog):
    """The review grid for one label (non-modal: the window goes on working behind it)."""

    preview_requested = Signal(object)  # GridRow
    answered = Signal(int, int)  # photo id, verdict

    def __init__(
        self, session: AlbumSession, loader: ImageLoader, label: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("teachDialog")
        self.setWindowTitle(f"Teach “{label}”")
        self.resize(900, 640)
        self.label = label
        self._session = session
        self.grid = PhotoGridView(PhotoGridModel(loader), loader, self)
        self.grid.setObjectName("teachGrid")
        self.grid.set_thumb_side(loader.side)
        self.grid.installEventFilter(self)
        self.question = QLabel(
            f"Is this {label}?  Y / Enter: yes · N / Del: no · Space: look closer · Backspace: undo"
        )
        self.question.setObjectName("teachQuestion")
        self.counter = QLabel("Getting the photos ready…")
        self.counter.setObjectName("teachCounter")
        self.threshold = QLabel("")
        self.threshold.setProperty("role", "dim")
        done = QPushButton("Done")
        done.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addWidget(self.grid, 1)
        row = QHBoxLayout()
        row.addWidget(self.counter, 1)
        row.addWidget(self.threshold)
        row.addWidget(done)
        layout.addLayout(row)
        self.answers: list[Answer] = []
        self._counted = 0
        self.counts = {"confirmed": 0, "rejected": 0, "likely": 0}
        self._fit_mark = 0  # answers before this one were stored when the refit was asked for
        self.fits = 0
        self.child = TeachChild(teach_command(session.root or "", label, session.data_dir), self)
        self.child.fitted.connect(self._on_fitted)
        self.child.failed.connect(self._on_failed)
        self.child.refit()  # the first queue, as soon as the child is ready
        self.child.start()

    # -- the child's answers ------------------------------------------------------------
    def _on_fitted(self, event: dict) -> None:
        self.fits += 1
        self.counts = {k: int(event.get(k, 0)) for k in ("confirmed", "rejected", "likely")}
        self._counted = self._fit_mark
        if event.get("copies_only"):  # one confirmed photo: nothing to estimate a threshold from
            self.threshold.setText("tags only copies of your photo until you confirm a second")
        elif event.get("spread_cap"):  # few photos confirmed: the label spreads no further yet
            self.threshold.setText(
                f"tags at most {int(event['spread_cap'])} photos until you confirm more"
            )
        else:
            self.threshold.setText(f"threshold {float(event.get('threshold', 0.5)):.2f}")
        queue = [int(i) for i in event.get("queue", [])]
        self._session.query(
            lambda library: browse.grid_rows_by_ids(library, queue), self._on_queue_rows
        )
        self._show_counter()

    def _on_queue_rows(self, rows: list[GridRow]) -> None:
        answered = {a.row.id for a in self.answers[self._counted :]}
        rows = [r for r in rows if r.id not in answered]
        self.grid.photo_model().set_rows(rows)
        if rows:
            self.grid.select_photo(rows[0].id)
            self.grid.scrollToTop()
        self.grid.setFocus()
        self._show_counter()

    def _on_failed(self, message: str) -> None:
        self.counter.setText(f"Teach mode cannot learn: {message}")
        self.counter.setProperty("role", "error")

    def _since_fit(self, verdict: int) -> int:
        """Answers the last refit's counts do not include yet."""
        return sum(a.verdict == verdict for a in self.answers[self._counted :])

    def _show_counter(self) -> None:
        confirmed = self.counts["confirmed"] + self._since_fit(CONFIRMED)
        rejected = self.counts["rejected"] + self._since_fit(REJECTED)
        likely = max(0, self.counts["likely"] - self._since_fit(CONFIRMED))
        self.counter.setText(
            f"{confirmed} confirmed · {rejected} rejected · about {likely} more photos likely"
        )
        self.counter.setProperty("role", "")

    # -- answering ----------------------------------------------------------------------
    def answer(self, verdict: int) -> None:
        """Confirm or reject the current photo, move on, refit every few answers."""
        row = self.grid.current_row()
        if row is None:
            return
        model = self.grid.photo_model()
        position = model.row_of(row.id) or 0
        self._session.set_verdict([row.id], [self.label], verdict)
        self.answers.append(Answer(row, position, verdict))
        rows = [r for r in model.rows if r.id != row.id]
        model.set_rows(rows)
        if rows:
            self.grid.select_photo(rows[min(position, len(rows) - 1)].id)
        self._show_counter()
        self.answered.emit(row.id, verdict)
        if len(self.answers) % REFIT_EVERY == 0:
            self._refit_after_writes()

    def undo(self) -> None:
        """Take back the last answer (the session's undo: the same log as Ctrl+Z)."""
        if not self.answers:
            return
        last = self.answers.pop()
        self._session.undo()
        self._counted = min(self._counted, len(self.answers))
        self._fit_mark = min(self._fit_mark, len(self.answers))
        model = self.grid.photo_model()
        rows = list(model.rows)
        rows.insert(min(last.position, len(rows)), last.row)
        model.set_rows(rows)
        self.grid.select_photo(last.row.id)
        self._show_counter()
        self._refit_after_writes()

    def refit(self) -> None:
        """Refit now (after the verdicts sent so far are stored), not waiting for 3 answers."""
        self._refit_after_writes()

    def _refit_after_writes(self) -> None:
        # The database thread runs tasks in order: this one ends after the verdicts are stored.
        self._fit_mark = len(self.answers)
        self._session.query(lambda library: None, lambda _: self.child.refit())

    def eventFilter(self, watched: QObject, event: object) -> bool:
        if (
            watched is self.grid
            and isinstance(event, QKeyEvent)
            and event.type() == QKeyEvent.Type.KeyPress
            and self._key(event)
        ):
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._key(event):
            super().keyPressEvent(event)

    def _key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Y, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.answer(CONFIRMED)
        elif key in (Qt.Key.Key_N, Qt.Key.Key_Delete):
            self.answer(REJECTED)
        elif key == Qt.Key.Key_Backspace:
            self.undo()
        elif key == Qt.Key.Key_Space:
            if (row := self.grid.current_row()) is not None:
                self.preview_requested.emit(row)
        else:
            return False
        return True

    def done(self, result: int) -> None:
        self.child.close()
        super().done(result)

    def closeEvent(self, event: object) -> None:
        self.child.close()
        super().closeEvent(event)


class TeachMode(QObject):
    """Opens teach mode for a label: from the tag tree's context menu, the Model menu, and
    for a label just created in the window (it has its first example then)."""

    opened = Signal(object)  # the TeachDialog

    def __init__(self, session: AlbumSession, loader: ImageLoader, window: QWidget) -> None:
        super().__init__(window)
        self._session = session
        self._loader = loader
        self._window = window
        self.dialog: TeachDialog | None = None

    def open(self, label: str) -> TeachDialog | None:
        if not self._session.is_open or not label:
            return None
        self.close()
        dialog = TeachDialog(self._session, self._loader, label, self._window)
        self.dialog = dialog
        dialog.show()
        dialog.grid.setFocus()
        self.opened.emit(dialog)
        return dialog

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
