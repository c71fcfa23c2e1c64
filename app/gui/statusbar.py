"""The status bar: photo counts on the left, indexing progress and cancel on the right."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStatusBar, QToolButton, QWidget

from app.gui import icons
from app.gui.theme import COLOURS
from core.pipeline.indexer import IndexSummary, Progress

_PHASES = {"scan": "Scanning the folder", "tag": "Tagging", "rescore": "Re-scoring"}


class ThinBar(QWidget):
    """A slim progress bar that only schedules repaints (QProgressBar repaints at once)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value = 0
        self.maximum = 0  # 0: busy, no known total
        self._phase = 0.0
        self.setFixedSize(160, 6)

    def set_progress(self, value: int, maximum: int) -> None:
        self.value, self.maximum = value, maximum
        self._phase = (self._phase + 0.07) % 1.0
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(160, 6)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(COLOURS.q("raised"))
        rect = QRectF(self.rect())
        painter.drawRoundedRect(rect, 3, 3)
        painter.setBrush(COLOURS.q("accent"))
        if self.maximum > 0:
            width = rect.width() * min(1.0, self.value / self.maximum)
            painter.drawRoundedRect(QRectF(0, 0, max(6.0, width), rect.height()), 3, 3)
        else:  # busy: a short segment that moves along with each update
            x = (rect.width() - 40) * self._phase
            painter.drawRoundedRect(QRectF(x, 0, 40, rect.height()), 3, 3)


class IndexStatus(QWidget):
    """``Tagging 120 / 1,000 ▬▬▬▭▭ ⊗``, hidden while nothing runs."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(8)
        self.label = QLabel(self)
        self.bar = ThinBar(self)
        self._shown_at = 0.0
        self.cancel_button = QToolButton(self)
        self.cancel_button.setObjectName("cancelIndexing")
        self.cancel_button.setIcon(icons.icon("cancel", COLOURS.dim))
        self.cancel_button.setToolTip("Stop indexing (it resumes with the next scan)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.setVisible(False)

    def show_started(self) -> None:
        self.label.setText("Scanning the folder…")
        self.bar.set_progress(0, 0)
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def show_progress(self, p: Progress) -> None:
        """Show where indexing stands (at most ten times a second; the last one counts)."""
        now = time.monotonic()
        if now - self._shown_at < 0.1 and p.done < p.total:
            return
        self._shown_at = now
        self.setVisible(True)
        name = _PHASES.get(p.phase, p.phase.capitalize())
        if p.total:
            self.label.setText(f"{name}  {p.done:,} / {p.total:,}")
        else:
            self.label.setText(f"{name}…")
        self.bar.set_progress(p.done, p.total)
        self.label.setToolTip(p.current)

    def show_cancelling(self) -> None:
        self.label.setText("Stopping…")
        self.cancel_button.setEnabled(False)

    def show_finished(self) -> None:
        self.setVisible(False)


class ZoomSlider(QWidget):
    """Thumbnail size, small photo · slider · big photo; ``zoom_changed`` once it settles."""

    zoom_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 0, 10, 0)
        layout.setSpacing(6)
        small, big = QLabel(self), QLabel(self)
        small.setPixmap(icons.pixmap("photo", 12, COLOURS.dim))
        big.setPixmap(icons.pixmap("photo", 16, COLOURS.dim))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("zoomSlider")
        self.slider.setRange(96, 320)
        self.slider.setSingleStep(16)
        self.slider.setPageStep(32)
        self.slider.setFixedWidth(110)
        self.slider.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        self.slider.valueChanged.connect(self._on_value_changed)
        self.slider.sliderReleased.connect(self._on_slider_released)
        for widget in (small, self.slider, big):
            layout.addWidget(widget)

    def set_value(self, side: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(side)
        self.slider.blockSignals(False)

    def _on_value_changed(self, value: int) -> None:
        if not self.slider.isSliderDown():
            self.zoom_changed.emit(value)

    def _on_slider_released(self) -> None:
        self.zoom_changed.emit(self.slider.value())


class StatusBar(QStatusBar):
    """Counts and messages, plus the indexing widget and the thumbnail size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.counts = QLabel(self)
        self.counts.setContentsMargins(8, 0, 0, 0)
        self.message = QLabel(self)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.addWidget(self.counts)
        self.addWidget(self.message, 1)
        self.indexing = IndexStatus(self)
        self.addPermanentWidget(self.indexing)
        self.zoom = ZoomSlider(self)
        self.addPermanentWidget(self.zoom)
        self._clear = QTimer(self)
        self._clear.setSingleShot(True)
        self._clear.timeout.connect(self.message.clear)
        self._shown = 0
        self._selected = 0

    def set_counts(self, shown: int | None = None, selected: int | None = None) -> None:
        if shown is not None:
            self._shown = shown
        if selected is not None:
            self._selected = selected
        text = f"{self._shown:,} photo{'s' if self._shown != 1 else ''}"
        if self._selected:
            text += f"  ·  {self._selected:,} selected"
        self.counts.setText(text)

    def say(self, text: str, seconds: float = 6.0) -> None:
        self.message.setText(f"   {text}")
        self._clear.start(int(seconds * 1000))

    def summarise(self, summary: IndexSummary | None) -> None:
        if summary is None:
            return
        parts = []
        if summary.tagged:
            parts.append(f"tagged {summary.tagged:,} photo{'s' if summary.tagged != 1 else ''}")
        if summary.scan.resumed:  # left waiting by a run that was stopped or killed
            parts.append(f"{summary.scan.resumed:,} resumed from an interrupted run")
        if summary.rescored:
            parts.append(f"re-scored {summary.rescored:,}")
        errors = summary.errors + summary.scan.errors
        if errors:
            parts.append(f"{errors} could not be read")
        if summary.warnings:  # e.g. a photo whose keywords would make too many labels
            more = len(summary.warnings) - 1
            parts.append(summary.warnings[0] + (f" (and {more} more warnings)" if more else ""))
        if summary.cancelled:
            parts.append("stopped")
        if parts:
            self.say(("Indexing: " + ", ".join(parts) + ".").replace(": t", ": T", 1))

    def stop(self) -> None:
        self._clear.stop()
