"""Model menu dialogs: retrain (the trainer runs as a subprocess) and the version history."""

from __future__ import annotations

import importlib.util
import logging

from PySide6.QtCore import QProcess, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.db.store import ModelRow
from core.training_events import METRICS
from core.training_events import parse as parse_event

logger = logging.getLogger(__name__)

_PHASES = {
    "loading": "Reading your corrections",
    "training": "Training",
    "thresholds": "Tuning thresholds",
    "evaluating": "Comparing with the active model",
    "saving": "Saving the new version",
    "rescoring": "Re-tagging the album",
}


def trainer_available() -> bool:
    """Whether ``python -m trainer`` exists in this installation."""
    try:
        return importlib.util.find_spec("trainer.__main__") is not None
    except (ImportError, ValueError):
        return False


class RetrainDialog(QDialog):
    """Runs the trainer, shows its progress and the metrics before and after."""

    finished_training = Signal(bool)  # whether a new version became active

    def __init__(self, command: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("retrainDialog")
        self.setWindowTitle("Retrain the model")
        self.setMinimumWidth(460)
        self._command = command
        self._buffer = b""
        self.result_event: dict | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "albumtag learns from every tag you confirmed, rejected or added. "
            "The new version becomes active only if it is at least as good on "
            "photos you verified."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.phase = QLabel("Starting…")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        layout.addWidget(self.phase)
        layout.addWidget(self.bar)
        self.metrics = QTableWidget(0, 3)
        self.metrics.setHorizontalHeaderLabels(["Metric", "Before", "After"])
        self.metrics.verticalHeader().hide()
        self.metrics.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics.hide()
        layout.addWidget(self.metrics)
        self.buttons = QDialogButtonBox()
        self.cancel_button = self.buttons.addButton(
            "Cancel", QDialogButtonBox.ButtonRole.RejectRole
        )
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        layout.addWidget(self.buttons)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.readyReadStandardOutput.connect(self._on_ready_read)
        self.process.finished.connect(self._on_process_finished)
        self.process.errorOccurred.connect(self._on_process_error)

    def start(self) -> None:
        self.process.start(self._command[0], self._command[1:])

    # -- the trainer's JSON lines ---------------------------------------------------------
    def _on_ready_read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = parse_event(line.decode("utf-8", errors="replace"))
            if event is not None:
                self.handle_event(event)

    def handle_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "progress":
            phase = str(event.get("phase", ""))
            done, total = int(event.get("done", 0)), int(event.get("total", 0))
            self.phase.setText(
                f"{_PHASES.get(phase, phase.capitalize() or 'Working')}…"
                + (f"  {done:,} / {total:,}" if total else "")
            )
            self.bar.setRange(0, max(total, 0))
            self.bar.setValue(done)
        elif kind == "done":
            self.result_event = event
            self._show_done(event)
        elif kind == "error":
            self.result_event = event
            self.phase.setText(f"Training failed: {event.get('message', 'unknown error')}")
            self.phase.setProperty("role", "error")
            self._finish_buttons()

    def _show_done(self, event: dict) -> None:
        version = event.get("version")
        activated = bool(event.get("activated"))
        reason = str(event.get("reason") or "")
        self.phase.setText(
            f"Version {version} is now active."
            if activated
            else f"Version {version} was not better; the active model stays."
            + (f"\n{reason}" if reason and not activated else "")
        )
        self.bar.setRange(0, 1)
        self.bar.setValue(1)
        before, after = event.get("before") or {}, event.get("after") or {}
        known = dict(METRICS)
        keys = [k for k, _ in METRICS if k in before or k in after]
        keys += [k for k in dict.fromkeys([*before, *after]) if k not in known]
        self.metrics.setRowCount(len(keys))
        for i, key in enumerate(keys):
            cells = (known.get(key, key), _fmt(before.get(key)), _fmt(after.get(key)))
            for col, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if col:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.metrics.setItem(i, col, item)
        self.metrics.setVisible(bool(keys))
        self.metrics.setMinimumHeight(34 + 30 * len(keys))
        self.metrics.resizeColumnsToContents()
        self.adjustSize()
        self._finish_buttons()
        self.finished_training.emit(activated)

    def _finish_buttons(self) -> None:
        self.cancel_button.setText("Close")

    def _on_cancel_clicked(self) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.terminate()
            if not self.process.waitForFinished(3000):
                self.process.kill()
                self.process.waitForFinished(1000)
        self.reject()

    def _on_process_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        self._on_ready_read()
        if self.result_event is None:
            err = bytes(self.process.readAllStandardError()).decode(errors="replace").strip()
            last = err.splitlines()[-1] if err else f"exit status {code}"
            self.handle_event({"event": "error", "message": last})

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.handle_event({"event": "error", "message": "the trainer could not start"})

    def done(self, result: int) -> None:
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(2000)
        super().done(result)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "—" if value is None else str(value)


HISTORY_COLUMNS = (
    ("Version", "The model version (albumtag models --activate N)"),
    ("Created", "When it was made"),
    ("Model", "The image model it builds on (the tooltip shows its exact weights)"),
    ("Trained on", "What it learned from: the built-in prior, or your corrections"),
    ("F1", "F1 on tags you verified that its training did not see"),
    ("mAP", "Mean average precision on those same held-out tags"),
    ("Active", "The version tagging the album now"),
)


def history_cells(model: ModelRow) -> list[str]:
    """One row of the history, in words: no raw field names, no hashes."""
    m = model.metrics
    name = model.backbone.split("@", 1)[0]
    if m.get("kind") == "trained":
        photos = m.get("verified_photos")
        trained = f"{photos} photos you verified" if isinstance(photos, int) else "your tags"
    else:
        trained = "built-in prior"
    after = m.get("after") if isinstance(m.get("after"), dict) else {}

    def number(key: str) -> str:
        value = m.get(key, after.get(key))
        return f"{value:.3f}" if isinstance(value, float) else "—"

    return [
        str(model.version),
        model.created_at.replace("T", " ")[:16],
        name,
        trained,
        number("f1"),
        number("map"),
        "●" if model.active else "",
    ]


class ModelHistoryDialog(QDialog):
    """Every model version with its metrics; activating one rolls back (or forward)."""

    activate_requested = Signal(int)

    def __init__(self, models: list[ModelRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelHistoryDialog")
        self.setWindowTitle("Model history")
        self.setMinimumSize(640, 300)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(models), len(HISTORY_COLUMNS))
        self.table.setHorizontalHeaderLabels([title for title, _ in HISTORY_COLUMNS])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the model's name
        for col, (_, tip) in enumerate(HISTORY_COLUMNS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self._versions = [m.version for m in models]
        for row, m in enumerate(models):
            for col, text in enumerate(history_cells(m)):
                item = QTableWidgetItem(text)
                if col == 2:
                    item.setToolTip(m.backbone)  # the full name, with the weights' hash
                self.table.setItem(row, col, item)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        row.addStretch(1)
        self.activate_button = QPushButton("Activate")
        self.activate_button.setProperty("primary", True)
        self.activate_button.setEnabled(False)
        self.activate_button.clicked.connect(self._on_activate_clicked)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        row.addWidget(self.activate_button)
        row.addWidget(close)
        layout.addLayout(row)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self._active = next((m.version for m in models if m.active), None)

    def select_version(self, version: int) -> None:
        self.table.selectRow(self._versions.index(version))

    def _on_selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        version = self._versions[rows[0].row()] if rows else None
        self.activate_button.setEnabled(version is not None and version != self._active)

    def _on_activate_clicked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.activate_requested.emit(self._versions[rows[0].row()])
            self.accept()
