"""How long Model → Retrain takes on a 10,000-photo album, on this machine's CPU.

A synthetic album: 10,000 photo rows with random float16 pooled features of the default
backbone's real width (1280), scored by the real prior head (version 0) over the full
vocabulary, and ~2,000 user verdicts (confirmations and rejections of built-in labels plus a
user label "Grandma" confirmed on one group of look-alike photos). No image exists on disk: the
head trains on cached features and the album is re-scored from them, as in real use.

Each repeat restores the same album and runs the whole command
``python -m trainer train ALBUM --data-dir D --json-progress --force`` in a subprocess, timing
the command's wall clock and each phase (from the progress lines); the train step is the
"training" phase (cross-fitting plus the final fit). ``--force`` activates the new version
whatever the comparison says, so that the re-scoring of all photos is always part of the time.
After the runs it checks that no run changed a verdict row or the verdict log, and times a
one-label threshold change on the retrained album (``bench_scale.one_label_threshold``).

    .venv/bin/python benchmarks/bench_retrain.py [--photos 10000] [--verdicts 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_scale import one_label_threshold
from core.db.store import Status
from core.db.tagstore import Scored, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library


def synthetic_features(
    classifier: np.ndarray, n: int, rng: np.random.Generator, groups: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative features in look-alike groups that the ImageNet classifier recognises.

    Each group's centre leans towards one or two random ImageNet classes, so the prior head
    gives about two confident tags per photo, like real photos (real pooled features of the
    default backbone: mean ~0.17, max ~5).
    """
    dim = classifier.shape[1]
    members = rng.integers(0, classifier.shape[0], size=(groups, 2))
    lean = classifier[members[:, 0]] + (rng.random((groups, 1)) < 0.5) * classifier[members[:, 1]]
    lean = 0.17 * lean / np.abs(lean).mean(axis=1, keepdims=True)
    base = np.maximum(rng.normal(-0.2, 0.6, size=(groups, dim)), 0.0)
    centres = np.maximum(0.5 * base + lean, 0.0)
    group = rng.integers(0, groups, size=n)
    noise = rng.normal(0.0, 0.3, size=(n, dim))
    return np.maximum(centres[group] + noise, 0.0).astype(np.float16), group


def build_album(folder: Path, photos: int, verdicts: int, seed: int) -> tuple[Path, Path]:
    """Create the synthetic album; returns (album folder, data folder)."""
    album, data = folder / "album", folder / "data"
    album.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with Library(album, data) as library:
        model = library.model()  # registers version 0 (the prior head) on the real backbone
        weights = model.tagger.backbone.model.get_classifier().weight.detach().numpy()
        features, groups = synthetic_features(weights, photos, rng)
        # descriptors: pooled features, then regional evidence (none here: no feature map)
        pad = model.tagger.feature_dim - features.shape[1]
        features = np.hstack([features, np.zeros((photos, pad), dtype=np.float16)])
        store = library.store
        with store.db.write() as db:
            db.conn.executemany(
                "INSERT INTO photos (path, size, mtime_ns, status, added_at) "
                "VALUES (?, 1000, 0, 'pending', '2024-01-01')",
                [(f"p{i:05d}.jpg",) for i in range(photos)],
            )
        ids = [p.id for p in store.photos(tuple(Status))]
        for start in range(0, photos, 1000):
            chunk = slice(start, start + 1000)
            scores = model.tagger.score_features(features[chunk].astype(np.float32))
            store.record_scores(
                [
                    Scored(pid, 640, 480, None, f"h{pid}", s, f)
                    for pid, s, f in zip(ids[chunk], scores, features[chunk], strict=True)
                ],
                model.label_ids,
                model.backbone_id,
                model.version,
            )
        add_verdicts(library, ids, groups, verdicts, rng)
    return album, data


