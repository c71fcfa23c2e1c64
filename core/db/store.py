"""The album database: one SQLite file, one writer, readers per thread.

All SQL of the engine lives in this package's store modules; everything else asks the store.
Writes are serialised by one lock (one writer per process) and each runs in a transaction, so a
crash leaves either the old or the new state. Readers get their own connection per thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlite_utils

from core.db.schema import MIGRATIONS
from core.errors import StoreError
from core.paths import from_db, to_db

logger = logging.getLogger(__name__)

#: Model scores below this are not stored: no threshold may go lower.
SCORE_FLOOR = 0.01

#: Photos that are part of the album as the user sees it (and only these carry tags): tagged
#: ones, and ones queued for (re-)tagging, which keep their old tags until then.
VISIBLE = "status IN ('ok', 'pending')"
#: ``column IN_IDS`` with :func:`id_list` as its one parameter: "column is one of these ids",
#: for any number of ids (one JSON text instead of a bound variable per id, so no chunking).
IN_IDS = "IN (SELECT value FROM json_each(?))"


def id_list(ids: Iterable[int]) -> str:
    """Ids as the one parameter that :data:`IN_IDS` binds (numpy integers welcome)."""
    return json.dumps([int(i) for i in ids])


class Status(StrEnum):
    """Where a photo stands: queued, tagged, unreadable, or its file gone."""

    PENDING = "pending"
    OK = "ok"
    ERROR = "error"
    MISSING = "missing"


#: What :meth:`Store.photos` returns when no status is asked for: every photo whose file is there.
PRESENT = (Status.PENDING, Status.OK, Status.ERROR)


class PhotoOrder(StrEnum):
    """Orders :meth:`Store.photos` can list in (the window's sort orders live in the engine)."""

    ID = "id"
    PATH = "path"
    NEWEST_FILE = "newest_file"  # file modification time, newest first: what a viewer shows first


_PHOTO_ORDER_SQL = {
    PhotoOrder.ID: "id",
    PhotoOrder.PATH: "path",
    PhotoOrder.NEWEST_FILE: "mtime_ns DESC, id",
}


def _statuses(status: Status | str | Iterable[Status | str]) -> list[str]:
    wanted = [status] if isinstance(status, str) else list(status)
    try:
        return [Status(s).value for s in wanted]
    except ValueError:
        raise ValueError(f"not a photo status: {wanted!r} (one of {', '.join(Status)})") from None


def now() -> str:
    """The current time as an ISO 8601 UTC string (what every timestamp column holds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PhotoRow:
    """One photo as the store knows it."""

    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    status: str
    error: str | None
    model_version: int | None


@dataclass(frozen=True)
class LabelRow:
    """One label of the album's vocabulary (built-in or the user's own)."""

    id: int
    name: str
    parent_id: int | None
    kind: str
    threshold: float
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class ModelRow:
    """One model version: the backbone, its head and the thresholds tuned for it."""

    version: int
    backbone: str
    head_file: str | None
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    created_at: str
    active: bool


_PHOTO_COLUMNS = (
    "id, path, size, mtime_ns, content_hash, width, height, taken_at, status, error, model_version"
)


def _photo(row: Sequence[Any]) -> PhotoRow:
    return PhotoRow(row[0], from_db(row[1]), *row[2:])


def _label(row: Sequence[Any]) -> LabelRow:
    return LabelRow(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])))


def _model(row: Sequence[Any]) -> ModelRow:
    return ModelRow(
        row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]), row[5], bool(row[6])
    )


def _unwritable(path: Path) -> str | None:
    """Why an existing album database cannot be written, or None (it can, or is missing)."""
    if not path.is_file():
        return None
    for target in (path.parent, path):
        try:
            if os.statvfs(target).f_flag & os.ST_RDONLY:
                return "read-only file system"
        except (OSError, AttributeError):  # no statvfs (Windows)
            pass
        if not os.access(target, os.W_OK):
            return f"no permission to write {'the folder' if target.is_dir() else 'the file'}"
    return None


class Database:
    """Connections to one album database file: a serialised writer and per-thread readers."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        #: Why the album can only be read (e.g. "read-only file system"), or None.
        self.read_only: str | None = None
        self._uri: str | None = None
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()
            self._writer_db = sqlite_utils.Database(self._writer)
            self._writer_db.enable_wal()
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            why = _unwritable(self.path)
            if why is None:
                raise StoreError(f"cannot open the album database {self.path}: {exc}") from exc
            self._open_read_only(why)

    def _connect(self) -> sqlite3.Connection:
        if self._uri is not None:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            return conn
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _open_read_only(self, why: str) -> None:
        """Open a database that cannot be written (read-only disk or folder) for reading.

        A WAL database needs its shared-memory file, which cannot be made on a read-only
        disk: the file is then opened as immutable, which is what a read-only disk is.
        """
        logger.info("opening %s read-only: %s", self.path, why)
        with contextlib.suppress(Exception):
            self._writer.close()
        last: Exception | None = None
        for flags in ("mode=ro", "mode=ro&immutable=1"):
            self._uri = f"{self.path.resolve().as_uri()}?{flags}"
            try:
                self._writer = self._connect()
                version = self._writer.execute("PRAGMA user_version").fetchone()[0]
                break
            except sqlite3.Error as exc:
                last = exc
        else:
            raise StoreError(f"cannot open the album database {self.path}: {last}") from last
        if version != len(MIGRATIONS):
            raise StoreError(
                f"{self.path} is read-only ({why}) and was written by another "
                f"version of albumtag (schema {version}, this one needs "
                f"{len(MIGRATIONS)})"
            )
        self._writer_db = sqlite_utils.Database(self._writer)
        self.read_only = why

    def _migrate(self) -> None:
        version = self._writer.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer albumtag (schema {version}); "
                "upgrade albumtag to open it"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            logger.info("migrating %s to schema %d", self.path, number)
            with self._lock:
                # executescript commits first; wrap the script and the version bump together.
                self._writer.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                )

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction on the one writer connection (serialised across threads)."""
        if self.read_only is not None:
            raise StoreError(f"the album is read-only ({self.read_only}), so edits are off")
        with self._lock:
            try:
                if self._writer.in_transaction:  # nested on this thread: a savepoint
                    with self._writer_db.atomic():
                        yield self._writer_db
                else:
                    with self._immediate():
                        yield self._writer_db
            except sqlite3.Error as exc:
                raise StoreError(f"database write failed: {exc}") from exc

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[None]:
        """A transaction that takes the write lock at its start (``BEGIN IMMEDIATE``).

        A deferred transaction that reads first and writes later fails at once with
        "database is locked" when another process committed in between (its snapshot is
        stale; the busy timeout does not apply). Taking the lock first makes the writer wait
        its turn instead, for up to the busy timeout.
        """
        self._writer.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._writer.in_transaction:
                self._writer.rollback()
            raise
        try:
            self._writer.execute("COMMIT")
        except BaseException:
            if self._writer.in_transaction:
                self._writer.rollback()
            raise

    def read(self) -> sqlite3.Connection:
        """This thread's read connection (the writer's, inside a write on this thread)."""
        if self._lock._is_owned():  # type: ignore[attr-defined]
            return self._writer
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement."""
        try:
            return self.read().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"database read failed: {exc}") from exc

    def close(self) -> None:
        """Close every connection this object opened (idempotent)."""
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._lock:
            self._writer.close()


