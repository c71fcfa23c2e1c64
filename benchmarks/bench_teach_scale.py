"""Teach mode on a large album: start-up, refits and memory of the real ``Teacher`` (issue 12).

``bench_one_label`` times the fit alone, from arrays already in memory. This runs what teach
mode's child runs (``trainer.album.teach.Teacher``) on an album database of ``--photos``
photos: the 24 real test photos are indexed with the default model, then every further photo
is one of them with its cached descriptor jittered (float16 noise of 2 % of each value's
size) and its scores copied, written straight into the store. A label of the user's own gets
5 confirmed photos (Mimi the cat, as in the tests); the child's start-up (reading the album,
the prior's column), its first refit (which also computes the prototype features) and
further refits are timed, and the resident memory's peak is read from the kernel.

Run: ``python -m benchmarks.bench_teach_scale [--photos 100000] [--refits 3]`` (a few
minutes and about 2 GB of disk for 100,000 photos; the album goes to a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core.db.store import now
from core.library import Library

#: The labelled test photos whose copies stand for "Mimi" (as ``tests/mimi_album.py``).
CONFIRMED = ("home/chelsea.png",)


def real_album(root: Path) -> Path:
    """The 24 test photos (scikit-image's samples, foolbox's ImageNet photos), indexed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.conftest import real_photo_paths

    album = root / "album"
    for name, src in real_photo_paths.__wrapped__().items():
        folder = album / ("imagenet" if name.startswith("imagenet_") else "home")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, folder / f"{name}{src.suffix}")
    subprocess.run(
        [sys.executable, "-m", "app", "index", str(album), "--no-faces"],
        check=True,
        capture_output=True,
    )
    return album


def grow(album: Path, photos: int, seed: int = 0) -> tuple[int, list[int]]:
    """Add copies of the indexed photos until the album has ``photos``; returns how many it
    has and the ids of the copies of ``CONFIRMED[0]``."""
    rng = np.random.default_rng(seed)
    with Library(album) as library:
        db = library.store.db
        backbone = library.model().backbone_id
        base = db.query(
            "SELECT p.id, f.vector FROM photos p JOIN features f ON f.photo_id = p.id "
            "WHERE f.backbone = ? ORDER BY p.id",
            (backbone,),
        )
        ids = [int(r[0]) for r in base]
        vectors = np.stack([np.frombuffer(r[1], dtype="<f2") for r in base]).astype(np.float32)
        scores = {
            pid: db.query(
                "SELECT label_id, score FROM photo_labels WHERE photo_id = ? AND score IS NOT NULL",
                (pid,),
            )
            for pid in ids
        }
        start = int(db.query("SELECT MAX(id) FROM photos")[0][0]) + 1
        stamp = now()
        db._writer.execute("PRAGMA synchronous = OFF")  # the build only
        added = 0
        mimi = library.photo(CONFIRMED[0]).id
        copies: list[int] = []
        while start + added <= photos:
            n = min(20_000, photos - (start - 1) - added)
            pids = np.arange(start + added, start + added + n)
            source = rng.integers(0, len(ids), size=n)
            noise = rng.normal(size=(n, vectors.shape[1])).astype(np.float32)
            jittered = vectors[source] * (1 + 0.02 * noise)
            blobs = jittered.astype("<f2")
            copies += [int(p) for i, p in enumerate(pids) if ids[source[i]] == mimi]
            with db.write() as w:
                w.conn.executemany(
                    "INSERT INTO photos (id, path, size, mtime_ns, content_hash, width, height, "
                    "status, model_version, added_at) VALUES (?, ?, 1, 1, ?, 640, 480, 'ok', 0, "
                    "?)",
                    [(int(p), f"copies/{p:07d}.jpg", f"c{p}", stamp) for p in pids],
                )
                w.conn.executemany(
                    "INSERT INTO features (photo_id, backbone, vector) VALUES (?, ?, ?)",
                    [(int(p), backbone, blobs[i].tobytes()) for i, p in enumerate(pids)],
                )
                w.conn.executemany(
                    "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, "
                    "updated_at) VALUES (?, ?, ?, 0, 'model', ?)",
                    [
                        (int(p), int(lid), float(sc), stamp)
                        for i, p in enumerate(pids)
                        for lid, sc in scores[ids[source[i]]]
                    ],
                )
            added += n
        db._writer.execute("PRAGMA synchronous = NORMAL")
        library.store.refresh_all_tags()
        count = int(db.query("SELECT COUNT(*) FROM photos WHERE status = 'ok'")[0][0])
        return count, copies


def teach(album: Path, copies: list[int], refits: int) -> dict[str, float | list[float]]:
    """Confirm 5 copies of Mimi's photo for a new label and run the child's steps, timed."""
    from trainer.album.teach import Teacher

    with Library(album) as library:
        library.create_label("Mimi")

        def confirm(ids: list[int]) -> None:
            rows = [library.store.photo(p) for p in ids]
            library.set_verdicts([r for r in rows if r is not None], confirm=["Mimi"])

        started = time.perf_counter()
        teacher = Teacher(library, "Mimi")
        startup = time.perf_counter() - started
        confirm(copies[:5])
        started = time.perf_counter()
        fit = teacher.refit()
        first_refit = time.perf_counter() - started
        later = []
        for extra in copies[5 : 5 + refits]:
            confirm([extra])
            started = time.perf_counter()
            fit = teacher.refit()
            later.append(time.perf_counter() - started)
        return {
            "photos": len(teacher.data.photo_ids),
            "startup": startup,
            "first": first_refit,
            "later": later,
            "likely": fit.likely,
            "cap": float(fit.spread_cap or 0),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--refits", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("ALBUM", "COPIES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    if args.child:  # the teach run, in a process of its own so that its peak memory is its own
        copies = [int(p) for p in Path(args.child[1]).read_text().split()]
        result = teach(Path(args.child[0]), copies, args.refits)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory(prefix="albumtag-teach-") as tmp:
        started = time.perf_counter()
        album = real_album(Path(tmp))
        count, copies = grow(album, args.photos)
        print(f"album of {count:,} photos built in {time.perf_counter() - started:.0f} s")
        listed = Path(tmp) / "copies.txt"
        listed.write_text(" ".join(map(str, copies)))
        child = [sys.executable, "-m", "benchmarks.bench_teach_scale", "--refits"]
        out = subprocess.run(
            [*child, str(args.refits), "--child", str(album), str(listed)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    later = result["later"]
    print(
        f"teach mode on {result['photos']:,} photos: start-up {result['startup']:.1f} s, "
        f"first refit (with the prototype features) {result['first']:.1f} s, later refits "
        f"median {statistics.median(later):.2f} s (range {min(later):.2f}-{max(later):.2f}, "
        f"{len(later)} refits); the label tags {result['likely']} photos"
        + (f" (its cap {result['cap']:.0f})" if result["cap"] else "")
    )
    if result["cap"] and float(result["likely"]) > float(result["cap"]):
        print(
            f"   more than the cap: the album holds {len(copies):,} jittered copies of the "
            "confirmed photo, whose scores tie at 1.0 in float32, above any threshold (near "
            "copies are tagged, as for a label confirmed on one photo)"
        )
    print(f"peak resident memory of the teach process {result['peak_mb']:,.0f} MB")
    print(
        "command: python -m benchmarks.bench_teach_scale "
        f"--photos {args.photos} --refits {args.refits}; torch threads 2"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
