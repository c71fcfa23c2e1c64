"""The inspector's tag list: one row per tag with a confidence bar, its source and ✓/✗ buttons."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.gui import icons
from app.gui.theme import COLOURS
from core.browse import TagSummary

_Index = QModelIndex | QPersistentModelIndex
TAG_ROLE = Qt.ItemDataRole.UserRole + 20
LEARNS_HINT = (
    "Learns from your examples: the built-in model cannot see this label, so it is set only "
    "where you confirm it until you retrain. Confirm it on a few photos, or right-click it "
    "and choose Teach, then retrain."
)
"""The hint on a prior-blind label (core.labels.vocabulary.Vocabulary.prior_blind)."""
_MAYBE_LIMIT = 5


@dataclass(frozen=True)
class TagRow:
    """A tag as the inspector lists it: ``state`` is "on", "rejected" or "maybe"."""

    summary: TagSummary
    state: str

    @property
    def label(self) -> str:
        return self.summary.label

    def source_text(self) -> str:
        s = self.summary
        if s.photos > 1:
            parts = [f"{s.has} of {s.photos}"] if self.state == "on" else []
            if s.confirmed:
                parts.append(f"{s.confirmed} confirmed")
            if s.rejected:
                parts.append(f"{s.rejected} rejected")
            return " · ".join(parts) or "below threshold"
        if self.state == "rejected":
            return "rejected"
        if self.state == "maybe":
            return "below threshold"
        if s.by_user:
            return "added by you"
        if s.confirmed:
            return "confirmed"
        return "model"


def tag_rows(summaries: list[TagSummary]) -> list[TagRow]:
    """The tags worth showing: carried ones, rejected ones, and a few near misses."""
    rows: list[TagRow] = []
    maybes: list[TagRow] = []
    for s in summaries:
        if s.has and (s.direct or s.confirmed):
            rows.append(TagRow(s, "on"))
        elif s.rejected and not s.has:
            rows.append(TagRow(s, "rejected"))
        elif not s.has and s.score is not None and s.score >= max(0.05, s.threshold * 0.4):
            maybes.append(TagRow(s, "maybe"))
    order = {"on": 0, "rejected": 2}
    rows.sort(key=lambda r: order[r.state])
    maybes.sort(key=lambda r: -(r.summary.score or 0))
    on = [r for r in rows if r.state == "on"]
    return on + maybes[:_MAYBE_LIMIT] + [r for r in rows if r.state == "rejected"]


@dataclass(frozen=True)
class NameLine:
    """The first line of a tag's row: its name, the parents after it, the source on the right."""

    name: str
    name_width: int  # pixels from the left edge to the end of the name (and its gap)
    crumb: str  # "in animal › dog", shortened by whole levels, or "" when none fits
    crumb_x: int


def name_line(
    label: str,
    path: tuple[str, ...],
    source: str,
    width: int,
    name_metrics: QFontMetrics,
    small_metrics: QFontMetrics,
    *,
    learns: bool = False,
) -> NameLine:
    """Lay out the name line so that nothing overlaps (issue 15.12).

    The source ("3 of 24", "model") is always whole on the right; the name gets the rest and
    is elided only when it alone does not fit; the parents are shown only if whole levels fit
    ("in … › water"), never cut inside a word ("…g").
    """
    source_width = small_metrics.horizontalAdvance(source) + 12 if source else 0
    icon = 14 if learns else 0
    name = name_metrics.elidedText(
        label, Qt.TextElideMode.ElideRight, max(0, width - source_width - icon - 8)
    )
    name_width = name_metrics.horizontalAdvance(name) + 8
    crumb = ""
    room = width - name_width - icon - source_width
    parents = list(path[:-1])
    if name == label and parents:
        for skip in range(len(parents)):
            text = "in " + " › ".join((["…"] if skip else []) + parents[skip:])
            if small_metrics.horizontalAdvance(text) <= room:
                crumb = text
                break
    return NameLine(name, name_width, crumb, name_width + icon)


