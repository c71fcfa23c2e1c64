"""Retraining in the background: the trainer runs as a child process while the window goes on.

``BackgroundRetrain`` runs ``python -m trainer train ALBUM --json-progress`` in a ``QProcess``
(never waited on), shows its progress in a small status-bar widget, and when the run ends puts
a "see what changed" button there that opens ``RetrainResultDialog``: the before/after table
and each label's changes, with numbers resting on fewer than
``core.training_events.FEW_PHOTOS`` verified photos flagged. It can also start itself after a
number of new corrections (Model → Retrain automatically).
"""

from __future__ import annotations

import html
import logging
from urllib.parse import quote, unquote

from PySide6.QtCore import QObject, QProcess, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.statusbar import ThinBar
from core.training_events import (
    FEW_PHOTOS,
    METRICS,
    PHASE_NAMES,
    capped_text,
    doubtful_labels,
    review_text,
)
from core.training_events import parse as parse_event

logger = logging.getLogger(__name__)

FLAG = "⚠"


def evidence_note(photos: int) -> str:
    """How much stands behind a number, flagged when it is little."""
    return (
        f"{FLAG} only {photos} verified photo{'s' if photos != 1 else ''}"
        if photos < FEW_PHOTOS
        else f"{photos} verified photos"
    )


def verdict_line(version: object, activated: bool, reason: str) -> str:
    """The dialog's first line: what became of the version, then the trainer's reason without
    the words that repeat it ("activated: …", "kept the active version: …")."""
    if activated:
        for lead, joint in (("activated: ", ": "), ("activated ", " ")):
            if reason.startswith(lead):
                return f"Version {version} is now active{joint}{reason[len(lead) :]}"
        return f"Version {version} is now active. {reason}".rstrip()
    lead = "kept the active version: "
    if reason.startswith(lead):
        return f"Version {version} was not activated: {reason[len(lead) :]}"
    return f"Version {version} was not better; the active model stays. {reason}".rstrip()


class RetrainStatus(QWidget):
    """The status-bar part: progress while training, then a button to see the result."""

    result_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("retrainStatus")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        self.text = QLabel()
        self.bar = ThinBar(self)
        self.bar.setFixedWidth(90)
        self.result_button = QPushButton("See what changed")
        self.result_button.setObjectName("retrainResultButton")
        self.result_button.setFlat(True)
        self.result_button.clicked.connect(self.result_requested)
        self.cancel = QPushButton("✕")
        self.cancel.setFlat(True)
        self.cancel.setToolTip("Stop retraining (the active model stays)")
        self.cancel.clicked.connect(self.cancel_requested)
        for widget in (self.text, self.bar, self.result_button, self.cancel):
            layout.addWidget(widget)
        self.hide()

    def show_progress(self, phase: str, done: int, total: int) -> None:
        self.text.setText(f"Retraining: {PHASE_NAMES.get(phase, phase)}…")
        self.bar.set_progress(done, total)
        for widget, on in ((self.bar, True), (self.cancel, True), (self.result_button, False)):
            widget.setVisible(on)
        self.show()

    def show_result(self, text: str, has_result: bool) -> None:
        self.text.setText(text)
        self.bar.hide()
        self.cancel.hide()
        self.result_button.setVisible(has_result)
        self.show()


class BackgroundRetrain(QObject):
    """One trainer run at a time, in the background; results arrive as signals."""

    started = Signal()
    progressed = Signal(str, int, int)  # phase, done, total
    finished = Signal(dict)  # the trainer's "done" event
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._buffer = b""
        self._final: dict | None = None
        self.result: dict | None = None
        self.process: QProcess | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, command: list[str]) -> bool:
        """Start a run; False (and nothing started) while one is under way."""
        if self.running:
            return False
        self._buffer, self._final = b"", None
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        process.readyReadStandardOutput.connect(self._on_ready_read)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error_occurred)
        self.process = process
        process.start(command[0], command[1:])
        self.started.emit()
        return True

    def _on_ready_read(self) -> None:
        if self.process is None:
            return
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = parse_event(line.decode("utf-8", errors="replace"))
            if event is None:
                continue
            if event["event"] == "progress":
                self.progressed.emit(
                    str(event.get("phase", "")),
                    int(event.get("done", 0)),
                    int(event.get("total", 0)),
                )
            else:
                self._final = event

    def _on_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        self._on_ready_read()
        final, process = self._final, self.process
        if final is not None and final.get("event") == "done":
            self.result = final
            self.finished.emit(final)
        elif final is not None:
            self.failed.emit(str(final.get("message", "training failed")))
        else:
            err = (
                bytes(process.readAllStandardError()).decode(errors="replace").strip()
                if process is not None
                else ""
            )
            self.failed.emit(err.splitlines()[-1] if err else f"exit status {code}")

    def _on_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit("the trainer could not start")

    def cancel(self) -> None:
        if self.running and self.process is not None:
            self.process.terminate()

    def close(self) -> None:
        """Stop a run under way (the window is closing); the active model stays."""
        if self.process is not None and self.running:
            self.process.blockSignals(True)
            self.process.kill()
            self.process.waitForFinished(3000)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "—" if value is None else str(value)


