"""What a retrain changes on the photos nobody judged (issue 12.2, issue 17.2).

The synthetic album of ``bench_retrain`` (10,000 photo rows scored by the real prior head, ~2,000
verdicts: a user label on one group of look-alikes, confirmations and rejections of the
model's tags), retrained once with ``python -m trainer train --force``. Reported:

* score rows (``photo_labels`` rows with a model score; the store keeps a score from 0.01 up)
  before and after, and how many of the new ones are below 0.05;
* *untouched labels*: labels without any verified entry (the hierarchy applied, as the trainer
  reads verdicts): the share of their direct model tags that changed (should be 0: they are
  not fitted);
* *touched labels, unjudged photos*: for labels with verdicts, the photos without a verdict
  on that label: tags that appeared or went, and score rows lifted off the floor.

    .venv/bin/python -m benchmarks.bench_drift [--photos 10000] [--verdicts 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_retrain import build_album
from core.library import Library
from trainer.album.targets import LabelTree

ROOT = Path(__file__).resolve().parents[1]
FLOOR = 0.01


def snapshot(album: Path, data: Path) -> dict[str, object]:
    """Score rows, direct model tags and verified (photo, label) pairs of the album."""
    with Library(album, data) as library:
        db = library.store.db
        scores = {
            (int(p), int(lab)): float(s)
            for p, lab, s in db.query(
                "SELECT photo_id, label_id, score FROM photo_labels WHERE score IS NOT NULL"
            )
        }
        tags = {
            (int(p), int(lab))
            for p, lab in db.query("SELECT photo_id, label_id FROM photo_tags WHERE direct = 1")
        }
        verdicts = {
            (int(p), int(lab))
            for p, lab in db.query("SELECT photo_id, label_id FROM photo_labels WHERE verdict != 0")
        }
        tree = LabelTree.from_rows(library.store.labels())
    return {"scores": scores, "tags": tags, "verdicts": verdicts, "tree": tree}


def verified_labels(verdicts: set[tuple[int, int]], tree: LabelTree) -> set[int]:
    """Labels with a verified entry, the hierarchy applied both ways (a verdict on a label
    verifies its ancestors when confirmed and its subtree when rejected: count both)."""
    touched = np.isin(tree.ids, [lab for _, lab in verdicts])
    above = tree.ancestor_matrix() > 0  # [c, a]: a is c or one of c's ancestors
    verified = above[touched].any(axis=0) | above[:, touched].any(axis=1)
    return {int(i) for i in tree.ids[verified]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--verdicts", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="albumtag-drift-") as tmp:
        started = time.perf_counter()
        album, data = build_album(Path(tmp), args.photos, args.verdicts, args.seed)
        print(
            f"synthetic album: {args.photos} photos, ~{args.verdicts} verdicts, built in "
            f"{time.perf_counter() - started:.1f} s; load average {os.getloadavg()[0]:.1f}"
        )
        before = snapshot(album, data)
        command = [sys.executable, "-m", "trainer", "train", str(album), "--data-dir", str(data)]
        started = time.perf_counter()
        subprocess.run([*command, "--force"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        print(f"retrain: {time.perf_counter() - started:.1f} s")
        after = snapshot(album, data)
    report(before, after)
    given = sys.argv[1:] if argv is None else argv
    print(f"command: python -m benchmarks.bench_drift {' '.join(given)}")
    return 0


def report(before: dict, after: dict) -> None:
    s0, s1 = before["scores"], after["scores"]
    new = set(s1) - set(s0)
    low = sum(1 for key in new if s1[key] < 0.05)
    print(
        f"score rows (score >= {FLOOR}): {len(s0):,} before, {len(s1):,} after "
        f"({len(new):,} new, {low:,} of them below 0.05; {len(set(s0) - set(s1)):,} gone)"
    )
    verdicts = before["verdicts"]
    direct = {lab for _, lab in verdicts}
    tree = before["tree"]
    verified = verified_labels(verdicts, tree)
    labels = {int(i) for i in tree.ids}
    groups = (
        ("labels with a verdict of their own", direct),
        ("labels verified only through the hierarchy", verified - direct),
        ("labels nobody verified", labels - verified),
    )
    t0, t1 = before["tags"], after["tags"]
    print("direct model tags on photos without a verdict on the label:")
    for title, keep in groups:
        a = {k for k in t0 if k[1] in keep and k not in verdicts}
        b = {k for k in t1 if k[1] in keep and k not in verdicts}
        rows = [k for k in s0 if k[1] in keep and k not in verdicts]
        moved = np.array([abs(s1.get(k, 0.0) - s0[k]) for k in rows])
        lifted = sum(1 for k in new if k[1] in keep and k not in verdicts)
        print(
            f"  {title} ({len(keep)}): {len(a):,} before, {len(b - a):,} appeared, "
            f"{len(a - b):,} went ({len(a ^ b) / max(len(a), 1):.1%} changed); score rows: "
            f"median |change| {np.median(moved) if moved.size else 0.0:.4f}, "
            f"{lifted:,} lifted off the floor"
        )


if __name__ == "__main__":
    sys.exit(main())
