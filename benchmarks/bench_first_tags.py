"""Time to first useful tags: a newly opened album of real photos, tagged as the CLI does.

    .venv/bin/python -m benchmarks.bench_first_tags [--photos 10000] [--screen 40] [--no-faces]

The album is ``--photos`` hard links (folders of 1,000) to the 300 real 12 MP camera JPEGs of
``benchmarks.photo_folder``; nothing of it is in the store yet. One run of the indexer
(``Library.indexer()``: every core, faces on unless ``--no-faces``), timed from the start of
the run (scan included, model load included) until:

* the window's first screen is tagged — the first ``--screen`` rows the window asks for when
  it opens (``browse.grid_rows`` in its default order, date taken, newest first: before
  tagging no photo has a date, so that is the newest file first);
* a screen the user scrolls to is tagged — 60 s into the run (or at a quarter of the album,
  whichever comes first), the screen at the middle of the album in name order is passed to
  ``Indexer.show_first``, as the window does when the grid scrolls; the latency from that call;
* a quarter, half, three quarters of the album, and everything.

Each milestone is printed when reached (a run cut short still reports what it reached).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.photo_folder import build
from core import browse
from core.library import Library
from core.pipeline.scanner import reconcile


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--screen", type=int, default=40, help="photos on one screen")
    parser.add_argument("--no-faces", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="albumtag-first-") as tmp:
        album = album_of(args.photos, Path(tmp))
        print(f"time to first tags: {args.photos:,} photos, screen {args.screen}, faces "
              f"{'off' if args.no_faces else 'on'}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        with Library(album, Path(tmp) / "data") as library:
            started = time.perf_counter()
            reconcile(album, library.store)  # what the run does first; the window asks then
            first = [r.id for r in browse.grid_rows(library, order=browse.Order.TAKEN,
                                                      limit=args.screen)]
            by_name = browse.grid_rows(library, order=browse.Order.NAME)
            middle = len(by_name) // 2
            scrolled = [r.id for r in by_name[middle : middle + args.screen]]
            indexer = library.indexer(faces=not args.no_faces)
            tagged: dict[int, float] = {}
            record = indexer._record

            def timed(batch, result, model, summary):  # noqa: ANN001 - the indexer's own
                record(batch, result, model, summary)
                at = time.perf_counter() - started
                tagged.update((b.row.id, at) for b in batch)

            indexer._record = timed
            marks = {"first screen (the window's default order)": set(first)}
            quarter = max(1, args.photos // 4)
            asked: list[float] = []

            def watch(stop: threading.Event) -> None:
                reported: set[str] = set()
                while not stop.wait(0.2):
                    now = time.perf_counter() - started
                    if not asked and (now >= 60 or len(tagged) >= quarter):
                        indexer.show_first(scrolled)
                        asked.append(now)
                        marks["a scrolled-to screen (middle of the album by name), "
                              "from the call"] = set(scrolled)
                    for name, ids in list(marks.items()):
                        if name not in reported and ids <= tagged.keys():
                            reported.add(name)
                            at = max(tagged[i] for i in ids)
                            since = at - asked[0] if "from the call" in name else at
                            print(f"  {name}: {since:.1f} s", flush=True)
                    for q in (1, 2, 3):
                        key = f"{q}/4"
                        if key not in reported and len(tagged) >= q * quarter:
                            reported.add(key)
                            print(f"  {q}/4 of the album tagged: {now:.0f} s", flush=True)

            stop = threading.Event()
            thread = threading.Thread(target=watch, args=(stop,), daemon=True)
            thread.start()
            summary = indexer.run()
            total = time.perf_counter() - started
            time.sleep(0.5)
            stop.set()
            thread.join()
        print(f"  everything tagged: {total:.0f} s ({summary.tagged:,} photos, "
              f"{summary.tagged / max(total, 1e-9):.1f} photos/s over the whole run); load "
              f"average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
