"""``run_gui``: start Qt, theme it, open the last (or given) album, or ask for a folder."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.gui import icons
from app.gui.main_window import MainWindow
from app.gui.settings import APPLICATION, ORGANISATION, AppSettings
from app.gui.theme import apply_theme

logger = logging.getLogger(__name__)


def application() -> QApplication:
    """The QApplication, created (and themed) on first use."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("albumtag")
    app.setWindowIcon(icons.app_icon())
    apply_theme(app)
    return app


def choose_album(requested: str | None, settings: AppSettings) -> str | None:
    """The album to open: the one asked for, else the last one if it still exists."""
    if requested:
        return requested
    last = settings.last_album
    return last if last and Path(last).is_dir() else None


def _install_excepthook() -> None:
    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        logger.critical("unexpected error", exc_info=(kind, exc, tb))
        text = "".join(traceback.format_exception(kind, exc, tb))
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "albumtag: unexpected error",
            f"Something went wrong: {exc}\n\nThe album is safe; you can go on or restart albumtag.",
        )
        box.setDetailedText(text)
        box.exec()

    sys.excepthook = hook


def run_gui(album: str | None) -> int:
    """Open the window (on ``album``, the last album, or a folder the user picks); exit code."""
    app = application()
    _install_excepthook()
    settings = AppSettings()
    window = MainWindow(settings)
    window.show()
    target = choose_album(album, settings)
    if target:
        window.open_album(target)
    else:
        QTimer.singleShot(0, window.ask_for_album)
    try:
        return app.exec()
    finally:
        window.shutdown()
