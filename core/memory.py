"""Give freed heap memory back to the operating system during long runs.

glibc keeps memory that worker threads freed in per-thread arenas; over an indexing run of
thousands of photos (decoder buffers, face-detector pyramids, batch tensors) the resident size
creeps up although nothing is live. ``malloc_trim`` returns it. Elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

logger = logging.getLogger(__name__)

_trim = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _trim = getattr(_libc, "malloc_trim", None)
    except OSError:  # not glibc (e.g. musl): nothing to do
        _trim = None


def release_free_memory() -> None:
    """Return free heap pages to the OS (glibc only; cheap, a few milliseconds)."""
    if _trim is not None:
        _trim(0)