def _table(headers: list[str], rows: list[list[str]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c and text[:1].isdigit():
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if FLAG in text:
                item.setToolTip(
                    f"Fewer than {FEW_PHOTOS} verified photos: this number may move a lot "
                    "as you verify more"
                )
            table.setItem(r, c, item)
    return table


def _link(label: str) -> str:
    """A label's name as a link the dialog answers (its href is the name, URL-quoted)."""
    return f'<a href="{quote(label, safe="")}">{html.escape(label)}</a>'


class RetrainResultDialog(QDialog):
    """A finished run: verdict, before/after on verified photos, and each label's changes."""

    #: A label named for review was clicked: open teach mode on it.
    teach_requested = Signal(str)

    def __init__(self, done: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("retrainResultDialog")
        self.setWindowTitle(f"Model version {done.get('version')}")
        self.resize(860, 520)  # the labels table whole, its Evidence column included
        layout = QVBoxLayout(self)
        activated = bool(done.get("activated"))
        head = QLabel(verdict_line(done.get("version"), activated, str(done.get("reason") or "")))
        head.setWordWrap(True)
        layout.addWidget(head)
        before, after = done.get("before") or {}, done.get("after") or {}
        photos = int(after.get("n_photos") or before.get("n_photos") or 0)
        self.evidence = QLabel(
            f"Compared on photos you verified that the training did not see: "
            f"{evidence_note(photos)}, {after.get('n_labels', 0)} labels."
        )
        self.evidence.setWordWrap(True)
        layout.addWidget(self.evidence)
        if done.get("warning"):
            warning = QLabel(f"{FLAG} {done['warning']}.")
            warning.setProperty("role", "error")
            warning.setWordWrap(True)
            layout.addWidget(warning)
        flag = f" {FLAG}" if photos < FEW_PHOTOS else ""
        self.metrics = _table(
            ["Metric", "Before", "After"],
            [
                [
                    name,
                    _cell(before.get(key)) + (flag if key in ("precision", "recall", "f1") else ""),
                    _cell(after.get(key)) + (flag if key in ("precision", "recall", "f1") else ""),
                ]
                for key, name in METRICS
                if key in before or key in after
            ],
        )
        for column in (1, 2):  # before and after side by side, the same width
            self.metrics.horizontalHeader().setSectionResizeMode(
                column, QHeaderView.ResizeMode.Stretch
            )
        layout.addWidget(self.metrics)
        labels = done.get("labels") or []
        review = doubtful_labels(labels)  # shown first, in their order
        doubtful = {id(row) for row in review}
        labels = review + [row for row in labels if id(row) not in doubtful]
        self.labels = _table(
            [
                "Label",
                "Confirmed",
                "Rejected",
                "Threshold",
                "Tagged before → after",
                "Source",
                "Evidence",
            ],
            [
                [
                    str(r.get("label")),
                    str(r.get("confirmed", 0)),
                    str(r.get("rejected", 0)),
                    _cell(r.get("threshold")),
                    f"{r.get('tagged_before', 0)} → {r.get('tagged_after', 0)}"
                    + (" (review)" if id(r) in doubtful else "")
                    + (" (capped)" if r.get("spread_cap") else ""),
                    str(r.get("source", "")),
                    evidence_note(int(r.get("confirmed", 0)) + int(r.get("rejected", 0))),
                ]
                for r in labels
            ],
        )
        for row in range(len(review)):
            self.labels.item(row, 4).setToolTip(
                "The training expects fewer than half of this label's tags to be right: "
                "rejecting the wrong ones takes them off"
            )
        for row, r in enumerate(labels):
            if r.get("spread_cap") and id(r) not in doubtful:
                self.labels.item(row, 4).setToolTip(
                    f"Taught from few photos, it tags at most {int(r['spread_cap'])} photos "
                    "you have not judged, its most alike: confirming more (teach mode) lets it "
                    "spread"
                )
        layout.addWidget(QLabel("Labels you worked on:" if labels else "No label was trained."))
        layout.addWidget(self.labels, 1)
        #: Names the labels whose new tags the training itself doubts (empty when none); each
        #: name opens teach mode on it (``teach_requested``).
        sentence = review_text(labels, name=_link)
        self.review = QLabel(
            f"{sentence} Click a label to review it in teach mode." if sentence else ""
        )
        self.review.setObjectName("retrainReview")
        self.review.setTextFormat(Qt.TextFormat.RichText)
        self.review.setWordWrap(True)
        self.review.linkActivated.connect(lambda href: self.teach_requested.emit(unquote(href)))
        self.review.setVisible(bool(sentence))
        layout.addWidget(self.review)
        #: Names the labels their spread cap holds back (empty when none).
        self.capped = QLabel(capped_text(labels))
        self.capped.setObjectName("retrainCapped")
        self.capped.setWordWrap(True)
        self.capped.setVisible(bool(self.capped.text()))
        layout.addWidget(self.capped)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
