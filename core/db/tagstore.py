"""Tag-level store operations: model scores, user verdicts, effective tags, undo and redo.

The rule that matters most lives here: a user verdict is a separate fact. Writing model scores
replaces only what a model said before; it never touches a verdict. Only :meth:`set_verdicts`,
:meth:`undo` and :meth:`redo` change verdicts, and every change is logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.db import journal
from core.db.rescoring import LabelColumns, Written, write_rescored
from core.db.store import IN_IDS, SCORE_FLOOR, VISIBLE, Store, id_list, now
from core.labels.policy import CONFIRMED, NO_VERDICT, Evidence, LabelPolicy
from core.people.faces import FaceSummary

logger = logging.getLogger(__name__)

MANUAL_KEY = "manual_thresholds"  # meta: {label name (lower case): threshold}
HISTORY_KEY = "manual_thresholds_done"  # meta: [[label, old, new], ...] for undo
REDO_KEY = "manual_thresholds_undone"
#: Photos derived at a time when every photo's tags are re-derived (bounds the memory held).
_REFRESH_CHUNK = 20_000
#: The writer's page cache while an album is re-scored (``TagStore.bulk_rescoring``), KiB.
BULK_CACHE_KIB = 131_072


@dataclass(frozen=True)
class Scored:
    """The outcome of tagging one photo: file facts, label scores and pooled features."""

    photo_id: int
    width: int
    height: int
    taken_at: str | None
    content_hash: str
    scores: np.ndarray  # (L,) aligned with the label ids passed alongside
    features: np.ndarray | None  # (D,) pooled backbone features
    faces: FaceSummary | None = None  # what the face detector saw; None: it did not run


@dataclass(frozen=True)
class VerdictChange:
    photo_id: int
    label_id: int
    verdict: int  # 1 confirm, -1 reject, 0 clear


class TagStore(Store):
    """The album store with everything about tags."""

    # -- the policy -----------------------------------------------------------------------
    def policy(self) -> LabelPolicy:
        """The current LabelPolicy: label tree, defaults, and the active model's thresholds."""
        labels = self.labels()
        active = self.active_model()
        tuned = active.thresholds if active else {}
        by_name = {label.name.lower(): label.id for label in labels}
        thresholds = {label.id: label.threshold for label in labels}
        for name, value in {**tuned, **self.manual_thresholds()}.items():  # the user's wins
            if name.lower() in by_name:
                thresholds[by_name[name.lower()]] = max(float(value), SCORE_FLOOR)
        return LabelPolicy({label.id: label.parent_id for label in labels}, thresholds)

    # -- thresholds the user set by hand (kept in meta: they outlive every model version) --
    def manual_thresholds(self) -> dict[str, float]:
        """{label name, lower case: threshold} for labels whose threshold the user set."""
        return {k: float(v) for k, v in json.loads(self.get_meta(MANUAL_KEY) or "{}").items()}

    def set_manual_threshold(self, label: str, value: float | None) -> None:
        """Set (or, with None, reset to the trained one) a label's threshold; undoable."""
        manual = self.manual_thresholds()
        key = label.lower()
        old = manual.get(key)
        if value is not None:
            value = round(min(max(float(value), SCORE_FLOOR), 0.99), 3)
        if old == value:
            return
        steps = json.loads(self.get_meta(HISTORY_KEY) or "[]")
        self._put_manual(key, value, manual, [*steps, [key, old, value]][-200:], [])

    def undo_threshold(self) -> str | None:
        """Undo the latest threshold change; the label's name (lower case), or None."""
        return self._threshold_step(HISTORY_KEY, REDO_KEY, 1)

    def redo_threshold(self) -> str | None:
        return self._threshold_step(REDO_KEY, HISTORY_KEY, 2)

    def _threshold_step(self, source: str, target: str, pick: int) -> str | None:
        steps = json.loads(self.get_meta(source) or "[]")
        if not steps:
            return None
        step = steps.pop()
        others = [*json.loads(self.get_meta(target) or "[]"), step]
        done, undone = (others, steps) if pick == 2 else (steps, others)
        self._put_manual(step[0], step[pick], self.manual_thresholds(), done, undone)
        return str(step[0])

    def _put_manual(
        self,
        key: str,
        value: float | None,
        manual: dict[str, float],
        done: list[Any],
        undone: list[Any],
    ) -> None:
        if value is None:
            manual.pop(key, None)
        else:
            manual[key] = value
        label = next((r.id for r in self.labels() if r.name.lower() == key), None)
        before = self.policy().threshold(label) if label is not None else None
        with self.db.write() as db:
            for name, data in ((MANUAL_KEY, manual), (HISTORY_KEY, done), (REDO_KEY, undone)):
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value",
                    (name, json.dumps(data)),
                )
            policy = self.policy()
            if label is not None and before is not None:
                self._refresh(
                    db.conn,
                    self._judged_by_threshold(db.conn, label, before, policy.threshold(label)),
                    policy,
                    policy.lineage(label),
                )

    @staticmethod
    def _judged_by_threshold(
        conn: sqlite3.Connection, label_id: int, old: float, new: float
    ) -> list[int]:
        """Photos whose tags a change of one label's threshold from ``old`` to ``new`` changes.

        A threshold only decides ``on(p, L)`` for the label itself where it has a model score
        and no verdict (see core.labels.policy), and only a score between the two thresholds
        is on under one and off under the other: every other photo, and every other label of
        these photos, keeps its tags. A range of ``photo_labels_label``, not the album (after
        a retrain a label may hold a score on every photo).
        """
        low, high = min(old, new), max(old, new)
        return [
            r[0]
            for r in conn.execute(
                "SELECT photo_id FROM photo_labels WHERE label_id = ? AND verdict = 0 "
                "AND score >= ? AND score < ? ORDER BY photo_id",
                (label_id, low, high),
            )
        ]

    # -- model scores ---------------------------------------------------------------------
    def record_scores(
        self, results: Sequence[Scored], label_ids: Sequence[int], backbone: str, model_version: int
    ) -> None:
        """Store a batch of tagging results in one transaction and refresh their tags."""
        ids = np.asarray(label_ids, dtype=np.int64)
        stamp = now()
        with self.db.write() as db:
            conn = db.conn
            for r in results:
                faces = (r.faces.count, r.faces.largest, r.faces.best) if r.faces else (None,) * 3
                conn.execute(
                    "UPDATE photos SET width = ?, height = ?, taken_at = ?, content_hash = ?, "
                    "status = 'ok', error = NULL, model_version = ?, faces = ?, face_area = ?, "
                    "face_best = ? WHERE id = ?",
                    (
                        r.width,
                        r.height,
                        r.taken_at,
                        r.content_hash,
                        model_version,
                        *faces,
                        r.photo_id,
                    ),
                )
                self._replace_scores(conn, r.photo_id, ids, r.scores, stamp)
                if r.features is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO features (photo_id, backbone, vector) "
                        "VALUES (?, ?, ?)",
                        (r.photo_id, backbone, r.features.astype("<f2").tobytes()),
                    )
            self._refresh(conn, [r.photo_id for r in results], self.policy())

    def record_rescored(
        self,
        photo_ids: Sequence[int],
        scores: np.ndarray,
        label_ids: Sequence[int],
        model_version: int,
        only: Sequence[int] | None = None,
    ) -> Written:
        """Store scores re-computed from cached features (no file facts change), in bulk.

        With ``only`` (label ids), the scores of every other label are known to be unchanged:
        just those labels' rows are compared and rewritten. Either way only rows whose score
        moved (see ``core.db.rescoring``) and tags that differ are written; every photo is
        marked as scored by ``model_version``. Verdicts are never written.
        """
        labels = self.labels()
        columns = LabelColumns.of({r.id: r.parent_id for r in labels}, self.policy())
        with self.db.write() as db:
            conn = db.conn
            conn.execute(
                f"UPDATE photos SET model_version = ? WHERE id {IN_IDS}",
                (model_version, id_list(photo_ids)),
            )
            return write_rescored(conn, photo_ids, scores, label_ids, only, columns, now())

    @contextlib.contextmanager
    def bulk_rescoring(self) -> Iterator[None]:
        """While a whole album is re-scored chunk by chunk (``record_rescored``): the writer
        keeps up to :data:`BULK_CACHE_KIB` of pages between its transactions, then trims back.

        A retrain can add millions of score rows; with SQLite's default 2 MB page cache every
        chunk re-reads the pages of ``photo_labels`` and of its label index it touched last
        time, and spills dirty ones mid-transaction.
        """
        with self.db.write() as db:  # the writer's own connection (the setting is its own)
            before = int(db.conn.execute("PRAGMA cache_size").fetchone()[0])
            db.conn.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        try:
            yield
        finally:
            with self.db.write() as db:
                db.conn.execute(f"PRAGMA cache_size = {before}")

    @staticmethod
    def _replace_scores(
        conn: sqlite3.Connection,
        photo_id: int,
        label_ids: np.ndarray,
        scores: np.ndarray,
        stamp: str,
    ) -> None:
        # Rows that only hold a model's opinion go; rows with a verdict stay (score cleared).
        conn.execute(
            "DELETE FROM photo_labels WHERE photo_id = ? AND verdict = 0 AND source = 'model'",
            (photo_id,),
        )
        conn.execute("UPDATE photo_labels SET score = NULL WHERE photo_id = ?", (photo_id,))
        keep = (scores >= SCORE_FLOOR) & (label_ids > 0)  # -1: a deleted label's column
        conn.executemany(
            "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, updated_at) "
            "VALUES (?, ?, ?, 0, 'model', ?) ON CONFLICT (photo_id, label_id) "
            "DO UPDATE SET score = excluded.score",
            [
                (photo_id, int(lid), float(s), stamp)
                for lid, s in zip(label_ids[keep], scores[keep], strict=True)
            ],
        )

    # -- effective tags -------------------------------------------------------------------
    def _refresh(
        self,
        conn: sqlite3.Connection,
        photo_ids: Sequence[int],
        policy: LabelPolicy,
        lineage: tuple[frozenset[int], frozenset[int]] | None = None,
    ) -> None:
        """Recompute the materialised tags of some photos (inside a write transaction).

        With ``lineage`` (``LabelPolicy.lineage`` of one label whose threshold changed), only
        the tags of that label and its ancestors are recomputed, from the evidence of the
        labels under its top ancestor: no other tag of these photos can change, and a photo
        holds scores of a few dozen labels (a threshold change at 100,000 photos re-derived
        every tag of the photos between the two thresholds, about 0.15 ms a photo).
        """
        evidence: dict[int, list[Evidence]] = defaultdict(list)
        old: set[tuple[int, int, int, int]] = set()
        ids = (id_list(photo_ids),)
        tags_of: tuple[str, ...] = ids  # the parameters of the two reads below
        evidence_of: tuple[str, ...] = ids
        only, by = "", ""
        if lineage is not None:
            changing = id_list(sorted(lineage[0]))
            only, by = f" AND label_id {IN_IDS}", f" AND l.label_id {IN_IDS}"
            tags_of, evidence_of = (ids[0], changing), (ids[0], id_list(sorted(lineage[1])))
        old.update(
            conn.execute(
                "SELECT label_id, photo_id, direct, verified FROM photo_tags "
                f"WHERE photo_id {IN_IDS}{only}",
                tags_of,
            )
        )
        found = conn.execute(  # only visible photos carry tags (search relies on it)
            "SELECT l.photo_id, l.label_id, l.score, l.verdict FROM photo_labels l "
            f"JOIN photos p ON p.id = l.photo_id WHERE p.{VISIBLE} AND l.photo_id {IN_IDS}{by}",
            evidence_of,
        )
        for pid, lid, score, verdict in found:
            evidence[pid].append(Evidence(lid, score, verdict))
        rows = {
            (t.label_id, pid, int(t.direct), int(t.verified))
            for pid, items in evidence.items()
            for t in policy.tags(items)
            if lineage is None or t.label_id in lineage[0]
        }
        # Only the difference is written: a threshold change or a retrain changes a few tags
        # of the photos it re-derives, and each row written is a random B-tree update (what
        # made re-deriving slow on a large album). A row whose flags changed goes, then comes.
        conn.executemany(
            "DELETE FROM photo_tags WHERE label_id = ? AND photo_id = ?",
            sorted((r[0], r[1]) for r in old - rows),
        )
        conn.executemany(
            "INSERT INTO photo_tags (label_id, photo_id, direct, verified) VALUES (?, ?, ?, ?)",
            sorted(rows - old),
        )
        tagged = {r[1] for r in rows}
        if lineage is not None:  # the photos' other tags stay: they keep a photo tagged
            tagged.update(
                r[0]
                for r in conn.execute(
                    f"SELECT DISTINCT photo_id FROM photo_tags WHERE photo_id {IN_IDS} "
                    f"AND label_id NOT {IN_IDS}",
                    tags_of,
                )
            )
        conn.executemany(
            "UPDATE photos SET tagged = ? WHERE id = ? AND tagged != ?",
            [(int(pid in tagged), pid, int(pid in tagged)) for pid in photo_ids],
        )

    def refresh_all_tags(self) -> None:
        """Recompute every photo's tags (after thresholds or the label tree changed).

        One transaction, derived 20,000 photos at a time so that the evidence held in memory
        stays bounded on a million-photo album.
        """
        policy = self.policy()
        with self.db.write() as db:
            ids = [r[0] for r in db.conn.execute("SELECT id FROM photos ORDER BY id")]
            for start in range(0, len(ids), _REFRESH_CHUNK):
                self._refresh(db.conn, ids[start : start + _REFRESH_CHUNK], policy)

    # -- verdicts -------------------------------------------------------------------------
    def set_verdicts(self, changes: Iterable[VerdictChange]) -> int | None:
        """Apply one user action (any number of photo/label verdicts) as one undo step.

        Returns the batch number, or None when nothing actually changed.
        """
        stamp = now()
        with self.db.write() as db:
            conn = db.conn
            batch = journal.next_batch(conn)  # shared with the label and rating journal
            touched: set[int] = set()
            for ch in changes:
                row = conn.execute(
                    "SELECT verdict, source FROM photo_labels WHERE photo_id = ? AND label_id = ?",
                    (ch.photo_id, ch.label_id),
                ).fetchone()
                old, source = row if row else (NO_VERDICT, None)
                if old == ch.verdict:
                    continue
                self._write_verdict(
                    conn, ch.photo_id, ch.label_id, ch.verdict, source or "user", stamp
                )
                conn.execute(
                    "INSERT INTO verdict_log (batch, photo_id, label_id, old_verdict, "
                    "new_verdict, old_source, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (batch, ch.photo_id, ch.label_id, old, ch.verdict, source, stamp),
                )
                touched.add(ch.photo_id)
            if not touched:
                return None
            # A new action makes the undone steps unreachable: keep them, marked dropped.
            journal.drop_undone(conn)
            self._refresh(conn, sorted(touched), self.policy())
            return batch

    @staticmethod
    def _write_verdict(
        conn: sqlite3.Connection,
        photo_id: int,
        label_id: int,
        verdict: int,
        source: str,
        stamp: str,
    ) -> None:
        conn.execute(
            "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, updated_at) "
            "VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (photo_id, label_id) DO UPDATE SET "
            "verdict = excluded.verdict, updated_at = excluded.updated_at",
            (photo_id, label_id, verdict, source, stamp),
        )

    def import_verdicts(self, confirmed: Mapping[int, Iterable[int]]) -> int:
        """Confirm labels found in files' metadata (source 'import'), in one transaction.

        A pair the user ever judged (any verdict-log entry) or that already has a verdict is
        left alone: user corrections are never overwritten. Imports are not undo steps.

        Args:
            confirmed: photo id -> label ids its keywords name.

        Returns:
            How many verdicts were written.
        """
        stamp = now()
        written = 0
        with self.db.write() as db:
            conn = db.conn
            for photo_id, label_ids in confirmed.items():
                for label_id in set(label_ids):
                    judged = conn.execute(
                        "SELECT 1 FROM photo_labels WHERE photo_id = ? AND label_id = ? AND "
                        "verdict != 0 UNION ALL SELECT 1 FROM verdict_log WHERE photo_id = ? "
                        "AND label_id = ? LIMIT 1",
                        (photo_id, label_id, photo_id, label_id),
                    ).fetchone()
                    if judged:
                        continue
                    conn.execute(
                        "INSERT INTO photo_labels (photo_id, label_id, score, verdict, source, "
                        "updated_at) VALUES (?, ?, NULL, ?, 'import', ?) ON CONFLICT "
                        "(photo_id, label_id) DO UPDATE SET verdict = excluded.verdict, "
                        "source = 'import', updated_at = excluded.updated_at",
                        (photo_id, label_id, CONFIRMED, stamp),
                    )
                    written += 1
            if written:
                self._refresh(conn, sorted(confirmed), self.policy())
        return written

    def face_summaries(self, photo_ids: Sequence[int]) -> dict[int, FaceSummary]:
        """What the face detector saw on these photos (those it ran on)."""
        rows = self.db.query(
            "SELECT id, faces, face_area, face_best FROM photos WHERE faces IS NOT NULL "
            f"AND id {IN_IDS}",
            (id_list(photo_ids),),
        )
        return {r[0]: FaceSummary(r[1], r[2] or 0.0, r[3] or 0.0) for r in rows}

    def undo(self) -> list[int]:
        """Undo the latest user action; the photos it touched (empty if nothing to undo)."""
        step = self.undo_step()
        return step.photos if step else []

    def redo(self) -> list[int]:
        """Redo the action undone last; the photos it touched (empty if nothing to redo)."""
        step = self.redo_step()
        return step.photos if step else []

    def undo_step(self) -> journal.Step | None:
        """Undo the latest user action (verdicts, a label change or ratings), or None."""
        return self._any_step("done", "undone", "MAX")

    def redo_step(self) -> journal.Step | None:
        return self._any_step("undone", "done", "MIN")

    def _any_step(self, state: str, new_state: str, pick: str) -> journal.Step | None:
        with self.db.write() as db:
            found = journal.latest(db.conn, state, pick)
            if found is None:
                return None
            table, batch = found
            if table == "verdicts":
                column = "old_verdict" if pick == "MAX" else "new_verdict"
                photos = self._step(db.conn, batch, new_state, column)
                return journal.Step("verdicts", "tag change", photos)
            entry_id, kind, what, before, after = journal.entry(db.conn, batch)
            target, other = (before, after) if pick == "MAX" else (after, before)
            if kind == "ratings":
                photos = journal.restore_ratings(db.conn, target)
            else:
                photos = journal.restore_labels(db.conn, target, other)
                ids = [r[0] for r in db.conn.execute("SELECT id FROM photos")]
                self._refresh(db.conn, ids, self.policy())
            db.conn.execute("UPDATE edit_log SET state = ? WHERE id = ?", (new_state, entry_id))
            return journal.Step(kind, what, photos)

    def _step(self, conn: sqlite3.Connection, batch: int, new_state: str, column: str) -> list[int]:
        stamp = now()
        rows = conn.execute(
            f"SELECT photo_id, label_id, {column}, old_source FROM verdict_log "
            "WHERE batch = ? ORDER BY id",
            (batch,),
        ).fetchall()
        for photo_id, label_id, verdict, source in rows:
            self._write_verdict(conn, photo_id, label_id, verdict, source or "user", stamp)
        conn.execute("UPDATE verdict_log SET state = ? WHERE batch = ?", (new_state, batch))
        touched = sorted({r[0] for r in rows})
        self._refresh(conn, touched, self.policy())
        return touched

    def can_undo(self) -> bool:
        return bool(
            self.db.query(
                "SELECT 1 FROM verdict_log WHERE state = 'done' UNION ALL "
                "SELECT 1 FROM edit_log WHERE state = 'done' LIMIT 1"
            )
        )

    def can_redo(self) -> bool:
        return bool(
            self.db.query(
                "SELECT 1 FROM verdict_log WHERE state = 'undone' UNION ALL "
                "SELECT 1 FROM edit_log WHERE state = 'undone' LIMIT 1"
            )
        )

    # -- reading tags ---------------------------------------------------------------------
    def evidence(self, photo_id: int) -> list[tuple[int, float | None, int, str]]:
        """(label id, score, verdict, source) of every label row of one photo."""
        return self.db.query(
            "SELECT label_id, score, verdict, source FROM photo_labels WHERE photo_id = ?",
            (photo_id,),
        )

    def tags_of(self, photo_id: int) -> list[tuple[int, bool, bool]]:
        """(label id, direct, verified) of one photo's effective tags."""
        rows = self.db.query(
            "SELECT label_id, direct, verified FROM photo_tags WHERE photo_id = ?", (photo_id,)
        )
        return [(r[0], bool(r[1]), bool(r[2])) for r in rows]

    def label_counts(self) -> dict[int, int]:
        """How many visible photos have each label (hierarchy included).

        Counting is a pass over every tag (9 million rows at a million photos), so the counts
        are kept until the album changes (SQLite's ``data_version`` on this thread's reader;
        never inside a write, whose own commits do not move it).
        """
        conn = self.db.read()
        key = None
        if conn is not getattr(self.db, "_writer", None):
            key = (id(conn), conn.execute("PRAGMA data_version").fetchone()[0])
            cached = getattr(self.db._local, "label_counts", None)
            if cached is not None and cached[0] == key:
                return dict(cached[1])
        counts = dict(self.db.query("SELECT label_id, COUNT(*) FROM photo_tags GROUP BY label_id"))
        if key is not None:
            self.db._local.label_counts = (key, counts)
        return dict(counts)

    # -- visibility: only photos with status 'ok' carry tags --------------------------------
    def update_file(
        self,
        photo_id: int,
        *,
        path: str,
        size: int,
        mtime_ns: int,
        status: str,
        error: str | None = None,
    ) -> None:
        """The file's new facts and the photo's refreshed tags, in one transaction."""
        policy = self.policy()
        with self.db.write() as db:
            super().update_file(
                photo_id, path=path, size=size, mtime_ns=mtime_ns, status=status, error=error
            )  # nested: a savepoint
            self._refresh(db.conn, [photo_id], policy)

    def verdict_rows(self) -> list[tuple[int, int, int]]:
        """(photo id, label id, verdict) of every user verdict on a visible photo."""
        return self.db.query(
            "SELECT l.photo_id, l.label_id, l.verdict FROM photo_labels l "
            "JOIN photos p ON p.id = l.photo_id WHERE l.verdict != 0 AND p.status = 'ok'"
        )

    def score_rows(self) -> list[tuple[int, int, float]]:
        """(photo id, label id, score) of every stored model score on a visible photo."""
        return self.db.query(
            "SELECT l.photo_id, l.label_id, l.score FROM photo_labels l "
            "JOIN photos p ON p.id = l.photo_id WHERE l.score IS NOT NULL AND p.status = 'ok'"
        )
