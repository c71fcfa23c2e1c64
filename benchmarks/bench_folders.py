"""Folders at scale: the sidebar's folder tree with counts, and ``folder:`` searches.

Builds an album database of N photos in a year/month/event layout (about 100 photos per event
folder, a few photos directly in the year and month folders, 1 % missing, 0.5 % unreadable, some
names that are not valid UTF-8), then times :func:`core.search.folders.folder_tree` the first
time after a change (what the sidebar pays after every index or watcher event) and repeated
(cached), against the plain grouped query it replaces, and ``folder:`` searches through the
search engine with their terms looked up afresh.

    .venv/bin/python -m benchmarks.bench_folders --photos 100000
    .venv/bin/python -m benchmarks.bench_folders --photos 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from benchmarks.bench_scale import time_it
from core.db.store import now
from core.library import Library
from core.search.folders import folder_tree


def fill(library: Library, count: int) -> int:
    """Insert ``count`` photos; returns the number of folders that hold photos directly."""
    stamp = now()
    db = library.store.db
    db._writer.execute("PRAGMA synchronous = OFF")  # the build only
    events_per_month = max(1, count // (25 * 12 * 100))
    folders: set[str] = set()
    rows = []
    for p in range(1, count + 1):
        year, month, event = 2000 + p % 25, 1 + (p // 25) % 12, (p // 300) % events_per_month
        if p % 97 == 0:
            folder = f"{year}"
        elif p % 89 == 0:
            folder = f"{year}/{month:02d}"
        elif p % 5000 == 1:
            folder = f"{year}/caf\udce9 {event}"  # a folder name that is not valid UTF-8
        else:
            folder = f"{year}/{month:02d}/event {event:03d}"
        status = "missing" if p % 100 == 3 else "error" if p % 200 == 7 else "ok"
        path = f"{folder}/IMG_{p:07d}.JPG"
        stored: str | bytes = path
        if "\udce9" in path:
            stored = path.encode("utf-8", "surrogateescape")
        rows.append((p, stored, status, stamp))
        if status == "ok":
            folders.add(folder)
        if len(rows) == 50_000 or p == count:
            with db.write() as w:
                w.conn.executemany(
                    "INSERT INTO photos (id, path, size, mtime_ns, status, "
                    "added_at) VALUES (?, ?, 1, 1, ?, ?)",
                    rows,
                )
            rows = []
    db._writer.execute("PRAGMA synchronous = NORMAL")
    return len(folders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        started = time.perf_counter()
        with_photos = fill(library, args.photos)
        build_s = time.perf_counter() - started
        db = library.store.db

        def after_a_change() -> None:  # any commit: the cached tree starts over
            library.store.set_meta("bench", str(time.perf_counter()))

        cold = []
        for _ in range(args.repeats):
            after_a_change()
            cold += time_it(lambda: folder_tree(db), 1)
        warm = time_it(lambda: folder_tree(db), args.repeats * 4)
        tree = folder_tree(db)
        grouped = time_it(
            lambda: db.query(
                "SELECT CAST(rtrim(path, replace(path, '/', '')) AS BLOB), count(*) FROM photos "
                "WHERE status IN ('ok', 'pending') GROUP BY 1"
            ),
            1,
        )
        engine = library.search_engine
        searches = {}
        for term in (
            'folder:"2010/06/event 000"',
            "folder:2010/**",
            "folder:2010",
            'folder:"2001/caf\\xe9 0"',
            "folder:/**",
        ):
            hits = len(library.search_ids(term))
            ms = []
            for _ in range(args.repeats):
                snap = engine._snapshot()
                snap.terms.clear()  # the term looked up again, as when it is first chosen
                snap.term_ids = 0
                ms += time_it(lambda t=term: library.search_ids(t), 1)
            searches[term] = (hits, statistics.median(ms))
        library.close()
    folders = sum(1 for _ in tree.walk())
    load = os.getloadavg()
    print(
        f"\nFolders — {args.photos:,} photos in {folders:,} folders ({with_photos:,} holding "
        f"photos directly); store built in {build_s:.0f} s; load average {load[0]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(
        f"  folder tree with counts, first after a change: p50 "
        f"{statistics.median(cold):.0f} ms (min {min(cold):.0f}, max {max(cold):.0f}); "
        f"repeated (cached): p50 {statistics.median(warm):.2f} ms"
    )
    print(f"  the grouped query it replaces (rtrim per photo): {grouped[0]:.0f} ms")
    print(f"  {'search (term looked up afresh)':<34}{'hits':>9}{'p50 ms':>9}")
    for term, (hits, ms) in searches.items():
        print(f"  {term:<34}{hits:>9,}{ms:>9.1f}")


if __name__ == "__main__":
    main()
