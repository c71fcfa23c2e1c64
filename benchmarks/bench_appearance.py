"""What the appearance descriptor costs at indexing time (issues 12 and 13).

The album's tagger describes every photo with the pooled features, the regional evidence and,
since the appearance descriptor (``core.model.appearance``), a colour histogram, a band layout
and the backbone's middle stage. This times the model call of one batch with and without the
appearance part, on real photos (scikit-image's samples and foolbox's ImageNet photos,
repeated to fill the batches), alternating the two in every round so a busy machine slows
both alike.

With ``--patches`` it compares the shipped descriptor with and without its last part, the
middle stage averaged to 4 x 4 positions (``core.model.patches``), instead.

Run: ``python -m benchmarks.bench_appearance [--rounds 7] [--batch 16] [--threads 1]
[--patches]``. Prints the median milliseconds per photo of each and their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from core.labels.vocabulary import Vocabulary
from core.media.imaging import decode
from core.model.tagger import Backbone, PriorHead, Tagger
from core.model.versions import prior_label_names


def _photos() -> list[Path]:
    out = []
    for package, pattern in (("skimage", "data/*.png"), ("foolbox", "data/imagenet_*.jpg")):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            out += sorted(Path(next(iter(spec.submodule_search_locations))).glob(pattern))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--patches", action="store_true", help="with and without the patches, not appearance"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    backbone = Backbone.load(device="cpu")
    vocabulary = Vocabulary.load()
    names = prior_label_names(vocabulary)
    membership = vocabulary.imagenet_membership(names)
    taggers = {
        "without": Tagger(backbone, PriorHead(names, membership, appearance=False)),
        "with": Tagger(backbone, PriorHead(names, membership)),
    }
    part = "patches" if args.patches else "appearance"
    if args.patches:  # the same tagger, its descriptor cut before the patches
        bare = Tagger(backbone, PriorHead(names, membership))
        bare.patches, bare.feature_dim = None, bare.patches_start
        taggers["without"] = bare
    prep = backbone.preprocessing
    crops = []
    for path in _photos():
        try:
            crops.append(prep.pixels(decode(path, min_side=prep.min_side).image))
        except Exception:  # noqa: BLE001 - a sample that cannot be read is skipped
            continue
    if not crops:
        print("no sample photos found (scikit-image or foolbox)", file=sys.stderr)
        return 2
    batch = np.stack([crops[i % len(crops)] for i in range(args.batch)])
    for tagger in taggers.values():
        tagger.run(batch)  # warm up
    times: dict[str, list[float]] = {k: [] for k in taggers}
    for _ in range(args.rounds):
        for kind, tagger in taggers.items():
            started = time.perf_counter()
            tagger.run(batch)
            times[kind].append((time.perf_counter() - started) * 1000 / args.batch)
    ratios = [w / o for w, o in zip(times["with"], times["without"], strict=True)]
    for kind, values in times.items():
        print(
            f"{kind:<8} {part}: {statistics.median(values):6.2f} ms/photo (median of "
            f"{args.rounds}, range {min(values):.2f}-{max(values):.2f})"
        )
    print(f"ratio with/without: median {statistics.median(ratios):.3f} per round")
    width = taggers["with"].feature_dim - taggers["without"].feature_dim
    print(
        f"descriptor: {taggers['without'].feature_dim} -> {taggers['with'].feature_dim} "
        f"numbers (+{width}, {2 * width} bytes per photo as float16)"
    )
    print(f"command: python -m benchmarks.bench_appearance {' '.join(argv or sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
