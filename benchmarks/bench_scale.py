"""Scale: search latency and tag-tree counts on 100,000 photos; memory while indexing 2,000.

    .venv/bin/python -m benchmarks.bench_scale [--photos 100000] [--index 2000]

The store is synthetic (the real schema, the full vocabulary, scores drawn so that each photo
has 5–15 tags, a few hundred verdicts); the memory run indexes real 12 MP JPEGs with
`albumtag index` in a subprocess and samples its resident memory as it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.photo_folder import build
from core.db.store import now
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library

QUERIES = (
    "dog",
    "animal",
    "dog beach",
    "cat OR dog",
    "animal -dog",
    '"sports car" OR boat',
    "unverified:animal",
    "untagged",
    "path:2023/07",
    "year:2021 -vehicle",
)


def fill(library: Library, count: int, seed: int = 7) -> float:
    """Insert ``count`` photos with scores and verdicts; returns seconds spent on tags.

    Each photo gets 2–6 leaf labels scored above their threshold and 4 below (uniform over the
    leaves), about 2 % stay untagged and one in 200 carries a verdict. Built in bulk — numpy
    draws, ``executemany`` in transactions of 50,000 photos, ``synchronous = OFF`` on the
    writer for the build only — so that a million photos take minutes, not an hour.
    """
    rng = np.random.default_rng(seed)
    labels = library.store.labels()
    parents = {r.parent_id for r in labels}
    leaves = [r for r in labels if r.id not in parents]
    leaf_ids = np.array([r.id for r in leaves], dtype=np.int64)
    leaf_thr = np.array([r.threshold for r in leaves])
    stamp = now()
    db = library.store.db
    db._writer.execute("PRAGMA synchronous = OFF")  # the build only: a crash loses a temp file
    db._writer.execute("PRAGMA cache_size = -262144")
    chunk = 50_000
    for start in range(1, count + 1, chunk):
        pids = np.arange(start, min(count, start + chunk - 1) + 1)
        n = len(pids)
        years, months = 2015 + pids % 11, 1 + pids % 12
        photos = [
            (
                int(p),
                f"{y}/{m:02d}/IMG_{p:06d}.JPG",
                3_000_000 + int(p),
                int(p),
                f"h{p}",
                f"{y}-{m:02d}-{1 + p % 28:02d}T12:00:00",
                stamp,
            )
            for p, y, m in zip(pids.tolist(), years.tolist(), months.tolist(), strict=True)
        ]
        # 10 distinct leaves per photo (the first 2–6 on, the rest off): the first 10 of a
        # random key per leaf, found with argpartition over a (n, leaves) block at a time
        picks = np.empty((n, 10), dtype=np.int64)
        for s0 in range(0, n, 5000):
            keys = rng.random((min(5000, n - s0), len(leaf_ids)), dtype=np.float32)
            picks[s0 : s0 + len(keys)] = np.argpartition(keys, 10, axis=1)[:, :10]
        on = rng.integers(2, 7, size=n)
        u = rng.random((n, 10))
        thr = leaf_thr[picks]
        scores = np.where(
            np.arange(10)[None, :] < on[:, None],
            thr + u * (1.0 - thr),
            0.02 + u * (thr * 0.9 - 0.02),
        )
        keep = pids % 50 != 0  # about 2 % of photos stay untagged
        rows_p = np.repeat(pids[keep], 10)
        rows_l = leaf_ids[picks[keep]].ravel()
        rows_s = scores[keep].ravel()
        order = np.lexsort((rows_l, rows_p))  # primary-key order: appends to the B-tree
        label_rows = [
            (p, lid, sc, stamp)
            for p, lid, sc in zip(
                rows_p[order].tolist(), rows_l[order].tolist(), rows_s[order].tolist(), strict=True
            )
        ]
        judged = pids[(pids % 200 == 0) & keep]
        first = leaf_ids[picks[np.searchsorted(pids, judged), 0]]
        verdicts = rng.choice((CONFIRMED, REJECTED), size=len(judged))
        with db.write() as w:
            conn = w.conn
            conn.executemany(
                "INSERT INTO photos (id, path, size, mtime_ns, content_hash, width, height, "
                "taken_at, status, model_version, added_at) VALUES (?, ?, ?, ?, ?, 4032, 3024, "
                "?, 'ok', 0, ?)",
                photos,
            )
            conn.executemany(
                "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, "
                "updated_at) VALUES (?, ?, ?, 0, 'model', ?)",
                label_rows,
            )
            conn.executemany(
                "UPDATE photo_labels SET verdict = ? WHERE photo_id = ? AND label_id = ?",
                list(zip(verdicts.tolist(), judged.tolist(), first.tolist(), strict=True)),
            )
    with db.write() as w:
        w.conn.execute(
            "INSERT INTO models (version, backbone, created_at, active) "
            "VALUES (0, 'synthetic', ?, 1)",
            (stamp,),
        )
    started = time.perf_counter()
    library.store.refresh_all_tags()
    elapsed = time.perf_counter() - started
    db._writer.execute("PRAGMA synchronous = NORMAL")
    return elapsed


def one_label_threshold(library: Library, changes: int = 5) -> dict:
    """Seconds per change of one label's threshold by hand (the leaf with the most scores),
    each re-deriving the tags it can change; the last change is undone."""
    store = library.store
    lid, photos = store.db.query(
        "SELECT label_id, COUNT(*) FROM photo_labels WHERE score IS NOT NULL "
        "GROUP BY label_id ORDER BY COUNT(*) DESC LIMIT 1"
    )[0]
    name = next(r.name for r in store.labels() if r.id == lid)
    base = store.policy().threshold(lid)
    runs = []
    for i in range(changes):
        started = time.perf_counter()
        store.set_manual_threshold(name, base + (0.05 if i % 2 == 0 else -0.05))
        runs.append(time.perf_counter() - started)
    while store.undo_threshold():
        pass
    return {"label": name, "photos": photos, "runs": runs, "p50_s": statistics.median(runs)}


def time_it(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def rss_while_indexing(count: int) -> dict:
    """Index ``count`` real 12 MP photos; resident memory sampled against progress."""
    source = build(300)
    files = sorted(source.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        album = Path(tmp) / "album"
        album.mkdir()
        for i in range(count):  # hard links: real JPEG bytes, no extra disk
            os.link(files[i % len(files)], album / f"{i // 300:02d}_{files[i % len(files)].name}")
        db = Path(tmp) / "data" / "album.db"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "index",
                str(album),
                "--data-dir",
                str(db.parent),
                "--json",
            ],
            stdout=subprocess.DEVNULL,
        )
        samples: list[tuple[int, float]] = []
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                rss = (
                    int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS")).split()[1])
                    / 1024
                )
                with sqlite3.connect(db, timeout=1) as conn:
                    done = conn.execute(
                        "SELECT COUNT(*) FROM photos WHERE status = 'ok'"
                    ).fetchone()[0]
                samples.append((done, rss))
            except (OSError, StopIteration, sqlite3.Error):
                pass
            time.sleep(0.5)
    quarters = {}  # per quarter of the photos: (median, max) of the samples taken in it
    for q in range(4):
        inside = [rss for done, rss in samples if q * count / 4 < done <= (q + 1) * count / 4]
        quarters[f"Q{q + 1}"] = (
            (round(statistics.median(inside)), round(max(inside))) if inside else None
        )
    return {
        "photos": count,
        "peak_mb": round(max(r for _, r in samples), 0),
        "by_quarter": quarters,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--index", type=int, default=2000, help="photos for the memory run")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        started = time.perf_counter()
        refresh = fill(library, args.photos)
        build_s = time.perf_counter() - started
        tags = library.store.db.query("SELECT COUNT(*) FROM photo_tags")[0][0]
        results = {}
        engine = library.search_engine

        def after_a_change() -> None:  # any commit: every cache starts over
            library.store.set_meta("bench", str(time.perf_counter()))

        def forget_terms() -> None:  # the display orders kept, the terms looked up again
            snap = engine._snapshot()
            snap.terms.clear()
            snap.term_ids = 0

        first = []
        for _ in range(3):
            after_a_change()
            first += time_it(lambda: library.search_ids("dog"), 1)
        for q in QUERIES:
            hits = len(library.search_ids(q))
            cold = []
            for _ in range(5):
                forget_terms()
                cold += time_it(lambda q=q: library.search_ids(q), 1)
            ms = time_it(lambda q=q: library.search_ids(q), args.repeats)
            results[q] = {
                "hits": hits,
                "p50": statistics.median(ms),
                "p95": p95(ms),
                "new_terms_p50": statistics.median(cold),
            }
        page = time_it(lambda: library.search("animal", limit=200), args.repeats)
        tree_cold = []
        for _ in range(5):
            after_a_change()
            tree_cold += time_it(library.label_tree, 1)
        tree = time_it(library.label_tree, args.repeats)
        threshold = one_label_threshold(library)
        store = library.store
        store.db._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db_bytes = sum(
            f.stat().st_size
            for f in store.db.path.parent.iterdir()
            if f.name.startswith(store.db.path.name)
        )
        library.close()
    memory = rss_while_indexing(args.index) if args.index else None
    print(
        f"\nScale — {args.photos:,} photos, {tags / args.photos:.1f} tags per photo "
        f"(store built in {build_s:.0f} s; re-deriving every photo's tags: {refresh:.1f} s)"
    )
    load = os.getloadavg()
    print(
        f"  load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(f"  {'query':<26}{'hits':>8}{'p50 ms':>10}{'p95 ms':>10}{'new terms p50':>15}")
    for q, r in results.items():
        print(
            f"  {q:<26}{r['hits']:>8}{r['p50']:>10.1f}{r['p95']:>10.1f}{r['new_terms_p50']:>15.1f}"
        )
    worst = max(r["p95"] for r in results.values())
    print(
        f"  worst p95: {worst:.1f} ms (goal < 50); 'new terms': the same search with its "
        f"terms looked up again (what a search typed for the first time costs)"
    )
    print(
        f"  first search after a change (rebuilds the visible ids and the display order): "
        f"p50 {statistics.median(first):.0f} ms"
    )
    print(
        f"  first page of full rows for 'animal' (200 photos): p50 {statistics.median(page):.1f} ms"
    )
    print(
        f"  tag tree with counts: p50 {statistics.median(tree):.0f} ms, p95 {p95(tree):.0f} ms "
        f"(goal < 200); the first after a change (counts every tag): p50 "
        f"{statistics.median(tree_cold):.0f} ms"
    )
    print(
        f"  one-label threshold change ({threshold['label']!r}, scored on "
        f"{threshold['photos']:,} photos): p50 {threshold['p50_s']:.2f} s over "
        f"{len(threshold['runs'])} changes (goal < 2 s)"
    )
    print(f"  database: {db_bytes / 2**20:,.0f} MB, {db_bytes / args.photos:,.0f} bytes per photo")
    if memory:
        quarters = ", ".join(f"{q} {v[0]}/{v[1]}" for q, v in memory["by_quarter"].items() if v)
        print(
            f"  indexing {memory['photos']} photos: peak RSS {memory['peak_mb']:.0f} MB "
            f"(goal: flat, < 1500 MB); median/max MB by quarter of the photos: {quarters}"
        )
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_scale.json").write_text(
        json.dumps(
            {
                "photos": args.photos,
                "tags_per_photo": tags / args.photos,
                "queries": results,
                "tree_ms": tree,
                "tree_after_change_ms": tree_cold,
                "first_search_ms": first,
                "refresh_s": refresh,
                "threshold": threshold,
                "db_bytes": db_bytes,
                "build_s": build_s,
                "memory": memory,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
