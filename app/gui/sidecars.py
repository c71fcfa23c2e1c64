"""File → Write tags to sidecars… with the command line's choices (issue 15.11).

``albumtag export-xmp`` offers ``--include-model``, ``--naming ext|base`` and ``--embed``; the
dialog offers the same, remembers them for the session, and the status message counts what
happened: sidecars written, already up to date, photos with nothing to write, failures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.cli.output import sidecar_message
from app.gui.session import AlbumSession
from core.library import Library

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidecarChoices:
    """What to write, as ``albumtag export-xmp``'s options."""

    include_model: bool = False  # --include-model
    naming: str = "ext"  # --naming: photo.jpg.xmp (ext) or photo.xmp (base)
    embedded: bool = False  # --embed: into the photos themselves


class SidecarDialog(QDialog):
    """The choices, before anything is written."""

    def __init__(self, choices: SidecarChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write tags to sidecars")
        self.setObjectName("sidecarDialog")
        intro = QLabel(
            "Your confirmed tags, ratings and flags go into XMP files that digiKam, "
            "Lightroom and darktable read; tags you rejected are taken out. Other "
            "metadata in the files is kept.",
            self,
        )
        intro.setWordWrap(True)
        self.include_model = QCheckBox(
            "Also the tags the model set on its own (not confirmed)", self
        )
        self.include_model.setChecked(choices.include_model)
        self.ext = QRadioButton("photo.jpg.xmp (digiKam, darktable)", self)
        self.base = QRadioButton("photo.xmp (Lightroom, Bridge)", self)
        (self.base if choices.naming == "base" else self.ext).setChecked(True)
        self.embedded = QCheckBox(
            "Write into the photos themselves instead (changes your originals)", self
        )
        self.embedded.setChecked(choices.embedded)
        self.embedded.toggled.connect(self._on_embedded_toggled)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Write")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (
            intro,
            self.include_model,
            QLabel("Sidecar names:", self),
            self.ext,
            self.base,
            self.embedded,
            buttons,
        ):
            layout.addWidget(widget)
        self._on_embedded_toggled(choices.embedded)

    def _on_embedded_toggled(self, on: bool) -> None:
        self.ext.setEnabled(not on)
        self.base.setEnabled(not on)

    def choices(self) -> SidecarChoices:
        return SidecarChoices(
            self.include_model.isChecked(),
            "base" if self.base.isChecked() else "ext",
            self.embedded.isChecked(),
        )


class SidecarWriter(QObject):
    """Asks for the choices and writes every photo's sidecar off the GUI thread."""

    status_message = Signal(str)
    written = Signal(object)  # the ExportReport

    def __init__(self, session: AlbumSession, parent: QWidget) -> None:
        super().__init__(parent)
        self._session = session
        self._parent = parent
        self.choices = SidecarChoices()
        self.dialog: SidecarDialog | None = None

    def ask(self) -> SidecarDialog:
        self.dialog = SidecarDialog(self.choices, self._parent)
        self.dialog.accepted.connect(lambda: self.write(self.dialog.choices()))
        self.dialog.open()
        return self.dialog

    def write(self, choices: SidecarChoices) -> None:
        self.choices = choices

        def work(library: Library) -> object:
            return library.export_xmp(
                include_model=choices.include_model,
                naming=choices.naming,
                embedded=choices.embedded,
            )

        def done(report: object) -> None:
            self.status_message.emit(
                sidecar_message(
                    report.written,
                    report.unchanged,
                    len(report.errors),
                    report.nothing,
                    what="photo" if choices.embedded else "sidecar",
                )
            )
            self.written.emit(report)

        self.status_message.emit("Writing tags…")
        self._session.query(
            work, done, lambda exc: self.status_message.emit(f"Writing sidecars failed: {exc}")
        )
