"""The review queue (issue 14.2): what an answer would teach first, labels taking turns."""

from __future__ import annotations

import numpy as np
import pytest

from core import browse
from core.browse import Order, Scope
from core.db.tagstore import Scored, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.search import review


def _photo(lib: Library, path: str, mtime: int, **scores: float) -> int:
    pid = lib.store.add_photo(path, 100, mtime)
    ids = lib.label_ids()
    lib.store.record_scores(
        [Scored(pid, 10, 10, None, f"h{pid}", np.array(list(scores.values())), None)],
        [ids[n] for n in scores],
        "fake@1",
        0,
    )
    return pid


def _threshold(lib: Library, name: str) -> float:
    return lib.store.policy().threshold(lib.label_id(name))


def test_value_is_highest_on_the_threshold_and_for_untaught_labels() -> None:
    assert review.uncertainty(0.5, 0.5) == pytest.approx(1.0)
    assert (
        review.uncertainty(0.55, 0.5)
        > review.uncertainty(0.9, 0.5)
        > review.uncertainty(0.999, 0.5)
    )
    assert review.novelty(0) == 1.0 and review.novelty(5) == 0.5 and review.novelty(20) < 0.25


def test_near_the_threshold_first_then_date_order_stays_available(library: Library) -> None:
    t = _threshold(library, "cat")
    sure = _photo(library, "sure.jpg", 3, cat=0.99)  # newest, but the model is sure
    close = _photo(library, "close.jpg", 1, cat=min(t + 0.02, 0.99))
    middle = _photo(library, "middle.jpg", 2, cat=(t + 1.0) / 2)
    _photo(library, "below.jpg", 4, cat=max(t - 0.2, 0.02))  # not tagged: nothing to review
    ranked = [r.id for r in browse.grid_rows(library, scope=Scope.REVIEW, order=Order.TEACHES)]
    assert ranked == [close, middle, sure]
    by_date = [r.id for r in browse.grid_rows(library, scope=Scope.REVIEW, order=Order.NEWEST)]
    assert by_date == [sure, middle, close]
    first = browse.grid_rows(library, scope=Scope.REVIEW, order=Order.TEACHES, limit=2)
    assert [r.id for r in first] == [close, middle]


def test_labels_with_few_verdicts_come_first(library: Library) -> None:
    # Same distance from each threshold; "dog" already has 10 verdicts, "car" none.
    dog_t, car_t = _threshold(library, "dog"), _threshold(library, "car")
    gap = 0.05
    dog = _photo(library, "dog.jpg", 2, dog=dog_t + gap)
    car = _photo(library, "car.jpg", 1, car=car_t + gap)
    taught = [_photo(library, f"taught{i}.jpg", 10 + i, dog=0.99) for i in range(10)]
    library.store.set_verdicts(
        [
            VerdictChange(p, library.label_id("dog"), CONFIRMED if i % 3 else REJECTED)
            for i, p in enumerate(taught)
        ]
    )
    queue = review.questions(library.store)
    assert queue[car].value > queue[dog].value
    ranked = review.rank(library.store, [dog, car])
    assert ranked == [car, dog]


def test_labels_take_turns(library: Library) -> None:
    t = _threshold(library, "cat")
    cats = [_photo(library, f"cat{i}.jpg", i, cat=min(t + 0.01 * (i + 1), 0.99)) for i in range(6)]
    rockets = [
        _photo(
            library,
            f"rocket{i}.jpg",
            100 + i,
            rocket=min(_threshold(library, "rocket") + 0.2, 0.99),
        )
        for i in range(2)
    ]
    ranked = [r.id for r in browse.grid_rows(library, scope=Scope.REVIEW, order=Order.TEACHES)]
    assert sorted(ranked) == sorted(cats + rockets)
    # the best cat, a rocket; the second cat, the other rocket; then the remaining cats
    assert ranked[0] == cats[0] and ranked[1] in rockets
    assert ranked[2] == cats[1] and ranked[3] in rockets
    assert ranked[4:] == cats[2:]
    labels = ["cat" if pid in cats else "rocket" for pid in ranked[:4]]
    assert labels == ["cat", "rocket", "cat", "rocket"]


def test_confirmed_photos_leave_the_queue(library: Library) -> None:
    t = _threshold(library, "cat")
    a = _photo(library, "a.jpg", 1, cat=min(t + 0.01, 0.99))
    b = _photo(library, "b.jpg", 2, cat=0.99)
    library.store.set_verdicts([VerdictChange(a, library.label_id("cat"), CONFIRMED)])
    assert set(review.questions(library.store)) == {b}
    assert [r.id for r in browse.grid_rows(library, scope=Scope.REVIEW, order=Order.TEACHES)] == [b]
