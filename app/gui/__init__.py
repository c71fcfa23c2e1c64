"""The albumtag window (PySide6). torch is never imported here: the model loads in a worker."""

from app.gui.compat import make_singletons_immortal

make_singletons_immortal()  # before any Qt call: see app/gui/compat.py

from app.gui.launcher import run_gui  # noqa: E402
from app.gui.main_window import MainWindow  # noqa: E402
from app.gui.session import AlbumSession  # noqa: E402
from app.gui.settings import AppSettings  # noqa: E402

__all__ = ["AlbumSession", "AppSettings", "MainWindow", "run_gui"]
