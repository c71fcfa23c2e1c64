"""The window's indexing process: ``python -m app.indexchild ALBUM --data-dir DIR``.

The window never runs the model itself: importing torch and running it would hold the GUI
thread's interpreter lock for up to half a second at a time, and torch's memory would stay in
the window. It starts this child instead, which opens the album, runs one indexing pass
(``Library.indexer``) and exits. Every batch commits on its own (SQLite, WAL), so the window's
reads see the new tags as they come, and a child that dies (killed, out of memory) loses at
most the batch in flight: the next run picks up the photos still pending.

Commands arrive on stdin, one JSON object a line, at any time:

    {"first": [photo ids]}   the photos on screen now: tag these next (Indexer.show_first)
    {"workers": N}           run at most N decodes and model calls at once (Indexer.set_workers)
    {"cancel": true}         stop after the batch in flight (so does stdin closing)

Events go to stdout, one JSON object a line:

    {"event": "progress", "phase": "scan"|"rescore"|"tag", "done", "total", "current",
     "workers"}
    {"event": "done", "summary": {...}}      IndexSummary.as_record()
    {"event": "failed", "message": "..."}    then exit status 1

``--indexer module:function`` builds the indexer from the library instead of
``Library.indexer`` (tests use it for a fake model).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from app.errors import describe
from core.library import Library
from core.pipeline.indexer import Indexer, Progress

logger = logging.getLogger(__name__)

#: Progress lines at most this often (the last of each phase always goes out).
PROGRESS_EVERY = 0.1


def _indexer_maker(spec: str | None, workers: int) -> Callable[[Library], Indexer]:
    if not spec:
        return lambda library: library.indexer(workers=workers)
    module, _, name = spec.partition(":")
    maker = getattr(importlib.import_module(module), name)
    return lambda library: maker(library, workers)


class _Events:
    """Writes JSON lines to stdout from any thread."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._last = 0.0
        self._phase = ""

    def send(self, event: dict) -> None:
        line = json.dumps(event, ensure_ascii=False)
        with self._lock:
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError):  # the window is gone; the run stops on EOF
                pass

    def progress(self, p: Progress, workers: int) -> None:
        now = time.monotonic()
        if p.phase == self._phase and p.done < p.total and now - self._last < PROGRESS_EVERY:
            return
        self._phase, self._last = p.phase, now
        self.send(
            {
                "event": "progress",
                "phase": p.phase,
                "done": p.done,
                "total": p.total,
                "current": p.current,
                "workers": workers,
            }
        )


def _follow_commands(stream: IO[str], indexer: Indexer, cancel: threading.Event) -> None:
    """Apply the window's commands until stdin closes (then cancel: the window is gone)."""
    for line in stream:
        try:
            command = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("not a command: %r", line[:200])
            continue
        if not isinstance(command, dict):
            continue
        if "first" in command:
            indexer.show_first(int(i) for i in command["first"])
        if "workers" in command:
            indexer.set_workers(int(command["workers"]))
        if command.get("cancel"):
            cancel.set()
    cancel.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.indexchild", description=__doc__.splitlines()[0]
    )
    parser.add_argument("album", type=Path)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument(
        "--workers", type=int, default=None, help="decode and model threads (default: every core)"
    )
    parser.add_argument(
        "--start-workers",
        type=int,
        default=None,
        help="how many of them may run at first (the window's pace)",
    )
    parser.add_argument("--indexer", help="module:function(library, workers) -> Indexer")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="albumtag index: %(levelname)s %(message)s"
    )
    events = _Events(sys.stdout)
    cancel = threading.Event()
    try:
        with Library(args.album, args.data_dir) as library:
            indexer = _indexer_maker(args.indexer, args.workers)(library)
            if args.start_workers:
                indexer.set_workers(args.start_workers)
            threading.Thread(
                target=_follow_commands,
                args=(sys.stdin, indexer, cancel),
                name="albumtag-commands",
                daemon=True,
            ).start()
            summary = indexer.run(lambda p: events.progress(p, indexer.pace.limit), cancel)
    except Exception as exc:
        logger.exception("indexing %s failed", args.album)
        events.send({"event": "failed", "message": describe(exc)})
        return 1
    events.send({"event": "done", "summary": summary.as_record()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