class TagListModel(QAbstractListModel):
    """Thin adapter over the rows above."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TagRow] = []

    def set_rows(self, rows: list[TagRow]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    @property
    def rows(self) -> list[TagRow]:
        return self._rows

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == TAG_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return row.label
        if role == Qt.ItemDataRole.ToolTipRole:
            s = row.summary
            score = f"{s.score:.0%}" if s.score is not None else "no model score"
            text = (
                f"{' › '.join(s.path)}\nconfidence {score} · threshold {s.threshold:.0%}"
                f"\n{row.source_text()}"
            )
            return text + (f"\n{LEARNS_HINT}" if s.learns_from_examples else "")
        return None


class TagDelegate(QStyledItemDelegate):
    """Paints a tag: name and path, a confidence bar with the threshold tick, ✓ and ✗."""

    button_clicked = Signal(object, str)  # TagRow, "confirm" | "reject"

    height = 46

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._name_font = QFont()
        self._name_font.setPointSizeF(10.0)
        self._name_font.setWeight(QFont.Weight.DemiBold)
        self._small = QFont()
        self._small.setPointSizeF(8.0)
        self._small_metrics = QFontMetrics(self._small)

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(200, self.height)

    @staticmethod
    def _buttons(rect: QRect) -> tuple[QRect, QRect]:
        side = 24
        top = rect.y() + (rect.height() - side) // 2
        reject = QRect(rect.right() - side - 6, top, side, side)
        confirm = QRect(reject.x() - side - 4, top, side, side)
        return confirm, reject

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        row: TagRow | None = index.data(TAG_ROLE)
        if row is None:
            return
        s = row.summary
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRectF(option.rect).adjusted(4, 2, -4, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        painter.setPen(Qt.PenStyle.NoPen)
        if selected:
            painter.setBrush(COLOURS.q("accent_soft"))
            painter.drawRoundedRect(card, 7, 7)
        elif hovered:
            painter.setBrush(COLOURS.q("hover", 150))
            painter.drawRoundedRect(card, 7, 7)
        confirm_rect, reject_rect = self._buttons(option.rect)
        text_left = option.rect.x() + 14
        text_right = confirm_rect.x() - 8
        dim = row.state != "on"
        # name, with the path above it in small type
        painter.setFont(self._name_font)
        painter.setPen(COLOURS.q("faint" if dim else "text"))
        name_rect = QRect(text_left, option.rect.y() + 5, text_right - text_left, 18)
        line = name_line(
            s.label,
            s.path,
            row.source_text(),
            name_rect.width(),
            QFontMetrics(self._name_font),
            self._small_metrics,
            learns=s.learns_from_examples,
        )
        if row.state == "rejected":
            font = QFont(self._name_font)
            font.setStrikeOut(True)
            painter.setFont(font)
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line.name
        )
        # source on the right of the name line, the parent labels in between
        painter.setFont(self._small)
        if s.learns_from_examples:  # a small mortarboard after the name; the tooltip says why
            side = 12
            painter.drawPixmap(
                name_rect.x() + line.name_width - 4,
                name_rect.y() + (name_rect.height() - side) // 2 + 1,
                icons.pixmap("learn", side, COLOURS.faint),
            )
        if line.crumb:
            painter.setPen(COLOURS.q("faint"))
            painter.drawText(
                name_rect.adjusted(line.crumb_x, 1, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                line.crumb,
            )
        colour = {"confirmed": "good", "added by you": "good", "rejected": "bad"}.get(
            row.source_text(), "dim"
        )
        painter.setPen(COLOURS.q(colour))
        painter.drawText(
            name_rect,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            row.source_text(),
        )
        self._paint_bar(
            painter, row, QRectF(text_left, option.rect.y() + 29, text_right - text_left - 36, 5)
        )
        self._paint_buttons(painter, row, confirm_rect, reject_rect, hovered or selected)
        painter.restore()

    def _paint_bar(self, painter: QPainter, row: TagRow, bar: QRectF) -> None:
        s = row.summary
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(COLOURS.q("raised"))
        painter.drawRoundedRect(bar, 2.5, 2.5)
        value = s.score if s.score is not None else (1.0 if s.confirmed or s.by_user else 0.0)
        fill = QRectF(
            bar.x(), bar.y(), max(bar.height(), bar.width() * min(value, 1.0)), bar.height()
        )
        colour = (
            "good"
            if s.confirmed and row.state == "on"
            else "accent"
            if row.state == "on"
            else "faint"
        )
        painter.setBrush(COLOURS.q(colour))
        if value > 0:
            painter.drawRoundedRect(fill, 2.5, 2.5)
        tick_x = bar.x() + bar.width() * s.threshold
        painter.setPen(QPen(COLOURS.q("text", 150), 1.2))
        painter.drawLine(QPointF(tick_x, bar.y() - 2), QPointF(tick_x, bar.bottom() + 2))
        painter.setFont(self._small)
        painter.setPen(COLOURS.q("dim"))
        text = f"{s.score:.0%}" if s.score is not None else "—"
        painter.drawText(
            QRectF(bar.right() + 4, bar.y() - 6, 34, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            text,
        )

    @staticmethod
    def _paint_buttons(
        painter: QPainter, row: TagRow, confirm: QRect, reject: QRect, strong: bool
    ) -> None:
        s = row.summary
        all_confirmed = s.confirmed == s.photos
        all_rejected = s.rejected == s.photos
        for rect, name, active, colour in (
            (confirm, "check", all_confirmed, COLOURS.good),
            (reject, "cross", all_rejected, COLOURS.bad),
        ):
            if active:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(COLOURS.q("good" if name == "check" else "bad", 60))
                painter.drawRoundedRect(QRectF(rect), 6, 6)
            tint = colour if (active or strong) else COLOURS.faint
            ratio = painter.device().devicePixelRatioF()
            glyph = icons.pixmap(name, 16, tint, ratio)
            painter.drawPixmap(QPointF(rect.x() + 4, rect.y() + 4), glyph)

    def editorEvent(
        self, event: QEvent, model: object, option: QStyleOptionViewItem, index: _Index
    ) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease and isinstance(event, QMouseEvent):
            confirm, reject = self._buttons(option.rect)
            pos = event.position().toPoint()
            row = index.data(TAG_ROLE)
            if row is not None and confirm.contains(pos):
                self.button_clicked.emit(row, "confirm")
                return True
            if row is not None and reject.contains(pos):
                self.button_clicked.emit(row, "reject")
                return True
        return super().editorEvent(event, model, option, index)


class TagListView(QListView):
    """The list itself; Escape hands focus back to the grid."""

    escape_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagList")
        self.tag_model = TagListModel(self)
        self.setModel(self.tag_model)
        self.delegate = TagDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setUniformItemSizes(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def selected_tags(self) -> list[TagRow]:
        rows = self.tag_model.rows
        return [rows[i.row()] for i in self.selectionModel().selectedRows()]

    def advance_past(self, labels: list[str], *, skip: set[str]) -> None:
        """After a verdict on ``labels``: choose the next suggested tag nobody judged here.

        With none left the list has no choice, so Enter then confirms the suggestions.
        """
        rows = self.tag_model.rows
        chosen = [i for i, r in enumerate(rows) if r.label in labels]
        start = max(chosen) + 1 if chosen else 0
        order = list(range(start, len(rows))) + list(range(start))
        nxt = next(
            (
                i
                for i in order
                if rows[i].label not in labels
                and rows[i].label not in skip
                and rows[i].state == "on"
                and rows[i].summary.confirmed < rows[i].summary.photos
            ),
            None,
        )
        selection = self.selectionModel()
        if nxt is None:
            selection.clear()
            return
        index = self.tag_model.index(nxt)
        selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
        self.scrollTo(index)

    def keyPressEvent(self, event) -> None:  # QKeyEvent
        if event.key() == Qt.Key.Key_Escape:
            self.clearSelection()
            self.escape_pressed.emit()
            return
        super().keyPressEvent(event)