def add_verdicts(
    library: Library, ids: list[int], groups: np.ndarray, count: int, rng: np.random.Generator
) -> None:
    """About ``count`` verdicts, like a user's: a label of their own on one group of look-alike
    photos, then corrections of the model's tags — the model is wrong on some groups (their
    first tag is rejected there) and right elsewhere (confirmed)."""
    grandma = library.create_label("Grandma").id
    in_group = [ids[i] for i in np.flatnonzero(groups == 7)][:80]
    others = [ids[i] for i in rng.choice(np.flatnonzero(groups != 7), 60, replace=False)]
    changes = [VerdictChange(p, grandma, CONFIRMED) for p in in_group]
    changes += [VerdictChange(p, grandma, REJECTED) for p in others]
    wrong_groups = set(
        rng.choice(int(groups.max()) + 1, size=(int(groups.max()) + 1) // 6, replace=False).tolist()
    )
    group_of = dict(zip(ids, groups.tolist(), strict=True))
    tags: dict[int, list[int]] = {}
    for pid, lid in library.store.db.query(
        "SELECT photo_id, label_id FROM photo_tags WHERE direct = 1 ORDER BY label_id"
    ):
        tags.setdefault(pid, []).append(lid)
    for pid in rng.permutation([p for p in ids if p in tags]):
        if len(changes) >= count:
            break
        pid = int(pid)
        wrong = group_of[pid] in wrong_groups
        for rank, lid in enumerate(tags[pid][:2]):
            verdict = REJECTED if wrong and rank == 0 else CONFIRMED
            changes.append(VerdictChange(pid, lid, verdict))
    for start in range(0, len(changes), 200):
        library.store.set_verdicts(changes[start : start + 200])


VERDICTS = (
    "SELECT photo_id, label_id, verdict, source, updated_at FROM photo_labels "
    "WHERE verdict != 0 OR source != 'model' ORDER BY 1, 2"
)
LOG = "SELECT * FROM verdict_log ORDER BY id"


def user_facts(album: Path, data: Path) -> tuple[list, list]:
    """Every verdict row and the whole verdict log of an album's database."""
    with Library(album, data) as library:
        return library.store.db.query(VERDICTS), library.store.db.query(LOG)


def row_counts(album: Path, data: Path) -> tuple[int, int]:
    """Score rows (``photo_labels`` with a score) and tag rows of an album's database."""
    with Library(album, data) as library:
        query = library.store.db.query
        scores = query("SELECT count(*) FROM photo_labels WHERE score IS NOT NULL")[0][0]
        return int(scores), int(query("SELECT count(*) FROM photo_tags")[0][0])


def run_once(album: Path, data: Path, template: Path) -> dict[str, float]:
    """Restore the album and time one ``python -m trainer train`` command."""
    shutil.rmtree(data)
    shutil.copytree(template, data)
    command = [
        sys.executable,
        "-m",
        "trainer",
        "train",
        str(album),
        "--data-dir",
        str(data),
        "--json-progress",
        "--force",
    ]  # --force: always time the re-scoring too
    started = time.perf_counter()
    first_seen: dict[str, float] = {}
    final: dict = {}
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            now = time.perf_counter() - started
            if event["event"] == "progress":
                first_seen.setdefault(event["phase"], now)
            else:
                final = event | {"at": now}
    total = time.perf_counter() - started
    if proc.returncode != 0 or final.get("event") != "done":
        raise SystemExit(f"training failed ({proc.returncode}): {final}")
    marks = [*sorted(first_seen.items(), key=lambda kv: kv[1]), ("end", final["at"])]
    phases = {name: marks[i + 1][1] - at for i, (name, at) in enumerate(marks[:-1])}
    return {
        "command": total,
        "startup": marks[0][1],
        **phases,
        "activated": float(final["activated"]),
        "f1_before": final["before"].get("f1"),
        "f1_after": final["after"].get("f1"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--verdicts", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="albumtag-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        album, data = build_album(folder, args.photos, args.verdicts, args.seed)
        template = folder / "template"
        shutil.copytree(data, template)
        print(
            f"synthetic album: {args.photos} photos, ~{args.verdicts} verdicts, built in "
            f"{time.perf_counter() - started:.1f} s; {os.cpu_count()} CPU cores, load "
            f"average {os.getloadavg()[0]:.1f}"
        )
        before = user_facts(album, data)
        rows_before = row_counts(album, data)
        runs = []
        for _ in range(args.repeats):
            runs.append(run_once(album, data, template))
            runs[-1]["verdicts_kept"] = float(user_facts(album, data) == before)
        rows_after = row_counts(album, data)
        with Library(album, data) as library:
            threshold = one_label_threshold(library)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    keys = [
        "command",
        "startup",
        "loading",
        "training",
        "thresholds",
        "evaluating",
        "saving",
        "rescoring",
    ]
    print(f"{'seconds':<12}{'median':>8}   runs")
    for key in keys:
        values = [r[key] for r in runs if key in r]
        if values:
            print(
                f"{key:<12}{statistics.median(values):8.2f}   "
                + " ".join(f"{v:.2f}" for v in values)
            )
    print(
        f"held-out F1 before/after: {runs[-1]['f1_before']} / {runs[-1]['f1_after']}, "
        f"activated: {bool(runs[-1]['activated'])}"
    )
    print(
        f"score rows {rows_before[0]:,} -> {rows_after[0]:,}, tag rows {rows_before[1]:,} -> "
        f"{rows_after[1]:,} (before the retrain -> after the last run)"
    )
    print(
        "every verdict and the verdict log unchanged by each run: "
        + ("yes" if all(r["verdicts_kept"] for r in runs) else "NO")
    )
    print(
        f"one-label threshold change after the retrain ({threshold['label']!r}, scored on "
        f"{threshold['photos']:,} photos): p50 {threshold['p50_s']:.2f} s over "
        f"{len(threshold['runs'])} changes ("
        + " ".join(f"{v:.2f}" for v in threshold["runs"])
        + ")"
    )


if __name__ == "__main__":
    main()
