"""The albumtag window (PySide6). torch is never imported here: the model loads in a worker."""

from app.gui.launcher import run_gui
from app.gui.main_window import MainWindow
from app.gui.session import AlbumSession
from app.gui.settings import AppSettings

__all__ = ["AlbumSession", "AppSettings", "MainWindow", "run_gui"]