class Store:
    """The album's facts: photos, labels, scores, verdicts, features and model versions.

    Tag-level operations (verdicts, effective tags, undo) are in :mod:`core.db.tagstore`, which
    builds on this class.
    """

    def __init__(self, path: Path) -> None:
        self.db = Database(path)

    def close(self) -> None:
        self.db.close()

    def integrity_check(self) -> str:
        return str(self.db.query("PRAGMA integrity_check")[0][0])

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.db.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.db.write() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- photos -------------------------------------------------------------------------
    def photo(self, photo_id: int) -> PhotoRow | None:
        rows = self.db.query(f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE id = ?", (photo_id,))
        return _photo(rows[0]) if rows else None

    def photo_by_path(self, rel_path: str) -> PhotoRow | None:
        rows = self.db.query(
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE path = ?", (to_db(rel_path),)
        )
        return _photo(rows[0]) if rows else None

    def photos(
        self,
        status: Status | str | Iterable[Status | str] = PRESENT,
        *,
        order: PhotoOrder = PhotoOrder.ID,
        stale_for: int | None = None,
        ids: Iterable[int] | None = None,
    ) -> list[PhotoRow]:
        """Photos with one of these statuses (all but missing ones unless asked), in ``order``.

        ``stale_for`` keeps only photos not scored by that model version; ``ids`` only these.
        """
        statuses = _statuses(status)
        clauses = [f"status IN ({','.join('?' * len(statuses))})"]
        params: list[object] = list(statuses)
        if stale_for is not None:
            clauses.append("(model_version IS NULL OR model_version != ?)")
            params.append(int(stale_for))
        if ids is not None:
            clauses.append(f"id {IN_IDS}")
            params.append(id_list(ids))
        sql = (
            f"SELECT {_PHOTO_COLUMNS} FROM photos WHERE {' AND '.join(clauses)} "
            f"ORDER BY {_PHOTO_ORDER_SQL[PhotoOrder(order)]}"
        )
        return [_photo(r) for r in self.db.query(sql, params)]

    def photos_by_ids(self, ids: Sequence[int]) -> list[PhotoRow]:
        """These photos, whatever their status, in the order asked (unknown ids left out)."""
        by_id = {p.id: p for p in self.photos(tuple(Status), ids=ids)}
        return [by_id[i] for i in ids if i in by_id]

    def count_photos(self) -> dict[str, int]:
        rows = self.db.query("SELECT status, COUNT(*) FROM photos GROUP BY status")
        return dict(rows)

    def add_photo(
        self,
        rel_path: str,
        size: int,
        mtime_ns: int,
        *,
        status: str = "pending",
        error: str | None = None,
        content_hash: str | None = None,
    ) -> int:
        with self.db.write() as db:
            cur = db.execute(
                "INSERT INTO photos (path, size, mtime_ns, content_hash, status, error, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (to_db(rel_path), size, mtime_ns, content_hash, status, error, now()),
            )
            assert cur.lastrowid is not None
            return int(cur.lastrowid)

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
        """A photo's file changed, moved or came back: new facts about the file itself."""
        with self.db.write() as db:
            db.execute(
                "UPDATE photos SET path = ?, size = ?, mtime_ns = ?, status = ?, error = ? "
                "WHERE id = ?",
                (to_db(path), size, mtime_ns, status, error, photo_id),
            )

    def mark_missing(self, photo_ids: Iterable[int]) -> None:
        """Files that are gone: hidden from the album, their verdicts kept for their return."""
        ids = [(i,) for i in photo_ids]
        with self.db.write() as db:
            db.conn.executemany("UPDATE photos SET status = 'missing' WHERE id = ?", ids)
            db.conn.executemany("DELETE FROM photo_tags WHERE photo_id = ?", ids)

    def mark_pending(self, status: Status | str | Iterable[Status | str]) -> None:
        """Queue every photo with one of these statuses for decoding again."""
        statuses = _statuses(status)
        with self.db.write() as db:
            db.execute(
                "UPDATE photos SET status = 'pending', error = NULL "
                f"WHERE status IN ({','.join('?' * len(statuses))})",
                statuses,
            )

    def record_error(self, photo_id: int, reason: str) -> None:
        with self.db.write() as db:
            db.execute(
                "UPDATE photos SET status = 'error', error = ? WHERE id = ?", (reason, photo_id)
            )
            db.execute("DELETE FROM photo_tags WHERE photo_id = ?", (photo_id,))

    # -- labels -------------------------------------------------------------------------
    def labels(self) -> list[LabelRow]:
        rows = self.db.query(
            "SELECT id, name, parent_id, kind, threshold, aliases FROM labels ORDER BY id"
        )
        return [_label(r) for r in rows]

    def upsert_label(
        self,
        name: str,
        *,
        parent_id: int | None,
        kind: str,
        threshold: float,
        aliases: Sequence[str] = (),
    ) -> int:
        """Insert a label or update the one with this name (case-insensitive); its id."""
        with self.db.write() as db:
            db.execute(
                "INSERT INTO labels (name, parent_id, kind, threshold, aliases) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "parent_id = excluded.parent_id, threshold = excluded.threshold, "
                "aliases = excluded.aliases",
                (name, parent_id, kind, threshold, json.dumps(list(aliases))),
            )
            return int(db.execute("SELECT id FROM labels WHERE name = ?", (name,)).fetchone()[0])

    # -- features -----------------------------------------------------------------------
    def features(
        self, backbone: str, photo_ids: Sequence[int] | None = None
    ) -> tuple[list[int], list[bytes]]:
        """Cached pooled features (float16 blobs) of photos that are ok, by backbone id, in
        photo id order; only those of ``photo_ids`` when given (read in chunks by key, so a
        few photos of a large album read only their own blobs)."""
        sql = (
            "SELECT f.photo_id, f.vector FROM features f JOIN photos p ON p.id = f.photo_id "
            "WHERE f.backbone = ? AND p.status = 'ok'"
        )
        if photo_ids is None:
            rows = self.db.query(sql + " ORDER BY f.photo_id", (backbone,))
        else:
            rows = self.db.query(
                f"{sql} AND f.photo_id {IN_IDS} ORDER BY f.photo_id",
                (backbone, id_list(set(photo_ids))),
            )
        return [r[0] for r in rows], [r[1] for r in rows]

    # -- models -------------------------------------------------------------------------
    def models(self) -> list[ModelRow]:
        rows = self.db.query(
            "SELECT version, backbone, head_file, thresholds, metrics, created_at, active "
            "FROM models ORDER BY version"
        )
        return [_model(r) for r in rows]

    def active_model(self) -> ModelRow | None:
        return next((m for m in self.models() if m.active), None)

    def add_model(
        self,
        version: int,
        backbone: str,
        head_file: str | None,
        thresholds: dict[str, float],
        metrics: dict[str, Any],
        *,
        activate: bool,
    ) -> None:
        with self.db.write() as db:
            if activate:
                db.execute("UPDATE models SET active = 0")
            db.execute(
                "INSERT INTO models (version, backbone, head_file, thresholds, metrics, "
                "created_at, active) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    version,
                    backbone,
                    head_file,
                    json.dumps(thresholds),
                    json.dumps(metrics),
                    now(),
                    int(activate),
                ),
            )

    def activate_model(self, version: int) -> None:
        with self.db.write() as db:
            if not db.execute("SELECT 1 FROM models WHERE version = ?", (version,)).fetchone():
                raise StoreError(f"there is no model version {version}")
            db.execute("UPDATE models SET active = (version = ?)", (version,))
