"""The face detector and the people labels it scores, on real photos.

Positives: scikit-image's astronaut (one large face) and the six group photos of the npm package
@vladmandic/face-api (3 to 5 people each). Negatives: a cat (chelsea), coffee, a rocket and
foolbox's 20 ImageNet photos (animals, landscapes, objects; no faces).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelLoadError
from core.media.imaging import decode
from core.people.faces import (
    GROUP_PHOTO,
    PERSON,
    PORTRAIT,
    Face,
    FaceDetector,
    FaceSummary,
    merge_people,
    people_scores,
    verify_weights,
    weights_folder,
)
from tests.conftest import foolbox_photos, skimage_photo
from tests.face_photos import group_photos

#: The default thresholds of the people labels (leaves of the vocabulary: 0.3).
THRESHOLD = 0.3


def face(x: float, side: float, p: float) -> Face:
    return Face((x, 10.0, x + side, 10.0 + side), p)


def test_confident_faces_count_and_weak_ones_only_beside_a_similar_confident_one():
    size = (400, 300)
    assert FaceSummary.of([], size) == FaceSummary(0, 0.0, 0.0)
    lone_weak = FaceSummary.of([face(0, 40, 0.85)], size)
    assert lone_weak.count == 0 and lone_weak.best == 0.85
    group = FaceSummary.of([face(0, 40, 0.99), face(50, 45, 0.85), face(100, 38, 0.95)], size)
    assert group.count == 3
    assert group.largest == pytest.approx(45 * 45 / (400 * 300), abs=1e-5)
    # A weak detection far smaller than the confident face is not counted.
    assert FaceSummary.of([face(0, 120, 0.99), face(200, 20, 0.85)], size).count == 1
    assert FaceSummary.of([face(0, 40, 0.99), face(50, 40, 0.75)], size).count == 1


def test_people_scores_follow_the_evidence():
    none = people_scores(FaceSummary(0))
    assert none == {PERSON: 0.0, PORTRAIT: 0.0, GROUP_PHOTO: 0.0}
    assert people_scores(FaceSummary(0, 0.0, 0.85))[PERSON] < THRESHOLD  # weak, alone
    portrait = people_scores(FaceSummary(1, 0.08, 0.99))
    assert portrait[PERSON] > 0.9 and portrait[PORTRAIT] > 0.9
    assert portrait[GROUP_PHOTO] < THRESHOLD
    small = people_scores(FaceSummary(1, 0.01, 0.99))
    assert small[PERSON] > 0.9 and small[PORTRAIT] < THRESHOLD
    assert people_scores(FaceSummary(2, 0.05, 0.99))[GROUP_PHOTO] < THRESHOLD
    assert people_scores(FaceSummary(2, 0.05, 0.99))[PORTRAIT] == 0.0
    for count in (3, 4, 12):
        scores = people_scores(FaceSummary(count, 0.02, 0.99))
        assert scores[GROUP_PHOTO] > 0.9 and scores[PORTRAIT] == 0.0
    areas = [people_scores(FaceSummary(1, a, 0.99))[PORTRAIT] for a in np.linspace(0, 0.1, 21)]
    assert areas == sorted(areas)


def test_merge_adds_people_columns_and_keeps_the_larger_score():
    scores = np.array([[0.2, 0.7], [0.1, 0.05]], dtype=np.float32)
    merged, ids = merge_people(
        scores,
        (10, 11),
        {PERSON: 11, PORTRAIT: 12, GROUP_PHOTO: 13},
        [FaceSummary(3, 0.02, 0.99), None],
    )
    assert ids == (10, 11, 12, 13)
    assert merged[0, 0] == pytest.approx(0.2)
    assert merged[0, 1] == pytest.approx(people_scores(FaceSummary(3, 0.02, 0.99))[PERSON])
    assert merged[0, 3] == pytest.approx(0.95)
    np.testing.assert_allclose(merged[1], [0.1, 0.05, 0.0, 0.0])  # no detection: untouched


class InWorker:
    """The detector called from a worker thread, as the indexer's decode workers call it."""

    def __init__(self, detector: FaceDetector, pool: ThreadPoolExecutor) -> None:
        self._detector, self._pool = detector, pool

    def __getattr__(self, name: str):  # summarize, detect
        method = getattr(self._detector, name)
        return lambda *args: self._pool.submit(method, *args).result()


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    loaded = FaceDetector.load()  # shipped with albumtag: never missing
    with ThreadPoolExecutor(1, thread_name_prefix="test-faces") as pool:
        yield InWorker(loaded, pool)


def test_weights_are_verified(tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(weights_folder(), folder)
    verify_weights(folder)
    data = bytearray((folder / "rnet.pt").read_bytes())
    data[-10] ^= 0xFF
    (folder / "rnet.pt").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"rnet\.pt"):
        FaceDetector.load(folder)


def labelled_photos() -> list[tuple[Path, int]]:
    """(photo, people in it) for the evaluation set."""
    photos = [(skimage_photo("astronaut"), 1), *group_photos()]
    photos += [(skimage_photo(name), 0) for name in ("chelsea", "coffee", "rocket")]
    photos += [(path, 0) for path, _ in foolbox_photos()]
    return photos


