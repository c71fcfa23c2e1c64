"""What going through core.ops costs: a select-all confirm, its undo and a threshold change on a
large album, against the store calls the window made before ops existed.

    .venv/bin/python -m benchmarks.bench_ops [--photos 100000] [--repeats 5]

The album is bench_scale's synthetic store (the real schema and vocabulary, scores for every
photo). Each repeat confirms one label on every photo and undoes it, once through
``core.ops`` (which checks every id is a photo of the album and resolves the label first) and
once through ``TagStore.set_verdicts`` / ``undo_step`` directly; the report gives medians and
the ratio. Nothing here is asserted: the numbers go to README.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.bench_scale import fill
from core import ops
from core.db.store import Status
from core.db.tagstore import VerdictChange
from core.labels.policy import CONFIRMED
from core.library import Library


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _direct_confirm(library: Library, ids: list[int], label: str) -> None:
    lid = library.label_id(label)
    library.store.set_verdicts([VerdictChange(p, lid, CONFIRMED) for p in ids])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        album = Path(tmp) / "album"
        album.mkdir()
        with Library(album) as library:
            start = time.perf_counter()
            fill(library, args.photos)
            print(f"built {args.photos:,} photos in {time.perf_counter() - start:.1f} s")
            ids = [p.id for p in library.store.photos(Status.OK)]
            rows: dict[str, list[float]] = {
                k: []
                for k in (
                    "check ids",
                    "ops.confirm",
                    "store.set_verdicts",
                    "ops.undo",
                    "store.undo_step",
                    "ops.set_threshold",
                    "store.set_manual_threshold",
                )
            }
            for i in range(args.repeats):
                rows["check ids"].append(_seconds(lambda: ops._photo_ids(library, ids)))
                rows["ops.confirm"].append(_seconds(lambda: ops.confirm(library, ids, "sky")))
                rows["ops.undo"].append(_seconds(lambda: ops.undo(library)))
                rows["store.set_verdicts"].append(
                    _seconds(lambda: _direct_confirm(library, ids, "sky"))
                )
                rows["store.undo_step"].append(_seconds(library.store.undo_step))
                value = 0.3 + 0.01 * i
                rows["ops.set_threshold"].append(
                    _seconds(lambda v=value: ops.set_threshold(library, "sky", v))
                )
                rows["store.set_manual_threshold"].append(
                    _seconds(lambda v=value: library.store.set_manual_threshold("sky", v + 0.05))
                )
    median = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n{args.photos:,} photos, median of {args.repeats} (seconds):")
    for key, value in median.items():
        print(f"  {key:<28}{value:8.3f}")
    for op, direct in (
        ("ops.confirm", "store.set_verdicts"),
        ("ops.undo", "store.undo_step"),
        ("ops.set_threshold", "store.set_manual_threshold"),
    ):
        print(f"  {op} / {direct}: {median[op] / median[direct]:.2f}")


if __name__ == "__main__":
    main()
