"""The label quality view: each label's evidence, threshold and precision at a glance.

A table of labels (photos tagged, confirmed, rejected, precision estimated from verdicts,
threshold and where it came from) and, for the chosen label, QtCharts: the precision–recall
curve on the photos the user verified with the threshold marked, a threshold slider that
previews how many photos would be tagged, and every model version's F1. A threshold set here is
stored (``TagStore.set_manual_threshold``), wins over trained ones, and is undoable.
Everything is read on the database thread (``core.quality.label_quality``); the dialog only
draws.
"""

from __future__ import annotations

import logging

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QScatterSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.retraining import FLAG, evidence_note
from core.quality import LabelQuality, QualityReport, pr_curve
from core.training_events import FEW_PHOTOS

logger = logging.getLogger(__name__)


def _chart(title: str, x_title: str, y_title: str) -> tuple[QChart, QValueAxis, QValueAxis]:
    chart = QChart()
    chart.setTitle(title)
    chart.legend().hide()
    chart.setMargins(chart.margins() * 0)
    x, y = QValueAxis(), QValueAxis()
    x.setTitleText(x_title)
    y.setTitleText(y_title)
    x.setRange(0, 1)
    y.setRange(0, 1.05)
    chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
    return chart, x, y


def _add(chart: QChart, series: QLineSeries, x: QValueAxis, y: QValueAxis) -> None:
    chart.addSeries(series)
    series.attachAxis(x)
    series.attachAxis(y)


