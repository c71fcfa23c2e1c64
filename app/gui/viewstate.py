"""Where you were, per album, across restarts: the photo, the sidebar entry, open branches, search.

Kept in the window's QSettings under ``views/<album key>/``. Written as it changes (QSettings
holds it in memory and writes it out on sync), read back when the album opens again: the search
and the sidebar entry at once, the open branches when the tree arrives, and the photo when the
rows that hold it do (issue 15.10).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from PySide6.QtCore import QObject, QSettings

from app.gui.browser import Browser
from app.gui.grid import PhotoGridView
from app.gui.search import SearchBar
from app.gui.session import AlbumSession
from app.gui.sidebar import Filter, TagTree
from core.browse import GridRow, Scope
from core.library import Library
from core.paths import readable

logger = logging.getLogger(__name__)


def album_key(root: str) -> str:
    """A settings-safe key for an album folder."""
    return hashlib.sha1(root.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _int(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _ints(value: object) -> set[int]:
    if isinstance(value, str):  # QSettings turns a one-item list into a string
        value = [value]
    return {n for v in (value or []) if (n := _int(v)) is not None}  # type: ignore[union-attr]


class ViewMemory(QObject):
    """Saves the view of the open album as it changes and puts it back when it reopens."""

    def __init__(
        self,
        settings: QSettings,
        session: AlbumSession,
        browser: Browser,
        grid: PhotoGridView,
        tree: TagTree,
        search: SearchBar,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._s = settings
        self._session = session
        self._browser = browser
        self._grid = grid
        self._tree = tree
        self._search = search
        self._group = ""  # "views/<key>" of the open album
        self._photo: int | None = None  # the photo still to select, once its row arrives
        self._restoring = False
        self._applied = False
        session.opened.connect(self._on_opened)
        browser.rows_shown.connect(self._on_rows_shown)
        browser.query_failed.connect(self._on_query_failed)
        grid.selection_changed.connect(self._on_selection_changed)
        tree.filter_chosen.connect(self._on_filter_chosen)
        tree.expanded.connect(self._on_tree_folded)
        tree.collapsed.connect(self._on_tree_folded)
        search.query_changed.connect(self._on_query_changed)
        tree.tree_model.folders.remember_in(settings)  # "Include subfolders" (app.gui.folders)

    # -- saving ---------------------------------------------------------------------------
    def _set(self, name: str, value: Any) -> None:
        if self._group and not self._restoring:
            self._s.setValue(f"{self._group}/{name}", value)

    def _on_selection_changed(self, rows: list[GridRow]) -> None:
        current = self._grid.current_row()
        chosen = current if current is not None and current in rows else (rows[0] if rows else None)
        if chosen is not None:
            self._set("photo", chosen.id)

    def _on_filter_chosen(self, flt: Filter) -> None:
        self._set("filter", [flt.scope.value, flt.label_id or "", flt.label, readable(flt.query)])

    def _on_tree_folded(self, *_: object) -> None:
        if not self._tree.expansion_pending:
            self._set("expanded", sorted(self._tree.expanded_labels()))

    def _on_query_changed(self, text: str) -> None:
        self._set("search", text)

    # -- restoring ------------------------------------------------------------------------
    def _get(self, name: str, default: Any = None) -> Any:
        return self._s.value(f"{self._group}/{name}", default)

    def _on_opened(self, root: str) -> None:
        self._group = f"views/{album_key(root)}"
        self._restoring, self._applied = True, False
        self._photo = _int(self._get("photo"))
        if expanded := _ints(self._get("expanded", [])):
            self._tree.expand_when_built(expanded)
        saved = self._get("filter")
        flt = self._filter(saved) if isinstance(saved, list) else None
        text = str(self._get("search", "") or "")
        label_id = flt.label_id if flt is not None else None
        self._session.query(
            lambda library: self._label_exists(library, label_id),
            lambda exists: self._apply(flt if exists else None, text),
        )

    @staticmethod
    def _label_exists(library: Library, label_id: int | None) -> bool:
        return label_id is None or any(r.id == label_id for r in library.store.labels())

    @staticmethod
    def _filter(saved: list) -> Filter | None:
        try:
            scope = Scope(str(saved[0]))
        except (ValueError, IndexError):
            return None
        if len(saved) > 3 and saved[3]:  # a folder (its search term)
            return Filter(scope, None, str(saved[2]), str(saved[3]))
        if scope != Scope.LABEL:
            return Filter(scope)
        label_id = _int(saved[1]) if len(saved) > 1 else None
        return Filter(scope, label_id, str(saved[2])) if label_id is not None else None

    def _apply(self, flt: Filter | None, text: str) -> None:
        changed = False
        if flt is not None and flt != self._browser.filter:
            self._browser.set_filter(flt)
            changed = True
        if text and text != self._browser.query:
            self._search.submit(text)
            changed = True
        self._applied = True  # rows shown from now on answer the restored view
        if not changed:  # the rows already shown are the view's (asked before this answer)
            self._finish()

    def _on_rows_shown(self, _rows: int, complete: bool) -> None:
        if self._restoring and self._applied and complete:
            self._finish()

    def _on_query_failed(self, _message: str) -> None:
        if self._restoring and self._applied:
            self._finish()  # a saved search that no longer parses: stay where the rows are

    def _finish(self) -> None:
        photo, self._photo = self._photo, None
        self._restoring = False
        if photo is not None and self._grid.select_photo(photo):
            self._grid.scrollTo(self._grid.currentIndex(), self._grid.ScrollHint.PositionAtCenter)
