"""Read-side browsing queries: grid rows per scope and search, sidebar counts, tag summaries."""

from __future__ import annotations

import numpy as np
import pytest

from core import browse
from core.browse import Scope
from core.db.tagstore import Scored, VerdictChange
from core.errors import QueryError
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library


def _photo(lib: Library, path: str, mtime: int, **scores: float) -> int:
    pid = lib.store.add_photo(path, 100, mtime)
    if scores:
        ids = lib.label_ids()
        lib.store.record_scores(
            [Scored(pid, 10, 10, None, f"h{pid}", np.array(list(scores.values())), None)],
            [ids[n] for n in scores],
            "fake@1",
            0,
        )
    return pid


def test_grid_rows_by_scope_and_search(library: Library) -> None:
    cat = _photo(library, "a/cat.jpg", 3, cat=0.9)
    dog = _photo(library, "b/dog.jpg", 2, dog=0.9)
    plain = _photo(library, "b/plain.jpg", 1, cat=0.05)
    pending = _photo(library, "new.jpg", 4)
    bad = _photo(library, "bad.jpg", 5)
    library.store.record_error(bad, "truncated image")
    library.store.set_verdicts([VerdictChange(dog, library.label_id("dog"), CONFIRMED)])

    def ids(**kw: object) -> list[int]:
        return [r.id for r in browse.grid_rows(library, **kw)]

    assert ids() == [bad, pending, cat, dog, plain]  # newest file first, everything visible
    assert ids(query="animal") == [cat, dog]
    assert ids(query="path:b") == [dog, plain]
    assert ids(scope=Scope.REVIEW) == [cat]  # dog was confirmed
    assert ids(scope=Scope.UNTAGGED) == [plain]
    assert ids(scope=Scope.ERRORS) == [bad]
    assert ids(scope=Scope.LABEL, label_id=library.label_id("animal"), query="-cat") == [dog]
    rows = {r.id: r for r in browse.grid_rows(library)}
    assert rows[cat].needs_review and not rows[dog].needs_review
    assert rows[bad].error == "truncated image" and rows[cat].name == "cat.jpg"
    assert [r.id for r in browse.grid_rows_by_ids(library, [plain, cat, 999])] == [plain, cat]
    with pytest.raises(QueryError):
        browse.grid_rows(library, query="dog OR")
    counts = browse.scope_counts(library)
    assert counts == browse.ScopeCounts(all=5, review=1, untagged=1, errors=1, pending=1)


def test_tag_summary_over_several_photos(library: Library) -> None:
    one = _photo(library, "1.jpg", 1, cat=0.8, dog=0.1)
    two = _photo(library, "2.jpg", 2, cat=0.6)
    library.store.set_verdicts(
        [
            VerdictChange(one, library.label_id("cat"), CONFIRMED),
            VerdictChange(two, library.label_id("beach"), REJECTED),
        ]
    )
    summary = {s.label: s for s in browse.tag_summary(library, [one, two])}
    cat = summary["cat"]
    assert (cat.photos, cat.has, cat.direct, cat.verified, cat.confirmed) == (2, 2, 2, 1, 1)
    assert cat.score == pytest.approx(0.7) and cat.path[-1] == "cat" and cat.suggested == 1
    assert summary["animal"].has == 2 and summary["animal"].direct == 0
    assert summary["dog"].has == 0 and summary["dog"].score == pytest.approx(0.1)
    assert summary["beach"].rejected == 1 and summary["beach"].has == 0
    order = [s.label for s in browse.tag_summary(library, [one, two])]
    assert order.index("cat") < order.index("animal") < order.index("dog")
    assert browse.suggestions(library, [one, two]) == [(two, library.label_id("cat"))]


def test_label_words_has_names_then_aliases(library: Library) -> None:
    words = browse.label_words(library)
    assert "dog" in words and "puppies" in words
    assert words.index("dog") < words.index("puppies")
    assert len(words) == len({w.lower() for w in words})
