"""Time to first useful tags: a newly opened album of real photos, tagged as the window does.

    .venv/bin/python -m benchmarks.bench_first_tags [--photos 10000] [--screen 40] [--no-faces]

The album is ``--photos`` hard links (folders of 1,000) to the 300 real 12 MP camera JPEGs of
``benchmarks.photo_folder``; nothing of it is in the store yet. It is indexed the way the window
indexes it: the album is opened (the store created), then the indexing child process starts
(``python -m app.indexchild``: every core, faces on unless ``--no-faces``) and is steered over
its stdin as the window's ``ScreenFollower`` steers it. Times run from the child's start
(process start, imports, scan and model load included) until:

* the window's first screen is tagged — when the child's scan has listed the photos, the first
  ``--screen`` ids of the window's default order (``browse.grid_ids``, date taken, newest
  first; before tagging no photo has a date, so that is the newest file first) are sent as
  ``{"first": [...]}``, as the window does when its grid fills;
* a screen the user scrolls to is tagged — 60 s into the run (or at a quarter of the album,
  whichever comes first), the screen at the middle of the album in name order is sent the same
  way, as the window does when the grid scrolls; the latency from that message;
* a quarter, half, three quarters of the album, and everything.

Tagged means the photo's features and scores are in the store (polled every 0.1 s from this
process, as the window's reads see them). Each milestone is printed when reached (a run cut
short still reports what it reached).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.photo_folder import build
from core import browse
from core.library import Library
from core.pipeline.indexer import Indexer


def album_of(count: int, folder: Path) -> Path:
    files = sorted(build(300).iterdir())
    album = folder / "album"
    for i in range(count):
        sub = album / f"{i // 1000:02d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        src = files[i % len(files)]
        os.link(src, sub / f"{i:05d}_{src.name}")
    return album


def _tagged(library: Library, ids: list[int]) -> int:
    marks = ",".join("?" * len(ids))
    return library.store.db.query(
        f"SELECT COUNT(*) FROM features WHERE photo_id IN ({marks})", ids
    )[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--screen", type=int, default=40, help="photos on one screen")
    parser.add_argument("--no-faces", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="albumtag-first-") as tmp:
        album = album_of(args.photos, Path(tmp))
        data = Path(tmp) / "data"
        print(
            f"time to first tags: {args.photos:,} photos, screen {args.screen}, faces "
            f"{'off' if args.no_faces else 'on'}, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        command = [sys.executable, "-m", "app.indexchild", str(album), "--data-dir", str(data)]
        if args.no_faces:
            command += ["--indexer", "benchmarks.bench_first_tags:without_faces"]
        with Library(album, data) as library:  # the window has the album open throughout
            started = time.perf_counter()
            child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
            )
            marks: dict[str, tuple[list[int], float]] = {}  # name: (ids, asked at)
            progress = {"tagged": 0}
            lock = threading.Lock()

            def send(command: dict) -> None:
                child.stdin.write(json.dumps(command) + "\n")
                child.stdin.flush()

            def read() -> None:
                for line in child.stdout:
                    event = json.loads(line)
                    now = time.perf_counter() - started
                    if (
                        event.get("event") == "progress"
                        and event["phase"] == "scan"
                        and event["total"]
                        and event["done"] == event["total"]
                        and not marks
                    ):
                        first = browse.grid_ids(library, order=browse.Order.TAKEN)
                        ids = [int(i) for i in first[: args.screen]]
                        send({"first": ids})
                        with lock:
                            marks["first screen (the window's default order)"] = (ids, 0.0)
                        print(f"  scan done, first screen asked for: {now:.1f} s", flush=True)
                    elif event.get("event") == "progress" and event["phase"] == "tag":
                        progress["tagged"] = event["done"]
                    elif event.get("event") in ("done", "failed"):
                        progress["end"] = event

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            quarter = max(1, args.photos // 4)
            reported: set[str] = set()
            while child.poll() is None or reader.is_alive():
                time.sleep(0.1)
                now = time.perf_counter() - started
                if len(marks) == 1 and (now >= 60 or progress["tagged"] >= quarter):
                    by_name = browse.grid_ids(library, order=browse.Order.NAME)
                    middle = len(by_name) // 2
                    scrolled = [int(i) for i in by_name[middle : middle + args.screen]]
                    send({"first": scrolled})
                    with lock:
                        marks[
                            "a scrolled-to screen (middle of the album by name), from the call"
                        ] = (scrolled, now)
                with lock:
                    todo = [(k, v) for k, v in marks.items() if k not in reported]
                for name, (ids, asked) in todo:
                    if _tagged(library, ids) == len(ids):
                        reported.add(name)
                        print(f"  {name}: {now - asked:.1f} s", flush=True)
                for q in (1, 2, 3):
                    key = f"{q}/4"
                    if key not in reported and progress["tagged"] >= q * quarter:
                        reported.add(key)
                        print(f"  {q}/4 of the album tagged: {now:.0f} s", flush=True)
            total = time.perf_counter() - started
            end = progress.get("end") or {}
        if end.get("event") != "done":
            print(f"  the child failed: {end.get('message', child.returncode)}", flush=True)
            return
        tagged = end["summary"]["tagged"]
        print(
            f"  everything tagged: {total:.0f} s ({tagged:,} photos, "
            f"{tagged / max(total, 1e-9):.1f} photos/s over the whole run); load "
            f"average {os.getloadavg()[0]:.1f}",
            flush=True,
        )


def without_faces(library: Library, workers: int | None) -> Indexer:
    """The child's indexer without the face detector (``--no-faces``)."""
    return library.indexer(workers=workers, faces=False)


if __name__ == "__main__":
    main()
