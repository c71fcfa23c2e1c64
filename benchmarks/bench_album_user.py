"""A whole album judged by a thorough user, through the real stack (issue 12).

This is the check the issue was filed from, on the labelled real photos (``benchmarks/photoset``):
an album of one split's photos is indexed by the app's own indexer (default model, faces on);
the photos are dealt into two halves by a hash of their names. A simulated user works on one
half as the window invites: creates the labels the vocabulary lacks (``EXTRA_LABELS``),
confirms every true label of every photo (the photo's own labels and every true tag it was
shown), rejects every wrong tag it was shown, and trains (``trainer.album.train``, forced
active, as ``albumtag train --force``). Tags are read back through ``Library.tags`` (the
hierarchy applied) and scored on the **other** half, which nobody judged, before and after
training. Both halves take a turn; figures are per turn.

Reported: macro-F1 (from averaged precision and recall) over the concepts the vocabulary
names that have a photo on the scored half, and for the new labels their F1, precision and the
photos they tag. An extra label the vocabulary knows by another name (cloud: an alias of sky)
is not new: creating it finds the existing label.

Unlike ``bench_photoset`` (which fits one simulated user's label at a time from cached
descriptors), this runs the window's own path end to end: index, verdicts in the store,
training with every label at once, re-scoring, the tag read-out. ``--split dev`` is for tuning;
on dev, version 0's starter was fitted on the very photos scored, so its "before" is flattered
(``--no-starter`` scores version 0 without it).

Run: ``python -m benchmarks.bench_album_user [--split holdout|dev] [--no-starter]`` (about a
minute).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchmarks.bench_photoset import closed
from benchmarks.photoset import EXTRA_LABELS, Photo, load_photoset
from core.labels.vocabulary import Vocabulary
from core.library import Library
from core.pipeline.indexer import IndexSummary
from trainer.album.run import TrainOptions
from trainer.learning.metrics import f1_score

Score = tuple[int, int, float, float, float]  # positives, tagged, precision, recall, F1


def new_labels() -> frozenset[str]:
    """The extra labels the built-in vocabulary does not know by any name."""
    vocabulary = Vocabulary.load()
    return frozenset(c for c in EXTRA_LABELS if vocabulary.resolve(c) is None)


def half_of(name: str) -> int:
    """The half a photo belongs to: fixed by its file name, not by its labels."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2


def index_album(photos: list[Photo], folder: Path) -> IndexSummary:
    folder.mkdir(parents=True)
    for photo in photos:
        shutil.copy(photo.path, folder / photo.path.name)
    with Library(folder) as library:
        return library.indexer().run()


def shown(library: Library, names: Iterable[str]) -> dict[str, set[str]]:
    """The labels each photo carries (hierarchy applied), as the window shows them."""
    return {n: {t.label for t in library.tags(library.photo(n)) if t.has} for n in names}


def scores(
    tags: dict[str, set[str]], truth: dict[str, set[str]], concepts: Iterable[str]
) -> dict[str, Score]:
    out = {}
    names = sorted(tags)
    for c in concepts:
        t = np.array([c in truth[n] for n in names])
        if not t.any():
            continue
        p = np.array([c in tags[n] for n in names])
        tp = int((t & p).sum())
        prec = tp / p.sum() if p.any() else 0.0
        rec = tp / t.sum()
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[c] = (int(t.sum()), int(p.sum()), float(prec), float(rec), float(f1))
    return out


def macro_f1(rows: Iterable[Score]) -> float:
    """F1 of the concepts' averaged precision and recall (the papers' convention)."""
    rows = list(rows)
    return f1_score(float(np.mean([r[2] for r in rows])), float(np.mean([r[3] for r in rows])))


def judge(library: Library, photos: list[Photo]) -> tuple[int, int]:
    """The thorough user on ``photos``: every true label confirmed, every wrong one shown
    rejected. Returns the confirmations and rejections made."""
    for name in EXTRA_LABELS:
        library.create_label(name)
    vocabulary = library.vocabulary
    confirmed = rejected = 0
    for photo in photos:
        row = library.photo(photo.path.name)
        on = {t.label for t in library.tags(row) if t.has}
        truth = closed(photo.labels, vocabulary)
        own = {vocabulary.resolve(label) for label in photo.labels}  # "cloud" is sky's alias
        confirm = sorted({name for name in own if name is not None} | (on & truth))
        reject = sorted(on - truth)
        library.set_verdicts([row], confirm=confirm, reject=reject)
        confirmed += len(confirm)
        rejected += len(reject)
    return confirmed, rejected


def review(library: Library, photos: list[Photo], labels: Iterable[str]) -> int:
    """The user follows the retrain report's advice: for each label named for review, every
    photo of their half that now carries it without a verdict is confirmed or rejected.
    Returns the verdicts given."""
    wanted = set(labels)
    given = 0
    for photo in photos:
        row = library.photo(photo.path.name)
        unjudged = {t.label for t in library.tags(row) if t.has and not t.verdict}
        truth = closed(photo.labels, library.vocabulary)
        todo = unjudged & wanted
        if todo:
            library.set_verdicts([row], confirm=sorted(todo & truth), reject=sorted(todo - truth))
            given += len(todo)
    return given