def evaluate(detector: FaceDetector) -> dict:
    """Precision and recall of person and group photo at the default thresholds."""
    counts = {label: {"tp": 0, "fp": 0, "fn": 0} for label in (PERSON, GROUP_PHOTO)}
    seconds, results = 0.0, []
    for path, people in labelled_photos():
        image = decode(path, min_side=256).image  # what the indexer decodes for the model
        started = time.perf_counter()
        summary = detector.summarize(image)
        seconds += time.perf_counter() - started
        scores = people_scores(summary)
        results.append((path.name, people, summary))
        for label, truth in ((PERSON, people >= 1), (GROUP_PHOTO, people >= 3)):
            said = scores[label] >= THRESHOLD
            key = "tp" if said and truth else "fp" if said else "fn" if truth else None
            if key:
                counts[label][key] += 1
    out = {}
    for label, c in counts.items():
        out[label] = (c["tp"] / max(c["tp"] + c["fp"], 1), c["tp"] / max(c["tp"] + c["fn"], 1))
    out["ms_per_photo"] = 1000 * seconds / len(results)
    out["results"] = results
    return out


def test_people_labels_on_real_photos(detector):
    report = evaluate(detector)
    person_p, person_r = report[PERSON]
    group_p, group_r = report[GROUP_PHOTO]
    print(
        f"\nperson: precision {person_p:.2f} recall {person_r:.2f}; group photo: precision "
        f"{group_p:.2f} recall {group_r:.2f}; {report['ms_per_photo']:.0f} ms/photo"
    )
    for name, people, summary in report["results"]:
        print(f"  {name}: {people} people, {summary}")
    assert person_p == 1.0 and person_r == 1.0
    assert group_p == 1.0 and group_r >= 5 / 6  # sample2: two of three faces look down


def test_the_astronaut_is_a_portrait_and_the_cat_is_nobody(detector):
    astronaut = detector.summarize(decode(skimage_photo("astronaut"), min_side=256).image)
    assert astronaut.count == 1
    assert people_scores(astronaut)[PORTRAIT] > 0.9
    cat = detector.summarize(decode(skimage_photo("chelsea"), min_side=256).image)
    assert cat.count == 0 and people_scores(cat)[PERSON] < THRESHOLD


def test_boxes_are_in_the_images_pixels_whatever_its_size(detector):
    image = decode(skimage_photo("astronaut"), min_side=256).image
    small = detector.detect(image)
    large = detector.detect(image.resize((1024, 1024)))
    assert len(small) == len(large) == 1
    scale = 1024 / image.width
    np.testing.assert_allclose(
        np.array(large[0].box) / scale, small[0].box, atol=0.03 * image.width
    )
    x1, y1, x2, y2 = np.array(small[0].box) / image.width * 512  # in the 512-pixel original
    assert 150 < (x1 + x2) / 2 < 260 and 40 < (y1 + y2) / 2 < 150  # Eileen Collins' face


class FakeDetector:
    """Says every photo shows three faces, except those whose name says "fail"."""

    def summarize(self, image) -> FaceSummary:
        if image.size == (13, 13):
            raise RuntimeError("detector broke")
        return FaceSummary(3, 0.02, 0.99)


def test_people_scores_are_stored_and_survive_rescoring_and_a_detector_failure(tmp_path):
    from PIL import Image

    from core.db.tagstore import TagStore
    from core.pipeline.enrich import Enricher
    from core.pipeline.indexer import Indexer
    from tests.fakes import FAKE_BACKBONE, fake_model

    album = tmp_path / "album"
    album.mkdir()
    Image.new("RGB", (64, 48), (200, 60, 60)).save(album / "a.jpg")
    Image.new("RGB", (13, 13), (60, 60, 200)).save(album / "broken.png")
    store = TagStore(tmp_path / "album.db")
    people = store.upsert_label("people", parent_id=None, kind="builtin", threshold=0.5)
    for name in (PERSON, PORTRAIT, GROUP_PHOTO):
        store.upsert_label(name, parent_id=people, kind="builtin", threshold=0.3)
    animal = store.upsert_label("animal", parent_id=None, kind="builtin", threshold=0.5)
    store.upsert_label("cat", parent_id=animal, kind="builtin", threshold=0.5)
    store.upsert_label("beach", parent_id=None, kind="builtin", threshold=0.5)
    names = {r.id: r.name for r in store.labels()}
    version = [0]

    def indexer() -> Indexer:
        return Indexer(
            album,
            store,
            lambda: fake_model(store, version=version[0]),
            enricher=Enricher(store, faces=FakeDetector),
        )

    def tags(path: str) -> set[str]:
        return {names[lid] for lid, *_ in store.tags_of(store.photo_by_path(path).id)}

    assert indexer().run().errors == 0
    assert {PERSON, GROUP_PHOTO, "people"} <= tags("a.jpg")
    assert PORTRAIT not in tags("a.jpg")
    assert store.face_summaries([store.photo_by_path("a.jpg").id]) == {
        store.photo_by_path("a.jpg").id: FaceSummary(3, 0.02, 0.99)
    }
    broken = store.photo_by_path("broken.png")
    assert broken.status == "ok" and not tags("broken.png") & {PERSON, GROUP_PHOTO}
    version[0] = 1  # a new model version: scores are rebuilt from cached features
    store.add_model(1, FAKE_BACKBONE, None, {}, {"kind": "fake"}, activate=True)
    summary = indexer().run()
    assert summary.rescored == 2 and summary.tagged == 0
    assert {PERSON, GROUP_PHOTO} <= tags("a.jpg")
    store.close()


def test_the_weights_ship_with_albumtag(tmp_path, monkeypatch):
    """No separate package to install: the weights are in the assets (and so in the wheel)."""
    import core.people.faces
    from core.resources import assets_dir

    assert weights_folder() == assets_dir() / "mtcnn"
    verify_weights(weights_folder())
    assert "MIT License" in (weights_folder() / "LICENSE").read_text()
    monkeypatch.setattr(core.people.faces, "assets_dir", lambda: tmp_path)
    with pytest.raises(ModelLoadError, match="reinstall albumtag"):
        weights_folder()
