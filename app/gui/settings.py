"""What the window remembers between runs: geometry, albums, thumbnail size (QSettings)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "albumtag"
APPLICATION = "albumtag"
THUMB_SIZES = {"small": 128, "medium": 176, "large": 240}
DEFAULT_THUMB = THUMB_SIZES["medium"]
MAX_RECENT = 8


class AppSettings:
    """Typed access to the window's QSettings (pass one in to keep tests off the user's)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self._s = settings if settings is not None else QSettings(ORGANISATION, APPLICATION)

    @property
    def qsettings(self) -> QSettings:
        """The underlying QSettings, for features that keep a setting of their own."""
        return self._s

    def sync(self) -> None:
        self._s.sync()

    # -- albums ---------------------------------------------------------------------------
    @property
    def last_album(self) -> str | None:
        value = self._s.value("albums/last", None)
        return str(value) if value else None

    def recent_albums(self) -> list[str]:
        value = self._s.value("albums/recent", [])
        if isinstance(value, str):  # QSettings turns a one-item list into a string
            value = [value]
        return [str(v) for v in (value or []) if v]

    def remember_album(self, path: str | Path) -> None:
        text = str(path)
        recent = [text] + [p for p in self.recent_albums() if p != text]
        self._s.setValue("albums/recent", recent[:MAX_RECENT])
        self._s.setValue("albums/last", text)

    def forget_album(self, path: str | Path) -> None:
        text = str(path)
        self._s.setValue("albums/recent", [p for p in self.recent_albums() if p != text])
        if self.last_album == text:
            self._s.remove("albums/last")

    # -- view -----------------------------------------------------------------------------
    @property
    def thumb_size(self) -> int:
        try:
            value = int(self._s.value("view/thumb_size", DEFAULT_THUMB))
        except (TypeError, ValueError):
            return DEFAULT_THUMB
        return min(max(value, 96), 320)

    @thumb_size.setter
    def thumb_size(self, value: int) -> None:
        self._s.setValue("view/thumb_size", int(value))

    @property
    def order(self) -> str:
        return str(self._s.value("view/order", "taken"))

    @order.setter
    def order(self, value: str) -> None:
        self._s.setValue("view/order", str(value))

    # -- window ---------------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._s.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self._s.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def splitter_state(self) -> QByteArray | None:
        value = self._s.value("window/splitter")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray, splitter: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)
        self._s.setValue("window/splitter", splitter)
