"""The journal of edits that are not verdicts: label manager changes and ratings.

Verdicts have their own log (``verdict_log``, in :mod:`core.db.tagstore`); everything else the
user changes by hand is journalled here, in the same sequence of batch numbers, so one undo
stack (Ctrl+Z, ``albumtag undo``) steps back through both in the order they were made.

An entry holds the state it replaced and the state it made, as JSON snapshots. Undo writes the
"before" snapshot back, redo the "after" one. Because the stack is strictly last-in first-out,
the rows a snapshot names are exactly as the change left them when it is undone.

Two kinds of snapshot:

- ``ratings``: ``[[photo id, rating, flag], ...]``.
- ``labels``: some labels' rows, the photo_labels rows (scores and verdicts) of some of them,
  and the meta entries the change touched (see :func:`capture_labels`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.db.store import IN_IDS, id_list, now

#: meta keys a label change may touch (kept in its snapshots).
LABEL_META_KEYS = ("manual_thresholds", "retired_labels", "relocated_labels")


@dataclass(frozen=True)
class Step:
    """One undone or redone user action."""

    kind: str  # 'verdicts', 'labels' or 'ratings'
    what: str  # in words, for a status bar
    photos: list[int]  # photos whose tags or ratings it changed


def next_batch(conn: sqlite3.Connection) -> int:
    """The batch number of a new user action (verdicts and journal entries share them)."""
    row = conn.execute(
        "SELECT MAX(b) FROM (SELECT MAX(batch) AS b FROM verdict_log "
        "UNION ALL SELECT MAX(batch) FROM edit_log)"
    ).fetchone()
    return (row[0] or 0) + 1


def drop_undone(conn: sqlite3.Connection) -> None:
    """A new action makes every undone step unreachable: keep them, marked dropped."""
    conn.execute("UPDATE verdict_log SET state = 'dropped' WHERE state = 'undone'")
    conn.execute("UPDATE edit_log SET state = 'dropped' WHERE state = 'undone'")


def record(conn: sqlite3.Connection, kind: str, what: str, before: object, after: object) -> int:
    """Journal one action (inside the caller's write transaction); its batch number."""
    batch = next_batch(conn)
    drop_undone(conn)
    conn.execute(
        "INSERT INTO edit_log (batch, kind, what, before, after, at) VALUES (?, ?, ?, ?, ?, ?)",
        (batch, kind, what, json.dumps(before), json.dumps(after), now()),
    )
    return batch


def latest(conn: sqlite3.Connection, state: str, pick: str) -> tuple[str, int] | None:
    """('verdicts' or 'journal', batch) of the step undo (MAX of 'done') or redo (MIN of
    'undone') would take, or None."""
    rows = [
        (
            table,
            conn.execute(f"SELECT {pick}(batch) FROM {name} WHERE state = ?", (state,)).fetchone()[
                0
            ],
        )
        for table, name in (("verdicts", "verdict_log"), ("journal", "edit_log"))
    ]
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return None
    choose = max if pick == "MAX" else min
    return choose(rows, key=lambda r: r[1])


def entry(conn: sqlite3.Connection, batch: int) -> tuple[int, str, str, Any, Any]:
    row = conn.execute(
        "SELECT id, kind, what, before, after FROM edit_log WHERE batch = ?", (batch,)
    ).fetchone()
    return row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4])


# -- ratings ------------------------------------------------------------------------------
def capture_ratings(conn: sqlite3.Connection, photo_ids: Sequence[int]) -> list[list[Any]]:
    return [
        list(r)
        for r in conn.execute(
            f"SELECT id, rating, flag FROM photos WHERE id {IN_IDS}", (id_list(photo_ids),)
        )
    ]


def restore_ratings(conn: sqlite3.Connection, snapshot: list[list[Any]]) -> list[int]:
    conn.executemany(
        "UPDATE photos SET rating = ?, flag = ? WHERE id = ?",
        [(rating, flag, pid) for pid, rating, flag in snapshot],
    )
    return [int(r[0]) for r in snapshot]


# -- labels -------------------------------------------------------------------------------
def capture_labels(conn: sqlite3.Connection, label_ids: Iterable[int]) -> dict[str, Any]:
    """The state a label change may alter: the labels' rows and their children's, the
    labels' photo_labels rows, and the label meta entries."""
    ids = sorted(set(label_ids))
    members = sorted(
        {
            *ids,
            *(
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM labels WHERE parent_id {IN_IDS}", (id_list(ids),)
                )
            ),
        }
    )
    labels = [
        list(r)
        for r in conn.execute(
            f"SELECT id, name, parent_id, kind, threshold, aliases FROM labels WHERE id {IN_IDS}",
            (id_list(members),),
        )
    ]
    rows = [
        list(r)
        for r in conn.execute(
            "SELECT photo_id, label_id, score, verdict, source, updated_at FROM photo_labels "
            f"WHERE label_id {IN_IDS}",
            (id_list(ids),),
        )
    ]
    meta = {
        key: (
            found[0]
            if (found := conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
            else None
        )
        for key in LABEL_META_KEYS
    }
    return {
        "members": members,
        "rows_of": ids,
        "labels": labels,
        "photo_labels": rows,
        "meta": meta,
    }


def restore_labels(
    conn: sqlite3.Connection, target: dict[str, Any], other: dict[str, Any]
) -> list[int]:
    """Write a label snapshot back (``other`` is the state being left); photos touched."""
    members = set(target["members"]) | set(other["members"])
    rows_of = sorted(set(target["rows_of"]) | set(other["rows_of"]))
    present = {row[0] for row in target["labels"]}
    touched = {
        r[0]
        for r in conn.execute(
            f"SELECT photo_id FROM photo_labels WHERE label_id {IN_IDS}", (id_list(rows_of),)
        )
    }
    # Names first under a placeholder, so a swap of names never collides on the way.
    for lid, _name, _parent, kind, threshold, aliases in target["labels"]:
        conn.execute(
            "INSERT INTO labels (id, name, parent_id, kind, threshold, aliases) "
            "VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
            "kind = excluded.kind, threshold = excluded.threshold, aliases = excluded.aliases",
            (lid, f" restoring label {lid} ", kind, threshold, aliases),
        )
    for lid, name, *_ in target["labels"]:
        conn.execute("UPDATE labels SET name = ? WHERE id = ?", (name, lid))
    conn.execute(f"DELETE FROM photo_labels WHERE label_id {IN_IDS}", (id_list(rows_of),))
    conn.executemany(
        "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [tuple(r) for r in target["photo_labels"]],
    )
    gone = sorted(members - present)
    conn.execute(f"DELETE FROM labels WHERE id {IN_IDS}", (id_list(gone),))
    conn.executemany(
        "UPDATE labels SET parent_id = ? WHERE id = ?",
        [(row[2], row[0]) for row in target["labels"]],
    )
    for key, value in target["meta"].items():
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                (key, value),
            )
    touched |= {r[0] for r in target["photo_labels"]}
    return sorted(touched)
