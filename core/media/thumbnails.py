"""The disk thumbnail cache: one small JPEG per photo version, written atomically.

A thumbnail is keyed by the photo's relative path, file size and modification time (and the
thumbnail size), so an edited photo gets a new key and a stale thumbnail is simply never asked
for again (``prune`` removes those). Files are sharded as ``<folder>/ab/abcdef….jpg``.
Writers use a unique temporary file in the same folder and ``os.replace`` it into place, so a
reader sees either no thumbnail or a complete one, from any number of threads or processes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Final

from PIL import Image

from core.media.imaging import make_thumbnail

logger = logging.getLogger(__name__)

#: Bump when the way thumbnails are made changes, so old ones are no longer used.
FORMAT_VERSION: Final = 1
_TEMP_PREFIX: Final = ".tmp-"
_SUFFIX: Final = ".jpg"
_STALE_TEMP_SECONDS: Final = 3600.0


class ThumbnailCache:
    """Thumbnails of one album on disk.

    Args:
        folder: where the thumbnails live (created on first ``put``).
        size: longest side of a thumbnail, in pixels.
        quality: JPEG quality of the stored thumbnails.
    """

    def __init__(self, folder: Path, size: int = 256, *, quality: int = 85) -> None:
        if size < 1:
            raise ValueError(f"thumbnail size must be positive, not {size}")
        self.folder = Path(folder)
        self.size = size
        self.quality = quality

    def key_for(self, rel_path: str, file_size: int, mtime_ns: int) -> str:
        """The cache key of one version of one photo (32 hex characters)."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"v{FORMAT_VERSION}\0{self.size}\0{file_size}\0{mtime_ns}\0".encode())
        digest.update(rel_path.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def path_for(self, rel_path: str, file_size: int, mtime_ns: int) -> Path:
        """Where the thumbnail of this photo version is (or would be) stored."""
        return self._path_of(self.key_for(rel_path, file_size, mtime_ns))

    def get(self, rel_path: str, file_size: int, mtime_ns: int) -> Path | None:
        """The stored thumbnail of this photo version, or None when there is none yet."""
        path = self.path_for(rel_path, file_size, mtime_ns)
        try:
            return path if path.stat().st_size > 0 else None
        except OSError:
            return None

    def put(self, rel_path: str, file_size: int, mtime_ns: int, thumbnail: Image.Image) -> Path:
        """Store a thumbnail (shrunk to ``size`` if larger) and return its path.

        Safe to call from several threads at once, for the same photo too: the last complete
        write wins and no reader ever sees a partial file.

        Raises:
            OSError: the thumbnail could not be written (disk full, read-only folder...).
        """
        target = self.path_for(rel_path, file_size, mtime_ns)
        image = make_thumbnail(thumbnail, self.size)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=_SUFFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as file:
                image.save(file, "JPEG", quality=self.quality)
            Path(temp_name).replace(target)
        except PermissionError:
            _unlink(Path(temp_name))
            if not target.exists():
                raise
            # Windows refuses to replace a file another process has open; that one is as good.
            logger.debug("thumbnail %s in use; kept the existing one", target)
        except BaseException:
            _unlink(Path(temp_name))
            raise
        return target

    def remove(self, rel_path: str, file_size: int, mtime_ns: int) -> bool:
        """Delete the thumbnail of this photo version; returns whether there was one."""
        return _unlink(self.path_for(rel_path, file_size, mtime_ns))

    def keys(self) -> Iterator[str]:
        """The keys of every stored thumbnail."""
        for path in self._files():
            if not path.name.startswith(_TEMP_PREFIX):
                yield path.stem

    def prune(self, keep: Collection[str]) -> int:
        """Delete every thumbnail whose key is not in ``keep``, and leftovers of crashed writes.

        Args:
            keep: keys (from ``key_for``) of the thumbnails still wanted.

        Returns:
            How many files were deleted.
        """
        keep = set(keep)
        stale_before = time.time() - _STALE_TEMP_SECONDS
        removed = 0
        for path in self._files():
            if path.name.startswith(_TEMP_PREFIX):
                if _mtime(path) < stale_before:  # a fresh one may be another writer's
                    removed += _unlink(path)
            elif path.stem not in keep:
                removed += _unlink(path)
        logger.debug("pruned %d thumbnails from %s", removed, self.folder)
        return removed

    def _path_of(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{_SUFFIX}"

    def _files(self) -> Iterator[Path]:
        if not self.folder.is_dir():
            return
        for shard in sorted(self.folder.iterdir()):
            if len(shard.name) == 2 and shard.is_dir():
                yield from (p for p in shard.iterdir() if p.suffix == _SUFFIX)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        logger.warning("cannot delete thumbnail file %s: %s", path, exc)
        return False
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
