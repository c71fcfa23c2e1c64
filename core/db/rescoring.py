"""Re-computed scores written in bulk: what a retrain or a new model version does to the store.

A retrain re-scores every photo of the album from its cached features. Writing that one photo
at a time (three statements per photo, then LabelPolicy in Python per photo) took 451 s at
100,000 photos. Here a chunk of photos is one round of set-based work:

1. every label row of the chunk's photos is read in one query and laid out as dense
   (photos, labels) arrays;
2. the new scores are compared with the stored ones in numpy, and only the difference is
   written, with one ``executemany`` each for deletes, updates and inserts. A score within
   :data:`SCORE_TOLERANCE` of the stored one is not rewritten unless it crosses its label's
   threshold or the store's floor — the tags and the two decimals the window shows stay
   exact, and a label the new head moved little costs no writes;
3. the chunk's tags are derived again with LabelPolicy's rules as array operations (a
   rejection blocks its subtree, a label that is on lifts its ancestors; see
   ``core.labels.policy``), and only tags that differ from the stored ones are written.

Verdict columns (``verdict``, ``source``) and the verdict log are never written here: a row
that holds a verdict only ever has its ``score`` replaced, as before.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.db.store import IN_IDS, SCORE_FLOOR, VISIBLE, id_list
from core.labels.policy import CONFIRMED, REJECTED, LabelPolicy

logger = logging.getLogger(__name__)

#: A re-computed score this close to the stored one is left as stored (it neither crosses a
#: threshold nor the floor: those are checked exactly). Below the 0.01 the window shows.
SCORE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class LabelColumns:
    """The album's labels as array columns: ids (sorted), thresholds, and for each column
    the columns of itself and its ancestors (``lift[c, a]`` is 1 where ``a`` is ``c`` or one
    of its ancestors)."""

    ids: NDArray[np.int64]
    thresholds: NDArray[np.float64]
    lift: NDArray[np.float32]

    @classmethod
    def of(cls, parents: dict[int, int | None], policy: LabelPolicy) -> LabelColumns:
        ids = np.array(sorted(parents), dtype=np.int64)
        column = {int(i): c for c, i in enumerate(ids)}
        lift = np.eye(len(ids), dtype=np.float32)
        for c, label in enumerate(ids):
            node, steps = parents.get(int(label)), 0
            while node is not None and node in column and steps <= len(ids):
                lift[c, column[node]] = 1.0
                node, steps = parents.get(node), steps + 1
        thresholds = np.array([policy.threshold(int(i)) for i in ids], dtype=np.float64)
        return cls(ids, thresholds, lift)

    def columns(self, label_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """Column of each label id; -1 for an id that is not a label (a deleted one)."""
        at = np.searchsorted(self.ids, label_ids)
        at = np.minimum(at, max(len(self.ids) - 1, 0))
        found = (self.ids[at] == label_ids) if len(self.ids) else np.zeros(len(label_ids), bool)
        return np.where(found, at, -1)


@dataclass
class Written:
    """How many rows one chunk wrote (for tests and the benchmark)."""

    scores_deleted: int = 0
    scores_updated: int = 0
    scores_inserted: int = 0
    tags_deleted: int = 0
    tags_inserted: int = 0

    def add(self, other: Written) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def write_rescored(
    conn: sqlite3.Connection,
    photo_ids: Sequence[int],
    scores: np.ndarray,
    label_ids: Sequence[int],
    only: Sequence[int] | None,
    labels: LabelColumns,
    stamp: str,
) -> Written:
    """Replace the scores of some photos by re-computed ones and re-derive their tags
    (inside the caller's write transaction).

    Args:
        photo_ids: (n,) the photos.
        scores: (n, K) new scores, a column per entry of ``label_ids`` (-1 or an id that is
            no label: a column to ignore).
        only: When given, the labels whose scores changed: every other label's rows stay as
            stored. When None, the photos' scores are replaced altogether: a label without a
            column here loses its stored score.
        labels: The album's labels and the thresholds of the policy in force.
        stamp: ``updated_at`` of the model rows written.
    """
    pids = np.asarray(photo_ids, dtype=np.int64)
    n, width = len(pids), len(labels.ids)
    written = Written()
    if n == 0:
        return written
    given = np.asarray(label_ids, dtype=np.int64)
    new = np.asarray(scores, dtype=np.float32).reshape(n, len(given))
    if only is not None:
        keep = np.isin(given, np.asarray(list(only), dtype=np.int64))
        given, new = given[keep], new[:, keep]
    cols = labels.columns(given)
    given, new, cols = given[cols >= 0], new[:, cols >= 0], cols[cols >= 0]
    in_scope = np.ones(width, dtype=bool) if only is None else np.isin(np.arange(width), cols)

    old = _read_rows(conn, pids, labels)
    # the scores to store: the new ones in scope (NaN = none), the stored ones elsewhere
    fresh = np.full((n, width), np.nan)
    fresh[:, cols] = np.where(new >= SCORE_FLOOR, new, np.nan)
    target = np.where(in_scope[None, :], fresh, old.score)
    both = ~np.isnan(old.score) & ~np.isnan(target)
    above_old = np.where(np.isnan(old.score), False, old.score >= labels.thresholds)
    above_new = np.where(np.isnan(target), False, target >= labels.thresholds)
    moved = np.where(
        both,
        np.abs(np.nan_to_num(target) - np.nan_to_num(old.score)) > SCORE_TOLERANCE,
        np.isnan(old.score) != np.isnan(target),
    )
    moved |= above_old != above_new
    scope = in_scope[None, :]
    delete = scope & old.exists & old.model_only & np.isnan(target)
    insert = scope & ~old.exists & ~np.isnan(target)
    update = scope & old.exists & ~delete & moved
    stored = np.where(delete, np.nan, np.where(update | insert, target, old.score))

    def cells(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        rows, cols = np.nonzero(mask)
        return rows.astype(np.int64), cols.astype(np.int64)

    i, c = cells(delete)
    conn.executemany(
        "DELETE FROM photo_labels WHERE photo_id = ? AND label_id = ?",
        zip(pids[i].tolist(), labels.ids[c].tolist(), strict=True),
    )
    written.scores_deleted = len(i)
    i, c = cells(update & old.model_only)
    conn.executemany(
        "UPDATE photo_labels SET score = ?, updated_at = ? WHERE photo_id = ? AND label_id = ?",
        zip(
            stored[i, c].tolist(),
            [stamp] * len(i),
            pids[i].tolist(),
            labels.ids[c].tolist(),
            strict=True,
        ),
    )
    written.scores_updated = len(i)
    i, c = cells(update & ~old.model_only)  # a verdict's row (or a cleared one): score only
    conn.executemany(
        "UPDATE photo_labels SET score = ? WHERE photo_id = ? AND label_id = ?",
        zip(
            [None if np.isnan(s) else s for s in stored[i, c].tolist()],
            pids[i].tolist(),
            labels.ids[c].tolist(),
            strict=True,
        ),
    )
    written.scores_updated += len(i)
    i, c = cells(insert)
    conn.executemany(
        "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, updated_at) "
        "VALUES (?, ?, ?, 0, 'model', ?)",
        zip(
            pids[i].tolist(),
            labels.ids[c].tolist(),
            stored[i, c].tolist(),
            [stamp] * len(i),
            strict=True,
        ),
    )
    written.scores_inserted = len(i)
    deleted, inserted = _retag(conn, pids, stored, old, labels)
    written.tags_deleted, written.tags_inserted = deleted, inserted
    return written


@dataclass
class _Rows:
    """The stored label rows of n photos as dense (n, L) arrays."""

    score: NDArray[np.float64]  # NaN: no score
    verdict: NDArray[np.int8]
    exists: NDArray[np.bool_]
    model_only: NDArray[np.bool_]  # no verdict and source 'model': the model's opinion alone
    visible: NDArray[np.bool_]  # (n,) the photo may carry tags
    tagged: NDArray[np.bool_]  # (n,) photos.tagged as stored


def _read_rows(conn: sqlite3.Connection, pids: NDArray[np.int64], labels: LabelColumns) -> _Rows:
    n, width = len(pids), len(labels.ids)
    ids = id_list(pids)
    row_of = {int(p): r for r, p in enumerate(pids)}
    visible = np.zeros(n, dtype=bool)
    tagged = np.zeros(n, dtype=bool)
    for pid, vis, tag in conn.execute(
        f"SELECT id, {VISIBLE}, tagged FROM photos WHERE id {IN_IDS}", (ids,)
    ):
        visible[row_of[pid]], tagged[row_of[pid]] = bool(vis), bool(tag)
    out = _Rows(
        np.full((n, width), np.nan),
        np.zeros((n, width), dtype=np.int8),
        np.zeros((n, width), dtype=bool),
        np.zeros((n, width), dtype=bool),
        visible,
        tagged,
    )
    rows = conn.execute(
        "SELECT photo_id, label_id, score, verdict, source = 'model' FROM photo_labels "
        f"WHERE photo_id {IN_IDS}",
        (ids,),
    ).fetchall()
    if not rows:
        return out
    # one (m, 5) array: NULL scores become NaN; ids are exact in float64 (below 2**53)
    table = np.array(rows, dtype=np.float64)
    order = np.argsort(pids, kind="stable")
    r = order[np.searchsorted(pids, table[:, 0].astype(np.int64), sorter=order)]
    c = labels.columns(table[:, 1].astype(np.int64))
    ok = c >= 0
    r, c, table = r[ok], c[ok], table[ok]
    out.score[r, c] = table[:, 2]
    out.verdict[r, c] = table[:, 3].astype(np.int8)
    out.exists[r, c] = True
    out.model_only[r, c] = (table[:, 4] == 1) & (table[:, 3] == 0)
    return out


def derive(
    score: NDArray[np.float64], verdict: NDArray[np.int8], labels: LabelColumns
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """LabelPolicy's tags of n photos at once: (has, direct, verified), each (n, L).

    ``on`` = confirmed, or no verdict and score >= threshold; a rejected label blocks its
    subtree; ``has`` = an unblocked label that is on and all its ancestors; ``verified`` the
    same from confirmed labels only (``core.labels.policy``).
    """
    with np.errstate(invalid="ignore"):
        scored = np.nan_to_num(score, nan=-1.0) >= labels.thresholds[None, :]
    confirmed = verdict == CONFIRMED
    on = confirmed | ((verdict == 0) & scored)
    lift = labels.lift
    blocked = (verdict == REJECTED).astype(np.float32) @ lift.T > 0
    has = (on & ~blocked).astype(np.float32) @ lift > 0
    verified = (confirmed & ~blocked).astype(np.float32) @ lift > 0
    return has, on, verified


def _retag(
    conn: sqlite3.Connection,
    pids: NDArray[np.int64],
    stored: NDArray[np.float64],
    old: _Rows,
    labels: LabelColumns,
) -> tuple[int, int]:
    """Write the difference between the photos' stored tags and the derived ones."""
    has, direct, verified = derive(stored, old.verdict, labels)
    has &= old.visible[:, None]  # only visible photos carry tags
    i, c = np.nonzero(has)
    new = set(
        zip(
            labels.ids[c].tolist(),
            pids[i].tolist(),
            direct[i, c].astype(int).tolist(),
            verified[i, c].astype(int).tolist(),
            strict=True,
        )
    )
    current = set(
        conn.execute(
            f"SELECT label_id, photo_id, direct, verified FROM photo_tags WHERE photo_id {IN_IDS}",
            (id_list(pids),),
        )
    )
    gone, come = sorted(current - new), sorted(new - current)
    conn.executemany(
        "DELETE FROM photo_tags WHERE label_id = ? AND photo_id = ?", [(r[0], r[1]) for r in gone]
    )
    conn.executemany(
        "INSERT INTO photo_tags (label_id, photo_id, direct, verified) VALUES (?, ?, ?, ?)", come
    )
    now_tagged = np.asarray(has.any(axis=1), dtype=bool)
    flip = np.flatnonzero(now_tagged != old.tagged)
    conn.executemany(
        "UPDATE photos SET tagged = ? WHERE id = ?",
        [(int(now_tagged[k]), int(pids[k])) for k in flip],
    )
    return len(gone), len(come)
