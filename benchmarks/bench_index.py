"""Indexing throughput: decode (D), inference (I), the full pipeline (P) and a naive baseline (N).

    .venv/bin/python -m benchmarks.bench_index [--photos 300] [--naive 40]

All four are measured in one run on the same folder of 12 MP camera JPEGs (see
``benchmarks/photo_folder.py``). On a CPU decode and inference share the cores, so the bound
for the pipeline is 1 / (1/D + 1/I); on a GPU it is min(D, I).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.photo_folder import build


def measure_decode(folder: Path, workers: int) -> tuple[float, list[np.ndarray]]:
    """D: the indexer's own per-photo work (decode, thumbnail, model input) on all cores."""
    from core.indexer import Indexer
    from core.scanner import reconcile
    from core.tagstore import TagStore
    from core.thumbnails import ThumbnailCache

    with tempfile.TemporaryDirectory() as tmp:
        store = TagStore(Path(tmp) / "album.db")
        reconcile(folder, store)
        rows = store.photos()
        indexer = Indexer(folder, store, lambda: None, ThumbnailCache(Path(tmp) / "t"))
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            prepared = list(pool.map(lambda r: indexer._prepare(r, 224, 0.875), rows))
        seconds = time.perf_counter() - started
        store.close()
    return len(rows) / seconds, [p.pixels for p in prepared]


def measure_inference(pixels: list[np.ndarray]) -> tuple[float, dict[int, float]]:
    """I: the tagger on preloaded uint8 crops, per batch size (median of repeats)."""
    from core.library import Library

    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        tagger = library.model().tagger
        stack = np.stack(pixels)
        tagger.run(stack[:8])  # warm-up
        rates = {}
        for batch in (8, 16, 32, 64):
            n = (min(len(stack), 256) // batch) * batch
            times = []
            for _ in range(3):
                started = time.perf_counter()
                for i in range(0, n, batch):
                    tagger.run(stack[i : i + batch])
                times.append(time.perf_counter() - started)
            rates[batch] = n / statistics.median(times)
        library.close()
    best = max(rates, key=rates.get)
    return rates[best], rates


def measure_pipeline(folder: Path) -> dict:
    """P: `albumtag index` from a cold start, as a user runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "app", "index", str(folder), "--data-dir", tmp, "--json"],
            capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
    data = json.loads(out.stdout)
    return {"rate": data["photos_per_second"], "wall": wall, "tagged": data["tagged"]}


def measure_naive(folder: Path, count: int) -> float:
    """N: full-size decode, resize, one model call per photo, one after the other."""
    from PIL import Image, ImageOps

    from core.library import Library

    paths = sorted(folder.iterdir())[:count]
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp)
        tagger = library.model().tagger
        started = time.perf_counter()
        for path in paths:
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im.convert("RGB"))
                w, h = im.size
                scale = 256 / min(w, h)
                im = im.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
                left, top = (im.width - 224) // 2, (im.height - 224) // 2
                crop = np.asarray(im.crop((left, top, left + 224, top + 224)))
            tagger.run(crop.transpose(2, 0, 1)[None].copy())
        seconds = time.perf_counter() - started
        library.close()
    return len(paths) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--naive", type=int, default=40, help="photos for the naive baseline")
    args = parser.parse_args()
    folder = build(args.photos)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / args.photos / 1e6
    workers = os.cpu_count() or 1
    d, pixels = measure_decode(folder, workers)
    i, per_batch = measure_inference(pixels)
    p = measure_pipeline(folder)
    n = measure_naive(folder, args.naive)
    bound = 1 / (1 / d + 1 / i)
    report = {
        "photos": args.photos, "avg_mb": round(size_mb, 2), "cores": workers,
        "D": round(d, 1), "I": round(i, 1),
        "I_by_batch": {b: round(r, 1) for b, r in per_batch.items()},
        "P": round(p["rate"], 1), "P_wall_s": round(p["wall"], 1), "N": round(n, 2),
        "bound": round(bound, 1), "P_over_bound": round(p["rate"] / bound, 3),
        "P_over_N": round(p["rate"] / n, 2),
    }
    print(f"\nIndexing throughput — {args.photos} photos, 4032×3024 JPEG, "
          f"{size_mb:.1f} MB average, {workers} cores, CPU")
    print(f"  D  decode + thumbnail + model input ({workers} threads)  {d:7.1f} photos/s")
    print(f"  I  inference, preloaded crops (best batch)       {i:7.1f} photos/s   "
          + ", ".join(f"b{b}: {r:.1f}" for b, r in per_batch.items()))
    print(f"  P  albumtag index (tag phase)                    {p['rate']:7.1f} photos/s   "
          f"(whole command incl. start-up: {p['wall']:.1f} s)")
    print(f"  N  naive: full decode + resize + 1 call/photo    {n:7.2f} photos/s")
    print(f"  bound 1/(1/D + 1/I)                              {bound:7.1f} photos/s")
    print(f"  P / bound = {report['P_over_bound']:.2f}  (goal ≥ 0.85)     "
          f"P / N = {report['P_over_N']:.1f}  (goal ≥ 4)")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_index.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
