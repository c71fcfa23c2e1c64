"""A confirm-only label whose concept is rare in the album (issue 12): how much does it tag?

The photo set's concepts are common in it (sky is on 37 % of its photos), and a personal label
in a 100,000-photo album is usually rare. Here each concept the prior cannot see (with at least
8 dev photos) is made rare: the album is every photo without it, the k photos the simulated
user confirms, and ``--unjudged`` more of its photos nobody judged; its other photos are left
out. The label is fitted as the album fits it (``fit_residual``, prototype features with the
patch term, 6 seeds per concept) and the photos it tags beyond the confirmed ones are counted:
how many, what share of the unjudged photos, how many are right.

If the share tagged followed the concept's rarity, a rare concept would tag about as many photos
as it has; what it tags instead is what a large album would see, scaled up.

The spread cap (``ResidualConfig.spread_cap``: at most 4 k^2 unjudged photos, 100 at k=5) binds
only in large albums, so its effect is read at the share of the album it allows: in an album of
about 500 photos the most alike unjudged photo is the top 0.2 % of them, what the cap lets a
five-photo label tag in an album of about 50,000 photos, and the 5 most alike are the share it
allows at about 10,000. How often those are right is the precision the capped label keeps
there, if the concept is as rare in the larger album.

Run: ``python -m benchmarks.bench_rare_labels [--k 5] [--unjudged 3 10]`` (about a minute).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from benchmarks.bench_photoset import described, new_label, prototype_features_of
from trainer.learning.residual_fit import (
    ProtoFeatures,
    ResidualConfig,
    normalised_features,
    spread_cap,
)


def subset(features: ProtoFeatures, rows: np.ndarray) -> ProtoFeatures:
    """The same prototype features for ``rows`` only (an album of those photos)."""
    index = torch.from_numpy(rows)
    parts = tuple(replace(p, values=p.values[index]) for p in features.parts)
    patches = features.patches
    return ProtoFeatures(
        parts, None if patches is None else replace(patches, coords=patches.coords[index])
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=5, help="confirmed photos")
    parser.add_argument("--unjudged", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--dest", default=None, help="where the photo set is")
    parser.add_argument(
        "--no-spread-cap",
        action="store_true",
        help="without the cap of 4 k^2 photos (ResidualConfig.spread_cap; the previous default)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    config = ResidualConfig(spread_cap=None) if args.no_spread_cap else ResidualConfig()
    started = time.perf_counter()
    data = described(args.dest)
    features = prototype_features_of(data.features, data.tagger)
    _, u_all = normalised_features(data.features[:, : data.tagger.backbone.feature_dim])
    seen = set(data.tagger.label_names)
    concepts = sorted(
        c
        for c in set().union(*data.truth)
        if sum(c in data.truth[i] for i in data.dev) >= 8
        and (c not in data.vocabulary or c not in seen)
    )
    print(
        f"{len(data.photos)} photos; {len(concepts)} concepts the prior cannot see "
        f"({', '.join(concepts)}), k={args.k} confirmed, {args.seeds} seeds each"
    )
    for unjudged in args.unjudged:
        tagged, right, share, sizes, top = [], [], [], [], {1: [], 5: []}
        for concept in concepts:
            y = np.array([concept in t for t in data.truth])
            positives = np.flatnonzero(y)
            if len(positives) < args.k + unjudged:
                continue
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                kept = rng.choice(positives, args.k + unjudged, replace=False)
                album = np.sort(np.concatenate([np.flatnonzero(~y), kept]))
                n = len(album)
                verified = np.zeros((n, 1), dtype=bool)
                verified[np.searchsorted(album, kept[: args.k]), 0] = True
                served, threshold = new_label(
                    u_all[torch.from_numpy(album)],
                    verified.astype(np.float32),
                    verified,
                    config,
                    seed,
                    subset(features, album),
                )
                on = (served >= threshold) & ~verified[:, 0]
                order = np.argsort(-np.where(verified[:, 0], -np.inf, served), kind="stable")
                for m, found_at in top.items():
                    found_at.append(float(y[album][order[:m]].mean()))
                tagged.append(int(on.sum()))
                right.append(int((on & y[album]).sum()))
                share.append(float(on.sum()) / float((~verified[:, 0]).sum()))
                sizes.append(n - args.k)
        found, size = sum(right), float(np.mean(sizes))
        print(
            f"  {unjudged:>3} unjudged photos of the concept among {size:.0f} on average "
            f"({100 * unjudged / size:.1f} %): tags {np.mean(tagged):.1f} "
            f"({100 * np.mean(share):.1f} % of the unjudged photos), {np.mean(right):.2f} of them "
            f"right; precision {found / max(sum(tagged), 1):.3f} ({len(tagged)} runs)"
        )
        cap = spread_cap(args.k, config)
        print(
            "      its most alike unjudged photo right in "
            f"{np.mean(top[1]):.2f} of the runs, its 5 most alike {np.mean(top[5]):.2f}"
            + (
                f" (the share of the album the cap of {cap:.0f} allows at "
                f"{cap * size:,.0f} and {cap * size / 5:,.0f} photos)"
                if np.isfinite(cap)
                else ""
            )
        )
    print(
        f"\ncommand: python -m benchmarks.bench_rare_labels "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}".rstrip()
        + f"   ({time.perf_counter() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