def turn(
    indexed: Path, work: Path, photos: list[Photo], judged: int, reviewing: bool = False
) -> dict:
    """One half judged, the other scored: the figures before and after training (and, with
    ``reviewing``, after reviewing the labels the report names and training again)."""
    from core.training_events import doubtful_labels
    from trainer.album.train import train

    album = work / f"turn{judged}"
    shutil.copytree(indexed, album)
    mine = [p for p in photos if half_of(p.path.name) == judged]
    scored = [p.path.name for p in photos if half_of(p.path.name) != judged]
    with Library(album) as library:
        truth = {p.path.name: closed(p.labels, library.vocabulary) for p in photos}
        concepts = {c for n in scored for c in truth[n]}
        before = scores(shown(library, scored), truth, concepts)
        confirmed, rejected = judge(library, mine)
    started = time.perf_counter()
    outcome = train(album, TrainOptions(force=True))
    seconds = time.perf_counter() - started
    with Library(album) as library:
        after = scores(shown(library, scored), truth, concepts)
    reviewed = None
    if reviewing:
        named = [str(row["label"]) for row in doubtful_labels(outcome.labels)]
        with Library(album) as library:
            given = review(library, mine, named)
        train(album, TrainOptions(force=True))
        with Library(album) as library:
            reviewed = (len(named), given, scores(shown(library, scored), truth, concepts))
    new = sorted(c for c in after if c in new_labels())
    old = sorted(c for c in after if c not in EXTRA_LABELS and c in before)
    return {
        "reviewed": reviewed,
        "judged": len(mine),
        "scored": len(scored),
        "confirmed": confirmed,
        "rejected": rejected,
        "version": outcome.version,
        "seconds": seconds,
        "old": old,
        "new": new,
        "before": before,
        "after": after,
    }


def print_turn(number: int, r: dict, detail: bool) -> None:
    before, after, old, new = r["before"], r["after"], r["old"], r["new"]
    print(
        f"\nturn {number}: {r['judged']} photos judged ({r['confirmed']} confirmations, "
        f"{r['rejected']} rejections), {r['scored']} scored; training {r['seconds']:.1f} s"
    )
    print(
        f"   existing labels ({len(old)} concepts): macro-F1 {macro_f1(before[c] for c in old):.3f}"
        f" -> {macro_f1(after[c] for c in old):.3f}"
    )
    if new:
        f1 = np.mean([after[c][4] for c in new])
        prec = np.mean([after[c][2] for c in new])
        tagged = sum(after[c][1] for c in new)
        print(
            f"   new labels ({len(new)}): mean F1 {f1:.3f}, mean precision {prec:.3f}, "
            f"{tagged} photos tagged (0 before)"
        )
        for c in new:
            n, t, p, rec, f = after[c]
            print(f"      {c:<12} {n:>3} photos  tagged {t:>3}  P {p:.2f}  R {rec:.2f}  F1 {f:.2f}")
    if r["reviewed"] is not None:
        named, given, again = r["reviewed"]
        print(
            f"   after reviewing the {named} labels the report names ({given} verdicts) and "
            f"training again: existing macro-F1 {macro_f1(again[c] for c in old):.3f}"
            + (
                f", new labels mean F1 {np.mean([again[c][4] for c in new]):.3f}, "
                f"precision {np.mean([again[c][2] for c in new]):.3f}"
                if new
                else ""
            )
        )
    if detail:
        moved = sorted(old, key=lambda c: after[c][4] - before[c][4])
        for c in moved[:10] + moved[-10:]:
            b, a = before[c], after[c]
            print(
                f"      {c:<20} {a[0]:>3} photos  F1 {b[4]:.2f} -> {a[4]:.2f}  "
                f"tagged {b[1]} -> {a[1]}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("holdout", "dev"), default="holdout")
    parser.add_argument("--dest", type=Path, default=None, help="where the photo set is")
    parser.add_argument(
        "--no-starter",
        action="store_true",
        help="version 0 without the shipped starter (the prior alone)",
    )
    parser.add_argument(
        "--detail", action="store_true", help="the existing labels that moved most, per turn"
    )
    parser.add_argument(
        "--review",
        action="store_true",
        help="then follow the retrain report: judge the new tags of the labels it names for "
        "review on the user's half, and train again",
    )
    parser.add_argument("--keep", type=Path, default=None, help="build the albums here, keep them")
    args = parser.parse_args(argv)
    if args.no_starter:
        import core.model.versions

        core.model.versions.usable_starter = lambda *_a, **_k: None  # type: ignore[assignment]
    photos = [p for p in load_photoset(args.dest) if p.split == args.split]
    work = args.keep or Path(tempfile.mkdtemp(prefix="albumtag-user-"))
    started = time.perf_counter()
    try:
        summary = index_album(photos, work / "indexed")
        print(
            f"album: {len(photos)} {args.split} photos, indexed in "
            f"{time.perf_counter() - started:.0f} s ({summary.errors} errors)"
            + ("; version 0 without the starter" if args.no_starter else "")
        )
        for judged in (0, 1):
            outcome = turn(work / "indexed", work, photos, judged, args.review)
            print_turn(judged + 1, outcome, args.detail)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    flags = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\ncommand: python -m benchmarks.bench_album_user {flags}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
