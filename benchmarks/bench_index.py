"""Indexing throughput: decode (D), inference (I), the full pipeline (P) and a naive baseline (N).

    .venv/bin/python -m benchmarks.bench_index [--photos 200] [--naive 20] [--rounds 3]
                                               [--model NAME]

Everything is measured on the same folder of 12 MP camera JPEGs (``benchmarks/photo_folder.py``)
in ``--rounds`` rounds; each round measures every row once, one after the other, so a round's
ratios compare figures taken under the same conditions. The report gives each figure's median
over the rounds and the median of the per-round ratios.

On a CPU decode and inference share the cores, so the bound for the pipeline is
1 / (1/D + 1/I); on a GPU it is min(D, I). Face detection runs in the decode workers, so the
pipeline with faces is held against D measured with faces (Df).

``--model`` indexes with another backbone (``albumtag index --model NAME``); D, I and N then use
that backbone's input size and crop.
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

BATCHES = (8, 16, 32)


def measure_decode(
    folder: Path, workers: int, faces: bool, size: int = 224, crop: float = 0.875
) -> tuple[float, list[np.ndarray]]:
    """D: the indexer's own per-photo work (decode, thumbnail, model input, keywords and, with
    ``faces``, face detection) in ``workers`` threads."""
    from core.db.tagstore import TagStore
    from core.media.thumbnails import ThumbnailCache
    from core.people.faces import shared_detector
    from core.pipeline.enrich import Enricher
    from core.pipeline.indexer import Indexer
    from core.pipeline.scanner import reconcile

    with tempfile.TemporaryDirectory() as tmp:
        store = TagStore(Path(tmp) / "album.db")
        reconcile(folder, store)
        rows = store.photos()
        enricher = Enricher(store, faces=shared_detector if faces else None)
        enricher.start()
        indexer = Indexer(
            folder, store, lambda: None, ThumbnailCache(Path(tmp) / "t"), enricher=enricher
        )
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            prepared = list(pool.map(lambda r: indexer._prepare(r, size, crop), rows))
        seconds = time.perf_counter() - started
        store.close()
    return len(rows) / seconds, [p.pixels for p in prepared]


def measure_inference(tagger, pixels: list[np.ndarray], workers: int) -> dict[str, float]:
    """I: the tagger on preloaded uint8 crops, per batch size, two ways: one call at a time
    with torch's threads across all cores ("b16"), and ``workers`` calls at a time with one
    torch thread each ("b16x2", as the indexer's CPU schedule runs it)."""
    from core.threads import on_one_core

    stack = np.stack(pixels)
    n = (min(len(stack), 96) // (max(BATCHES) * workers)) * max(BATCHES) * workers
    rates = {}
    for batch in BATCHES:
        started = time.perf_counter()
        for i in range(0, n, batch):
            tagger.run(stack[i : i + batch])
        rates[f"b{batch}"] = n / (time.perf_counter() - started)
    with ThreadPoolExecutor(workers) as pool:
        for batch in BATCHES:
            list(
                pool.map(
                    lambda i, b=batch: on_one_core(tagger.run, stack[i : i + b]),
                    range(0, workers * batch, batch),
                )
            )  # each thread's first call
            started = time.perf_counter()
            list(
                pool.map(
                    lambda i, b=batch: on_one_core(tagger.run, stack[i : i + b]), range(0, n, batch)
                )
            )
            rates[f"b{batch}x{workers}"] = n / (time.perf_counter() - started)
    return rates


def measure_pipeline(folder: Path, *options: str) -> dict:
    """P: `albumtag index` from a cold start, as a user runs it (tag phase rate)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "app",
                "index",
                str(folder),
                "--data-dir",
                tmp,
                "--json",
                *options,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - started
    data = json.loads(out.stdout)
    return {"rate": data["photos_per_second"], "wall": wall, "tagged": data["tagged"]}


def measure_naive(tagger, folder: Path, count: int) -> float:
    """N: full-size decode, resize, one model call per photo, one after the other."""
    import math

    from PIL import Image, ImageOps

    paths = sorted(folder.iterdir())[:count]
    side, crop = tagger.backbone.input_size, tagger.backbone.crop_pct
    short = math.floor(side / crop)
    started = time.perf_counter()
    for path in paths:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im.convert("RGB"))
            w, h = im.size
            scale = short / min(w, h)
            im = im.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            pixels = np.asarray(im.crop((left, top, left + side, top + side)))
        tagger.run(pixels.transpose(2, 0, 1)[None].copy())
    return len(paths) / (time.perf_counter() - started)


def one_round(folder: Path, tagger, workers: int, naive: int, model: list[str]) -> dict:
    size, crop = tagger.backbone.input_size, tagger.backbone.crop_pct
    d, pixels = measure_decode(folder, workers, faces=False, size=size, crop=crop)
    df, _ = measure_decode(folder, workers, faces=True, size=size, crop=crop)
    by_batch = measure_inference(tagger, pixels, workers)
    p = measure_pipeline(folder, "--no-faces", *model)
    pf = measure_pipeline(folder, *model)
    po = measure_pipeline(folder, "--no-faces", "--pipeline", "overlap", *model)
    n = measure_naive(tagger, folder, naive)
    import torch

    i = max(by_batch.values())
    bound, bound_f = 1 / (1 / d + 1 / i), 1 / (1 / df + 1 / i)
    return {
        "D": d,
        "Df": df,
        "I": i,
        **{f"I_{b}": r for b, r in by_batch.items()},
        "P": p["rate"],
        "Pf": pf["rate"],
        "Po": po["rate"],
        "N": n,
        "main_thread_torch_threads": torch.get_num_threads(),
        "bound": bound,
        "bound_f": bound_f,
        "P_wall_s": p["wall"],
        "Pf_wall_s": pf["wall"],
        "P/bound": p["rate"] / bound,
        "Pf/bound_f": pf["rate"] / bound_f,
        "Po/bound": po["rate"] / bound,
        "P/N": p["rate"] / n,
        "Pf/N": pf["rate"] / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--naive", type=int, default=20, help="photos for the naive baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", help="backbone for every row (default: the default one)")
    args = parser.parse_args()
    started = time.perf_counter()
    folder = build(args.photos)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / args.photos / 1e6
    workers = os.cpu_count() or 1

    from core.library import Library
    from core.model.versions import ModelChoice

    model = ["--model", args.model] if args.model else []
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(tmp, model=ModelChoice(args.model) if args.model else None)
        tagger = library.model().tagger
        side = tagger.backbone.input_size
        tagger.run(np.zeros((8, 3, side, side), np.uint8))  # warm-up
        rounds = [one_round(folder, tagger, workers, args.naive, model) for _ in range(args.rounds)]
        library.close()
    med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    spread = {key: (min(r[key] for r in rounds), max(r[key] for r in rounds)) for key in med}

    def row(key: str, text: str, extra: str = "") -> None:
        lo, hi = spread[key]
        print(f"  {key:<3}{text:<52}{med[key]:7.1f}   ({lo:.1f}–{hi:.1f}){extra}")

    print(
        f"\nIndexing throughput — {args.photos} photos, 4032×3024 JPEG, {size_mb:.1f} MB "
        f"average, {workers} cores, CPU, {tagger.feature_key}; medians of {args.rounds} "
        "rounds (range) in photos/s"
    )
    row("D", f"decode + thumbnail + model input, {workers} threads")
    row("Df", "the same with face detection")
    row(
        "I",
        "inference on preloaded crops, best way",
        "   " + ", ".join(f"{k[2:]}: {v:.1f}" for k, v in med.items() if k.startswith("I_")),
    )
    row("P", "albumtag index --no-faces (tag phase)")
    row("Pf", "albumtag index, faces on (the default)")
    row("Po", "the same, --pipeline overlap (model beside decoders)")
    row("N", "naive: full decode + resize + 1 call/photo")
    row("bound", " 1/(1/D + 1/I)")
    print(
        f"  P / bound = {med['P/bound']:.2f} (goal ≥ 0.85)   Pf / (1/(1/Df + 1/I)) = "
        f"{med['Pf/bound_f']:.2f}   Po / bound = {med['Po/bound']:.2f}"
    )
    print(
        f"  P / N = {med['P/N']:.1f} (goal ≥ 4)   Pf / N = {med['Pf/N']:.1f}   "
        f"whole command incl. start-up: {med['P_wall_s']:.1f} s (--no-faces), "
        f"{med['Pf_wall_s']:.1f} s (faces)"
    )
    print(
        f"  (per-round ratios are medians of each round's own ratio; the benchmark took "
        f"{time.perf_counter() - started:.0f} s)"
    )
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_index.json").write_text(
        json.dumps(
            {
                "photos": args.photos,
                "avg_mb": round(size_mb, 2),
                "cores": workers,
                "model": tagger.feature_key,
                "median": med,
                "rounds": rounds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
