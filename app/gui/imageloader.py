"""Thumbnails and previews for the window, loaded off the GUI thread, newest request first.

calibre's recipe: the view asks for what it is painting; requests go on a LIFO stack (what is
on screen now is served before what the user scrolled past); worker threads read the disk
thumbnail (or decode the photo with ``core.media.imaging`` and store one) and produce a ``QImage``;
the GUI thread turns it into a ``QPixmap`` in an LRU cache sized to a few screens and says
which photo is ready. Results of an older generation (another album, another size) are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPainter, QPainterPath, QPixmap

from app.gui.collector import collect_on_gui_thread
from app.gui.tasks import lower_priority
from core.browse import GridRow
from core.errors import ImageError
from core.media.imaging import decode, make_thumbnail
from core.media.thumbnails import ThumbnailCache

logger = logging.getLogger(__name__)

_RADIUS = 6.0
#: A preview image's text key holding the photo's full resolution ("4000x3000", upright).
FULL_SIZE_KEY = "albumtag-full-size"


@dataclass(frozen=True)
class _Request:
    generation: int
    row: GridRow
    max_side: int  # device pixels; 0 = the thumbnail as stored, rounded for the grid
    token: int  # 0 for grid thumbnails, else a preview request


def pil_to_qimage(image) -> QImage:  # a PIL image
    """A QImage copy of an RGB PIL image (safe to use after the PIL image is gone)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes()
    qimage = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimage.copy()


def rounded(image: QImage, side: int, radius: float) -> QImage:
    """``image`` scaled to fit a ``side`` square (never enlarged much), with rounded corners."""
    scaled = image.scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    out = QImage(scaled.size(), QImage.Format.Format_ARGB32_Premultiplied)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, scaled.width(), scaled.height()), radius, radius)
    painter.fillPath(path, scaled)
    painter.end()
    return out


