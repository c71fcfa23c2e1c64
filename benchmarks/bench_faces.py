"""People labels from faces: precision / recall on real photos, detector cost, indexing cost.

    .venv/bin/python -m benchmarks.bench_faces [--repeat 3] [--no-index]

Photos: scikit-image's astronaut (one person) and the six group photos of the npm package
@vladmandic/face-api (3 to 5 people; fetched by ``python -m tests.face_photos``) as positives;
chelsea (a cat), coffee, rocket and foolbox's 20 ImageNet photos (animals, landscapes, objects)
as negatives. Labels are decided at the default thresholds (0.3 for the people leaves).
The detector runs in a worker thread, as in the indexer (one torch thread per worker).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def photos() -> list[tuple[Path, int]]:
    from tests.conftest import foolbox_photos, skimage_photo
    from tests.face_photos import PHOTOS, fetch

    folder = fetch()
    out = [(skimage_photo("astronaut"), 1)]
    out += [(folder / name, people) for name, (_, people) in PHOTOS.items()]
    out += [(skimage_photo(name), 0) for name in ("chelsea", "coffee", "rocket")]
    return out + [(path, 0) for path, _ in foolbox_photos()]


def detector_report(repeat: int) -> None:
    from core.media.imaging import decode
    from core.people.faces import GROUP_PHOTO, PERSON, PORTRAIT, FaceDetector, people_scores

    detector = FaceDetector.load()
    labelled = [(decode(p, min_side=256).image, n, p.name) for p, n in photos()]
    hits = {label: [0, 0, 0] for label in (PERSON, GROUP_PHOTO, PORTRAIT)}  # tp, fp, fn

    def timed(image):  # in the worker: CPU seconds of this thread
        before = time.thread_time()
        summary = detector.summarize(image)
        return summary, time.thread_time() - before

    with ThreadPoolExecutor(1) as pool:
        pool.submit(timed, labelled[0][0]).result()  # warm-up
        wall = cpu = 0.0
        for _ in range(repeat):
            for image, _, _ in labelled:
                started = time.perf_counter()
                cpu += pool.submit(timed, image).result()[1]
                wall += time.perf_counter() - started
        for image, people, name in labelled:
            summary = pool.submit(detector.summarize, image).result()
            scores = people_scores(summary)
            truth = {
                PERSON: people >= 1,
                GROUP_PHOTO: people >= 3,
                PORTRAIT: name == "astronaut.png",
            }
            for label, want in truth.items():
                said = scores[label] >= 0.3
                if said or want:
                    hits[label][0 if said and want else 1 if said else 2] += 1
            print(f"  {name:24s} people {people}  {summary}")
    n = repeat * len(labelled)
    print(
        f"\ndetector: {1000 * wall / n:.0f} ms/photo wall, {1000 * cpu / n:.0f} ms/photo CPU "
        f"(one worker thread, {len(labelled)} photos x {repeat})"
    )
    for label, (tp, fp, fn) in hits.items():
        print(
            f"{label:12s} precision {tp / max(tp + fp, 1):.2f}  recall {tp / max(tp + fn, 1):.2f}"
            f"  (tp {tp}, fp {fp}, fn {fn})"
        )


def index_report() -> None:
    from core.library import Library

    with tempfile.TemporaryDirectory() as tmp:
        album = Path(tmp) / "album"
        album.mkdir()
        for path, _ in photos():
            shutil.copy2(path, album / path.name)
        for faces in (False, True, False, True):
            shutil.rmtree(album / ".albumtag", ignore_errors=True)
            with Library(album) as library:
                library.model()  # load outside the timing
                summary = library.indexer(faces=faces).run()
            print(
                f"index with faces={faces!s:5s}: {summary.photos_per_second:.1f} photos/s "
                f"({summary.tagged} photos)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-index", action="store_true", help="skip the indexing comparison")
    args = parser.parse_args()
    detector_report(args.repeat)
    if not args.no_index:
        index_report()


if __name__ == "__main__":
    main()
