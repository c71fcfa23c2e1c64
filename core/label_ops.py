"""The label manager's operations: rename, merge, move, aliases and delete (issue 15.5).

Each operation is one undoable step on the album's undo stack (see :mod:`core.db.journal`) and
keeps every verdict: a rename or a move changes only the label, a merge moves the source's
scores and verdicts onto the target (a photo confirmed under either stays confirmed; confirmed
under one and rejected under the other is kept confirmed and counted as a conflict), and a
delete is undone with its verdicts.

Files stay consistent: an old name (renamed, merged or deleted) is *retired* in the album's
meta, so a keyword still holding it imports as the label it became (or, when deleted, as
nothing), and the next sidecar write takes it out. A label whose path changed (moved, or an
ancestor renamed) has its hierarchical keyword rewritten at the next write.

Built-in labels come from the shipped vocabulary, which every opening of the album restores:
they cannot be renamed, moved or deleted (a merge may still make one the target).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.db import journal
from core.db.store import LabelRow, now
from core.errors import VocabularyError
from core.labels.policy import CONFIRMED, REJECTED
from core.library import Library
from core.media.sidecars import one_level
from core.pipeline.keywords import RELOCATED_KEY, RETIRED_KEY

logger = logging.getLogger(__name__)

_MANUAL_KEY = "manual_thresholds"
_MAX_NAME = 100


@dataclass(frozen=True)
class LabelEdit:
    """What one label manager operation did."""

    what: str  # in words, for a status bar ("Renamed Rexx to Rex")
    photos: int = 0  # photos whose verdicts or scores moved (merge, delete)
    conflicts: int = 0  # merge: photos confirmed under one label and rejected under the other
    changed: bool = True  # False: nothing was written (no undo step), e.g. the same name


def _clean(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise VocabularyError("a label needs a name")
    if len(name) > _MAX_NAME:
        raise VocabularyError(f"a label name has at most {_MAX_NAME} characters")
    if one_level(name) != name:
        raise VocabularyError(
            f"a label name cannot contain | or / ({name!r}): other apps read "
            "them as levels of a hierarchy; move the label under a parent "
            "instead"
        )
    return name


def _row(library: Library, name: str) -> LabelRow:
    if library.vocabulary.resolve(name) is None:  # made by another process meanwhile?
        library.reload_vocabulary()
    lid = library.label_id(name)
    return next(r for r in library.store.labels() if r.id == lid)


def _own(row: LabelRow, doing: str) -> None:
    if row.kind != "user":
        raise VocabularyError(
            f"{row.name!r} is a built-in label: it comes with albumtag's "
            f"vocabulary and the model, so it cannot be {doing}; merge "
            "your own label into it, or add an alias"
        )


def _taken(library: Library, word: str, except_id: int) -> str | None:
    """The label (other than ``except_id``) whose name or alias is ``word``, if any."""
    key = word.casefold()
    for r in library.store.labels():
        if r.id != except_id and (
            r.name.casefold() == key or any(a.casefold() == key for a in r.aliases)
        ):
            return r.name
    return None


def _subtree(rows: Sequence[LabelRow], root: int) -> set[int]:
    out, stack = {root}, [root]
    while stack:
        node = stack.pop()
        for r in rows:
            if r.parent_id == node and r.id not in out:
                out.add(r.id)
                stack.append(r.id)
    return out


def _meta(conn: sqlite3.Connection, key: str, default: str) -> Any:  # JSON: the caller's type
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0] if row else default)


def _put_meta(conn: sqlite3.Connection, key: str, value: object) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
        "SET value = excluded.value",
        (key, json.dumps(value)),
    )


def _retire(conn: sqlite3.Connection, old: str, old_id: int, into: int | None) -> None:
    """``old`` no longer names a label: it stands for ``into`` (None: for nothing)."""
    retired: dict[str, int | None] = _meta(conn, RETIRED_KEY, "{}")
    for name, target in list(retired.items()):  # names that led to the old label follow it
        if target == old_id:
            retired[name] = into
    retired[old.lower()] = into
    _put_meta(conn, RETIRED_KEY, retired)


def _relocate(conn: sqlite3.Connection, ids: set[int]) -> None:
    moved: set[int] = set(_meta(conn, RELOCATED_KEY, "[]")) | ids
    _put_meta(conn, RELOCATED_KEY, sorted(moved))


def _move_manual(conn: sqlite3.Connection, old: str, new: str | None) -> None:
    manual: dict[str, float] = _meta(conn, _MANUAL_KEY, "{}")
    if old.lower() in manual:
        value = manual.pop(old.lower())
        if new is not None and new.lower() not in manual:
            manual[new.lower()] = value
        _put_meta(conn, _MANUAL_KEY, manual)


def _journalled(
    library: Library,
    ids: set[int],
    what: str,
    change: Callable[[sqlite3.Connection], LabelEdit | None],
) -> LabelEdit:
    """Run ``change(conn)`` in one transaction with its before/after snapshots journalled."""
    store = library.store
    with store.db.write() as db:
        conn = db.conn
        before = journal.capture_labels(conn, ids)
        result: LabelEdit = change(conn) or LabelEdit(what)
        after = journal.capture_labels(conn, ids)
        journal.record(conn, "labels", result.what, before, after)
        photo_ids = [r[0] for r in conn.execute("SELECT id FROM photos")]
        store._refresh(conn, photo_ids, store.policy())
    library.reload_vocabulary()
    return result


# -- the operations -----------------------------------------------------------------------
def rename(library: Library, name: str, new_name: str) -> LabelEdit:
    """Rename one of the user's labels ("Rexx" → "Rex"); verdicts stay with it."""
    row = _row(library, name)
    _own(row, "renamed")
    new = _clean(new_name)
    if new == row.name:
        return LabelEdit(f"{row.name} keeps its name", changed=False)
    other = _taken(library, new, row.id)
    if other is not None:
        raise VocabularyError(f"{new!r} is already the label {other!r}: merge into it instead")
    rows = library.store.labels()

    def change(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE labels SET name = ? WHERE id = ?", (new, row.id))
        if new.lower() != row.name.lower():
            _retire(conn, row.name, row.id, row.id)
        _move_manual(conn, row.name, new)
        _relocate(conn, _subtree(rows, row.id))

    return _journalled(library, {row.id}, f"Renamed {row.name} to {new}", change)


def set_aliases(library: Library, name: str, aliases: Sequence[str]) -> LabelEdit:
    """Replace the other words search and keyword import find one of the user's labels by."""
    row = _row(library, name)
    _own(row, "given aliases (its aliases come with the vocabulary)")
    words: list[str] = []
    for alias in aliases:
        alias = " ".join(str(alias).split())
        if (
            not alias
            or alias.casefold() == row.name.casefold()
            or alias.casefold() in {w.casefold() for w in words}
        ):
            continue
        if (other := _taken(library, alias, row.id)) is not None:
            raise VocabularyError(f"{alias!r} already names the label {other!r}")
        words.append(_clean(alias))

    def change(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE labels SET aliases = ? WHERE id = ?", (json.dumps(words), row.id))

    shown = ", ".join(words) or "none"
    return _journalled(library, {row.id}, f"Aliases of {row.name}: {shown}", change)


def move(library: Library, name: str, parent: str | None) -> LabelEdit:
    """Put one of the user's labels (with its own sub-labels) under another, or at the top."""
    row = _row(library, name)
    _own(row, "moved")
    rows = library.store.labels()
    parent_row = _row(library, parent) if parent else None
    if parent_row is not None and parent_row.id in _subtree(rows, row.id):
        raise VocabularyError(
            f"{row.name!r} cannot go under {parent_row.name!r}: that is inside it"
        )
    new_parent = parent_row.id if parent_row else None
    where = f"under {parent_row.name}" if parent_row else "to the top level"

    def change(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE labels SET parent_id = ? WHERE id = ?", (new_parent, row.id))
        _relocate(conn, _subtree(rows, row.id))

    return _journalled(library, {row.id}, f"Moved {row.name} {where}", change)


def merge(library: Library, source: str, target: str) -> LabelEdit:
    """Merge one of the user's labels into another label; the source goes, its verdicts and
    scores unite with the target's, its sub-labels move under the target."""
    src, dst = _row(library, source), _row(library, target)
    if src.id == dst.id:
        raise VocabularyError(f"{src.name!r} cannot be merged into itself")
    _own(src, "merged away (merge your label into it instead)")
    rows = library.store.labels()
    if dst.id in _subtree(rows, src.id):
        raise VocabularyError(
            f"{src.name!r} cannot be merged into {dst.name!r}, which is "
            "one of its own sub-labels: move that one out first"
        )

    def change(conn: sqlite3.Connection) -> LabelEdit:
        stamp = now()
        theirs = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT photo_id, score, verdict, source FROM photo_labels WHERE label_id = ?",
                (dst.id,),
            )
        }
        moved = conflicts = 0
        for pid, score, verdict, source_ in conn.execute(
            "SELECT photo_id, score, verdict, source FROM photo_labels WHERE label_id = ?",
            (src.id,),
        ).fetchall():
            moved += 1
            if pid not in theirs:
                conn.execute(
                    "INSERT INTO photo_labels (photo_id, label_id, score, verdict, "
                    "source, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (pid, dst.id, score, verdict, source_, stamp),
                )
                continue
            t_score, t_verdict, t_source = theirs[pid]
            if {verdict, t_verdict} == {CONFIRMED, REJECTED}:
                conflicts += 1
            united = (
                CONFIRMED
                if CONFIRMED in (verdict, t_verdict)
                else (REJECTED if REJECTED in (verdict, t_verdict) else 0)
            )
            best = max((s for s in (score, t_score) if s is not None), default=None)
            kept_source = t_source if t_verdict == united else source_
            conn.execute(
                "UPDATE photo_labels SET score = ?, verdict = ?, source = ?, "
                "updated_at = ? WHERE photo_id = ? AND label_id = ?",
                (best, united, kept_source, stamp, pid, dst.id),
            )
        conn.execute("DELETE FROM photo_labels WHERE label_id = ?", (src.id,))
        children = [r.id for r in rows if r.parent_id == src.id]
        conn.execute("UPDATE labels SET parent_id = ? WHERE parent_id = ?", (dst.id, src.id))
        conn.execute("DELETE FROM labels WHERE id = ?", (src.id,))
        _retire(conn, src.name, src.id, dst.id)
        _move_manual(conn, src.name, None)
        for child in children:
            _relocate(conn, _subtree(rows, child))
        what = f"Merged {src.name} into {dst.name}"
        if conflicts:
            what += (
                f"; {conflicts} photo{'s' if conflicts != 1 else ''} confirmed under one "
                "and rejected under the other stay confirmed"
            )
        return LabelEdit(what, moved, conflicts)

    return _journalled(library, {src.id, dst.id}, "", change)


def delete(library: Library, name: str) -> LabelEdit:
    """Delete one of the user's labels (undoable, verdicts included); its sub-labels move up
    to its parent."""
    row = _row(library, name)
    _own(row, "deleted")
    rows = library.store.labels()

    def change(conn: sqlite3.Connection) -> LabelEdit:
        n = conn.execute(
            "SELECT COUNT(*) FROM photo_labels WHERE label_id = ? AND verdict != 0", (row.id,)
        ).fetchone()[0]
        children = [r.id for r in rows if r.parent_id == row.id]
        conn.execute("UPDATE labels SET parent_id = ? WHERE parent_id = ?", (row.parent_id, row.id))
        conn.execute("DELETE FROM photo_labels WHERE label_id = ?", (row.id,))
        conn.execute("DELETE FROM labels WHERE id = ?", (row.id,))
        _retire(conn, row.name, row.id, None)
        _move_manual(conn, row.name, None)
        for child in children:
            _relocate(conn, _subtree(rows, child))
        extra = f" and its {n} verdict{'s' if n != 1 else ''}" if n else ""
        return LabelEdit(f"Deleted {row.name}{extra} (Ctrl+Z brings it back)", n)

    return _journalled(library, {row.id}, "", change)


__all__ = [
    "RELOCATED_KEY",
    "RETIRED_KEY",
    "LabelEdit",
    "delete",
    "merge",
    "move",
    "rename",
    "set_aliases",
]
