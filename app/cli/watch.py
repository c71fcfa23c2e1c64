"""``albumtag index --watch``: keep an album tagged while photos arrive."""

from __future__ import annotations

import json
import threading

from core.library import Library
from core.pipeline.watcher import FolderWatcher


def watch_forever(
    library: Library, *, json_lines: bool = False, stop: threading.Event | None = None
) -> None:
    """Index the album again whenever its folder changes, until Ctrl+C (or ``stop``)."""
    stop = stop or threading.Event()
    indexer = library.indexer()
    lock = threading.Lock()

    def on_change() -> None:
        with lock:
            summary = indexer.run()
        if json_lines:
            print(json.dumps(summary.as_dict()), flush=True)
        elif summary.tagged or summary.scan.missing or summary.scan.moved or summary.errors:
            print(
                f"Tagged {summary.tagged}, moved {summary.scan.moved}, "
                f"missing {summary.scan.missing}, errors {summary.errors}.",
                flush=True,
            )

    watcher = FolderWatcher(library.root, on_change)
    watcher.start()
    if not json_lines:
        print(f"Watching {library.root} (Ctrl+C to stop)…", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        watcher.stop()
