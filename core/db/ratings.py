"""Star ratings (0-5) and pick/reject flags: set by the user, imported from XMP, undoable.

A photo's ``rating`` and ``flag`` are NULL until someone sets them: the user (keys 0-5, P, X,
U in the window) or an import of ``xmp:Rating`` / ``xmpDM:pick`` / ``digiKam:PickLabel`` at
index time. An import never overwrites a value already set, so the user's marks win as their
verdicts do. Every change by the user is one step of the album's undo stack
(:mod:`core.db.journal`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from core.db import journal
from core.db.store import IN_IDS, Store, id_list

logger = logging.getLogger(__name__)

PICK, UNFLAGGED, REJECT = 1, 0, -1
FLAG_NAMES = {PICK: "pick", REJECT: "reject", UNFLAGGED: "none"}


def set_marks(
    store: Store, photo_ids: Sequence[int], *, rating: int | None = None, flag: int | None = None
) -> int | None:
    """Give photos a rating and/or a flag, as one undoable action; the batch, or None when
    nothing changed.

    Raises:
        ValueError: a rating outside 0-5 or a flag other than 1, 0, -1.
    """
    if rating is not None and not (isinstance(rating, int) and 0 <= rating <= 5):
        raise ValueError(f"a rating is 0 to 5 stars, not {rating!r}")
    if flag is not None and flag not in FLAG_NAMES:
        raise ValueError(f"a flag is 1 (pick), 0 (none) or -1 (reject), not {flag!r}")
    ids = sorted(set(int(i) for i in photo_ids))
    with store.db.write() as db:
        conn = db.conn
        before = journal.capture_ratings(conn, ids)
        after = [
            [pid, old_rating if rating is None else rating, old_flag if flag is None else flag]
            for pid, old_rating, old_flag in before
        ]
        changed = [a for a, b in zip(after, before, strict=True) if a != b]
        if not changed:
            return None
        journal.restore_ratings(conn, changed)
        what = (
            f"{rating} star{'s' if rating != 1 else ''}"
            if rating is not None
            else f"flag {FLAG_NAMES[flag or 0]}"
        )
        keep = {a[0] for a in changed}
        return journal.record(
            conn,
            "ratings",
            f"{what} on {len(changed)} photo(s)",
            [b for b in before if b[0] in keep],
            changed,
        )


def marks(store: Store, photo_ids: Sequence[int]) -> dict[int, tuple[int | None, int | None]]:
    """photo id -> (rating, flag), None where never set."""
    return {
        r[0]: (r[1], r[2])
        for r in store.db.query(
            f"SELECT id, rating, flag FROM photos WHERE id {IN_IDS}", (id_list(photo_ids),)
        )
    }


def import_marks(store: Store, found: Mapping[int, tuple[int | None, int | None]]) -> int:
    """Ratings and flags read from files, stored where the photo has none yet (not an undo
    step); how many values were stored."""
    rows = [(pid, r, f) for pid, (r, f) in found.items() if r is not None or f is not None]
    if not rows:
        return 0
    stored = 0
    with store.db.write() as db:
        for pid, rating, flag in rows:
            if rating is not None:
                stored += db.conn.execute(
                    "UPDATE photos SET rating = ? WHERE id = ? AND rating IS NULL",
                    (min(max(rating, 0), 5), pid),
                ).rowcount
            if flag is not None:
                stored += db.conn.execute(
                    "UPDATE photos SET flag = ? WHERE id = ? AND flag IS NULL", (flag, pid)
                ).rowcount
    return stored
