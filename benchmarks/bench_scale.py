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
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.photo_folder import build
from core.library import Library
from core.policy import CONFIRMED, REJECTED
from core.store import now

QUERIES = (
    "dog", "animal", "dog beach", "cat OR dog", "animal -dog", '"sports car" OR boat',
    "unverified:animal", "untagged", "path:2023/07", "year:2021 -vehicle",
)


def fill(library: Library, count: int, seed: int = 7) -> float:
    """Insert ``count`` photos with scores and verdicts; returns seconds spent on tags."""
    rng = random.Random(seed)
    labels = library.store.labels()
    leaves = [r for r in labels if not any(c.parent_id == r.id for c in labels)]
    stamp = now()
    with library.store.db.write() as db:
        conn = db.conn
        for pid in range(1, count + 1):
            year, month = 2015 + pid % 11, 1 + pid % 12
            conn.execute(
                "INSERT INTO photos (id, path, size, mtime_ns, content_hash, width, height, "
                "taken_at, status, model_version, added_at) VALUES (?, ?, ?, ?, ?, 4032, 3024, "
                "?, 'ok', 0, ?)",
                (pid, f"{year}/{month:02d}/IMG_{pid:06d}.JPG", 3_000_000 + pid, pid, f"h{pid}",
                 f"{year}-{month:02d}-{1 + pid % 28:02d}T12:00:00", stamp))
            if pid % 50 == 0:
                continue  # about 2% of photos stay untagged
            picks = rng.sample(leaves, rng.randint(2, 6))
            rows = [(pid, r.id, rng.uniform(r.threshold, 1.0)) for r in picks]
            rows += [(pid, r.id, rng.uniform(0.02, r.threshold * 0.9))
                     for r in rng.sample(leaves, 4)]
            conn.executemany(
                "INSERT OR IGNORE INTO photo_labels (photo_id, label_id, score, verdict, source, "
                "updated_at) VALUES (?, ?, ?, 0, 'model', ?)",
                [(p, lid, s, stamp) for p, lid, s in rows])
            if pid % 200 == 0:
                conn.execute("UPDATE photo_labels SET verdict = ? WHERE photo_id = ? AND "
                             "label_id = ?", (rng.choice((CONFIRMED, REJECTED)), pid, picks[0].id))
        conn.execute("INSERT INTO models (version, backbone, created_at, active) "
                     "VALUES (0, 'synthetic', ?, 1)", (stamp,))
    started = time.perf_counter()
    library.store.refresh_all_tags()
    return time.perf_counter() - started


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
        proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(album), "--data-dir",
                                 str(db.parent), "--json"], stdout=subprocess.DEVNULL)
        samples: list[tuple[int, float]] = []
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                rss = int(next(ln for ln in status.splitlines() if ln.startswith("VmRSS"))
                          .split()[1]) / 1024
                with sqlite3.connect(db, timeout=1) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM photos WHERE status = 'ok'"
                                        ).fetchone()[0]
                samples.append((done, rss))
            except (OSError, StopIteration, sqlite3.Error):
                pass
            time.sleep(0.5)
    quarters = {}  # per quarter of the photos: (median, max) of the samples taken in it
    for q in range(4):
        inside = [rss for done, rss in samples if q * count / 4 < done <= (q + 1) * count / 4]
        quarters[f"Q{q + 1}"] = ((round(statistics.median(inside)), round(max(inside)))
                                 if inside else None)
    return {"photos": count, "peak_mb": round(max(r for _, r in samples), 0),
            "by_quarter": quarters}


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
        first = time_it(lambda: library.search_ids("dog"), 1)[0]  # builds the caches
        for q in QUERIES:
            hits = len(library.search_ids(q))
            ms = time_it(lambda q=q: library.search_ids(q), args.repeats)
            results[q] = {"hits": hits, "p50": statistics.median(ms), "p95": p95(ms)}
        page = time_it(lambda: library.search("animal", limit=200), args.repeats)
        tree = time_it(library.label_tree, args.repeats)
        library.close()
    memory = rss_while_indexing(args.index) if args.index else None
    print(f"\nScale — {args.photos:,} photos, {tags / args.photos:.1f} tags per photo "
          f"(store built in {build_s:.0f} s; re-deriving every photo's tags: {refresh:.1f} s)")
    print(f"  {'query':<26}{'hits':>8}{'p50 ms':>10}{'p95 ms':>10}")
    for q, r in results.items():
        print(f"  {q:<26}{r['hits']:>8}{r['p50']:>10.1f}{r['p95']:>10.1f}")
    worst = max(r["p95"] for r in results.values())
    print(f"  worst p95: {worst:.1f} ms (goal < 50); first search after a change "
          f"(rebuilds the id and order caches): {first:.0f} ms")
    print(f"  first page of full rows for 'animal' (200 photos): p50 "
          f"{statistics.median(page):.1f} ms")
    print(f"  tag tree with counts: p50 {statistics.median(tree):.0f} ms, p95 {p95(tree):.0f} ms "
          "(goal < 200)")
    if memory:
        quarters = ", ".join(f"{q} {v[0]}/{v[1]}" for q, v in memory["by_quarter"].items() if v)
        print(f"  indexing {memory['photos']} photos: peak RSS {memory['peak_mb']:.0f} MB "
              f"(goal: flat, < 1500 MB); median/max MB by quarter of the photos: {quarters}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_scale.json").write_text(json.dumps(
        {"photos": args.photos, "tags_per_photo": tags / args.photos, "queries": results,
         "tree_ms": tree, "refresh_s": refresh, "memory": memory}, indent=2))


if __name__ == "__main__":
    main()