class QualityDialog(QDialog):
    """The view; ``threshold_set`` carries (label, value or None for reset) to the session."""

    threshold_set = Signal(str, object)
    undo_requested = Signal()

    COLUMNS = ("Label", "Tagged", "Confirmed", "Rejected", "Precision", "Threshold", "Source")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("qualityDialog")
        self.setWindowTitle("Label quality")
        self.resize(1240, 700)
        self.report = QualityReport([], [])
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("qualityTable")
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.pr_chart, self._pr_x, self._pr_y = _chart(
            "Precision–recall on verified photos", "recall", "precision"
        )
        self.f1_chart, self._f1_x, self._f1_y = _chart("F1 of each model version", "version", "F1")
        self.pr_view, self.f1_view = QChartView(self.pr_chart), QChartView(self.f1_chart)
        for view in (self.pr_view, self.f1_view):
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumHeight(220)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(2, 98)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setObjectName("thresholdPreview")
        self.evidence = QLabel()
        self.evidence.setWordWrap(True)
        self.set_button = QPushButton("Use this threshold")
        self.set_button.clicked.connect(self._on_set_clicked)
        self.reset_button = QPushButton("Reset to the trained one")
        self.reset_button.clicked.connect(self._on_reset_clicked)
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_requested)
        QShortcut(QKeySequence.StandardKey.Undo, self, self.undo_requested.emit)
        self._compose()

    def _compose(self) -> None:
        side = QWidget()
        grid = QGridLayout(side)
        grid.addWidget(self.evidence, 0, 0, 1, 3)
        grid.addWidget(self.pr_view, 1, 0, 1, 3)
        grid.addWidget(QLabel("Threshold"), 2, 0)
        grid.addWidget(self.slider, 2, 1, 1, 2)
        grid.addWidget(self.preview, 3, 0, 1, 3)  # its own row: the sentence is never cut
        buttons = QHBoxLayout()
        for button in (self.set_button, self.reset_button, self.undo_button):
            buttons.addWidget(button)
        grid.addLayout(buttons, 4, 0, 1, 3)
        grid.addWidget(self.f1_view, 5, 0, 1, 3)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(side)
        splitter.setSizes([660, 580])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # -- content ------------------------------------------------------------------------
    def set_report(self, report: QualityReport, select: str | None = None) -> None:
        current = select or self.current_label()
        self.report = report
        self.table.setRowCount(len(report.labels))
        for r, q in enumerate(report.labels):
            flag = f" {FLAG}" if q.precision is not None and q.evidence < FEW_PHOTOS else ""
            cells = [
                q.name,
                str(q.tagged),
                str(q.confirmed),
                str(q.rejected),
                "—" if q.precision is None else f"{q.precision:.2f}{flag}",
                f"{q.threshold:.2f}",
                q.source,
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 0 < c < 6:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if flag and c == 4:
                    item.setToolTip(
                        f"Estimated from {q.evidence} verified photos: fewer than "
                        f"{FEW_PHOTOS}, so it may move a lot"
                    )
                self.table.setItem(r, c, item)
        self._draw_versions()
        names = [q.name for q in report.labels]
        if names:
            self.table.selectRow(names.index(current) if current in names else 0)

    def current_label(self) -> str | None:
        q = self.current()
        return q.name if q else None

    def current(self) -> LabelQuality | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.report.labels):
            return None
        return self.report.labels[rows[0].row()]

    def select_label(self, name: str) -> None:
        names = [q.name.lower() for q in self.report.labels]
        if name.lower() in names:
            self.table.selectRow(names.index(name.lower()))

    def _on_selection_changed(self) -> None:
        q = self.current()
        if q is None:
            return
        self.evidence.setText(
            f"<b>{q.name}</b>: {evidence_note(q.evidence)} "
            f"({q.confirmed} confirmed, {q.rejected} rejected); threshold "
            f"{q.threshold:.2f} ({q.source})."
        )
        self.slider.blockSignals(True)
        self.slider.setValue(round(q.threshold * 100))
        self.slider.blockSignals(False)
        self._draw_pr(q)
        self._show_preview()

    def _draw_pr(self, q: LabelQuality) -> None:
        chart = self.pr_chart
        for series in chart.series():
            chart.removeSeries(series)
        points = pr_curve(q.verified)
        curve = QLineSeries()
        curve.append([QPointF(r, p) for r, p, _ in points])
        _add(chart, curve, self._pr_x, self._pr_y)
        at = [(r, p) for r, p, t in points if t >= q.threshold]
        if at:
            mark = QScatterSeries()
            mark.setMarkerSize(11)
            mark.append(QPointF(*at[-1]))
            _add(chart, mark, self._pr_x, self._pr_y)
        chart.setTitle(
            f"Precision–recall of {q.name} on {len(q.verified)} verified photos"
            + (f" {FLAG}" if len(q.verified) < FEW_PHOTOS else "")
        )

    def _draw_versions(self) -> None:
        chart = self.f1_chart
        for series in chart.series():
            chart.removeSeries(series)
        line, dots = QLineSeries(), QScatterSeries()
        dots.setMarkerSize(8)
        points = [QPointF(v, f1) for v, _, f1 in self.report.versions if f1 is not None]
        line.append(points)
        dots.append(points)
        last = max((v for v, _, _ in self.report.versions), default=1)
        self._f1_x.setRange(0, max(1, last) + 0.5)
        self._f1_x.setTickCount(2)
        self._f1_x.setLabelFormat("%.0f")
        _add(chart, line, self._f1_x, self._f1_y)
        _add(chart, dots, self._f1_x, self._f1_y)

    def _on_slider_value_changed(self, _value: int) -> None:
        self._show_preview()

    def _show_preview(self) -> None:
        q = self.current()
        if q is None:
            return
        value = self.slider.value() / 100
        confirmed, by_model = q.would_tag(value)
        total = confirmed + by_model
        rejected = f"; {q.rejected} rejected stay off" if q.rejected else ""
        self.preview.setText(
            f"at {value:.2f}: {total} photo{'s' if total != 1 else ''} tagged "
            f"{q.name} ({confirmed} confirmed by you, {by_model} by the model"
            f"{rejected})"
        )

    def _on_set_clicked(self) -> None:
        if (q := self.current()) is not None:
            self.threshold_set.emit(q.name, self.slider.value() / 100)

    def _on_reset_clicked(self) -> None:
        if (q := self.current()) is not None:
            self.threshold_set.emit(q.name, None)