class ImageLoader(QObject):
    """Grid thumbnails (with an LRU of pixmaps) and large previews, from worker threads."""

    thumbnail_loaded = Signal(int)  # photo id: ``pixmap(row)`` now has it
    thumbnail_failed = Signal(int, str)  # photo id, reason
    preview_loaded = Signal(int, object, str)  # token, QImage or None, error reason

    _done = Signal(object, object, str)  # request, QImage or None, reason

    def __init__(self, workers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()  # a cycle of Qt objects must never be freed on a worker
        self._cond = threading.Condition()
        self._stack: list[_Request] = []
        self._queued: dict[int, _Request] = {}  # photo id → its grid request on the stack
        self._stop = False
        self._generation = 0
        self._root: Path | None = None
        self._cache: ThumbnailCache | None = None
        self._side = 176
        self._ratio = 1.0
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._failed: dict[int, str] = {}
        self._capacity = 300
        self._next_token = 0
        self._done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._threads = [
            threading.Thread(target=self._work, name=f"albumtag-thumbs-{i}") for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- configuration (GUI thread) -------------------------------------------------------
    def configure(
        self, root: Path | None, cache: ThumbnailCache | None, side: int, ratio: float = 1.0
    ) -> None:
        """A new album or thumbnail size: forget every pixmap and pending request."""
        with self._cond:
            self._generation += 1
            self._root, self._cache = root, cache
            self._side, self._ratio = side, ratio
            self._stack.clear()
            self._queued.clear()
        self._pixmaps.clear()
        self._failed.clear()

    @property
    def side(self) -> int:
        return self._side

    @property
    def root(self) -> Path | None:
        return self._root

    def set_capacity(self, pixmaps: int) -> None:
        """How many pixmaps to keep (a few screens' worth); older ones are dropped."""
        self._capacity = max(100, pixmaps)
        self._evict()

    def forget(self, photo_ids: list[int]) -> None:
        """Drop cached pixmaps of photos whose file changed (they load again when painted)."""
        for pid in photo_ids:
            self._pixmaps.pop(pid, None)
            self._failed.pop(pid, None)

    # -- the grid's side (GUI thread) ------------------------------------------------------
    def pixmap(self, row: GridRow) -> QPixmap | None:
        """The thumbnail if it is ready; otherwise None, and it is on its way."""
        found = self._pixmaps.get(row.id)
        if found is not None:
            self._pixmaps.move_to_end(row.id)
            return found
        if row.status != "error" and row.id not in self._failed:
            self._push(_Request(self._generation, row, 0, 0))
        return None

    def failure(self, photo_id: int) -> str | None:
        return self._failed.get(photo_id)

    def cached_count(self) -> int:
        return len(self._pixmaps)

    def load_preview(self, row: GridRow, max_side: int) -> int:
        """Ask for a large image of a photo; ``preview_loaded(token, …)`` answers."""
        self._next_token += 1
        self._push(_Request(self._generation, row, max_side, self._next_token))
        return self._next_token

    def _push(self, request: _Request) -> None:
        with self._cond:
            if request.token == 0:
                old = self._queued.pop(request.row.id, None)
                if old is not None:
                    self._stack.remove(old)
                self._queued[request.row.id] = request
            self._stack.append(request)
            overflow = len(self._stack) - 2 * self._capacity
            if overflow > 0:  # the oldest requests are long scrolled past
                for dropped in self._stack[:overflow]:
                    self._queued.pop(dropped.row.id, None)
                del self._stack[:overflow]
            self._cond.notify()

    def _on_done(self, request: _Request, image: QImage | None, reason: str) -> None:
        if request.token:
            self.preview_loaded.emit(request.token, image, reason)
            return
        if request.generation != self._generation:
            return
        if image is None:
            self._failed[request.row.id] = reason
            self.thumbnail_failed.emit(request.row.id, reason)
            return
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self._ratio)
        self._pixmaps[request.row.id] = pixmap
        self._evict()
        self.thumbnail_loaded.emit(request.row.id)

    def _evict(self) -> None:
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)

    # -- workers ---------------------------------------------------------------------------
    def _work(self) -> None:
        lower_priority(5)
        while True:
            with self._cond:
                while not self._stack and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                request = self._stack.pop()
                if request.token == 0:
                    self._queued.pop(request.row.id, None)
                root, cache = self._root, self._cache
                side = round(self._side * self._ratio)
                current = request.generation == self._generation
            if not current or root is None:
                continue
            image, reason = self._load(root, cache, request, side)
            with self._cond:  # close() cannot slip in between the check and the emit
                if self._stop:
                    return
                self._done.emit(request, image, reason)  # queued: only posts an event

    def _load(
        self, root: Path, cache: ThumbnailCache | None, request: _Request, side: int
    ) -> tuple[QImage | None, str]:
        row = request.row
        try:
            if request.token:
                decoded = decode(root / row.path, min_side=min(request.max_side, 4096))
                # the GUI thread's QPixmap.fromImage is then a copy, not a conversion
                image = pil_to_qimage(decoded.image).convertToFormat(QImage.Format.Format_RGB32)
                image.setText(FULL_SIZE_KEY, f"{decoded.width}x{decoded.height}")
                return image, ""
            image = read_thumbnail(root, cache, row)
            return rounded(image, side, _RADIUS * self._ratio), ""
        except ImageError as exc:
            return None, str(exc)
        except Exception as exc:  # one bad file never stops the loader
            logger.exception("cannot load %s", row.path)
            return None, f"internal error: {type(exc).__name__}"

    def close(self) -> None:
        """Stop the workers and wait for them (idempotent)."""
        with self._cond:
            self._stop = True
            self._stack.clear()
            self._queued.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(10.0)
        self._pixmaps.clear()  # freed here, on the GUI thread, not with the loader's garbage
        self._failed.clear()


def read_thumbnail(root: Path, cache: ThumbnailCache | None, row: GridRow) -> QImage:
    """The stored thumbnail of a photo; decoded from the photo (and stored) when missing.

    Raises:
        ImageError: the photo cannot be read.
    """
    if cache is not None:
        stored = cache.get(row.path, row.size, row.mtime_ns)
        if stored is not None:
            image = QImageReader(str(stored)).read()
            if not image.isNull():
                return image
    size = cache.size if cache is not None else 256
    decoded = decode(root / row.path, min_side=size)
    thumb = make_thumbnail(decoded.image, size)
    if cache is not None:
        try:
            cache.put(row.path, row.size, row.mtime_ns, thumb)
        except OSError as exc:
            logger.warning("cannot store the thumbnail of %s: %s", row.path, exc)
    return pil_to_qimage(thumb)
