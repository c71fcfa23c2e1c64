"""The quality view's threshold preview counts what the policy would tag (issue 14 leftover):
confirmed photos always, rejected ones never, the others by score against the threshold."""

from __future__ import annotations

import numpy as np
import pytest

from core.db.tagstore import Scored, VerdictChange
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.quality import label_quality


def _photo(lib: Library, path: str, **scores: float) -> int:
    pid = lib.store.add_photo(path, 100, 1)
    ids = lib.label_ids()
    lib.store.record_scores(
        [Scored(pid, 10, 10, None, f"h{pid}", np.array(list(scores.values())), None)],
        [ids[n] for n in scores],
        "fake@1",
        0,
    )
    return pid


def _direct(lib: Library, label: str) -> int:
    """Photos where the store itself has the label on (its own tags table)."""
    return lib.store.db.query(
        "SELECT COUNT(*) FROM photo_tags WHERE label_id = ? AND direct = 1", (lib.label_id(label),)
    )[0][0]


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.55, 0.8, 0.95])
def test_the_preview_counts_what_the_store_tags_at_that_threshold(
    library: Library, threshold: float
) -> None:
    cat = library.label_id("cat")
    low_confirmed = _photo(library, "a.jpg", cat=0.1)
    high_rejected = _photo(library, "b.jpg", cat=0.9)
    for n, score in enumerate((0.2, 0.4, 0.6, 0.7, 0.85, 0.99)):
        _photo(library, f"open{n}.jpg", cat=score)
    unscored = _photo(library, "c.jpg", dog=0.9)  # confirmed by hand, the model never scored it
    library.store.set_verdicts(
        [
            VerdictChange(low_confirmed, cat, CONFIRMED),
            VerdictChange(high_rejected, cat, REJECTED),
            VerdictChange(unscored, cat, CONFIRMED),
        ]
    )
    q = next(q for q in label_quality(library).labels if q.name == "cat")
    confirmed, by_model = q.would_tag(threshold)
    assert confirmed == 2  # at any threshold, the rejected 0.9 never counts
    assert by_model == sum(s >= threshold for s in (0.2, 0.4, 0.6, 0.7, 0.85, 0.99))
    library.store.set_manual_threshold("cat", threshold)  # what the store then tags
    assert confirmed + by_model == _direct(library, "cat")
